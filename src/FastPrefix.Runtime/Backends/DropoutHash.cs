using System.Numerics;

namespace FastPrefix.Backends;

/// <summary>
/// Counter-based random numbers for dropout: the keep decision of element i depends only on (seed, i),
/// so masks are identical on every backend and thread count, and need not be stored to be replayed.
/// </summary>
public static class DropoutHash
{
    const ulong Golden = 0x9E3779B97F4A7C15UL, Mix1 = 0xBF58476D1CE4E5B9UL, Mix2 = 0x94D049BB133111EBUL;

    /// <summary>Uniform in [0, 1) from SplitMix64 of seed and index (24 bits of mantissa).</summary>
    public static float Uniform(ulong seed, long index) => Bits(seed, index) * (1.0f / 16777216.0f);

    /// <summary>The 24 random bits behind <see cref="Uniform"/>: element i is kept when Bits ≥ <see cref="Threshold"/>(p).</summary>
    public static ulong Bits(ulong seed, long index)
    {
        ulong z = seed + Golden * (ulong)(index + 1);
        z = (z ^ (z >> 30)) * Mix1;
        z = (z ^ (z >> 27)) * Mix2;
        z ^= z >> 31;
        return z >> 40;
    }

    /// <summary>Uniform ≥ p exactly when Bits ≥ this (p · 2^24 rounded up; the product is exact in double).</summary>
    public static ulong Threshold(float p) => p <= 0 ? 0 : p >= 1 ? 1UL << 24 : (ulong)Math.Ceiling(p * 16777216.0);

    /// <summary>Inverted dropout of a run of elements starting at <paramref name="start"/>: y = x · (keep ? 1/(1-p) : 0). y may alias x.</summary>
    public static void Apply(ulong seed, long start, ReadOnlySpan<float> x, Span<float> y, float p)
    {
        float keep = p >= 1f ? 0f : 1f / (1f - p);
        ulong threshold = Threshold(p);
        int i = 0, n = x.Length, w = Vector<uint>.Count;
        if (Vector.IsHardwareAccelerated && n >= w)
        {
            var lane = Lanes;
            var golden = new Vector<ulong>(Golden);
            var t = new Vector<ulong>(threshold);
            var scale = Vector.AsVectorUInt32(new Vector<float>(keep));
            for (; i <= n - w; i += w)
            {
                ulong first = seed + Golden * (ulong)(start + i + 1);
                var lo = Keep(new Vector<ulong>(first) + golden * lane, t);
                var hi = Keep(new Vector<ulong>(first + Golden * (ulong)Vector<ulong>.Count) + golden * lane, t);
                var mask = Vector.AsVectorSingle(Vector.Narrow(lo, hi) & scale);
                (new Vector<float>(x[i..]) * mask).CopyTo(y[i..]);
            }
        }
        for (; i < n; i++) y[i] = x[i] * (Bits(seed, start + i) >= threshold ? keep : 0f);
    }

    static readonly Vector<ulong> Lanes = new([.. Enumerable.Range(0, Vector<ulong>.Count).Select(k => (ulong)k)]);

    /// <summary>All ones where SplitMix64's 24 high bits of z reach the threshold.</summary>
    static Vector<ulong> Keep(Vector<ulong> z, Vector<ulong> threshold)
    {
        z = (z ^ Vector.ShiftRightLogical(z, 30)) * new Vector<ulong>(Mix1);
        z = (z ^ Vector.ShiftRightLogical(z, 27)) * new Vector<ulong>(Mix2);
        z ^= Vector.ShiftRightLogical(z, 31);
        return Vector.GreaterThanOrEqual(Vector.ShiftRightLogical(z, 40), threshold);
    }

    /// <summary>Mixes a base seed with a stream number (layer, site, step) into an independent seed.</summary>
    public static ulong Derive(ulong seed, ulong stream)
    {
        ulong z = seed ^ (stream * 0xD1B54A32D192ED03UL + 0x8CB92BA72F3D8DD7UL);
        z = (z ^ (z >> 33)) * 0xFF51AFD7ED558CCDUL;
        z = (z ^ (z >> 33)) * 0xC4CEB9FE1A85EC53UL;
        return z ^ (z >> 33);
    }
}
