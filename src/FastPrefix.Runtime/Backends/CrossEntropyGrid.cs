namespace FastPrefix.Backends;

/// <summary>
/// How <see cref="IBackend.CrossEntropy"/> rounds a row's gradient, shared by every backend: entries are integers times
/// a step 2^(e − 24) with 2^e > 2 · weight / kept, so every entry (|·| ≤ weight / kept) and every partial sum of a row is
/// exact in fp32, and the label's entry, minus the sum of the others, makes the row sum exactly 0. The other entries
/// are rounded from their running sum (the rounding error is carried), so the label's entry is within half a step.
/// </summary>
public struct CrossEntropyGrid
{
    /// <summary>Label of rows (or tokens) that take no part in the loss.</summary>
    public const int IgnoreIndex = -100;

    readonly double _steps;   // grid steps per unit of probability: (weight / kept) / step
    readonly double _step;
    double _sum;              // running sum of this row's non-label entries, in steps (unrounded)
    long _rounded;            // the same, rounded: what has been written so far

    public CrossEntropyGrid(float weight, int kept)
    {
        double scale = kept == 0 ? 0 : weight / (double)kept;
        int e = scale > 0 ? Math.ILogB(2 * scale) + 1 : 0;   // 2^e > 2 · scale
        _step = Math.ScaleB(1.0, e - 24);
        _steps = scale / _step;
        _sum = 0; _rounded = 0;
    }

    /// <summary>Starts a row.</summary>
    public void BeginRow() { _sum = 0; _rounded = 0; }

    /// <summary>The gradient entry of a non-label class with softmax probability p (rounded half to even).</summary>
    public float Next(double probability)
    {
        _sum += probability * _steps;
        long rounded = (long)Math.Round(_sum, MidpointRounding.ToEven);
        long q = rounded - _rounded;
        _rounded = rounded;
        return (float)(q * _step);
    }

    /// <summary>The label's entry: minus the sum of the row's other entries.</summary>
    public readonly float Label => (float)(-_rounded * _step);
}
