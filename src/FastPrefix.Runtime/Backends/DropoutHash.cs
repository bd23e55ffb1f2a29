namespace FastPrefix.Backends;

/// <summary>
/// Counter-based random numbers for dropout: the keep decision of element i depends only on (seed, i),
/// so masks are identical on every backend and thread count, and need not be stored to be replayed.
/// </summary>
public static class DropoutHash
{
    /// <summary>Uniform in [0, 1) from SplitMix64 of seed and index (24 bits of mantissa).</summary>
    public static float Uniform(ulong seed, long index)
    {
        ulong z = seed + 0x9E3779B97F4A7C15UL * (ulong)(index + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 40) * (1.0f / 16777216.0f);
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
