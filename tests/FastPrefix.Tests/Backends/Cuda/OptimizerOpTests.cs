using FastPrefix.Backends;

namespace FastPrefix.Tests.Backends.Cuda;

/// <summary>The CUDA backend's global gradient norm (clip coefficient included) and AdamW against the CPU reference.</summary>
public class OptimizerOpTests
{
    public static TheoryData<string> Devices() => new() { "cuda-sim", "cuda" };

    [Theory, MemberData(nameof(Devices))]
    public void Gradient_norm_and_clip_coefficient(string kind)
    {
        using var o = new OpPair(kind, "fp32");
        var grads = new[] { 1, 4099, 70_001, 33 }.Select(n => o.F32(o.Normal(n), n)).ToArray();
        var output = o.F32(new float[6], 6);
        foreach (var (maxNorm, index) in new[] { (1f, 0), (0f, 2), (1e6f, 4) })
        {
            o.Cpu.GradientNorm([.. grads.Select(g => g.Cpu)], maxNorm, output.Cpu, index);
            o.Gpu.GradientNorm([.. grads.Select(g => g.Gpu)], maxNorm, output.Gpu, index);
        }
        o.AssertClose(output, "norm and coefficient", 1e-6);
        var host = o.Host(output.Gpu);
        Assert.Equal(1f, host[3]);   // maxNorm 0: no clipping
        Assert.Equal(1f, host[5]);   // maxNorm above the norm

        // the same norm twice, bit for bit (fixed-order reduction)
        o.Gpu.GradientNorm([.. grads.Select(g => g.Gpu)], 1f, output.Gpu, 2);
        Assert.Equal(host[0], o.Host(output.Gpu)[2]);

        // a non-finite gradient: the norm says so, the coefficient is 1
        var bad = o.F32([1f, float.PositiveInfinity, 2f], 3);
        o.Gpu.GradientNorm([grads[0].Gpu, bad.Gpu], 1f, output.Gpu, 0);
        var h = o.Host(output.Gpu);
        Assert.True(float.IsPositiveInfinity(h[0]));
        Assert.Equal(1f, h[1]);
    }

    [Theory, MemberData(nameof(Devices))]
    public void AdamW_reads_its_scalars_and_the_clip_coefficient_on_the_device(string kind)
    {
        using var o = new OpPair(kind, "fp32");
        const int n = 1037;
        var param = o.F32(o.Normal(n), n); var grad = o.F32(o.Normal(n), n);
        var m = o.F32(o.Normal(n, 0.1), n); var v = o.F32(o.Normal(n, 0.1).Select(Math.Abs).ToArray(), n);
        var scalars = o.F32([9f, 1e-2f, 1e-2f / 0.1f, 1f / MathF.Sqrt(0.001f), 0.5f], 5);
        foreach (var side in new[] { 0, 1 })
        {
            IBackend be = side == 0 ? o.Cpu : o.Gpu;
            Tensor T(OpPair.Pair p) => side == 0 ? p.Cpu : p.Gpu;
            be.AdamW(new AdamWArgs(T(param), T(grad), T(m), T(v), n, T(scalars), 1, T(scalars), 4, 0.9f, 0.999f, 1e-8f, 0.01f));
        }
        o.AssertClose(param, "parameters");
        o.AssertClose(m, "first moment");
        o.AssertClose(v, "second moment");
    }
}
