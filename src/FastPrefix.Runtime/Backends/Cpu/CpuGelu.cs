using System.Numerics;

namespace FastPrefix.Backends.Cpu;

/// <summary>
/// Exact-erf GELU and its derivative over spans, SIMD-wide (the same rational erf as <see cref="CpuMath.ErfFast"/>,
/// evaluated on <see cref="Vector{T}"/> lanes; the tail uses the scalar form).
/// </summary>
internal static class CpuGelu
{
    static Vector<float> Erf(Vector<float> x)
    {
        x = Vector.Min(Vector.Max(x, new Vector<float>(-4f)), new Vector<float>(4f));
        var x2 = x * x;
        var p = x2 * new Vector<float>(-2.72614225801306e-10f) + new Vector<float>(2.77068142495902e-08f);
        p = x2 * p + new Vector<float>(-2.10102402082508e-06f);
        p = x2 * p + new Vector<float>(-5.69250639462346e-05f);
        p = x2 * p + new Vector<float>(-7.34990630326855e-04f);
        p = x2 * p + new Vector<float>(-2.95459980854025e-03f);
        p = x2 * p + new Vector<float>(-1.60960333262415e-02f);
        p *= x;
        var q = x2 * new Vector<float>(-1.45660718464996e-05f) + new Vector<float>(-2.13374055278905e-04f);
        q = x2 * q + new Vector<float>(-1.68282697438203e-03f);
        q = x2 * q + new Vector<float>(-7.37332916720468e-03f);
        q = x2 * q + new Vector<float>(-1.42647390514189e-02f);
        return p / q;
    }

    const float InvSqrt2 = 0.70710678118654752440f, InvSqrt2Pi = 0.39894228040143267794f;

    public static void Forward(ReadOnlySpan<float> x, Span<float> y)
    {
        int w = Vector<float>.Count, i = 0;
        var half = new Vector<float>(0.5f); var one = Vector<float>.One; var s = new Vector<float>(InvSqrt2);
        for (; i <= x.Length - w; i += w)
        {
            var v = new Vector<float>(x[i..]);
            (half * v * (one + Erf(v * s))).CopyTo(y[i..]);
        }
        for (; i < x.Length; i++) y[i] = CpuMath.Gelu(x[i]);
    }

    /// <summary>dx = dy · (Φ(x) + x φ(x)).</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, Span<float> dx)
    {
        int w = Vector<float>.Count, i = 0;
        var half = new Vector<float>(0.5f); var one = Vector<float>.One; var s = new Vector<float>(InvSqrt2); var c = new Vector<float>(InvSqrt2Pi);
        for (; i <= x.Length - w; i += w)
        {
            var v = new Vector<float>(x[i..]);
            var cdf = half * (one + Erf(v * s));
            var pdf = c * Vector.Exp(-half * v * v);
            (new Vector<float>(dy[i..]) * (cdf + v * pdf)).CopyTo(dx[i..]);
        }
        for (; i < x.Length; i++) dx[i] = dy[i] * CpuMath.GeluGrad(x[i]);
    }
}
