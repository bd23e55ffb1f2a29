using Onnx;

namespace FastPrefix.Onnx.Import;

/// <summary>
/// Dataflow index of an ONNX graph: who produces and who consumes each value, and which values are constants
/// (initializers, Constant nodes). Identity and Dropout (inference: identity) are looked through, so a walker sees
/// the computation and not the exporter's bookkeeping.
/// </summary>
internal sealed class OnnxGraph
{
    readonly Dictionary<string, NodeProto> _producer = new(StringComparer.Ordinal);
    readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
    readonly Dictionary<string, TensorProto> _initializers = new(StringComparer.Ordinal);
    readonly HashSet<string> _inputs = new(StringComparer.Ordinal);

    public OnnxGraph(ModelProto model, string path)
    {
        Model = model;
        FilePath = Path.GetFullPath(path);
        Folder = Path.GetDirectoryName(FilePath)!;
        var g = model.Graph;
        foreach (var t in g.Initializer) _initializers[t.Name] = t;
        foreach (var i in g.Input) if (!_initializers.ContainsKey(i.Name)) _inputs.Add(i.Name);
        foreach (var n in g.Node)
        {
            foreach (var o in n.Output) if (o.Length > 0) _producer[o] = n;
            foreach (var i in n.Input)
            {
                if (i.Length == 0) continue;
                if (!_consumers.TryGetValue(i, out var list)) _consumers[i] = list = [];
                list.Add(n);
            }
        }
    }

    public ModelProto Model { get; }
    /// <summary>Full path of the .onnx file (error messages).</summary>
    public string FilePath { get; }
    /// <summary>Its folder (external data).</summary>
    public string Folder { get; }
    public IEnumerable<NodeProto> Nodes => Model.Graph.Node;
    /// <summary>Graph inputs that are fed at run time (not initializers).</summary>
    public IReadOnlySet<string> Inputs => _inputs;

    public static bool IsPassThrough(NodeProto n) => n.OpType is "Identity" or "Dropout";

    /// <summary>The node computing <paramref name="value"/>, looking through Identity/Dropout; null for inputs and initializers.</summary>
    public NodeProto? Producer(string value)
    {
        while (_producer.TryGetValue(value, out var n))
        {
            if (!IsPassThrough(n)) return n;
            value = n.Input[0];
        }
        return null;
    }

    /// <summary>The value itself once Identity/Dropout are looked through.</summary>
    public string Resolve(string value)
    {
        while (_producer.TryGetValue(value, out var n) && IsPassThrough(n)) value = n.Input[0];
        return value;
    }

    /// <summary>Nodes reading <paramref name="value"/>, looking through Identity/Dropout.</summary>
    public List<NodeProto> Consumers(string value)
    {
        var result = new List<NodeProto>();
        if (!_consumers.TryGetValue(value, out var list)) return result;
        foreach (var n in list)
        {
            if (IsPassThrough(n)) { if (n.Input[0] == value) result.AddRange(Consumers(n.Output[0])); }
            else result.Add(n);
        }
        return result;
    }

    /// <summary>The value that node input <paramref name="index"/> really reads (Identity/Dropout looked through).</summary>
    public string In(NodeProto n, int index) => index < n.Input.Count ? Resolve(n.Input[index]) : "";

    /// <summary>True when input <paramref name="index"/> of the node reads <paramref name="value"/>.</summary>
    public bool Reads(NodeProto n, int index, string value) => In(n, index) == Resolve(value);

    /// <summary>A constant tensor: an initializer or a Constant node's value; null otherwise.</summary>
    public TensorProto? Constant(string value)
    {
        value = Resolve(value);
        if (_initializers.TryGetValue(value, out var t)) return t;
        var n = Producer(value);
        if (n is { OpType: "Constant" })
        {
            var a = n.Attribute.FirstOrDefault(a => a.Name == "value");
            if (a?.T != null) return a.T;
            var f = n.Attribute.FirstOrDefault(a => a.Name == "value_float");
            if (f != null) return OnnxTensors.Float(value, [f.F]);
            var i = n.Attribute.FirstOrDefault(a => a.Name == "value_int");
            if (i != null) return OnnxTensors.Int64(value, [i.I]);
            var ints = n.Attribute.FirstOrDefault(a => a.Name == "value_ints");
            if (ints != null) return OnnxTensors.Int64(value, ints.Ints.ToArray(), ints.Ints.Count);
        }
        return null;
    }

    public bool IsConstant(string value) => Constant(value) != null;

    public float[] Floats(TensorProto t) => OnnxTensors.ReadFloats(t, Folder, FilePath);
    public long[] Ints(TensorProto t) => OnnxTensors.ReadInts(t, Folder, FilePath);

    /// <summary>A float constant with one element (a scalar or shape [1]); null otherwise.</summary>
    public float? ScalarFloat(string value)
    {
        var t = Constant(value);
        if (t == null || !OnnxTensors.IsFloat(t) || t.Dims.Aggregate(1L, (a, d) => a * d) != 1) return null;
        return Floats(t)[0];
    }

    /// <summary>An integer constant with one element; null otherwise.</summary>
    public long? ScalarInt(string value)
    {
        var t = Constant(value);
        if (t == null || !OnnxTensors.IsInteger(t) || t.Dims.Aggregate(1L, (a, d) => a * d) != 1) return null;
        return Ints(t)[0];
    }

    public AttributeProto? Attribute(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name);
    public long IntAttribute(NodeProto n, string name, long fallback) => Attribute(n, name)?.I ?? fallback;

    /// <summary>Every node and value that <paramref name="value"/> is computed from (its ancestors), graph inputs included.</summary>
    public (HashSet<NodeProto> Nodes, HashSet<string> Values) Ancestors(string value)
    {
        var nodes = new HashSet<NodeProto>();
        var values = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        stack.Push(value);
        while (stack.Count > 0)
        {
            var v = stack.Pop();
            if (!values.Add(v)) continue;
            if (_producer.TryGetValue(v, out var n) && nodes.Add(n))
                foreach (var i in n.Input) if (i.Length > 0) stack.Push(i);
        }
        return (nodes, values);
    }

    /// <summary>"node 'MatMul_36' (MatMul)", or the op and its output when the node has no name.</summary>
    public static string Describe(NodeProto n)
    {
        string op = string.IsNullOrEmpty(n.Domain) || n.Domain == "ai.onnx" ? n.OpType : $"{n.Domain}.{n.OpType}";
        return n.Name.Length > 0 ? $"node '{n.Name}' ({op})" : $"the {op} node computing '{n.Output.FirstOrDefault()}'";
    }
}
