namespace FastPrefix.Tests.Support;

/// <summary>Central finite differences against analytic gradients, on a sample of coordinates.</summary>
public static class GradCheck
{
    public static float[] Random(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return a;
    }

    /// <summary>
    /// For up to <paramref name="samples"/> coordinates of <paramref name="values"/>, perturbs the value by ±eps,
    /// calls <paramref name="apply"/> with the perturbed array and <paramref name="loss"/> to evaluate, and compares
    /// (L+ - L-) / 2eps to <paramref name="analytic"/>. Fails with the worst coordinate if the error exceeds
    /// tol · the largest sampled |analytic|.
    /// </summary>
    public static void Check(string what, float[] values, float[] analytic, Action<float[]> apply, Func<double> loss,
        int samples = 24, float eps = 1e-2f, double tol = 1e-2, int seed = 7)
    {
        Assert.Equal(values.Length, analytic.Length);
        var rng = new Random(seed);
        var indices = (values.Length <= samples ? Enumerable.Range(0, values.Length) : Enumerable.Range(0, samples).Select(_ => rng.Next(values.Length))).ToArray();
        // Relative to the largest gradient among the sampled coordinates, so a small uniform scale error fails.
        double scale = Math.Max(indices.Max(i => Math.Abs(analytic[i])), 1e-4);
        double worst = 0; int worstIndex = -1; double worstNumeric = 0;
        foreach (int i in indices)
        {
            float saved = values[i];
            values[i] = saved + eps; apply(values); double plus = loss();
            values[i] = saved - eps; apply(values); double minus = loss();
            values[i] = saved; apply(values);
            double numeric = (plus - minus) / (2 * eps);
            double err = Math.Abs(numeric - analytic[i]);
            Assert.False(double.IsNaN(numeric) || double.IsNaN(analytic[i]), $"{what}: NaN at {i}");
            if (err > worst) { worst = err; worstIndex = i; worstNumeric = numeric; }
        }
        Assert.True(worst <= tol * scale,
            $"{what}: gradient mismatch at index {worstIndex}: analytic {(worstIndex >= 0 ? analytic[worstIndex] : 0)}, numeric {worstNumeric}, |err| {worst:E3} > {tol} x {scale:E3}");
    }
}
