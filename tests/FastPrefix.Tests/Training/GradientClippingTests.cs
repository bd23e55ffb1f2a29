using FastPrefix.Backends.Cpu;
using FastPrefix.Model;
using FastPrefix.Training;

namespace FastPrefix.Tests.Training;

public class GradientClippingTests
{
    static Parameter[] WithGrads(params float[][] grads)
    {
        var backend = new CpuBackend();
        return [.. grads.Select((g, i) =>
        {
            var p = new Parameter(backend, "p" + i, [g.Length]);
            backend.Upload(g, p.Grad);
            return p;
        })];
    }

    [Fact]
    public void Scales_to_max_norm_and_returns_the_norm_before()
    {
        var ps = WithGrads([3f, 4f], [12f]); // global norm 13
        double norm = GradientClipping.ClipByGlobalNorm(ps, 1.0);
        Assert.Equal(13.0, norm, 12);
        float coef = (float)(1.0 / (13.0 + 1e-6));
        Assert.Equal([3f * coef, 4f * coef], ps[0].DownloadGrad());
        Assert.Equal([12f * coef], ps[1].DownloadGrad());
        double after = Math.Sqrt(ps.Sum(p => p.DownloadGrad().Sum(x => (double)x * x)));
        Assert.Equal(1.0, after, 5);
    }

    [Fact]
    public void Leaves_small_gradients_alone()
    {
        var ps = WithGrads([0.3f, 0.4f]);
        Assert.Equal(0.5, GradientClipping.ClipByGlobalNorm(ps, 1.0), 6);
        Assert.Equal([0.3f, 0.4f], ps[0].DownloadGrad());
    }

    [Fact]
    public void Zero_max_norm_only_measures()
    {
        var ps = WithGrads([30f, 40f]);
        Assert.Equal(50.0, GradientClipping.ClipByGlobalNorm(ps, 0), 9);
        Assert.Equal([30f, 40f], ps[0].DownloadGrad());
    }
}
