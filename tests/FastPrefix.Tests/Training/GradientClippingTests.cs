using FastPrefix.Backends;
using FastPrefix.Backends.Cpu;
using FastPrefix.Model;
using FastPrefix.Training;

namespace FastPrefix.Tests.Training;

/// <summary>Clipping by the global norm: the backend writes the norm and the coefficient; AdamW applies it on the fly.</summary>
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
    public void Measures_the_norm_before_clipping_and_the_coefficient_that_scales_to_max_norm()
    {
        var ps = WithGrads([3f, 4f], [12f]); // global norm 13
        var (norm, coef) = new GradientClipping(ps).Read(1.0);
        Assert.Equal(13.0, norm, 12);
        Assert.Equal((float)(1.0 / (13.0 + 1e-6)), coef);
        double after = coef * norm;
        Assert.Equal(1.0, after, 5);
        Assert.Equal([3f, 4f], ps[0].DownloadGrad());   // gradients untouched: AdamW applies the coefficient
    }

    [Fact]
    public void Leaves_small_gradients_alone()
    {
        var ps = WithGrads([0.3f, 0.4f]);
        var (norm, coef) = new GradientClipping(ps).Read(1.0);
        Assert.Equal(0.5, norm, 6);
        Assert.Equal(1f, coef);
    }

    [Fact]
    public void Zero_max_norm_only_measures()
    {
        var ps = WithGrads([30f, 40f]);
        var (norm, coef) = new GradientClipping(ps).Read(0);
        Assert.Equal(50.0, norm, 9);
        Assert.Equal(1f, coef);
    }

    [Fact]
    public void A_clipped_adamw_step_equals_a_step_on_scaled_gradients()
    {
        var clipped = WithGrads([3f, 4f], [12f]);
        var scaled = WithGrads([3f, 4f], [12f]);
        var backend = clipped[0].Value.Backend;
        var clip = new GradientClipping(clipped);
        var (_, coef) = clip.Read(1.0);
        foreach (var p in scaled) backend.Upload(p.DownloadGrad().Select(g => g * coef).ToArray(), p.Grad);

        using var a = new AdamW(clipped); using var b = new AdamW(scaled);
        using var results = backend.Zeros(2); using var scalars = backend.Zeros(3);
        Span<float> host = stackalloc float[3];
        a.StageStep(host, 0.1f); backend.Upload(host, scalars);
        clip.Measure(1.0, results, 0);
        a.Apply(scalars, 0, results, 1);
        b.Step(0.1f);
        for (int i = 0; i < clipped.Length; i++) Assert.Equal(scaled[i].Download(), clipped[i].Download());
    }
}
