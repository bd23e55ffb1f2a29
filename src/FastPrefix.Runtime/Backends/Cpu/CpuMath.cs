namespace FastPrefix.Backends.Cpu;

/// <summary>Scalar special functions the CPU backend needs and the BCL lacks.</summary>
internal static class CpuMath
{
    const double InvSqrt2 = 0.70710678118654752440;
    const double InvSqrt2Pi = 0.39894228040143267794;

    /// <summary>
    /// erf(x) to double precision (~1e-15 relative) via a series for small |x| and a continued fraction
    /// for erfc otherwise; the exact GELU must match the reference's erf, not a tanh approximation.
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        double ax = Math.Abs(x);
        if (ax < 2.5)
        {
            // Maclaurin series: erf x = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
            double x2 = x * x, term = x, sum = x;
            for (int n = 1; n < 80; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            return 1.1283791670955126 * sum;
        }
        if (ax > 6.0) return Math.Sign(x);
        // Continued fraction for erfc (Lentz), converges fast for |x| >= 2.5.
        double erfc = ErfcContinuedFraction(ax);
        return x > 0 ? 1 - erfc : erfc - 1;
    }

    static double ErfcContinuedFraction(double x)
    {
        // erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + ...)))))
        const double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int n = 1; n < 200; n++)
        {
            double an = n * 0.5;
            d = x + an * d; if (Math.Abs(d) < tiny) d = tiny; d = 1 / d;
            c = x + an / c; if (Math.Abs(c) < tiny) c = tiny;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return Math.Exp(-x * x) / (f * 1.7724538509055160273);
    }

    /// <summary>
    /// Single-precision erf: a rational minimax fit on [-4, 4] (the form Eigen and XLA use), a few ulp
    /// from the true value and much cheaper than <see cref="Erf"/>; tests bound its error against it.
    /// </summary>
    public static float ErfFast(float x)
    {
        x = Math.Clamp(x, -4f, 4f);
        float x2 = x * x;
        float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
        p = x2 * p + -2.10102402082508e-06f;
        p = x2 * p + -5.69250639462346e-05f;
        p = x2 * p + -7.34990630326855e-04f;
        p = x2 * p + -2.95459980854025e-03f;
        p = x2 * p + -1.60960333262415e-02f;
        p *= x;
        float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
        q = x2 * q + -1.68282697438203e-03f;
        q = x2 * q + -7.37332916720468e-03f;
        q = x2 * q + -1.42647390514189e-02f;
        return p / q;
    }

    public static float Gelu(float x) => 0.5f * x * (1f + ErfFast(x * (float)InvSqrt2));

    /// <summary>d/dx [x Φ(x)] = Φ(x) + x φ(x).</summary>
    public static float GeluGrad(float x)
    {
        float cdf = 0.5f * (1f + ErfFast(x * (float)InvSqrt2));
        float pdf = (float)InvSqrt2Pi * MathF.Exp(-0.5f * x * x);
        return cdf + x * pdf;
    }
}
