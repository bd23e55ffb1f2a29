using Onnx;

namespace FastPrefix.Onnx.Import;

/// <summary>One transformer layer's weights, Hugging Face layout ([out, in] linear weights).</summary>
internal sealed record ImportedLayer(
    Linear Query, Linear Key, Linear Value, int Heads, Linear AttentionOut, LayerNormMatch AttentionNorm,
    Linear Up, Linear Down, LayerNormMatch OutputNorm);

/// <summary>
/// Reads one BERT layer by following the dataflow from its input: the three projections are told apart by where they
/// enter the two attention MatMuls (query left and key right of the scores, value right of the context), the head count
/// comes from the Reshape that splits heads, and the score scaling, softmax, residuals and activation are checked.
/// </summary>
internal sealed class LayerReader(GraphPatterns p, int opset)
{
    readonly OnnxGraph g = p.Graph;

    bool IsAttentionMatMul(NodeProto n) => n.OpType == "MatMul" && !g.IsConstant(g.In(n, 0)) && !g.IsConstant(g.In(n, 1));

    /// <summary>The linear layers reading <paramref name="h"/> (the layer input); an empty list means there is no further layer.</summary>
    public List<NodeProto> Projections(string h) => g.Consumers(h).Where(p.IsLinear).ToList();

    public ImportedLayer Read(string h, int hidden, int index)
    {
        string where = $"layer {index}";
        var projections = SplitProjections(Projections(h).Select(p.ReadLinear).ToList(), hidden, where);
        var walks = projections.Select(pr => (Linear: pr, Walk: p.Follow(pr.Output, IsAttentionMatMul, $"the attention product of {where}", scalings: true))).ToList();
        var scores = walks.GroupBy(w => w.Walk.Stop).FirstOrDefault(grp => grp.Count() == 2);
        var context = walks.GroupBy(w => w.Walk.Stop).FirstOrDefault(grp => grp.Count() == 1);
        if (scores == null || context == null)
            throw p.Error(projections[0].Node, $"cannot tell query, key and value of {where} apart: the projections reach {GraphPatterns.Names(walks.Select(w => w.Walk.Stop).Distinct())}");
        var q = scores.FirstOrDefault(w => w.Walk.InputIndex == 0);
        var k = scores.FirstOrDefault(w => w.Walk.InputIndex == 1);
        var v = context.Single();
        if (q.Linear == null || k.Linear == null || v.Walk.InputIndex != 1)
            throw p.Error(scores.Key, $"expected query x keysᵀ here and probabilities x values in {OnnxGraph.Describe(context.Key)} ({where})");

        int heads = Heads(q.Walk, hidden, where);
        int headDim = hidden / heads;
        var toSoftmax = p.Follow(scores.Key.Output[0], n => n.OpType == "Softmax", $"the attention softmax of {where}", scalings: true, maskAdds: true);
        CheckSoftmax(toSoftmax.Stop, where);
        double scale = q.Walk.Scale * k.Walk.Scale * toSoftmax.Scale;
        if (Math.Abs(scale * Math.Sqrt(headDim) - 1) > 1e-4)
            throw p.Error(toSoftmax.Stop, $"attention scores of {where} are scaled by {scale:G6}, expected 1/sqrt(head_dim {headDim}) = {1 / Math.Sqrt(headDim):G6}");
        var toContext = p.Follow(toSoftmax.Stop.Output[0], n => n == context.Key, $"probabilities x values of {where}");
        if (toContext.InputIndex != 0) throw p.Error(context.Key, $"expected the attention probabilities as its first input ({where})");

        var outWalk = p.Follow(context.Key.Output[0], p.IsLinear, $"the attention output projection of {where}");
        var attentionOut = Check(p.ReadLinear(outWalk.Stop), hidden, hidden, "attention output projection", where);
        var norm1 = p.LayerNorm(Residual(attentionOut, h, where), hidden, $"after the attention of {where}");

        var ups = g.Consumers(norm1.Output).Where(p.IsLinear).ToList();
        if (ups.Count != 1) throw p.Error(norm1.Node, $"expected one feed-forward projection after the attention LayerNorm of {where}, found {GraphPatterns.Names(ups)}");
        var up = p.ReadLinear(ups[0]);
        if (up.In != hidden) throw p.Error(up.Node, $"feed-forward input of {where} has {up.In} features, expected hidden size {hidden}");
        var (activation, downNode) = p.Region(up.Output, p.IsLinear, $"the feed-forward output projection of {where}");
        CheckGelu(activation, up.Node, where);
        var down = Check(p.ReadLinear(downNode), hidden, up.Out, "feed-forward output projection", where);
        var norm2 = p.LayerNorm(Residual(down, norm1.Output, where), hidden, $"at the end of {where}");
        return new ImportedLayer(q.Linear, k.Linear, v.Linear, heads, attentionOut, norm1, up, down, norm2);
    }

    /// <summary>Three [hidden, hidden] projections, or one fused [3·hidden, hidden] projection followed by a Split into three.</summary>
    List<Linear> SplitProjections(List<Linear> found, int hidden, string where)
    {
        if (found.Count == 3 && found.All(l => l.Out == hidden && l.In == hidden)) return found;
        if (found.Count == 1 && found[0].Out == 3 * hidden && found[0].In == hidden)
        {
            var fused = found[0];
            var split = p.Single(fused.Output, "Split", $"the split of the fused query/key/value projection of {where}");
            if (split.Output.Count != 3) throw p.Error(split, $"expected a split into query, key and value ({where})");
            long axis = g.IntAttribute(split, "axis", 0);
            if (axis is not (-1 or 2)) throw p.Error(split, $"split over axis {axis}; expected the feature axis ({where})");
            int size = hidden * hidden;
            return [.. Enumerable.Range(0, 3).Select(i => new Linear(fused.Weight.AsSpan(i * size, size).ToArray(),
                fused.Bias.AsSpan(i * hidden, hidden).ToArray(), hidden, hidden, split.Output[i], fused.Node))];
        }
        var first = found.FirstOrDefault()?.Node;
        throw p.Error(first, $"expected the query, key and value projections of {where} ([{hidden}, {hidden}] each, or one fused [{3 * hidden}, {hidden}]), " +
                             $"found {found.Count} linear layer(s) with shapes {string.Join(", ", found.Select(l => $"[{l.Out}, {l.In}]"))}");
    }

    /// <summary>Head count from the Reshape that splits the query into [batch, seq, heads, head_dim].</summary>
    int Heads(Walk query, int hidden, string where)
    {
        var reshape = query.Path.FirstOrDefault(n => n.OpType == "Reshape")
            ?? throw p.Error(query.Stop, $"found no Reshape splitting the query into heads ({where})");
        var target = ReshapeTarget(reshape) ?? throw p.Error(reshape, $"cannot read the head split from its shape input ({where})");
        // [batch, seq, heads, head_dim]: the leading sizes may be one dynamic piece (a slice of the input's shape), the last two are the split.
        if (target.Length < 3) throw p.Error(reshape, $"expected a shape [batch, seq, heads, head_dim], found {target.Length} entries ({where})");
        long heads = target[^2], dim = target[^1];
        if (heads <= 0 && dim > 0 && hidden % dim == 0) heads = hidden / dim;
        if (heads <= 0 || hidden % heads != 0 || (dim > 0 && heads * dim != hidden))
            throw p.Error(reshape, $"splits hidden size {hidden} into {heads} heads of {dim}; expected heads x head_dim = {hidden} ({where})");
        return (int)heads;
    }

    /// <summary>The Reshape's target shape, -1 for entries computed at run time (a Concat of constants and dynamic sizes).</summary>
    long[]? ReshapeTarget(NodeProto reshape)
    {
        string shape = g.In(reshape, 1);
        if (g.Constant(shape) is { } t) return g.Ints(t);
        var concat = g.Producer(shape);
        if (concat is not { OpType: "Concat" }) return null;
        var parts = new List<long>();
        for (int i = 0; i < concat.Input.Count; i++)
        {
            if (g.Constant(g.In(concat, i)) is { } c) parts.AddRange(g.Ints(c));
            else parts.Add(-1);   // dynamic sizes (batch, sequence): torch exports one per Concat input
        }
        return [.. parts];
    }

    void CheckSoftmax(NodeProto softmax, string where)
    {
        long axis = g.IntAttribute(softmax, "axis", opset >= 13 ? -1 : 1);
        if (axis is not (-1 or 3)) throw p.Error(softmax, $"softmax over axis {axis}; attention normalises over the keys (the last axis) ({where})");
    }

    /// <summary>The residual Add of a sub-layer: its output + the sub-layer's input.</summary>
    string Residual(Linear sublayer, string input, string where)
    {
        var add = g.Consumers(sublayer.Output).FirstOrDefault(n => n.OpType == "Add" && p.Other(n, sublayer.Output) == g.Resolve(input))
            ?? throw p.Error(sublayer.Node, $"expected a residual Add of '{input}' after this projection ({where})");
        return add.Output[0];
    }

    Linear Check(Linear l, int outs, int ins, string what, string where) =>
        l.Out == outs && l.In == ins ? l : throw p.Error(l.Node, $"the {what} of {where} is [{l.Out}, {l.In}], expected [{outs}, {ins}]");

    /// <summary>The activation between the feed-forward projections must be GELU in its exact erf form.</summary>
    void CheckGelu(List<NodeProto> region, NodeProto up, string where)
    {
        var gelu = region.FirstOrDefault(n => n.OpType == "Gelu");
        if (gelu != null)
        {
            string approximate = g.Attribute(gelu, "approximate")?.S.ToStringUtf8() ?? "none";
            if (approximate != "none") throw p.Error(gelu, $"GELU with approximate=\"{approximate}\"; FastPrefix runs the exact erf form ({where})");
            return;
        }
        var tanh = region.FirstOrDefault(n => n.OpType == "Tanh");
        if (tanh != null) throw p.Error(tanh, $"the feed-forward activation of {where} is the tanh approximation of GELU (gelu_new); FastPrefix runs the exact erf form");
        var allowed = new HashSet<string> { "Erf", "Div", "Mul", "Add" };
        var foreign = region.FirstOrDefault(n => !allowed.Contains(n.OpType));
        if (foreign != null || !region.Any(n => n.OpType == "Erf"))
            throw p.Error(foreign ?? up, $"the feed-forward activation of {where} is not GELU (x · ½ · (1 + erf(x / √2))); found {GraphPatterns.Names(region)}");
        // The constants of x · ½ · (1 + erf(x / √2)), in whichever arrangement the exporter chose.
        foreach (var n in region.Where(n => n.OpType != "Erf"))
            for (int i = 0; i < n.Input.Count; i++)
                if (g.ScalarFloat(g.In(n, i)) is { } c && !GeluConstants.Any(k => Math.Abs(c - k) <= 1e-5 * k))
                    throw p.Error(n, $"constant {c} is not one of GELU's (x · ½ · (1 + erf(x / √2))) ({where})");
    }

    static readonly double[] GeluConstants = [0.5, 1, Math.Sqrt(2), 1 / Math.Sqrt(2), 2];
}
