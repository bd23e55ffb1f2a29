using FastPrefix.Model;

namespace FastPrefix.Training;

/// <summary>Evaluates the model (in inference mode) on held-out data.</summary>
public interface IEvaluator
{
    /// <summary>Metric name → value; must contain <see cref="MainMetric"/>.</summary>
    IReadOnlyDictionary<string, double> Evaluate(PTuningModel model);
    /// <summary>The metric that selects the best parameters and drives early stopping.</summary>
    string MainMetric { get; }
    bool HigherIsBetter { get; }
    /// <summary>The longest input (in tokens) the evaluator will run, when known: the trainer plans its buffers for it too.</summary>
    int? MaxSequenceLength => null;
}
