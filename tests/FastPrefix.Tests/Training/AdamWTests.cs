using FastPrefix.Backends.Cpu;
using FastPrefix.Model;
using FastPrefix.Training;

namespace FastPrefix.Tests.Training;

public class AdamWTests
{
    // Gradients of three steps for a decayed weight w and an undecayed bias b.
    static readonly float[][] WGrads = [[0.5f, -1f], [-0.25f, 0.5f], [0.1f, 0f]];
    static readonly float[][] BGrads = [[2f], [1f], [-3f]];

    static (Parameter W, Parameter B) Params(CpuBackend backend)
    {
        var w = new Parameter(backend, "w", [2]); w.Upload([1f, -2f]);
        var b = new Parameter(backend, "b", [1], decay: false); b.Upload([0.5f]);
        return (w, b);
    }

    static void SetGrads(Parameter w, Parameter b, int step)
    {
        w.Grad.Backend.Upload(WGrads[step], w.Grad);
        b.Grad.Backend.Upload(BGrads[step], b.Grad);
    }

    [Fact]
    public void Three_steps_match_hand_computed_values()
    {
        // torch.optim.AdamW(lr=0.1, weight_decay=0.01): p *= 1 - lr·wd; m, v updated; p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps).
        // Step 1: m̂ = g, v̂ = g², so w = 1·0.999 - 0.1·sign(g) = 0.899, b = 0.5 - 0.1 = 0.4 (no decay on b).
        double[][] expectW = [[0.899000002, -1.898000001], [0.8714672987058463, -1.869468297369903], [0.8390714757250103, -1.8470108990330805]];
        double[] expectB = [0.4000000005, 0.30678203720851044, 0.31497971695564936];
        var backend = new CpuBackend();
        var (w, b) = Params(backend);
        using var adam = new AdamW([w, b], new AdamWOptions { WeightDecay = 0.01f });
        for (int s = 0; s < 3; s++)
        {
            SetGrads(w, b, s);
            adam.Step(0.1f);
            Assert.Equal(s + 1, adam.StepCount);
            var wv = w.Download();
            Assert.Equal(expectW[s][0], wv[0], 5e-6);
            Assert.Equal(expectW[s][1], wv[1], 5e-6);
            Assert.Equal(expectB[s], b.Download()[0], 5e-6);
        }
    }

    [Fact]
    public void Defaults_are_the_reference_ones()
    {
        var o = new AdamWOptions();
        Assert.Equal((0.9f, 0.999f, 1e-8f, 0f), (o.Beta1, o.Beta2, o.Eps, o.WeightDecay));
    }

    [Fact]
    public void Exported_state_continues_bitwise_identically()
    {
        var backend = new CpuBackend();
        var (w1, b1) = Params(backend);
        using var straight = new AdamW([w1, b1], new AdamWOptions { WeightDecay = 0.05f });
        for (int s = 0; s < 3; s++) { SetGrads(w1, b1, s); straight.Step(0.05f); }

        var (w2, b2) = Params(backend);
        AdamWState state;
        using (var first = new AdamW([w2, b2], new AdamWOptions { WeightDecay = 0.05f }))
        {
            SetGrads(w2, b2, 0); first.Step(0.05f);
            state = first.ExportState();
        }
        var (w3, b3) = Params(backend);
        w3.Upload(w2.Download()); b3.Upload(b2.Download());
        using var resumed = new AdamW([w3, b3], new AdamWOptions { WeightDecay = 0.05f });
        resumed.ImportState(state);
        Assert.Equal(1, resumed.StepCount);
        for (int s = 1; s < 3; s++) { SetGrads(w3, b3, s); resumed.Step(0.05f); }

        Assert.Equal(w1.Download(), w3.Download());
        Assert.Equal(b1.Download(), b3.Download());
    }

    [Fact]
    public void Import_rejects_state_of_other_parameters()
    {
        var backend = new CpuBackend();
        var (w, b) = Params(backend);
        using var adam = new AdamW([w, b]);
        var missing = new AdamWState(1, [new AdamWMoments("w", new float[2], new float[2])]);
        Assert.Contains("'b'", Assert.Throws<ArgumentException>(() => adam.ImportState(missing)).Message);
        var wrongSize = new AdamWState(1, [new AdamWMoments("w", new float[3], new float[3]), new AdamWMoments("b", new float[1], new float[1])]);
        Assert.Contains("'w'", Assert.Throws<ArgumentException>(() => adam.ImportState(wrongSize)).Message);
    }

    [Fact]
    public void Rejects_duplicate_names_and_bad_learning_rates()
    {
        var backend = new CpuBackend();
        var a = new Parameter(backend, "x", [1]); var c = new Parameter(backend, "x", [1]);
        Assert.Throws<ArgumentException>(() => new AdamW([a, c]));
        using var adam = new AdamW([a]);
        Assert.Throws<ArgumentException>(() => adam.Step(float.NaN));
        Assert.Throws<ArgumentException>(() => adam.Step(-1f));
    }
}
