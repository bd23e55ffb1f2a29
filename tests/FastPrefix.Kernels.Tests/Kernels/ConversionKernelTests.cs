using System.Runtime.InteropServices;
using FastPrefix.IO;
using FastPrefix.Kernels.Launchers;

namespace FastPrefix.Kernels.Tests.Kernels;

/// <summary>
/// kernels/convert.cu and fill.cu against FastPrefix.IO.BFloat16Conversions, bit for bit: NaN payloads, ±inf,
/// ±0, subnormals, exact ties, overflow to inf, random patterns; counts and offsets that exercise the 128-bit
/// path, the scalar path (views at odd offsets) and the tail.
/// </summary>
public class ConversionKernelTests
{
    public static TheoryData<string, int, int> Layouts()
    {
        var cases = new TheoryData<string, int, int>();
        foreach (var kind in new[] { "sim", "cuda" })
            foreach (var (count, offset) in new[] { (1, 0), (7, 0), (8, 0), (9, 1), (4095, 0), (4096, 4), (100_003, 1), (100_003, 8) })
                cases.Add(kind, count, offset);
        return cases;
    }

    [Theory, MemberData(nameof(Layouts))]
    public void Fp32_to_bf16_matches_BFloat16Conversions_bit_for_bit(string kind, int count, int offset)
    {
        using var device = Devices.Open(kind);
        var bits = Patterns(count);
        using var input = device.AllocateArray<uint>(count + offset);
        using var output = device.AllocateArray<ushort>(count + offset);
        device.Upload<uint>(bits, input.Element<uint>(offset));
        ConvertLaunchers.F32ToBf16(device, output.Element<ushort>(offset), input.Element<uint>(offset), count);
        var expected = new ushort[count];
        BFloat16Conversions.FromSingle(MemoryMarshal.Cast<uint, float>(bits), expected);
        AssertBits(expected, device.DownloadArray<ushort>(output.Element<ushort>(offset), count), bits);
    }

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Bf16_to_fp32_is_exact_for_all_65536_patterns(string kind)
    {
        using var device = Devices.Open(kind);
        var all = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
        using var input = device.UploadArray<ushort>(all);
        using var output = device.AllocateArray<uint>(all.Length + 1);
        foreach (var offset in new[] { 0, 1 })
        {
            ConvertLaunchers.Bf16ToF32(device, output.Element<uint>(offset), input.Pointer, all.Length);
            var got = device.DownloadArray<uint>(output.Element<uint>(offset), all.Length);
            for (int i = 0; i < all.Length; i++)
                Assert.True(BitConverter.SingleToUInt32Bits(BFloat16Conversions.ToSingle(all[i])) == got[i], $"bf16 0x{i:X4} became 0x{got[i]:X8}");
        }
    }

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Fill_writes_the_value_rounded_like_a_conversion(string kind)
    {
        using var device = Devices.Open(kind);
        const int count = 1003;
        using var floats = device.AllocateArray<float>(count + 1);
        using var halves = device.AllocateArray<ushort>(count + 1);
        foreach (var value in new[] { 0f, -1.5f, 1.00390625f, float.NegativeInfinity, 3.4e38f, 1e-40f })
            foreach (var offset in new[] { 0, 1 })
            {
                FillLaunchers.FillF32(device, floats.Element<float>(offset), value, count);
                FillLaunchers.FillBf16(device, halves.Element<ushort>(offset), value, count);
                Assert.All(device.DownloadArray<float>(floats.Element<float>(offset), count), v => Assert.Equal(value, v));
                var expected = BFloat16Conversions.FromSingle(value);
                Assert.All(device.DownloadArray<ushort>(halves.Element<ushort>(offset), count), v => Assert.Equal(expected, v));
            }
        FillLaunchers.Zero(device, floats.Pointer, (count + 1) * sizeof(float));
        Assert.All(device.DownloadArray<uint>(floats.Pointer, count + 1), v => Assert.Equal(0u, v));
    }

    // Special values first (each is a case the rounding must get right), then random bit patterns.
    private static uint[] Patterns(int count)
    {
        uint[] special =
        [
            0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FBFFFFF, 0x7FFFFFFF, 0x7F80FFFF,   // NaNs, quiet and signalling
            0x7F800000, 0xFF800000, 0x00000000, 0x80000000,                                       // ±inf, ±0
            0x00000001, 0x007FFFFF, 0x80008000, 0x00018000, 0x00008000, 0x807FFFFF,             // subnormals and their ties
            0x3F808000, 0x3F818000, 0xBF808000, 0x3F808001, 0x3F807FFF,                          // ties to even (down, up), just above/below
            0x7F7FFFFF, 0x7F7F8000, 0x7F7F7FFF, 0xFF7FFFFF,                                      // overflow to inf and just not
            0x3F800000, 0x40490FDB, 0x00800000,                                                  // 1, pi, smallest normal
        ];
        var random = new Random(count);
        var bits = new uint[count];
        for (int i = 0; i < count; i++)
            bits[i] = i < special.Length ? special[i] : i % 3 == 0 ? (uint)random.Next() << 16 | 0x8000u : (uint)random.NextInt64(0, 1L << 32);
        return bits;
    }

    private static void AssertBits(ushort[] expected, ushort[] got, uint[] input)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i] == got[i], $"fp32 0x{input[i]:X8}: expected bf16 0x{expected[i]:X4}, got 0x{got[i]:X4}");
    }
}
