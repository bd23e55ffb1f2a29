using FastPrefix.IO;

namespace FastPrefix.Kernels.Tests.Kernels;

/// <summary>
/// kernels/mma.cuh, the warp's tensor-core product (PTX mma.sync m16n8k16 bf16 → fp32): a matrix product built from
/// it (TestKernels/mma.cu) against a float64 product of the same bf16 values, on the simulator and on a GPU. Its inline
/// PTX goes through ptxas for sm_80 and sm_90 in NvrtcCompilerTests.KernelAssemble, as every kernel file does.
/// </summary>
public class TensorCoreTests
{
    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (var kind in new[] { "sim", "cuda" })
            foreach (var transposed in new[] { true, false })
                data.Add(kind, transposed);
        return data;
    }

    /// <param name="transposed">B given as (n, k) rows (mma_load_b: a · bᵀ), else as (k, n) rows (mma_load_b_rows: a · b).</param>
    [Theory, MemberData(nameof(Cases))]
    public void A_matrix_product_on_tensor_cores_matches_float64(string kind, bool transposed)
    {
        using var device = Devices.Open(kind);
        const int m = 48, n = 24, k = 64;
        var rng = new Random(5);
        ushort[] Bf16s(int count) => [.. Enumerable.Range(0, count).Select(_ => BFloat16Conversions.FromSingle((float)(rng.NextDouble() * 4 - 2)))];
        var a = Bf16s(m * k);
        var b = Bf16s(n * k);
        using var da = device.UploadArray<ushort>(a);
        using var db = device.UploadArray<ushort>(b);
        using var dc = device.AllocateArray<float>(m * n);
        device.Run(transposed ? "mma_matmul_bt" : "mma_matmul", new LaunchShape(new Dim3(n / 8, m / 16), new Dim3(32)), dc, da, db, m, n, k);
        var c = device.DownloadArray<float>(dc.Pointer, m * n);

        double largest = 0, worst = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double expected = 0;
                for (int p = 0; p < k; p++)
                    expected += (double)BFloat16Conversions.ToSingle(a[i * k + p]) * BFloat16Conversions.ToSingle(transposed ? b[j * k + p] : b[p * n + j]);
                largest = Math.Max(largest, Math.Abs(expected));
                worst = Math.Max(worst, Math.Abs(c[i * n + j] - expected));
            }
        // Products of bf16 values are exact in fp32; 64 fp32 additions lose at most a few units of 2^-24 each.
        Assert.True(worst <= 1e-5 * largest, $"largest error {worst} against largest value {largest} on {kind}");
    }
}
