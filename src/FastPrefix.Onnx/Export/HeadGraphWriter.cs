using FastPrefix.Model.Heads;
using static FastPrefix.Onnx.Export.GraphBuilder;

namespace FastPrefix.Onnx.Export;

/// <summary>
/// Writes the task heads: every row gathers its adapter's head weight (A, O, C) and bias (A, O), then applies it to
/// the pooled output (sequence classification, multiple choice) or to every token (token classification, QA).
/// </summary>
internal sealed class HeadGraphWriter(GraphBuilder b, AdapterStack adapters, int hidden)
{
    /// <summary>Logits [N, O] from <paramref name="pooled"/> [N, C], or [N, T, O] from the last hidden state <paramref name="tokens"/> [N, T, C].</summary>
    public string Write(string tokens, string? pooled, string row)
    {
        b.Scope = "head/";
        int A = adapters.Count, O = adapters.Outputs;
        string module = adapters.Task == TaskKind.QuestionAnswering ? "qa_outputs" : "classifier";
        var weight = b.Node("Gather", b.Initializer(module + ".weight", adapters.HeadWeight, A, O, hidden), row);   // [N, O, C]
        var bias = b.Node("Gather", b.Initializer(module + ".bias", adapters.HeadBias, A, O), row);                // [N, O]
        string logits;
        if (adapters.Task is TaskKind.SequenceClassification or TaskKind.MultipleChoice)
        {
            var column = b.Node("Unsqueeze", pooled!, b.Ints(2));                                           // [N, C, 1]
            logits = b.Node("Add", b.Node("Squeeze", b.Node("MatMul", weight, column), b.Ints(2)), bias);  // [N, O]
        }
        else
        {
            var wT = b.Node("Transpose", [weight], Attr("perm", new long[] { 0, 2, 1 }));                    // [N, C, O]
            logits = b.Node("Add", b.Node("MatMul", tokens, wT), b.Node("Unsqueeze", bias, b.Ints(1)));   // [N, T, O]
        }
        b.Scope = "";
        return logits;
    }
}
