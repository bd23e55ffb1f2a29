namespace FastPrefix.Metrics;

/// <summary>Accuracy for multiple-choice tasks (index of the chosen answer).</summary>
public static class ChoiceMetrics
{
    /// <summary>Fraction of examples whose predicted choice index equals the gold index, in [0, 1].</summary>
    public static double Accuracy(IReadOnlyList<int> predicted, IReadOnlyList<int> gold)
        => ClassificationMetrics.Accuracy(predicted, gold);
}
