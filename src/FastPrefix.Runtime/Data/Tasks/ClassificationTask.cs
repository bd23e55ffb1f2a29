using FastPrefix.Data.Features;
using FastPrefix.Metrics;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Training;

namespace FastPrefix.Data.Tasks;

/// <summary>Sentence(-pair) classification examples for the trainer: one row per example.</summary>
public sealed class ClassificationData(ClassificationFeatures features, int padId) : ITrainingData
{
    public ClassificationFeatures Features => features;
    public int Count => features.Rows.Count;
    public int LengthOf(int index) => features.Rows[index].Length;

    public TaskBatch MakeBatch(IReadOnlyList<int> exampleIndices)
    {
        var rows = exampleIndices.Select(i => features.Rows[i]).ToArray();
        return new TaskBatch { Inputs = BatchBuilder.Pack(rows, padId, out _), Labels = exampleIndices.Select(i => features.Labels[i]).ToArray() };
    }

    /// <summary>Logits (examples, labels) in example order, computed in length-sorted batches.</summary>
    public float[][] Predict(PTuningModel model, int batchSize) =>
        BatchedInference.Run(Count, batchSize, LengthOf, idx =>
        {
            var output = model.Forward(new TaskBatch { Inputs = BatchBuilder.Pack(idx.Select(i => features.Rows[i]).ToArray(), padId, out _) });
            int k = output.Shape[1];
            return idx.Select((_, r) => output.Logits.AsSpan(r * k, k).ToArray()).ToArray();
        });
}

/// <summary>accuracy (main), plus F1 and MCC for two labels or macro F1 for more.</summary>
public sealed class ClassificationEvaluator(ClassificationData data, int numLabels, int batchSize = 32) : IEvaluator
{
    public string MainMetric => "accuracy";
    public bool HigherIsBetter => true;
    public int? MaxSequenceLength => data.Count == 0 ? null : Enumerable.Range(0, data.Count).Max(data.LengthOf);

    public IReadOnlyDictionary<string, double> Evaluate(PTuningModel model)
    {
        var logits = data.Predict(model, batchSize);
        var predicted = logits.Select(ArgMax).ToArray();
        var gold = data.Features.Labels;
        var keep = Enumerable.Range(0, gold.Length).Where(i => gold[i] != Losses.IgnoreIndex).ToArray();
        if (keep.Length == 0) throw new InvalidOperationException("evaluation data has no labels");
        var p = keep.Select(i => predicted[i]).ToArray(); var g = keep.Select(i => gold[i]).ToArray();
        var metrics = new Dictionary<string, double> { ["accuracy"] = ClassificationMetrics.Accuracy(p, g) };
        if (numLabels == 2) { metrics["f1"] = ClassificationMetrics.BinaryF1(p, g); metrics["mcc"] = ClassificationMetrics.MatthewsCorrelation(p, g); }
        else metrics["macro_f1"] = ClassificationMetrics.MacroF1(p, g, numLabels);
        return metrics;
    }

    public static int ArgMax(float[] v) => Inference.Prediction.ArgMax(v);
}
