using FastPrefix.Data.Features;
using FastPrefix.Metrics;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Training;

namespace FastPrefix.Data.Tasks;

/// <summary>NER-style examples for the trainer: one row per sentence, a label on each word's first sub-token.</summary>
public sealed class TokenClassificationData(TokenClassificationFeatures features, int padId) : ITrainingData
{
    public TokenClassificationFeatures Features => features;
    public int Count => features.Rows.Count;
    public int LengthOf(int index) => features.Rows[index].Length;

    public TaskBatch MakeBatch(IReadOnlyList<int> exampleIndices)
    {
        var rows = exampleIndices.Select(i => features.Rows[i]).ToArray();
        var inputs = BatchBuilder.Pack(rows, padId, out int seq);
        return new TaskBatch { Inputs = inputs, Labels = BatchBuilder.PackTokenLabels(rows, seq) };
    }

    /// <summary>Predicted tag per word of every example.</summary>
    public string[][] PredictTags(PTuningModel model, IReadOnlyList<string> labels, int batchSize) =>
        BatchedInference.Run(Count, batchSize, LengthOf, idx =>
        {
            var rows = idx.Select(i => features.Rows[i]).ToArray();
            var output = model.Forward(new TaskBatch { Inputs = BatchBuilder.Pack(rows, padId, out int seq) });
            int k = labels.Count;
            return idx.Select((ex, r) =>
            {
                var best = new int[seq];
                for (int t = 0; t < seq; t++) best[t] = ClassificationEvaluator.ArgMax(output.Logits.AsSpan((r * seq + t) * k, k).ToArray());
                return TokenClassificationFeatures.WordTags(rows[r], features.Examples[ex].Words.Length, best, labels);
            }).ToArray();
        });
}

/// <summary>Entity-level precision, recall and F1 (main), seqeval's default behaviour.</summary>
public sealed class TokenClassificationEvaluator(TokenClassificationData data, IReadOnlyList<string> labels, int batchSize = 32) : IEvaluator
{
    public string MainMetric => "f1";
    public bool HigherIsBetter => true;
    public int? MaxSequenceLength => data.Count == 0 ? null : Enumerable.Range(0, data.Count).Max(data.LengthOf);

    public IReadOnlyDictionary<string, double> Evaluate(PTuningModel model)
    {
        var predicted = data.PredictTags(model, labels, batchSize);
        var gold = data.Features.Examples.Select(e => (IReadOnlyList<string>)e.Tags).ToArray();
        var s = EntityMetrics.Score(predicted, gold);
        return new Dictionary<string, double> { ["precision"] = s.Precision, ["recall"] = s.Recall, ["f1"] = s.F1 };
    }
}
