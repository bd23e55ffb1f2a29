namespace FastPrefix.Model;

/// <summary>
/// Losses on host logits, in double. Logits are small (rows × labels) and are downloaded for metrics
/// anyway, so one implementation serves every backend.
/// </summary>
public static class Losses
{
    public const int IgnoreIndex = -100;

    /// <summary>
    /// Softmax cross entropy of rows of logits (R, K). Rows labelled <paramref name="ignoreIndex"/> are skipped
    /// (their gradient is 0). dLogits = (softmax - onehot) · gradScale for kept rows.
    /// Returns the summed loss over kept rows and how many were kept. The gradient stays in double so that
    /// sums of it that are exactly zero in theory (a bias shared by every class) come out zero to 1e-16.
    /// </summary>
    public static (double Sum, int Count) CrossEntropy(ReadOnlySpan<float> logits, int rows, int classes, ReadOnlySpan<int> labels,
        Span<double> dLogits, double gradScale, int ignoreIndex = IgnoreIndex)
    {
        double sum = 0; int count = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = logits.Slice(r * classes, classes);
            var drow = dLogits.Slice(r * classes, classes);
            int y = labels[r];
            if (y == ignoreIndex) { drow.Clear(); continue; }
            if ((uint)y >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), $"label {y} at row {r} is outside 0..{classes - 1}");
            double max = double.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            double z = 0;
            foreach (var v in row) z += Math.Exp(v - max);
            double logZ = max + Math.Log(z);
            sum += logZ - row[y];
            count++;
            for (int c = 0; c < classes; c++) drow[c] = (Math.Exp(row[c] - logZ) - (c == y ? 1 : 0)) * gradScale;
        }
        return (sum, count);
    }

    /// <summary>Number of rows whose label is not ignored.</summary>
    public static int CountKept(ReadOnlySpan<int> labels, int ignoreIndex = IgnoreIndex)
    {
        int n = 0;
        foreach (var y in labels) if (y != ignoreIndex) n++;
        return n;
    }
}
