using Onnx;

namespace FastPrefix.Onnx.Import;

/// <summary>A linear layer found in the graph: weight as [out, in] (Hugging Face layout), bias [out], output value.</summary>
internal sealed record Linear(float[] Weight, float[] Bias, int Out, int In, string Output, NodeProto Node);

/// <summary>A LayerNorm found in the graph (the LayerNormalization op or its decomposed form).</summary>
internal sealed record LayerNormMatch(float[] Gamma, float[] Beta, float Eps, string Output, NodeProto Node);

/// <summary>A walk along data-movement ops from a value to the node that stops it.</summary>
internal sealed record Walk(NodeProto Stop, int InputIndex, double Scale, List<NodeProto> Path);

/// <summary>
/// The small patterns an encoder graph is made of, matched by following dataflow: linear layers (MatMul + bias
/// Add, or Gemm), LayerNorms, and walks through reshapes, transposes and constant scalings.
/// </summary>
internal sealed class GraphPatterns(OnnxGraph g)
{
    static readonly HashSet<string> Movement = ["Reshape", "Transpose", "Squeeze", "Unsqueeze", "Cast", "Flatten"];

    public OnnxGraph Graph => g;

    public OnnxFormatException Error(NodeProto? node, string problem) =>
        new($"{g.FilePath}: {(node == null ? "" : OnnxGraph.Describe(node) + ": ")}{problem}");

    /// <summary>MatMul or Gemm whose weight is a constant (possibly through a Transpose): a linear layer's first node.</summary>
    public bool IsLinear(NodeProto n) => n.OpType switch
    {
        "MatMul" => WeightSource(g.In(n, 1)) != null,
        "Gemm" => WeightSource(g.In(n, 1)) != null,
        _ => false,
    };

    /// <summary>The constant behind a weight value, and whether a Transpose node swapped its axes on the way.</summary>
    (TensorProto Tensor, bool Transposed)? WeightSource(string value)
    {
        var t = g.Constant(value);
        if (t != null) return t.Dims.Count == 2 ? (t, false) : null;
        var p = g.Producer(value);
        if (p is { OpType: "Transpose" } && g.Constant(g.In(p, 0)) is { Dims.Count: 2 } inner) return (inner, true);
        return null;
    }

    /// <summary>Reads the linear layer starting at <paramref name="n"/>: its weight as [out, in], its bias and output.</summary>
    public Linear ReadLinear(NodeProto n)
    {
        var (tensor, transposed) = WeightSource(g.In(n, 1)) ?? throw Error(n, "expected a MatMul or Gemm with a constant 2-D weight");
        var data = g.Floats(tensor);
        int rows = (int)tensor.Dims[0], cols = (int)tensor.Dims[1];
        if (n.OpType == "Gemm")
        {
            if (g.IntAttribute(n, "transA", 0) != 0) throw Error(n, "Gemm with transA=1 is not a linear layer on the activations");
            if ((g.Attribute(n, "alpha")?.F ?? 1f) != 1f || (g.Attribute(n, "beta")?.F ?? 1f) != 1f)
                throw Error(n, "Gemm with alpha or beta other than 1 is not supported");
            bool weightIsOutIn = (g.IntAttribute(n, "transB", 0) != 0) != transposed;
            var (w, outs, ins) = weightIsOutIn ? (data, rows, cols) : (OnnxTensors.Transpose(data, rows, cols), cols, rows);
            float[] bias = n.Input.Count > 2 && g.In(n, 2).Length > 0 ? ConstantVector(g.In(n, 2), outs, n, "bias") : new float[outs];
            return new Linear(w, bias, outs, ins, n.Output[0], n);
        }
        // MatMul: y = x W with W [in, out]; a Transpose in front means the constant is already [out, in].
        var (weight, o, i) = transposed ? (data, rows, cols) : (OnnxTensors.Transpose(data, rows, cols), cols, rows);
        var consumers = g.Consumers(n.Output[0]);
        var add = consumers.FirstOrDefault(c => c.OpType == "Add" && Other(c, n.Output[0]) is { } other && IsVector(other, o));
        if (add == null || consumers.Count != 1)
            throw Error(n, $"expected its output to go to one Add with a constant bias of {o} values (a linear layer), found {Names(consumers)}");
        return new Linear(weight, ConstantVector(Other(add, n.Output[0])!, o, add, "bias"), o, i, add.Output[0], n);
    }

    /// <summary>The other input of a two-input node, given one of them.</summary>
    public string? Other(NodeProto n, string value)
    {
        if (n.Input.Count != 2) return null;
        if (g.Reads(n, 0, value)) return g.In(n, 1);
        if (g.Reads(n, 1, value)) return g.In(n, 0);
        return null;
    }

    bool IsVector(string value, int length) => g.Constant(value) is { } t && OnnxTensors.IsFloat(t) && t.Dims.Aggregate(1L, (a, d) => a * d) == length;

    public float[] ConstantVector(string value, int length, NodeProto where, string what)
    {
        var t = g.Constant(value) ?? throw Error(where, $"expected a constant {what} of {length} values, '{value}' is computed");
        var data = g.Floats(t);
        if (data.Length != length) throw Error(where, $"the {what} '{t.Name}' has {data.Length} values, expected {length}");
        return data;
    }

    /// <summary>
    /// Follows <paramref name="value"/> through data-movement ops (and, when allowed, multiplications or divisions by a
    /// constant scalar, and Adds of a computed tensor such as an attention mask) to the first consumer that
    /// <paramref name="stop"/> accepts. Shape nodes (which read only the shape) are ignored.
    /// </summary>
    public Walk Follow(string value, Func<NodeProto, bool> stop, string looking, bool scalings = false, bool maskAdds = false)
    {
        var path = new List<NodeProto>();
        double scale = 1;
        string current = value;
        for (int step = 0; step < 32; step++)
        {
            var consumers = g.Consumers(current).Where(n => n.OpType != "Shape").ToList();
            var found = consumers.FirstOrDefault(stop);
            if (found != null) return new Walk(found, g.Reads(found, 0, current) ? 0 : 1, scale, path);
            if (consumers.Count != 1)
                throw Error(g.Producer(current), $"looking for {looking}, its output '{current}' goes to {Names(consumers)}");
            var n = consumers[0];
            if (Movement.Contains(n.OpType) && g.Reads(n, 0, current)) { }
            else if (scalings && n.OpType is "Mul" or "Div" && Other(n, current) is { } s && g.ScalarFloat(s) is { } f)
                scale *= n.OpType == "Mul" ? f : (g.Reads(n, 0, current) ? 1.0 / f : double.NaN);
            else if (maskAdds && n.OpType is "Add" && Other(n, current) is { } m && !g.IsConstant(m)) { }
            else if (maskAdds && n.OpType is "Where" && (g.Reads(n, 1, current) || g.Reads(n, 2, current))) { }
            else throw Error(n, $"looking for {looking}, found an op that is not part of a BERT encoder there");
            path.Add(n);
            current = n.Output[0];
        }
        throw Error(g.Producer(current), $"looking for {looking}, gave up after 32 nodes");
    }

    /// <summary>
    /// The nodes between <paramref name="value"/> and the first consumers that <paramref name="stop"/> accepts (an
    /// activation function between two linear layers); returns the region and the single stop node.
    /// </summary>
    public (List<NodeProto> Region, NodeProto Stop) Region(string value, Func<NodeProto, bool> stop, string looking)
    {
        var region = new List<NodeProto>();
        var stops = new HashSet<NodeProto>();
        var queue = new Queue<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        queue.Enqueue(value);
        while (queue.Count > 0)
        {
            var v = queue.Dequeue();
            if (!seen.Add(v)) continue;
            foreach (var n in g.Consumers(v))
            {
                if (stop(n)) { stops.Add(n); continue; }
                if (region.Contains(n)) continue;
                region.Add(n);
                if (region.Count > 24) throw Error(n, $"looking for {looking}, found more than 24 nodes without reaching it");
                foreach (var o in n.Output) queue.Enqueue(o);
            }
        }
        if (stops.Count != 1)
            throw Error(g.Producer(value), $"looking for {looking} after '{value}', found {(stops.Count == 0 ? "none" : Names(stops))}");
        return (region, stops.First());
    }

    /// <summary>The LayerNorm applied to <paramref name="x"/>: a LayerNormalization node or ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add.</summary>
    public LayerNormMatch LayerNorm(string x, int hidden, string where)
    {
        var consumers = g.Consumers(x);
        var op = consumers.FirstOrDefault(n => n.OpType == "LayerNormalization" && g.Reads(n, 0, x));
        if (op != null)
        {
            long axis = g.IntAttribute(op, "axis", -1);
            if (axis is not (-1 or 2)) throw Error(op, $"LayerNormalization over axis {axis}; expected the last axis");
            var gamma = ConstantVector(g.In(op, 1), hidden, op, "LayerNorm scale");
            var beta = op.Input.Count > 2 && g.In(op, 2).Length > 0 ? ConstantVector(g.In(op, 2), hidden, op, "LayerNorm bias") : new float[hidden];
            return new LayerNormMatch(gamma, beta, g.Attribute(op, "epsilon")?.F ?? 1e-5f, op.Output[0], op);
        }
        var mean = consumers.FirstOrDefault(n => n.OpType == "ReduceMean")
            ?? throw Error(g.Producer(x), $"expected a LayerNorm ({where}) on its output '{x}', found {Names(consumers)}");
        CheckLastAxis(mean);
        var sub = consumers.FirstOrDefault(n => n.OpType == "Sub" && g.Reads(n, 0, x) && g.Reads(n, 1, mean.Output[0]))
            ?? throw Error(mean, $"expected x - mean(x) of a LayerNorm ({where})");
        string centered = sub.Output[0];
        var div = g.Consumers(centered).FirstOrDefault(n => n.OpType == "Div" && g.Reads(n, 0, centered))
            ?? throw Error(sub, $"expected (x - mean) / sqrt(var + eps) of a LayerNorm ({where})");
        var sqrt = g.Producer(g.In(div, 1));
        var addEps = sqrt is { OpType: "Sqrt" } ? g.Producer(g.In(sqrt, 0)) : null;
        if (addEps is not { OpType: "Add" }) throw Error(div, $"expected its divisor to be sqrt(var + eps) ({where})");
        var variance = addEps.Input.Select((_, i) => g.In(addEps, i)).FirstOrDefault(v => g.Producer(v) is { OpType: "ReduceMean" });
        float? eps = variance == null ? null : g.ScalarFloat(Other(addEps, variance)!);
        if (variance == null || eps == null) throw Error(addEps, $"expected var + eps with a constant eps ({where})");
        var square = g.Producer(g.In(g.Producer(variance)!, 0));
        bool squares = square is { OpType: "Pow" } && g.Reads(square, 0, centered) && g.ScalarFloat(g.In(square, 1)) == 2f
                       || square is { OpType: "Mul" } && g.Reads(square, 0, centered) && g.Reads(square, 1, centered);
        if (!squares) throw Error(g.Producer(variance), $"expected the mean of (x - mean)^2 ({where})");
        CheckLastAxis(g.Producer(variance)!);
        var mul = Single(div.Output[0], "Mul", $"the LayerNorm scale ({where})");
        var gammaValues = ConstantVector(Other(mul, div.Output[0])!, hidden, mul, "LayerNorm weight");
        var add = Single(mul.Output[0], "Add", $"the LayerNorm bias ({where})");
        var betaValues = ConstantVector(Other(add, mul.Output[0])!, hidden, add, "LayerNorm bias");
        return new LayerNormMatch(gammaValues, betaValues, eps.Value, add.Output[0], mean);
    }

    void CheckLastAxis(NodeProto reduce)
    {
        var axes = g.Attribute(reduce, "axes")?.Ints.ToArray()
                   ?? (reduce.Input.Count > 1 && g.Constant(g.In(reduce, 1)) is { } t ? g.Ints(t) : null);
        if (axes is not ([-1] or [2])) throw Error(reduce, $"ReduceMean over axes [{string.Join(", ", axes ?? [])}]; a LayerNorm reduces the last axis");
    }

    /// <summary>The one consumer of <paramref name="value"/>, which must be a <paramref name="op"/> node.</summary>
    public NodeProto Single(string value, string op, string looking)
    {
        var consumers = g.Consumers(value);
        if (consumers.Count != 1 || consumers[0].OpType != op)
            throw Error(g.Producer(value), $"expected {looking} ({op}) on its output, found {Names(consumers)}");
        return consumers[0];
    }

    public static string Names(IEnumerable<NodeProto> nodes)
    {
        var list = nodes.ToList();
        return list.Count == 0 ? "no consumer" : string.Join(", ", list.Select(OnnxGraph.Describe));
    }
}
