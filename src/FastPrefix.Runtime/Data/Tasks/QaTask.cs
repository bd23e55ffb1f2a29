using FastPrefix.Data.Features;
using FastPrefix.Metrics;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Training;

namespace FastPrefix.Data.Tasks;

/// <summary>SQuAD windows for the trainer: one row per doc-stride window, with start/end targets.</summary>
public sealed class QaData(QaFeatures features, int padId) : ITrainingData
{
    public QaFeatures Features => features;
    public int Count => features.Windows.Count;
    public int LengthOf(int index) => features.Windows[index].Row.Length;

    public TaskBatch MakeBatch(IReadOnlyList<int> exampleIndices)
    {
        var windows = exampleIndices.Select(i => features.Windows[i]).ToArray();
        return new TaskBatch
        {
            Inputs = BatchBuilder.Pack(windows.Select(w => w.Row).ToArray(), padId, out _),
            StartPositions = windows.Select(w => w.StartPosition).ToArray(),
            EndPositions = windows.Select(w => w.EndPosition).ToArray(),
        };
    }

    /// <summary>The best answer of every example (SQuAD post-processing over its windows).</summary>
    public QaPrediction[] Predict(PTuningModel model, int batchSize, bool versionTwo, int nBest = 20, int maxAnswerLength = 30)
    {
        var perWindow = BatchedInference.Run(Count, batchSize, LengthOf, idx =>
        {
            var windows = idx.Select(i => features.Windows[i]).ToArray();
            var output = model.Forward(new TaskBatch { Inputs = BatchBuilder.Pack(windows.Select(w => w.Row).ToArray(), padId, out int seq) });
            return windows.Select((w, r) =>
            {
                int n = w.Row.Length;
                var start = new float[n]; var end = new float[n];
                for (int t = 0; t < n; t++) { start[t] = output.Logits[(r * seq + t) * 2]; end[t] = output.Logits[(r * seq + t) * 2 + 1]; }
                return QaFeatures.ToWindow(w, start, end);
            }).ToArray();
        });
        var byExample = features.Windows.Select((w, i) => (w.Example, Window: perWindow[i])).GroupBy(p => p.Example).ToDictionary(g => g.Key, g => g.Select(p => p.Window).ToList());
        return features.Examples.Select((e, i) => QaPostProcessing.Best(e.Context, byExample[i], nBest, maxAnswerLength, versionTwo)).ToArray();
    }
}

/// <summary>SQuAD exact match and F1 (main), official normalisation, in percent.</summary>
public sealed class QaEvaluator(QaData data, bool versionTwo, int batchSize = 16) : IEvaluator
{
    public string MainMetric => "f1";
    public bool HigherIsBetter => true;
    public int? MaxSequenceLength => data.Count == 0 ? null : Enumerable.Range(0, data.Count).Max(data.LengthOf);

    public IReadOnlyDictionary<string, double> Evaluate(PTuningModel model)
    {
        var predictions = data.Predict(model, batchSize, versionTwo);
        var golds = data.Features.Examples.Select(e => (IReadOnlyList<string>)e.Answers.Select(a => a.Text).ToArray()).ToArray();
        var (em, f1) = SquadMetrics.Score(predictions.Select(p => p.IsNull ? "" : p.Text).ToArray(), golds);
        return new Dictionary<string, double> { ["exact_match"] = em, ["f1"] = f1 };
    }
}
