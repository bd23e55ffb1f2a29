using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FastPrefix.Onnx.Export;

/// <summary>
/// Appends nodes and initializers to an ONNX graph under readable names ("layer3/Softmax_41"): each node's single
/// output is named after the node, constants are created once and shared.
/// </summary>
internal sealed class GraphBuilder
{
    readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);
    int _next;

    public GraphProto Graph { get; } = new() { Name = "fastprefix" };
    /// <summary>Prefix of the node names created next, e.g. "layer3/".</summary>
    public string Scope { get; set; } = "";

    public string Node(string op, params string[] inputs) => Node(op, inputs, []);

    public string Node(string op, string[] inputs, params AttributeProto[] attributes) => Nodes(op, inputs, 1, attributes)[0];

    /// <summary>A node with <paramref name="outputs"/> outputs (named "&lt;node&gt;:i" when more than one).</summary>
    public string[] Nodes(string op, string[] inputs, int outputs, params AttributeProto[] attributes)
    {
        string name = $"{Scope}{op}_{_next++}";
        var outs = outputs == 1 ? [name] : Enumerable.Range(0, outputs).Select(i => $"{name}:{i}").ToArray();
        Add(name, op, inputs, outs, attributes);
        return outs;
    }

    /// <summary>A node writing a named value (a graph output).</summary>
    public string NodeTo(string output, string op, string[] inputs, params AttributeProto[] attributes)
    {
        Add($"{Scope}{op}_{_next++}", op, inputs, [output], attributes);
        return output;
    }

    void Add(string name, string op, string[] inputs, string[] outputs, AttributeProto[] attributes)
    {
        var node = new NodeProto { Name = name, OpType = op };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
    }

    public string Initializer(string name, ReadOnlySpan<float> data, params long[] dims)
    {
        Graph.Initializer.Add(OnnxTensors.Float(name, data, dims));
        return name;
    }

    /// <summary>A 1-D int64 constant (shapes, axes, split sizes).</summary>
    public string Ints(params long[] values) => Constant($"const/i64[{string.Join(",", values)}]", () => OnnxTensors.Int64("", values, values.Length));

    /// <summary>A 0-D int64 constant.</summary>
    public string Int(long value) => Constant($"const/i64/{value}", () => OnnxTensors.Int64("", [value]));

    /// <summary>A 0-D float constant.</summary>
    public string Float(float value) => Constant($"const/f32/{value:R}", () => OnnxTensors.Float("", [value]));

    string Constant(string name, Func<TensorProto> make)
    {
        if (_constants.TryGetValue(name, out var existing)) return existing;
        var t = make();
        t.Name = name;
        Graph.Initializer.Add(t);
        _constants[name] = name;
        return name;
    }

    public void Input(string name, DataType type, params object[] dims) => Graph.Input.Add(ValueInfo(name, type, dims));
    public void Output(string name, DataType type, params object[] dims) => Graph.Output.Add(ValueInfo(name, type, dims));

    /// <summary>A typed value with dimensions that are numbers or symbolic names ("batch").</summary>
    static ValueInfoProto ValueInfo(string name, DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    public static AttributeProto Attr(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
    public static AttributeProto Attr(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };
    public static AttributeProto Attr(string name, long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }
    public static AttributeProto Attr(string name, TensorProto value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };
    public static AttributeProto Attr(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };
}
