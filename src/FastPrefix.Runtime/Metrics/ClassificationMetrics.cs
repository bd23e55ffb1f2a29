namespace FastPrefix.Metrics;

/// <summary>
/// Sentence-level classification metrics with scikit-learn's semantics (zero_division = 0).
/// Pure functions: the inputs are never modified.
/// </summary>
public static class ClassificationMetrics
{
    /// <summary>Fraction of positions where <paramref name="predicted"/> equals <paramref name="gold"/>, in [0, 1].</summary>
    public static double Accuracy(IReadOnlyList<int> predicted, IReadOnlyList<int> gold)
    {
        MetricChecks.SameLengthNonEmpty(predicted, gold);
        int correct = 0;
        for (int i = 0; i < gold.Count; i++)
            if (predicted[i] == gold[i]) correct++;
        return (double)correct / gold.Count;
    }

    /// <summary>
    /// F1 of the class <paramref name="positive"/> (sklearn f1_score(average='binary', pos_label=positive,
    /// zero_division=0)): 2·tp / (2·tp + fp + fn), 0 when there are no true positives.
    /// Any label other than <paramref name="positive"/> counts as negative.
    /// </summary>
    public static double BinaryF1(IReadOnlyList<int> predicted, IReadOnlyList<int> gold, int positive = 1)
    {
        MetricChecks.SameLengthNonEmpty(predicted, gold);
        long tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < gold.Count; i++)
        {
            bool p = predicted[i] == positive, g = gold[i] == positive;
            if (p && g) tp++;
            else if (p) fp++;
            else if (g) fn++;
        }
        return F1(tp, fp, fn);
    }

    /// <summary>
    /// Unweighted mean of the per-class F1 over the classes 0 … numClasses-1 (sklearn
    /// f1_score(average='macro', labels=range(numClasses), zero_division=0)): a class that is
    /// neither predicted nor present in <paramref name="gold"/> contributes an F1 of 0.
    /// Labels outside [0, numClasses) are rejected (sklearn would silently ignore them).
    /// </summary>
    public static double MacroF1(IReadOnlyList<int> predicted, IReadOnlyList<int> gold, int numClasses)
    {
        MetricChecks.SameLengthNonEmpty(predicted, gold);
        if (numClasses < 1)
            throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "numClasses must be at least 1.");
        var tp = new long[numClasses];
        var fp = new long[numClasses];
        var fn = new long[numClasses];
        for (int i = 0; i < gold.Count; i++)
        {
            int p = predicted[i], g = gold[i];
            if ((uint)p >= (uint)numClasses)
                throw new ArgumentException($"predicted[{i}] = {p} is not a class index (expected 0 to {numClasses - 1}).", nameof(predicted));
            if ((uint)g >= (uint)numClasses)
                throw new ArgumentException($"gold[{i}] = {g} is not a class index (expected 0 to {numClasses - 1}).", nameof(gold));
            if (p == g) tp[p]++;
            else { fp[p]++; fn[g]++; }
        }
        double sum = 0;
        for (int c = 0; c < numClasses; c++) sum += F1(tp[c], fp[c], fn[c]);
        return sum / numClasses;
    }

    /// <summary>
    /// Matthews correlation coefficient, multiclass form (Gorodkin's R_K, as sklearn's matthews_corrcoef):
    /// (c·s − Σ_k p_k·t_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²)) with c correct predictions, s samples,
    /// p_k / t_k the predicted / true counts of class k. 0 when the denominator is 0. Any int is a label.
    /// </summary>
    public static double MatthewsCorrelation(IReadOnlyList<int> predicted, IReadOnlyList<int> gold)
    {
        MetricChecks.SameLengthNonEmpty(predicted, gold);
        var predCount = new Dictionary<int, long>();
        var trueCount = new Dictionary<int, long>();
        long correct = 0;
        for (int i = 0; i < gold.Count; i++)
        {
            predCount[predicted[i]] = predCount.GetValueOrDefault(predicted[i]) + 1;
            trueCount[gold[i]] = trueCount.GetValueOrDefault(gold[i]) + 1;
            if (predicted[i] == gold[i]) correct++;
        }
        double s = gold.Count;
        double pt = 0, pp = 0, tt = 0;
        foreach (var (label, p) in predCount)
        {
            pp += (double)p * p;
            if (trueCount.TryGetValue(label, out long t)) pt += (double)p * t;
        }
        foreach (var t in trueCount.Values) tt += (double)t * t;
        double covYtYp = correct * s - pt;
        double covYpYp = s * s - pp;
        double covYtYt = s * s - tt;
        if (covYpYp * covYtYt == 0) return 0.0;
        return covYtYp / Math.Sqrt(covYtYt * covYpYp);
    }

    internal static double F1(long tp, long fp, long fn)
    {
        long denominator = 2 * tp + fp + fn;
        return tp == 0 || denominator == 0 ? 0.0 : 2.0 * tp / denominator;
    }
}

internal static class MetricChecks
{
    public static void SameLengthNonEmpty<TP, TG>(IReadOnlyList<TP> predicted, IReadOnlyList<TG> gold,
        string predictedName = "predicted", string goldName = "gold")
    {
        ArgumentNullException.ThrowIfNull(predicted, predictedName);
        ArgumentNullException.ThrowIfNull(gold, goldName);
        if (predicted.Count != gold.Count)
            throw new ArgumentException(
                $"{predictedName} has {predicted.Count} items but {goldName} has {gold.Count} (expected the same length).",
                predictedName);
        if (gold.Count == 0)
            throw new ArgumentException($"{predictedName} and {goldName} are empty (expected at least one item).", goldName);
    }
}
