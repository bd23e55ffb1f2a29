using System.Numerics;
using System.Runtime.InteropServices;

namespace FastPrefix.IO;

/// <summary>
/// bfloat16 (the upper 16 bits of an IEEE float32) stored as <see cref="ushort"/>.
/// Widening is exact; narrowing rounds to nearest, ties to even, and keeps NaN a (quiet) NaN.
/// </summary>
public static class BFloat16Conversions
{
    /// <summary>Exact: the bfloat16 bits become the upper half of the float32.</summary>
    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>Round to nearest even; ±Inf stay ±Inf, NaN becomes a quiet NaN of the same sign, overflow goes to ±Inf.</summary>
    public static ushort FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFFu) > 0x7F80_0000u) return (ushort)((bits >> 16) | 0x0040u);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    /// <summary>Widens <paramref name="source"/> into <paramref name="destination"/> (same length), vectorised.</summary>
    public static void ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        if (destination.Length != source.Length)
            throw new ArgumentException($"destination has {destination.Length} elements, source has {source.Length}", nameof(destination));
        var dst = MemoryMarshal.Cast<float, uint>(destination);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int step = Vector<ushort>.Count, half = Vector<uint>.Count;
            for (; i <= source.Length - step; i += step)
            {
                Vector.Widen(new Vector<ushort>(source.Slice(i)), out Vector<uint> lo, out Vector<uint> hi);
                (lo << 16).CopyTo(dst.Slice(i));
                (hi << 16).CopyTo(dst.Slice(i + half));
            }
        }
        for (; i < source.Length; i++) dst[i] = (uint)source[i] << 16;
    }

    /// <summary>Narrows <paramref name="source"/> into <paramref name="destination"/> (same length), round to nearest even, vectorised.</summary>
    public static void FromSingle(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        if (destination.Length != source.Length)
            throw new ArgumentException($"destination has {destination.Length} elements, source has {source.Length}", nameof(destination));
        var src = MemoryMarshal.Cast<float, uint>(source);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int half = Vector<uint>.Count, step = Vector<ushort>.Count;
            for (; i <= src.Length - step; i += step)
            {
                var lo = Round(new Vector<uint>(src.Slice(i)));
                var hi = Round(new Vector<uint>(src.Slice(i + half)));
                Vector.Narrow(lo, hi).CopyTo(destination.Slice(i));
            }
        }
        for (; i < src.Length; i++) destination[i] = FromSingle(BitConverter.UInt32BitsToSingle(src[i]));

        static Vector<uint> Round(Vector<uint> bits)
        {
            var isNaN = Vector.GreaterThan(bits & new Vector<uint>(0x7FFF_FFFFu), new Vector<uint>(0x7F80_0000u));
            var rounded = (bits + new Vector<uint>(0x7FFFu) + ((bits >> 16) & Vector<uint>.One)) >> 16;
            var quietNaN = (bits >> 16) | new Vector<uint>(0x0040u);
            return Vector.ConditionalSelect(isNaN, quietNaN, rounded);
        }
    }
}
