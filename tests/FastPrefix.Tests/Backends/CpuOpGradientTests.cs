using FastPrefix.Backends;
using FastPrefix.Backends.Cpu;

namespace FastPrefix.Tests.Backends;

/// <summary>Finite-difference checks of every CPU backward op on small random inputs (loss = Σ w ⊙ output).</summary>
public class CpuOpGradientTests
{
    readonly CpuBackend _b = new();

    Tensor Up(float[] data, params int[] shape) { var t = _b.Zeros(shape); _b.Upload(data, t); return t; }
    Tensor UpI(int[] data, params int[] shape) { var t = _b.ZerosInt(shape); _b.Upload(data, t); return t; }
    float[] Host(Tensor t) { var a = new float[t.Length]; _b.Download(t, a); return a; }
    static double Dot(float[] a, float[] w) { double s = 0; for (int i = 0; i < a.Length; i++) s += (double)a[i] * w[i]; return s; }

    [Fact]
    public void Gelu_backward_matches_finite_differences()
    {
        const int n = 64;
        var x = GradCheck.Random(n, 1, 3f); var w = GradCheck.Random(n, 2);
        var tx = Up(x, n); var ty = _b.Zeros(n); var tw = Up(w, n); var tdx = _b.Zeros(n);
        _b.GeluBackward(tw, tx, tdx, n);
        GradCheck.Check("gelu", x, Host(tdx), v => _b.Upload(v, tx), () => { _b.Gelu(tx, ty, n); return Dot(Host(ty), w); }, samples: n, eps: 1e-3f);
    }

    [Fact]
    public void Gelu_is_the_exact_erf_form()
    {
        foreach (var x in new[] { -5f, -2.5f, -1f, -0.3f, 0f, 0.2f, 1f, 2.7f, 6f })
        {
            double exact = 0.5 * x * (1 + CpuMath.Erf(x / Math.Sqrt(2)));
            Assert.InRange(CpuMath.Gelu(x) - exact, -2e-6 * Math.Max(1, Math.Abs(x)), 2e-6 * Math.Max(1, Math.Abs(x)));
        }
        // erf reference values (Abramowitz & Stegun table 7.1)
        Assert.Equal(0.5204998778, CpuMath.Erf(0.5), 9);
        Assert.Equal(0.8427007929, CpuMath.Erf(1.0), 9);
        Assert.Equal(0.9953222650, CpuMath.Erf(2.0), 9);
        Assert.Equal(-0.9999779095, CpuMath.Erf(-3.0), 9);
        for (double x = -5; x <= 5; x += 0.01) Assert.InRange(CpuMath.ErfFast((float)x) - CpuMath.Erf(x), -3e-7, 3e-7);
    }

    [Fact]
    public void Tanh_backward_matches_finite_differences()
    {
        const int n = 32;
        var x = GradCheck.Random(n, 3, 2f); var w = GradCheck.Random(n, 4);
        var tx = Up(x, n); var ty = _b.Zeros(n); var tw = Up(w, n); var tdx = _b.Zeros(n);
        _b.Tanh(tx, ty, n);
        _b.TanhBackward(tw, ty, tdx, n);
        GradCheck.Check("tanh", x, Host(tdx), v => _b.Upload(v, tx), () => { _b.Tanh(tx, ty, n); return Dot(Host(ty), w); }, samples: n, eps: 1e-3f);
    }

    [Theory]
    [InlineData(3, 8)]
    [InlineData(5, 37)]
    public void LayerNorm_backward_matches_finite_differences(int rows, int cols)
    {
        var x = GradCheck.Random(rows * cols, 5, 2f); var g = GradCheck.Random(cols, 6); var beta = GradCheck.Random(cols, 7);
        var w = GradCheck.Random(rows * cols, 8);
        var tx = Up(x, rows, cols); var tg = Up(g, cols); var tb = Up(beta, cols); var ty = _b.Zeros(rows, cols);
        var tm = _b.Zeros(rows); var tr = _b.Zeros(rows); var tw = Up(w, rows, cols);
        var tdx = Up(GradCheck.Random(rows * cols, 9), rows, cols);
        var before = Host(tdx);
        _b.LayerNorm(tx, tg, tb, ty, tm, tr, rows, cols, 1e-5f);
        _b.LayerNormBackward(tw, tx, tg, tm, tr, tdx, rows, cols, accumulate: true);
        var analytic = Host(tdx).Zip(before, (a, c) => a - c).ToArray(); // accumulate adds onto what was there
        GradCheck.Check("layernorm", x, analytic, v => _b.Upload(v, tx),
            () => { _b.LayerNorm(tx, tg, tb, ty, tm, tr, rows, cols, 1e-5f); return Dot(Host(ty), w); }, samples: 40, eps: 1e-3f);
    }

    [Theory]
    [InlineData(2, 5, 3, 4, 3, 2, 0)]   // prefix, padding, two adapters
    [InlineData(1, 4, 1, 8, 0, 1, 0)]   // no prefix
    [InlineData(3, 3, 2, 2, 2, 3, 1)]   // odd sizes, second layer slot
    public void Attention_backward_matches_finite_differences(int B, int T, int H, int D, int P, int adapters, int slot)
    {
        int C = H * D, layers = 2;
        var qkv = GradCheck.Random(B * T * 3 * C, 11);
        var bank = GradCheck.Random(adapters * layers * 2 * H * Math.Max(P, 1) * D, 12);
        var mask = new int[B * T];
        for (int b = 0; b < B; b++) for (int t = 0; t < T; t++) mask[b * T + t] = t < T - b % 2 ? 1 : 0; // odd rows lose their last token
        var rowAdapter = Enumerable.Range(0, B).Select(b => b % adapters).ToArray();
        var w = GradCheck.Random(B * T * C, 13);
        var tq = Up(qkv, B * T, 3 * C); var tbank = Up(bank, bank.Length); var tmask = UpI(mask, B * T); var tra = UpI(rowAdapter, B);
        var ctx = _b.Zeros(B * T, C); var probs = _b.Zeros(B * H * T * (P + T));
        var args = new AttentionArgs(B, T, H, D, P, tq, P > 0 ? tbank : null, layers, slot, tra, tmask, ctx, probs, null, 0, 0);
        double Loss() { _b.Attention(args); return Dot(Host(ctx), w); }
        Loss();
        var dqkv = _b.Zeros(B * T, 3 * C); var dbank = _b.Zeros(bank.Length);
        _b.AttentionBackward(args, Up(w, B * T, C), dqkv, P > 0 ? dbank : null);
        var gq = Host(dqkv);
        // padded positions' keys and values get no gradient and change nothing
        GradCheck.Check("attention qkv", qkv, gq, v => _b.Upload(v, tq), Loss, samples: 60, eps: 1e-2f);
        if (P > 0) GradCheck.Check("attention prefix", bank, Host(dbank), v => _b.Upload(v, tbank), Loss, samples: 60, eps: 1e-2f);
    }

    [Fact]
    public void Attention_with_dropout_backward_matches_finite_differences()
    {
        int B = 2, T = 4, H = 2, D = 4, P = 3, C = H * D;
        var qkv = GradCheck.Random(B * T * 3 * C, 21); var bank = GradCheck.Random(2 * H * P * D, 22);
        var w = GradCheck.Random(B * T * C, 23);
        var tq = Up(qkv, B * T, 3 * C); var tbank = Up(bank, bank.Length);
        var tmask = UpI(Enumerable.Repeat(1, B * T).ToArray(), B * T); var tra = UpI(new int[B], B);
        var ctx = _b.Zeros(B * T, C); var probs = _b.Zeros(B * H * T * (P + T)); var drop = _b.Zeros(B * H * T * (P + T));
        var args = new AttentionArgs(B, T, H, D, P, tq, tbank, 1, 0, tra, tmask, ctx, probs, drop, 0.3f, 1234);
        double Loss() { _b.Attention(args); return Dot(Host(ctx), w); }
        Loss();
        Assert.Contains(0f, Host(drop));
        var dqkv = _b.Zeros(B * T, 3 * C); var dbank = _b.Zeros(bank.Length);
        _b.AttentionBackward(args, Up(w, B * T, C), dqkv, dbank);
        GradCheck.Check("attention+dropout qkv", qkv, Host(dqkv), v => _b.Upload(v, tq), Loss, samples: 60);
        GradCheck.Check("attention+dropout prefix", bank, Host(dbank), v => _b.Upload(v, tbank), Loss, samples: 60);
    }

    [Fact]
    public void Banked_linear_backward_matches_finite_differences()
    {
        int R = 5, Cc = 6, O = 3, tasks = 2;
        var x = GradCheck.Random(R * Cc, 31); var wt = GradCheck.Random(tasks * O * Cc, 32); var bias = GradCheck.Random(tasks * O, 33);
        var idx = new[] { 0, 1, 1, 0, 1 }; var w = GradCheck.Random(R * O, 34);
        var tx = Up(x, R, Cc); var tw = Up(wt, tasks, O, Cc); var tb = Up(bias, tasks, O); var ti = UpI(idx, R); var ty = _b.Zeros(R, O);
        double Loss() { _b.BankedLinear(tx, tw, tb, ti, ty, R, Cc, O); return Dot(Host(ty), w); }
        var dx = _b.Zeros(R, Cc); var dw = _b.Zeros(tasks, O, Cc); var db = _b.Zeros(tasks, O);
        _b.BankedLinearBackward(Up(w, R, O), tx, tw, ti, dx, dw, db, R, Cc, O);
        GradCheck.Check("linear x", x, Host(dx), v => _b.Upload(v, tx), Loss, samples: 30);
        GradCheck.Check("linear w", wt, Host(dw), v => _b.Upload(v, tw), Loss, samples: 36);
        GradCheck.Check("linear b", bias, Host(db), v => _b.Upload(v, tb), Loss, samples: 6);
    }

    [Fact]
    public void Permute_prefix_round_trips_and_matches_the_peft_view()
    {
        int P = 3, L = 2, Hh = 2, D = 4;
        var peft = Enumerable.Range(0, P * L * 2 * Hh * D).Select(i => (float)i).ToArray();
        var src = Up(peft, P, L * 2 * Hh * D); var bank = _b.Zeros(L, 2, Hh, P, D); var back = _b.Zeros(P, L * 2 * Hh * D);
        _b.PermutePrefix(src, bank, P, L, Hh, D, toPeft: false);
        var hb = Host(bank);
        // bank[l, kv, h, p, d] == peft[p, l, kv, h, d]
        for (int l = 0; l < L; l++) for (int kv = 0; kv < 2; kv++) for (int h = 0; h < Hh; h++) for (int p = 0; p < P; p++) for (int d = 0; d < D; d++)
            Assert.Equal(peft[(((p * L + l) * 2 + kv) * Hh + h) * D + d], hb[((((l * 2 + kv) * Hh + h) * P) + p) * D + d]);
        _b.PermutePrefix(bank, back, P, L, Hh, D, toPeft: true);
        Assert.Equal(peft, Host(back));
    }

    [Fact]
    public void Dropout_is_deterministic_scaled_and_near_its_rate()
    {
        const int n = 20000;
        var x = Up(Enumerable.Repeat(1f, n).ToArray(), n); var y = _b.Zeros(n); var m = _b.Zeros(n); var y2 = _b.Zeros(n); var m2 = _b.Zeros(n);
        _b.Dropout(x, y, m, n, 0.25f, 99);
        _b.Dropout(x, y2, m2, n, 0.25f, 99);
        var hy = Host(y);
        Assert.Equal(hy, Host(y2));
        double dropped = hy.Count(v => v == 0) / (double)n;
        Assert.InRange(dropped, 0.23, 0.27);
        Assert.All(hy, v => Assert.True(v == 0 || Math.Abs(v - 1 / 0.75f) < 1e-6));
        _b.Dropout(x, y2, m2, n, 0.25f, 100);
        Assert.NotEqual(hy, Host(y2));
    }

    [Fact]
    public void AdamW_matches_the_textbook_update()
    {
        var p = Up([1f, -2f], 2); var g = Up([0.5f, -0.25f], 2); var m = _b.Zeros(2); var v = _b.Zeros(2);
        _b.AdamW(p, g, m, v, 2, lr: 0.1f, beta1: 0.9f, beta2: 0.999f, eps: 1e-8f, weightDecay: 0.01f, step: 1);
        // step 1: mhat = g, vhat = g², update = g/|g| = sign(g); p = p(1 - lr·wd) - lr·sign(g)
        var hp = Host(p);
        Assert.Equal(1f * (1 - 0.001f) - 0.1f, hp[0], 5);
        Assert.Equal(-2f * (1 - 0.001f) + 0.1f, hp[1], 5);
    }
}

public class CpuGeluTests
{
    [Fact]
    public void Vectorised_gelu_matches_the_scalar_exact_form()
    {
        var x = Enumerable.Range(0, 1003).Select(i => -8f + i * 0.016f).ToArray();
        var y = new float[x.Length]; var dx = new float[x.Length]; var dy = Enumerable.Repeat(1f, x.Length).ToArray();
        FastPrefix.Backends.Cpu.CpuGelu.Forward(x, y);
        FastPrefix.Backends.Cpu.CpuGelu.Backward(dy, x, dx);
        for (int i = 0; i < x.Length; i++)
        {
            double erf = FastPrefix.Backends.Cpu.CpuMath.Erf(x[i] / Math.Sqrt(2));
            double gelu = 0.5 * x[i] * (1 + erf);
            double grad = 0.5 * (1 + erf) + x[i] * Math.Exp(-0.5 * x[i] * x[i]) / Math.Sqrt(2 * Math.PI);
            Assert.True(Math.Abs(y[i] - gelu) < 2e-6 * Math.Max(1, Math.Abs(x[i])), $"gelu({x[i]}) = {y[i]}, expected {gelu}");
            Assert.True(Math.Abs(dx[i] - grad) < 2e-6 * Math.Max(1, Math.Abs(x[i])), $"gelu'({x[i]}) = {dx[i]}, expected {grad}");
        }
    }
}
