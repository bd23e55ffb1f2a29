namespace FastPrefix.Onnx;

/// <summary>
/// An ONNX file that cannot be read or mapped onto a BERT/RoBERTa encoder; the message names the file and the node,
/// initializer or op type at fault.
/// </summary>
public sealed class OnnxFormatException(string message, Exception? inner = null) : Exception(message, inner);
