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

    /// <summary>A staged seeds tensor holding one seed at index 0.</summary>
    DropoutSeed Seed(ulong seed) => new(UpI([(int)(uint)seed, (int)(uint)(seed >> 32)], 2), 0);

    [Fact]
    public void Gelu_backward_matches_finite_differences()
    {
        const int n = 64;
        var x = GradCheck.Random(n, 1, 3f); var w = GradCheck.Random(n, 2);
        var tx = Up(x, 1, n); var zero = _b.Zeros(n); var pre = _b.Zeros(1, n); var ty = _b.Zeros(1, n); var tw = Up(w, n); var tdx = _b.Zeros(n);
        double Loss() { _b.Copy(tx, 0, pre, 0, n); _b.BiasActivation(pre, zero, ty, 1, n, Activation.Gelu); return Dot(Host(ty), w); }
        Loss();
        _b.ActivationBackward(Activation.Gelu, tw, pre, tdx, n);
        GradCheck.Check("gelu", x, Host(tdx), v => _b.Upload(v, tx), Loss, samples: n, eps: 1e-3f);
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
    public void Bias_tanh_in_place_and_its_backward_match_finite_differences()
    {
        const int rows = 4, cols = 8, n = rows * cols;
        var x = GradCheck.Random(n, 3, 2f); var bias = GradCheck.Random(cols, 5); var w = GradCheck.Random(n, 4);
        var tx = Up(x, rows, cols); var tb = Up(bias, cols); var ty = _b.Zeros(rows, cols); var tw = Up(w, n); var tdx = _b.Zeros(n);
        double Loss() { _b.Copy(tx, 0, ty, 0, n); _b.BiasActivation(ty, tb, ty, rows, cols, Activation.Tanh); return Dot(Host(ty), w); }
        Loss();
        var hy = Host(ty);
        for (int i = 0; i < n; i++) Assert.Equal(MathF.Tanh(x[i] + bias[i % cols]), hy[i], 6);
        _b.ActivationBackward(Activation.Tanh, tw, ty, tdx, n);
        GradCheck.Check("tanh", x, Host(tdx), v => _b.Upload(v, tx), Loss, samples: n, eps: 1e-3f);
    }

    [Fact]
    public void Bias_without_activation_adds_in_place()
    {
        var x = Up([1f, 2f, 3f, 4f, 5f, 6f], 2, 3); var b = Up([10f, 20f, 30f], 3);
        _b.BiasActivation(x, b, x, 2, 3, Activation.None);
        Assert.Equal([11f, 22f, 33f, 14f, 25f, 36f], Host(x));
    }

    [Theory]
    [InlineData(3, 8, 0f)]
    [InlineData(5, 37, 0f)]
    [InlineData(4, 19, 0.3f)]
    public void Residual_layernorm_backward_matches_finite_differences(int rows, int cols, float dropout)
    {
        int n = rows * cols;
        var branch = GradCheck.Random(n, 5, 2f); var residual = GradCheck.Random(n, 15, 2f);
        var bias = GradCheck.Random(cols, 16); var g = GradCheck.Random(cols, 6); var beta = GradCheck.Random(cols, 7);
        var w = GradCheck.Random(n, 8);
        var tbr = Up(branch, rows, cols); var tres = Up(residual, rows, cols); var tbias = Up(bias, cols); var tg = Up(g, cols); var tbeta = Up(beta, cols);
        var sum = _b.Zeros(rows, cols); var outp = _b.Zeros(rows, cols); var tm = _b.Zeros(rows); var tr = _b.Zeros(rows);
        var args = new ResidualNormArgs(tbr, tbias, tres, tg, tbeta, sum, outp, tm, tr, rows, cols, 1e-5f, dropout, Seed(77));
        double Loss() { _b.ResidualLayerNorm(args); return Dot(Host(outp), w); }
        Loss();
        var dres = _b.Zeros(rows, cols); var dbr = _b.Zeros(rows, cols);
        _b.ResidualLayerNormBackward(args, Up(w, rows, cols), dres, dbr);
        GradCheck.Check("layernorm residual", residual, Host(dres), v => _b.Upload(v, tres), Loss, samples: 40, eps: 1e-3f);
        GradCheck.Check("layernorm branch", branch, Host(dbr), v => _b.Upload(v, tbr), Loss, samples: 40, eps: 1e-3f);
        if (dropout > 0) Assert.Contains(0f, Host(dbr));
    }

    [Fact]
    public void Embed_layernorm_matches_a_double_reference()
    {
        int rows = 5, cols = 12, vocab = 9, positions = 7, types = 2;
        var word = GradCheck.Random(vocab * cols, 40); var pos = GradCheck.Random(positions * cols, 41); var type = GradCheck.Random(types * cols, 42);
        var gamma = GradCheck.Random(cols, 43); var beta = GradCheck.Random(cols, 44);
        int[] ids = [3, 0, 8, 5, 1], posIds = [0, 1, 2, 6, 4], typeIds = [0, 1, 1, 0, 1];
        var o = _b.Zeros(rows, cols);
        _b.EmbedLayerNorm(new EmbedArgs(UpI(ids, rows), UpI(posIds, rows), UpI(typeIds, rows), Up(word, vocab, cols), Up(pos, positions, cols), Up(type, types, cols),
            Up(gamma, cols), Up(beta, cols), o, rows, cols, 1e-5f, 0f, default));
        var got = Host(o);
        for (int r = 0; r < rows; r++)
        {
            var x = Enumerable.Range(0, cols).Select(c => (double)word[ids[r] * cols + c] + pos[posIds[r] * cols + c] + type[typeIds[r] * cols + c]).ToArray();
            double mean = x.Average(), var = x.Select(v => (v - mean) * (v - mean)).Average();
            for (int c = 0; c < cols; c++) Assert.Equal((x[c] - mean) / Math.Sqrt(var + 1e-5) * gamma[c] + beta[c], got[r * cols + c], 5);
        }
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
        var ctx = _b.Zeros(B * T, C); var state = _b.Zeros((int)_b.AttentionStateLength(B, T, H, P));
        var args = new AttentionArgs(B, T, H, D, P, tq, P > 0 ? tbank : null, layers, slot, tra, tmask, ctx, state, 0, default);
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
        var ctx = _b.Zeros(B * T, C); var state = _b.Zeros((int)_b.AttentionStateLength(B, T, H, P));
        var args = new AttentionArgs(B, T, H, D, P, tq, tbank, 1, 0, tra, tmask, ctx, state, 0.3f, Seed(1234));
        var noDrop = args with { DropoutP = 0, Context = _b.Zeros(B * T, C), State = _b.Zeros((int)state.Length) };
        double Loss() { _b.Attention(args); return Dot(Host(ctx), w); }
        Loss();
        _b.Attention(noDrop);
        Assert.NotEqual(Host(noDrop.Context), Host(ctx));
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
    public void Dropout_is_deterministic_scaled_near_its_rate_and_its_backward_regenerates_the_mask()
    {
        const int n = 20000;
        var x = Up(Enumerable.Repeat(1f, n).ToArray(), n); var y = _b.Zeros(n); var y2 = _b.Zeros(n);
        _b.Dropout(x, y, n, 0.25f, Seed(99));
        _b.Dropout(x, y2, n, 0.25f, Seed(99));
        var hy = Host(y);
        Assert.Equal(hy, Host(y2));
        double dropped = hy.Count(v => v == 0) / (double)n;
        Assert.InRange(dropped, 0.23, 0.27);
        Assert.All(hy, v => Assert.True(v == 0 || Math.Abs(v - 1 / 0.75f) < 1e-6));
        var dy = Up(Enumerable.Repeat(2f, n).ToArray(), n);
        _b.DropoutBackward(dy, dy, n, 0.25f, Seed(99));
        Assert.Equal(hy.Select(v => 2 * v).ToArray(), Host(dy));
        _b.Dropout(x, y2, n, 0.25f, Seed(100));
        Assert.NotEqual(hy, Host(y2));
    }

    [Fact]
    public void AdamW_matches_the_textbook_update_and_applies_the_clip_coefficient()
    {
        var p = Up([1f, -2f], 2); var g = Up([0.5f, -0.25f], 2); var m = _b.Zeros(2); var v = _b.Zeros(2);
        // step 1: lr 0.1, stepSize = lr / (1 - 0.9), invSqrtBc2 = 1 / sqrt(1 - 0.999); clip 1
        var scalars = Up([0.1f, (float)(0.1 / (1 - 0.9)), (float)(1 / Math.Sqrt(1 - 0.999)), 1f], 4);
        _b.AdamW(new AdamWArgs(p, g, m, v, 2, scalars, 0, scalars, 3, 0.9f, 0.999f, 1e-8f, 0.01f));
        // mhat = g, vhat = g², update = g/|g| = sign(g); p = p(1 - lr·wd) - lr·sign(g)
        var hp = Host(p);
        Assert.Equal(1f * (1 - 0.001f) - 0.1f, hp[0], 5);
        Assert.Equal(-2f * (1 - 0.001f) + 0.1f, hp[1], 5);
        // a clip coefficient c gives exactly the update of gradients scaled by c
        var p1 = Up([1f, -2f], 2); var p2 = Up([1f, -2f], 2);
        var clipped = Up([0.5f * 0.3f, -0.25f * 0.3f], 2);
        var s1 = Up([0.1f, 1f, 1f, 0.3f], 4); var s2 = Up([0.1f, 1f, 1f, 1f], 4);
        _b.AdamW(new AdamWArgs(p1, g, _b.Zeros(2), _b.Zeros(2), 2, s1, 0, s1, 3, 0.9f, 0.999f, 1e-8f, 0f));
        _b.AdamW(new AdamWArgs(p2, clipped, _b.Zeros(2), _b.Zeros(2), 2, s2, 0, s2, 3, 0.9f, 0.999f, 1e-8f, 0f));
        Assert.Equal(Host(p2), Host(p1));
    }

    [Fact]
    public void Gradient_norm_writes_the_norm_and_the_clip_coefficient()
    {
        var out4 = _b.Zeros(4);
        _b.GradientNorm([Up([3f, 4f], 2), Up([12f], 1)], 1f, out4, 2);
        var h = Host(out4);
        Assert.Equal(13f, h[2]);
        Assert.Equal((float)(1 / (13 + 1e-6)), h[3]);
        _b.GradientNorm([Up([0.3f, 0.4f], 2)], 1f, out4, 0);
        Assert.Equal(1f, Host(out4)[1]);
        _b.GradientNorm([Up([30f, 40f], 2)], 0f, out4, 0);
        Assert.Equal([50f, 1f], Host(out4)[..2]);
        _b.GradientNorm([Up([float.NaN], 1)], 1f, out4, 0);
        Assert.True(float.IsNaN(Host(out4)[0]));
        Assert.Equal(1f, Host(out4)[1]);
    }

    [Fact]
    public void Gemm_reads_and_writes_strided_rows_in_place()
    {
        // The pooler's product: token 0 of each of 3 rows of 4 tokens (row stride 4·C) times Wᵀ, and its backward into those rows.
        int B = 3, T = 4, C = 5;
        var hidden = GradCheck.Random(B * T * C, 50); var w = GradCheck.Random(C * C, 51);
        var th = Up(hidden, B * T, C); var tw = Up(w, C, C); var y = _b.Zeros(B, C);
        _b.Gemm(false, true, B, C, C, 1f, th, 0, T * C, tw, 0, C, 0f, y, 0, C);
        var hy = Host(y);
        for (int b = 0; b < B; b++)
            for (int o = 0; o < C; o++)
                Assert.Equal(Enumerable.Range(0, C).Sum(c => (double)hidden[b * T * C + c] * w[o * C + c]), hy[b * C + o], 1e-5);
        var dh = _b.Zeros(B * T, C);
        _b.Fill(dh, 1f);
        _b.Gemm(false, false, B, C, C, 1f, y, 0, C, tw, 0, C, 1f, dh, 0, T * C);
        var hd = Host(dh);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int c = 0; c < C; c++)
                {
                    double expected = 1 + (t == 0 ? Enumerable.Range(0, C).Sum(o => (double)hy[b * C + o] * w[o * C + c]) : 0);
                    Assert.Equal(expected, hd[(b * T + t) * C + c], 1e-5);
                }
        Assert.Throws<ArgumentException>(() => _b.Gemm(false, true, B, C, C, 1f, th, 0, T * C, tw, 0, C, 0f, y, 0, C - 1));
    }

    [Fact]
    public void Column_sums_accumulate_in_double()
    {
        var dy = Up([1e8f, 1f, -1e8f, 2f, 1f, 3f], 3, 2); var db = Up([0.5f, 0.25f], 2);
        _b.ColumnSums(dy, db, 3, 2, accumulate: true);
        Assert.Equal([1.5f, 6.25f], Host(db));
        _b.ColumnSums(dy, db, 3, 2, accumulate: false);
        Assert.Equal([1f, 6f], Host(db));
    }

    [Fact]
    public void Copy_to_slot_reads_the_slot_on_the_device()
    {
        var src = Up([1f, 2f, 3f, 4f], 4); var dst = _b.Zeros(9); var slot = UpI([0, 2], 2);
        _b.CopyToSlot(src, 1, 3, dst, slot, 1);
        Assert.Equal([0f, 0f, 0f, 0f, 0f, 0f, 2f, 3f, 4f], Host(dst));
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

public class DropoutHashTests
{
    [Theory]
    [InlineData(0.1f, 0L, 37)]
    [InlineData(0.5f, 12345L, 1000)]
    [InlineData(0.999f, 7L, 64)]
    [InlineData(0f, 3L, 9)]
    [InlineData(1f, 3L, 33)]
    public void Vectorised_masks_equal_the_scalar_definition(float p, long start, int n)
    {
        var x = Enumerable.Range(0, n).Select(i => 1f + i).ToArray(); var y = new float[n];
        foreach (ulong seed in new[] { 0UL, 42UL, 0xFFFFFFFFFFFFFFFFUL })
        {
            DropoutHash.Apply(seed, start, x, y, p);
            float keep = p >= 1f ? 0f : 1f / (1f - p);
            for (int i = 0; i < n; i++)
                Assert.Equal(x[i] * (DropoutHash.Uniform(seed, start + i) >= p ? keep : 0f), y[i]);
        }
    }
}
