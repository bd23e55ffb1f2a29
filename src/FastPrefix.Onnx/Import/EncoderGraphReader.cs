using Onnx;
using FastPrefix.Model;

namespace FastPrefix.Onnx.Import;

/// <summary>An encoder read out of an ONNX graph: its config and its tensors under Hugging Face names.</summary>
public sealed class ImportedEncoder
{
    public required EncoderConfig Config { get; init; }
    public required IReadOnlyList<(string Name, long[] Shape, float[] Data)> Tensors { get; init; }
    public required bool HasPooler { get; init; }
}

/// <summary>
/// Maps an ONNX export of a BERT or RoBERTa encoder (PyTorch/Optimum style, standard ops) onto the Hugging Face
/// checkpoint layout by following the graph from its inputs: the embedding Gathers (word by input_ids, token type by
/// token_type_ids, position by an index that counts — a CumSum makes it RoBERTa), the LayerNorm after their sum, then
/// layer after layer (<see cref="LayerReader"/>) until the hidden state feeds no further projection, then the pooler
/// (first token → linear → tanh) if there is one. Initializer names are never trusted: exports number them.
/// </summary>
internal sealed class EncoderGraphReader
{
    static readonly HashSet<string> QuantisedOps =
        ["QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "QLinearMatMul", "ConvInteger", "QLinearConv", "MatMulNBits"];

    readonly OnnxGraph g;
    readonly GraphPatterns p;
    readonly int _opset;

    public EncoderGraphReader(OnnxGraph graph)
    {
        g = graph;
        p = new GraphPatterns(graph);
        _opset = (int)(graph.Model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 0);
    }

    public ImportedEncoder Read()
    {
        RejectUnsupported();
        var (word, position, types, roberta, padIdx) = Embeddings();
        int C = word.Cols;
        var sum = EmbeddingSum(word, position, types);
        var embNorm = p.LayerNorm(sum, C, "after the embeddings");

        var layers = new List<ImportedLayer>();
        var reader = new LayerReader(p, _opset);
        string h = embNorm.Output;
        while (reader.Projections(h).Count > 0)
        {
            var layer = reader.Read(h, C, layers.Count);
            layers.Add(layer);
            h = layer.OutputNorm.Output;
        }
        if (layers.Count == 0) throw p.Error(embNorm.Node, "no transformer layer reads the embeddings' LayerNorm output");
        var pooler = Pooler(h, C);

        foreach (var (norm, i) in layers.SelectMany((l, i) => new[] { (l.AttentionNorm, i), (l.OutputNorm, i) }))
            if (norm.Eps != embNorm.Eps)
                throw p.Error(norm.Node, $"LayerNorm eps {norm.Eps:G6} in layer {i} differs from the embeddings' {embNorm.Eps:G6}; FastPrefix uses one layer_norm_eps");
        int heads = layers[0].Heads, intermediate = layers[0].Up.Out;
        var odd = layers.Select((l, i) => (l, i)).FirstOrDefault(x => x.l.Heads != heads || x.l.Up.Out != intermediate);
        if (odd.l != null) throw p.Error(odd.l.Up.Node, $"layer {odd.i} has {odd.l.Heads} heads and intermediate size {odd.l.Up.Out}; layer 0 has {heads} and {intermediate}");

        var config = new EncoderConfig
        {
            ModelType = roberta ? "roberta" : "bert", VocabSize = word.Rows, HiddenSize = C, NumLayers = layers.Count, NumHeads = heads,
            IntermediateSize = intermediate, MaxPositionEmbeddings = position.Rows, TypeVocabSize = types?.Rows ?? 1,
            LayerNormEps = embNorm.Eps, PadTokenId = padIdx ?? 0, HiddenAct = "gelu",
        };
        config.Validate(g.FilePath);

        var tensors = new List<(string, long[], float[])>
        {
            ("embeddings.word_embeddings.weight", [word.Rows, C], word.Data),
            ("embeddings.position_embeddings.weight", [position.Rows, C], position.Data),
            ("embeddings.token_type_embeddings.weight", [types?.Rows ?? 1, C], types?.Data ?? new float[C]),
            ("embeddings.LayerNorm.weight", [C], embNorm.Gamma),
            ("embeddings.LayerNorm.bias", [C], embNorm.Beta),
        };
        for (int l = 0; l < layers.Count; l++)
        {
            var x = layers[l];
            string pre = $"encoder.layer.{l}.";
            void Add(string name, Linear lin) { tensors.Add((pre + name + ".weight", [lin.Out, lin.In], lin.Weight)); tensors.Add((pre + name + ".bias", [lin.Out], lin.Bias)); }
            void Norm(string name, LayerNormMatch n) { tensors.Add((pre + name + ".weight", [C], n.Gamma)); tensors.Add((pre + name + ".bias", [C], n.Beta)); }
            Add("attention.self.query", x.Query); Add("attention.self.key", x.Key); Add("attention.self.value", x.Value);
            Add("attention.output.dense", x.AttentionOut); Norm("attention.output.LayerNorm", x.AttentionNorm);
            Add("intermediate.dense", x.Up); Add("output.dense", x.Down); Norm("output.LayerNorm", x.OutputNorm);
        }
        if (pooler != null)
        {
            tensors.Add(("pooler.dense.weight", [C, C], pooler.Weight));
            tensors.Add(("pooler.dense.bias", [C], pooler.Bias));
        }
        return new ImportedEncoder { Config = config, Tensors = tensors, HasPooler = pooler != null };
    }

    /// <summary>Fused, quantised and non-standard graphs are refused up front, naming the first such node.</summary>
    void RejectUnsupported()
    {
        foreach (var n in g.Nodes)
        {
            if (n.Domain is not ("" or "ai.onnx"))
                throw p.Error(n, $"operator {n.Domain}.{n.OpType} is not a standard ONNX op; graphs fused by ONNX Runtime's transformer optimiser " +
                                 "(com.microsoft Attention, SkipLayerNormalization, EmbedLayerNormalization, ...) cannot be mapped: import the unoptimised export");
            if (QuantisedOps.Contains(n.OpType))
                throw p.Error(n, "the graph is quantised; FastPrefix imports float32 exports only");
        }
    }

    sealed record Embedding(NodeProto Gather, int Rows, int Cols, float[] Data);

    /// <summary>The embedding tables, told apart by what their Gather indices are computed from.</summary>
    (Embedding Word, Embedding Position, Embedding? Types, bool Roberta, int? PadIdx) Embeddings()
    {
        var gathers = g.Nodes.Where(n => n.OpType == "Gather" && g.Constant(g.In(n, 0)) is { Dims.Count: 2 } t && OnnxTensors.IsFloat(t)
                                         && g.IntAttribute(n, "axis", 0) == 0).ToList();
        string? ids = g.Inputs.FirstOrDefault(i => i == "input_ids");
        Embedding Table(NodeProto n)
        {
            var t = g.Constant(g.In(n, 0))!;
            return new Embedding(n, (int)t.Dims[0], (int)t.Dims[1], g.Floats(t));
        }
        var fromInputs = gathers.Select(n => (Node: n, Anc: g.Ancestors(g.In(n, 1)))).ToList();
        // The word lookup indexes by input_ids itself (perhaps through a Cast); the position lookup may also depend on
        // input_ids, through its shape, so a direct read decides, and the largest table breaks a tie.
        var wordNode = fromInputs.Where(x => g.Inputs.Contains(Uncast(g.In(x.Node, 1))) && (ids == null || Uncast(g.In(x.Node, 1)) == ids))
            .OrderByDescending(x => g.Constant(g.In(x.Node, 0))!.Dims[0]).Select(x => x.Node).FirstOrDefault()
            ?? throw new OnnxFormatException($"{g.FilePath}: found no word embedding (a Gather of a constant [vocab, hidden] table by input_ids); inputs are {string.Join(", ", g.Inputs)}");
        var word = Table(wordNode);

        Embedding? position = null, types = null;
        bool roberta = false;
        int? padIdx = null;
        foreach (var (n, anc) in fromInputs.Where(x => x.Node != wordNode))
        {
            if (g.Constant(g.In(n, 0))!.Dims[1] != word.Cols) continue;
            bool typed = anc.Values.Contains("token_type_ids");
            bool cumsum = anc.Nodes.Any(a => a.OpType == "CumSum");
            bool counts = cumsum || anc.Nodes.Any(a => a.OpType == "Range") || anc.Values.Any(v => g.Constant(v) is { } c && IsArange(c));
            if (!typed && counts)
            {
                if (position != null) throw p.Error(n, $"a second position embedding (the first is {OnnxGraph.Describe(position.Gather)})");
                position = Table(n);
                roberta = cumsum;
                if (cumsum) padIdx = PaddingIndex(n);
            }
            else
            {
                if (types != null) throw p.Error(n, $"a second token type embedding (the first is {OnnxGraph.Describe(types.Gather)})");
                types = Table(n);
            }
        }
        if (position == null) throw p.Error(wordNode, "found the word embedding but no position embedding (a Gather by position ids counting 0.., or RoBERTa's cumsum of the mask)");
        return (word, position, types, roberta, padIdx);
    }

    string Uncast(string value)
    {
        while (g.Producer(value) is { OpType: "Cast" } cast) value = g.In(cast, 0);
        return g.Resolve(value);
    }

    bool IsArange(TensorProto t)
    {
        if (!OnnxTensors.IsInteger(t) || t.Dims.Aggregate(1L, (a, d) => a * d) < 2) return false;
        var v = g.Ints(t);
        for (int i = 0; i < v.Length; i++) if (v[i] != i) return false;
        return true;
    }

    /// <summary>RoBERTa's positions are cumsum(mask)·mask + padding_idx: the constant of that last Add.</summary>
    int PaddingIndex(NodeProto gather)
    {
        var n = g.Producer(g.In(gather, 1));
        while (n is { OpType: "Cast" or "Unsqueeze" or "Squeeze" }) n = g.Producer(g.In(n, 0));
        if (n is { OpType: "Add" })
            for (int i = 0; i < 2; i++)
                if (g.ScalarInt(g.In(n, i)) is { } pad) return (int)pad;
        throw p.Error(n ?? gather, "expected RoBERTa position ids cumsum(mask) · mask + padding_idx, with a constant padding_idx");
    }

    /// <summary>The value holding word + position + token type embeddings (the Adds may come in any order).</summary>
    string EmbeddingSum(Embedding word, Embedding position, Embedding? types)
    {
        var terms = new HashSet<NodeProto> { word.Gather, position.Gather };
        if (types != null) terms.Add(types.Gather);
        string current = word.Gather.Output[0];
        var found = new HashSet<NodeProto> { word.Gather };
        while (found.Count < terms.Count)
        {
            var add = p.Single(current, "Add", "the sum of the word, position and token type embeddings");
            var other = g.Producer(p.Other(add, current)!);
            CollectTerms(other, found, add);
            current = add.Output[0];
        }
        if (!found.SetEquals(terms)) throw p.Error(g.Producer(current), "the embedding sum is not word + position + token type");
        return current;
    }

    void CollectTerms(NodeProto? n, HashSet<NodeProto> found, NodeProto add)
    {
        if (n is { OpType: "Gather" }) { found.Add(n); return; }
        if (n is { OpType: "Add" }) { CollectTerms(g.Producer(g.In(n, 0)), found, n); CollectTerms(g.Producer(g.In(n, 1)), found, n); return; }
        throw p.Error(add, $"adds {(n == null ? "an input" : OnnxGraph.Describe(n))} to the embeddings; expected only embedding lookups");
    }

    /// <summary>first token → linear [hidden, hidden] → tanh, when the graph computes it; null otherwise.</summary>
    Linear? Pooler(string h, int hidden)
    {
        foreach (var first in g.Consumers(h).Where(n => n.OpType == "Gather" && g.IntAttribute(n, "axis", 0) == 1 && g.ScalarInt(g.In(n, 1)) == 0))
            foreach (var dense in g.Consumers(first.Output[0]).Where(p.IsLinear))
            {
                var linear = p.ReadLinear(dense);
                if (linear.Out == hidden && linear.In == hidden && g.Consumers(linear.Output).Any(n => n.OpType == "Tanh")) return linear;
            }
        return null;
    }
}
