using FastPrefix.IO;

namespace FastPrefix.Kernels.Tests.Device;

/// <summary>
/// The device GEMM against a double-precision reference computed from the same operand values (bf16 operands
/// widened exactly), for every transpose, awkward sizes, padded leading dimensions, batches and alpha/beta.
/// </summary>
public class GemmTests
{
    public static TheoryData<string, ElementType, ElementType> TypeCases()
    {
        var cases = new TheoryData<string, ElementType, ElementType>();
        foreach (var kind in new[] { "sim", "cuda" })
        {
            cases.Add(kind, ElementType.F32, ElementType.F32);
            cases.Add(kind, ElementType.BF16, ElementType.BF16);
            cases.Add(kind, ElementType.BF16, ElementType.F32);
        }
        return cases;
    }

    private static readonly (int M, int N, int K)[] Sizes = [(1, 1, 1), (3, 5, 7), (17, 33, 65), (64, 1, 130), (1, 70, 9), (45, 19, 3)];

    [Theory, MemberData(nameof(TypeCases))]
    public void Matches_a_double_reference_for_every_transpose_and_awkward_sizes(string kind, ElementType input, ElementType output)
    {
        using var device = kind == "sim" ? new SimDevice(TestKernels.Set) : Devices.Open(kind);
        var random = new Random(11);
        foreach (var (m, n, k) in Sizes)
            foreach (var transposeA in new[] { false, true })
                foreach (var transposeB in new[] { false, true })
                    Check(device, random, new Case(m, n, k, transposeA, transposeB, input, output, Batch: 1, Alpha: 1, Beta: 0));
    }

    [Theory, MemberData(nameof(TypeCases))]
    public void Batches_strides_alpha_and_beta(string kind, ElementType input, ElementType output)
    {
        using var device = kind == "sim" ? new SimDevice(TestKernels.Set) : Devices.Open(kind);
        var random = new Random(12);
        Check(device, random, new Case(7, 9, 11, false, true, input, output, Batch: 3, Alpha: 1.5f, Beta: -0.5f));
        Check(device, random, new Case(5, 6, 4, true, false, input, output, Batch: 4, Alpha: 0.25f, Beta: 1, BroadcastA: true));
    }

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Beta_zero_never_reads_c(string kind)
    {
        using var device = kind == "sim" ? new SimDevice(TestKernels.Set) : Devices.Open(kind);
        using var a = device.UploadArray<float>([1, 2, 3, 4]);
        using var b = device.UploadArray<float>([5, 6, 7, 8]);
        using var c = device.UploadArray<float>([float.NaN, float.NaN, float.NaN, float.NaN]);
        device.Gemm(new GemmSpec { M = 2, N = 2, K = 2, A = new(a.Pointer, 2), B = new(b.Pointer, 2), C = new(c.Pointer, 2) });
        Assert.Equal([19f, 22f, 43f, 50f], device.DownloadArray<float>(c.Pointer, 4));
    }

    [Fact]
    public void Inconsistent_shapes_are_refused_with_the_field_named()
    {
        using var device = new SimDevice(TestKernels.Set);
        using var buffer = device.AllocateArray<float>(64);
        var spec = new GemmSpec { M = 4, N = 3, K = 5, A = new(buffer.Pointer, 5), B = new(buffer.Pointer, 2), C = new(buffer.Pointer, 3) };
        Assert.Equal("GEMM M 4, N 3, K 5, batch 1: B is stored K×N row-major, so its leading dimension must be at least 3, not 2",
            Assert.Throws<ArgumentException>(() => device.Gemm(spec)).Message);
        Assert.Contains("F32 inputs give an F32 output only", Assert.Throws<NotSupportedException>(() =>
            device.Gemm(spec with { B = new(buffer.Pointer, 3), OutputType = ElementType.BF16 })).Message);
    }

    private sealed record Case(int M, int N, int K, bool TransposeA, bool TransposeB, ElementType Input, ElementType Output,
        int Batch, float Alpha, float Beta, bool BroadcastA = false);

    private static void Check(IGpuDevice device, Random random, Case c)
    {
        // Stored shapes, each with padded rows (leading dimension + 3) and a gap between batch entries.
        int aRows = c.TransposeA ? c.K : c.M, aCols = c.TransposeA ? c.M : c.K;
        int bRows = c.TransposeB ? c.N : c.K, bCols = c.TransposeB ? c.K : c.N;
        int lda = aCols + 3, ldb = bCols + 1, ldc = c.N + 2;
        long strideA = c.BroadcastA ? 0 : aRows * lda + 5, strideB = bRows * ldb + 2, strideC = c.M * ldc + 3;
        var a = Values(random, (c.BroadcastA ? 1 : c.Batch) * Math.Max(strideA, aRows * lda), c.Input);
        var b = Values(random, c.Batch * strideB, c.Input);
        var cInitial = Values(random, c.Batch * strideC, c.Output);

        using var aBuffer = Upload(device, a, c.Input);
        using var bBuffer = Upload(device, b, c.Input);
        using var cBuffer = Upload(device, cInitial, c.Output);
        device.Gemm(new GemmSpec
        {
            M = c.M, N = c.N, K = c.K, TransposeA = c.TransposeA, TransposeB = c.TransposeB, Alpha = c.Alpha, Beta = c.Beta,
            A = new(aBuffer.Pointer, lda, strideA), B = new(bBuffer.Pointer, ldb, strideB), C = new(cBuffer.Pointer, ldc, strideC),
            BatchCount = c.Batch, InputType = c.Input, OutputType = c.Output,
        });
        var got = Download(device, cBuffer, cInitial.Length, c.Output);

        for (int batch = 0; batch < c.Batch; batch++)
            for (int i = 0; i < c.M; i++)
                for (int j = 0; j < c.N; j++)
                {
                    double sum = 0, magnitude = 0;
                    for (int p = 0; p < c.K; p++)
                    {
                        double x = a[batch * strideA + (c.TransposeA ? p * lda + i : i * lda + p)];
                        double y = b[batch * strideB + (c.TransposeB ? j * ldb + p : p * ldb + j)];
                        sum += x * y;
                        magnitude += Math.Abs(x * y);
                    }
                    long index = batch * strideC + i * ldc + j;
                    double expected = c.Alpha * sum + c.Beta * cInitial[index];
                    double scale = Math.Abs(c.Alpha) * magnitude + Math.Abs(c.Beta * cInitial[index]);
                    // fp32 accumulation: a few units in the last place per term; a bf16 output adds one rounding.
                    double tolerance = 1e-6 * (c.K + 2) * scale + (c.Output == ElementType.BF16 ? Math.Abs(expected) / 256 : 0) + 1e-30;
                    Assert.True(Math.Abs(got[index] - expected) <= tolerance,
                        $"{c} C[{batch}][{i},{j}] = {got[index]}, expected {expected} ± {tolerance}");
                }
        // Padding between rows and batch entries is left alone.
        for (long index = 0; index < cInitial.Length; index++)
        {
            long inBatch = index % strideC;
            if (index / strideC >= c.Batch || inBatch >= c.M * ldc || inBatch % ldc >= c.N)
                Assert.Equal(cInitial[index], got[index]);
        }
    }

    // Values exactly representable in the element type, so the reference sees what the device sees.
    private static float[] Values(Random random, long count, ElementType type)
    {
        var values = new float[count];
        for (long i = 0; i < count; i++)
        {
            float v = (float)(random.NextDouble() * 4 - 2);
            values[i] = type == ElementType.BF16 ? BFloat16Conversions.ToSingle(BFloat16Conversions.FromSingle(v)) : v;
        }
        return values;
    }

    private static DeviceBuffer Upload(IGpuDevice device, float[] values, ElementType type)
    {
        if (type == ElementType.F32) return device.UploadArray<float>(values);
        var bits = new ushort[values.Length];
        BFloat16Conversions.FromSingle(values, bits);
        return device.UploadArray<ushort>(bits);
    }

    private static float[] Download(IGpuDevice device, DeviceBuffer buffer, long count, ElementType type)
    {
        if (type == ElementType.F32) return device.DownloadArray<float>(buffer.Pointer, count);
        var values = new float[count];
        BFloat16Conversions.ToSingle(device.DownloadArray<ushort>(buffer.Pointer, count), values);
        return values;
    }
}
