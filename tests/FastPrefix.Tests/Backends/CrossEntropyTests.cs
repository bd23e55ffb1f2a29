using FastPrefix.Backends;
using FastPrefix.Backends.Cpu;

namespace FastPrefix.Tests.Backends;

/// <summary>The softmax cross-entropy op against a double reference: strided layouts, ignored rows, the class limit,
/// accumulation, the float-pair loss, and gradients whose rows sum to exactly zero.</summary>
public class CrossEntropyTests
{
    readonly CpuBackend _b = new();
    Tensor Up(float[] data) { var t = _b.Zeros(data.Length); _b.Upload(data, t); return t; }
    Tensor UpI(int[] data) { var t = _b.ZerosInt(data.Length); _b.Upload(data, t); return t; }
    float[] Host(Tensor t) { var a = new float[t.Length]; _b.Download(t, a); return a; }

    /// <summary>Mean CE over kept rows (double) and its gradient, for rows × classes logits read with strides.</summary>
    static (double Loss, double[] Grad) Reference(float[] logits, long offset, int rowStride, int classStride, int rows, int classes, int limit, int[] labels, double weight)
    {
        var grad = new double[logits.Length];
        int kept = labels.Take(rows).Count(y => y != -100);
        double sum = 0;
        for (int r = 0; r < rows; r++)
        {
            if (labels[r] == -100) continue;
            double max = double.NegativeInfinity;
            for (int c = 0; c < limit; c++) max = Math.Max(max, logits[offset + r * rowStride + c * classStride]);
            double z = 0;
            for (int c = 0; c < limit; c++) z += Math.Exp(logits[offset + r * rowStride + c * classStride] - max);
            double logZ = max + Math.Log(z);
            sum += logZ - logits[offset + r * rowStride + labels[r] * classStride];
            for (int c = 0; c < limit; c++)
                grad[offset + r * rowStride + c * classStride] = weight * (Math.Exp(logits[offset + r * rowStride + c * classStride] - logZ) - (c == labels[r] ? 1 : 0)) / kept;
        }
        return (kept == 0 ? 0 : weight * sum / kept, grad);
    }

    [Theory]
    [InlineData(5, 3, 0, 3, 1, 3, 1.0)]    // contiguous rows (sequence classification)
    [InlineData(4, 6, 1, 12, 2, 4, 0.5)]   // QA end column: offset 1, class stride 2, six positions of which four count
    [InlineData(3, 1000, 0, 1000, 1, 1000, 1.0)]
    public void Matches_a_double_reference(int rows, int classes, int offset, int rowStride, int classStride, int limit, double weight)
    {
        var rng = new Random(rows * 7 + classes);
        var logits = Enumerable.Range(0, rows * rowStride + 2).Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray();
        var labels = Enumerable.Range(0, rows).Select(r => r == 1 ? -100 : rng.Next(limit)).ToArray();
        var tl = Up(logits); var dl = _b.Zeros(logits.Length); var loss = _b.Zeros(2);
        _b.Fill(dl, 9f);
        _b.CrossEntropy(new CrossEntropyArgs(tl, offset, rowStride, classStride, rows, classes, UpI(labels), 0,
            limit < classes ? UpI([limit]) : null, 0, (float)weight, dl, loss, 0, false));
        var (refLoss, refGrad) = Reference(logits, offset, rowStride, classStride, rows, classes, limit, labels, weight);
        var l = Host(loss);
        Assert.Equal(refLoss, (double)l[0] + l[1], 12);
        var g = Host(dl);
        double scale = refGrad.Max(Math.Abs);
        for (int r = 0; r < rows; r++)
        {
            float rowSum = 0;
            for (int c = 0; c < classes; c++)
            {
                long i = offset + (long)r * rowStride + (long)c * classStride;
                Assert.True(Math.Abs(g[i] - refGrad[i]) <= 1e-6 * scale, $"row {r} class {c}: {g[i]} vs {refGrad[i]}");
                rowSum += g[i];
            }
            Assert.Equal(0f, rowSum);   // exact: the rounded grid makes every row cancel
        }
    }

    [Fact]
    public void A_shared_bias_gets_an_exactly_zero_gradient()
    {
        // Multiple choice: one output per choice row, one bias shared by every choice of every example.
        int examples = 7, choices = 3, rows = examples * choices;
        var rng = new Random(3);
        var logits = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
        var labels = Enumerable.Range(0, examples).Select(e => rng.Next(choices)).ToArray();
        var dl = _b.Zeros(rows); var loss = _b.Zeros(2);
        _b.CrossEntropy(new CrossEntropyArgs(Up(logits), 0, choices, 1, examples, choices, UpI(labels), 0, null, 0, 1f, dl, loss, 0, false));
        var x = Up(Enumerable.Range(0, rows * 4).Select(_ => (float)rng.NextDouble()).ToArray());
        var dw = _b.Zeros(1, 4); var db = _b.Zeros(1);
        _b.BankedLinearBackward(dl, x, _b.Zeros(1, 4), UpI(new int[rows]), null, dw, db, rows, 4, 1);
        Assert.Equal(0f, Host(db)[0]);
    }

    [Fact]
    public void Accumulates_and_ignores()
    {
        var logits = Up([1f, 2f, 3f, 0f, 0f, 0f]);
        var dl = _b.Zeros(6); var loss = _b.Zeros(4);
        _b.Upload([0f, 0f, 5f, 0.25f], loss);
        _b.CrossEntropy(new CrossEntropyArgs(logits, 0, 3, 1, 2, 3, UpI([2, -100]), 0, null, 0, 1f, dl, loss, 2, Accumulate: true));
        var l = Host(loss);
        double expected = 5.25 + (Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)) - 3);
        Assert.Equal(expected, (double)l[2] + l[3], 12);
        Assert.Equal([0f, 0f, 0f], Host(dl)[3..]);
        // every row ignored: no loss, no gradient
        _b.CrossEntropy(new CrossEntropyArgs(logits, 0, 3, 1, 2, 3, UpI([-100, -100]), 0, null, 0, 1f, dl, loss, 0, false));
        Assert.Equal([0f, 0f], Host(loss)[..2]);
        Assert.All(Host(dl), v => Assert.Equal(0f, v));
    }
}
