using Google.Protobuf;
using Onnx;
using FastPrefix.IO;

namespace FastPrefix.Onnx;

/// <summary>Reads and writes .onnx files (a serialized ModelProto), with errors that name the file.</summary>
public static class OnnxModelFile
{
    /// <summary>Protobuf messages cannot exceed 2 GiB; larger models keep their weights in external data files.</summary>
    const long MaxInlineBytes = int.MaxValue;

    public static ModelProto Read(string path)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new OnnxFormatException($"{full}: ONNX file not found");
        ModelProto model;
        try
        {
            using var stream = File.OpenRead(full);
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFormatException($"{full}: not an ONNX model (the protobuf does not parse: {e.Message})", e);
        }
        if (model.Graph == null || model.Graph.Node.Count == 0)
            throw new OnnxFormatException($"{full}: not an ONNX model (no graph, or a graph without nodes)");
        if (model.IrVersion <= 0)
            throw new OnnxFormatException($"{full}: not an ONNX model (ir_version {model.IrVersion}; expected a positive IR version)");
        return model;
    }

    /// <summary>Writes the model atomically (temporary file, then rename).</summary>
    public static void Write(string path, ModelProto model)
    {
        long size = model.CalculateSize();
        if (size > MaxInlineBytes)
            throw new OnnxFormatException($"{Path.GetFullPath(path)}: the model would be {size} bytes, over the 2 GiB limit of one protobuf message");
        AtomicFile.Write(path, stream => model.WriteTo(stream));
    }
}
