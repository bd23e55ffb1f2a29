using FastPrefix.Data.Features;
using FastPrefix.Metrics;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Training;

namespace FastPrefix.Data.Tasks;

/// <summary>Multiple-choice examples for the trainer: an example is its choices' rows, consecutive.</summary>
public sealed class ChoiceData(ChoiceFeatures features, int padId) : ITrainingData
{
    public ChoiceFeatures Features => features;
    public int Count => features.Examples.Count;
    public int LengthOf(int index) => features.Examples[index].Max(r => r.Length);

    public TaskBatch MakeBatch(IReadOnlyList<int> exampleIndices) => new()
    {
        Inputs = BatchBuilder.Pack(exampleIndices.SelectMany(i => features.Examples[i]).ToArray(), padId, out _),
        Labels = exampleIndices.Select(i => features.Labels[i]).ToArray(),
        Choices = features.Choices,
    };

    /// <summary>Scores (examples, choices) in example order.</summary>
    public float[][] Predict(PTuningModel model, int batchSize) =>
        BatchedInference.Run(Count, batchSize, LengthOf, idx =>
        {
            var output = model.Forward(new TaskBatch { Inputs = BatchBuilder.Pack(idx.SelectMany(i => features.Examples[i]).ToArray(), padId, out _), Choices = features.Choices });
            int c = features.Choices;
            return idx.Select((_, r) => output.Logits.AsSpan(r * c, c).ToArray()).ToArray();
        });
}

public sealed class ChoiceEvaluator(ChoiceData data, int batchSize = 16) : IEvaluator
{
    public string MainMetric => "accuracy";
    public bool HigherIsBetter => true;
    public int? MaxSequenceLength => data.Count == 0 ? null : Enumerable.Range(0, data.Count).Max(data.LengthOf);

    public IReadOnlyDictionary<string, double> Evaluate(PTuningModel model)
    {
        var predicted = data.Predict(model, batchSize).Select(ClassificationEvaluator.ArgMax).ToArray();
        var gold = data.Features.Labels;
        var keep = Enumerable.Range(0, gold.Length).Where(i => gold[i] != Losses.IgnoreIndex).ToArray();
        return new Dictionary<string, double> { ["accuracy"] = ChoiceMetrics.Accuracy(keep.Select(i => predicted[i]).ToArray(), keep.Select(i => gold[i]).ToArray()) };
    }
}
