using FastPrefix.Backends;
using FastPrefix.Backends.Cpu;
using FastPrefix.Backends.Cuda;
using FastPrefix.IO;

namespace FastPrefix.Tests.Backends.Cuda;

/// <summary>
/// The CPU reference and a GPU backend side by side, with tensors made on both from the same host values, so a test
/// runs an op on each and compares. Values of compute-type tensors are rounded to bf16 first in bf16 mode, so both
/// backends start from the same numbers and only the op's own rounding differs. Comparison: max |got − expected| /
/// max(max |expected|, 1e-6) below 1e-5 (fp32) or 2e-2 (bf16, for compute-type outputs; fp32 outputs keep 1e-5).
/// </summary>
public sealed class OpPair : IDisposable
{
    public const double Fp32Tolerance = 1e-5, Bf16Tolerance = 2e-2;
    readonly List<Tensor> _tensors = [];

    public OpPair(string kind, string precision, int seed = 1)
    {
        Gpu = GpuBackends.OpenGpu(kind, precision);
        Random = new Random(seed);
    }

    public CpuBackend Cpu { get; } = new();
    public CudaBackend Gpu { get; }
    public Random Random { get; }
    public bool Bf16 => Gpu.ComputeType == TensorType.BFloat16;
    /// <summary>The tolerance of a compute-type output.</summary>
    public double ComputeTolerance => Bf16 ? Bf16Tolerance : Fp32Tolerance;

    /// <summary>A compute-type tensor on both backends (values rounded to bf16 in bf16 mode).</summary>
    public Pair Compute(float[] values, params int[] shape) => Make(TensorType.Float32, Gpu.ComputeType, Bf16 ? RoundBf16(values) : values, shape);

    /// <summary>An fp32 tensor on both backends.</summary>
    public Pair F32(float[] values, params int[] shape) => Make(TensorType.Float32, TensorType.Float32, values, shape);

    public Pair Ints(int[] values, params int[] shape)
    {
        var cpu = Cpu.Allocate(TensorType.Int32, shape); var gpu = Gpu.Allocate(TensorType.Int32, shape);
        Cpu.Upload(values, cpu); Gpu.Upload(values, gpu);
        return Track(new Pair(cpu, gpu, false));
    }

    /// <summary>n standard-normal-ish values (scaled).</summary>
    public float[] Normal(long n, double scale = 1)
    {
        var v = new float[n];
        for (long i = 0; i < n; i++)
            v[i] = (float)(scale * Math.Sqrt(-2 * Math.Log(1 - Random.NextDouble())) * Math.Cos(2 * Math.PI * Random.NextDouble()));
        return v;
    }

    Pair Make(TensorType cpuType, TensorType gpuType, float[] values, int[] shape)
    {
        var cpu = Cpu.Allocate(cpuType, shape); var gpu = Gpu.Allocate(gpuType, shape);
        Cpu.Upload(values, cpu); Gpu.Upload(values, gpu);
        return Track(new Pair(cpu, gpu, gpuType == TensorType.BFloat16));
    }

    Pair Track(Pair p) { _tensors.Add(p.Cpu); _tensors.Add(p.Gpu); return p; }

    static float[] RoundBf16(float[] values) => [.. values.Select(v => BFloat16Conversions.ToSingle(BFloat16Conversions.FromSingle(v)))];

    public float[] Host(Tensor t) { var a = new float[t.Length]; t.Backend.Download(t, a); return a; }
    public int[] HostInts(Tensor t) { var a = new int[t.Length]; t.Backend.Download(t, a); return a; }

    /// <summary>Asserts the GPU's values of <paramref name="p"/> against the CPU's (tolerance by the tensor's type unless given).</summary>
    public void AssertClose(Pair p, string what, double? tolerance = null) =>
        AssertClose(Host(p.Cpu), Host(p.Gpu), what, tolerance ?? (p.IsBf16 ? Bf16Tolerance : Fp32Tolerance));

    public static void AssertClose(float[] expected, float[] got, string what, double tolerance)
    {
        Assert.Equal(expected.Length, got.Length);
        double maxExpected = 0, maxError = 0; int worst = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(got[i]) && !float.IsNaN(expected[i]), $"{what}: NaN at {i} (expected {expected[i]})");
            maxExpected = Math.Max(maxExpected, Math.Abs(expected[i]));
            double error = Math.Abs((double)got[i] - expected[i]);
            if (float.IsNaN(expected[i]) && float.IsNaN(got[i])) error = 0;
            if (error > maxError || double.IsNaN(error)) { maxError = error; worst = i; }
        }
        double relative = maxError / Math.Max(maxExpected, 1e-6);
        Assert.True(relative < tolerance,
            $"{what}: relative error {relative:E2} >= {tolerance:E0} (worst at {worst}: got {(worst >= 0 ? got[worst] : 0)}, expected {(worst >= 0 ? expected[worst] : 0)})");
    }

    public void Dispose()
    {
        foreach (var t in _tensors) t.Dispose();
        Gpu.Dispose();
    }

    /// <summary>The same tensor on the CPU and the GPU backend.</summary>
    public sealed record Pair(Tensor Cpu, Tensor Gpu, bool IsBf16);
}
