using FastPrefix.Backends;

namespace FastPrefix.Tests.Backends.Cuda;

/// <summary>
/// The CUDA backend's elementwise ops, copies, GEMMs and dropout against the CPU reference on random inputs of awkward
/// sizes (not multiples of 32 or 128), in fp32 and bf16, on the simulated GPU (and a real one when present).
/// </summary>
public class ElementwiseOpTests
{
    public static TheoryData<string, string> Kinds() => GpuBackends.GpuKinds();

    public static TheoryData<string> Devices() => new() { "cuda-sim", "cuda" };

    [Theory, MemberData(nameof(Kinds))]
    public void Fill_copy_and_add(string kind, string precision)
    {
        using var o = new OpPair(kind, precision);
        var a = o.Compute(o.Normal(1001), 1001); var b = o.Compute(o.Normal(1001), 1001); var c = o.Compute(new float[1001], 1001);
        foreach (var (be, x, y, z) in new[] { (o.Cpu as IBackend, a.Cpu, b.Cpu, c.Cpu), (o.Gpu, a.Gpu, b.Gpu, c.Gpu) })
        {
            be.Add(x, y, z, 997);       // the last 4 stay 0
            be.Add(z, y, z, 3);         // out aliasing a input
            be.Copy(x, 5, y, 900, 33);  // a window
            be.Fill(x, -2.5f, 17);
        }
        o.AssertClose(c, "Add");
        o.AssertClose(b, "Copy");
        o.AssertClose(a, "Fill");
    }

    [Theory, MemberData(nameof(Devices))]
    public void Copy_to_slot_reads_the_slot_on_the_device(string kind)
    {
        using var o = new OpPair(kind, "fp32");
        var src = o.F32(o.Normal(9), 9); var ring = o.F32(new float[5 * 3], 5, 3); var slot = o.Ints([7, 3], 2);
        o.Cpu.CopyToSlot(src.Cpu, 2, 3, ring.Cpu, slot.Cpu, 1);
        o.Gpu.CopyToSlot(src.Gpu, 2, 3, ring.Gpu, slot.Gpu, 1);
        Assert.Equal(o.Host(ring.Cpu), o.Host(ring.Gpu));
    }

    public static TheoryData<string, string, bool, bool> GemmCases()
    {
        var data = new TheoryData<string, string, bool, bool>();
        foreach (var (kind, precision) in GpuBackends.Combinations)
            foreach (var ta in new[] { false, true })
                foreach (var tb in new[] { false, true })
                    data.Add(kind, precision, ta, tb);
        return data;
    }

    [Theory, MemberData(nameof(GemmCases))]
    public void Gemm_with_offsets_strides_and_beta(string kind, string precision, bool transA, bool transB)
    {
        using var o = new OpPair(kind, precision);
        const int m = 37, n = 53, k = 29, pad = 3, offset = 5;
        int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
        int aRows = transA ? k : m, bRows = transB ? n : k;
        var a = o.Compute(o.Normal(offset + aRows * lda), offset + aRows * lda);
        var b = o.Compute(o.Normal(offset + bRows * ldb), offset + bRows * ldb);
        var c = o.Compute(o.Normal(offset + m * ldc), offset + m * ldc);
        var f = o.F32(o.Normal(offset + m * ldc), offset + m * ldc);
        foreach (var (be, x, y, z) in new[] { (o.Cpu as IBackend, a.Cpu, b.Cpu, c.Cpu), (o.Gpu, a.Gpu, b.Gpu, c.Gpu) })
        {
            be.Gemm(transA, transB, m, n, k, 0.75f, x, offset, lda, y, offset, ldb, 1f, z, offset, ldc);   // accumulate
            be.Gemm(transA, transB, 1, n, k, 1f, x, offset, lda, y, offset, ldb, 0f, z, 0, ldc);          // one row, overwrite
        }
        o.AssertClose(c, $"GEMM {(transA ? 'T' : 'N')}{(transB ? 'T' : 'N')}");
        // fp32 operands (the MLP prefix) stay fp32 in both precisions
        var a32 = o.F32(o.Normal(offset + aRows * lda), offset + aRows * lda);
        var b32 = o.F32(o.Normal(offset + bRows * ldb), offset + bRows * ldb);
        foreach (var (be, x, y, z) in new[] { (o.Cpu as IBackend, a32.Cpu, b32.Cpu, f.Cpu), (o.Gpu, a32.Gpu, b32.Gpu, f.Gpu) })
            be.Gemm(transA, transB, m, n, k, 1f, x, offset, lda, y, offset, ldb, 0f, z, offset, ldc);
        o.AssertClose(f, "fp32 GEMM");
    }

    [Theory, MemberData(nameof(Kinds))]
    public void Gemm_refuses_mixed_operand_types_with_a_message(string kind, string precision)
    {
        using var o = new OpPair(kind, precision);
        Assert.SkipUnless(o.Bf16, "in fp32 mode every float tensor has the same type: there is no mixed product to refuse");
        var a = o.Compute(o.Normal(16), 4, 4); var b = o.F32(o.Normal(16), 4, 4); var c = o.Compute(new float[16], 4, 4);
        var e = Assert.Throws<ArgumentException>(() => o.Gpu.Gemm(false, false, 4, 4, 4, 1f, a.Gpu, 0, 4, b.Gpu, 0, 4, 0f, c.Gpu, 0, 4));
        Assert.Contains("different element types", e.Message);
    }

    public static TheoryData<string, string, Activation> ActivationCases()
    {
        var data = new TheoryData<string, string, Activation>();
        foreach (var (kind, precision) in GpuBackends.Combinations)
            foreach (var act in Enum.GetValues<Activation>())
                data.Add(kind, precision, act);
        return data;
    }

    [Theory, MemberData(nameof(ActivationCases))]
    public void Bias_activation_and_its_backward(string kind, string precision, Activation act)
    {
        using var o = new OpPair(kind, precision);
        const int rows = 19, cols = 45;
        var x = o.Compute(o.Normal(rows * cols, 2), rows, cols); var bias = o.Compute(o.Normal(cols), cols);
        var y = o.Compute(new float[rows * cols], rows, cols);
        var inPlace = o.Compute(o.Normal(rows * cols, 2), rows, cols);
        var dy = o.Compute(o.Normal(rows * cols), rows, cols); var dx = o.Compute(new float[rows * cols], rows, cols);
        foreach (var (be, xx, bb, yy, ip, g, gx) in new[] { (o.Cpu as IBackend, x.Cpu, bias.Cpu, y.Cpu, inPlace.Cpu, dy.Cpu, dx.Cpu), (o.Gpu, x.Gpu, bias.Gpu, y.Gpu, inPlace.Gpu, dy.Gpu, dx.Gpu) })
        {
            be.BiasActivation(xx, bb, yy, rows, cols, act);
            if (act != Activation.Gelu) be.BiasActivation(ip, bb, ip, rows, cols, act);   // GELU's backward needs x kept
            be.ActivationBackward(act, g, act == Activation.Tanh ? yy : xx, gx, (long)rows * cols - 7);
        }
        o.AssertClose(x, $"{act} pre-activation");
        o.AssertClose(y, $"{act} output");
        o.AssertClose(inPlace, $"{act} in place");
        o.AssertClose(dx, $"{act} backward");
    }

    [Theory, MemberData(nameof(Devices))]
    public void Column_sums_in_double(string kind)
    {
        using var o = new OpPair(kind, "fp32");
        const int rows = 23, cols = 300;
        var dy = o.F32(o.Normal(rows * cols), rows, cols); var db = o.F32(o.Normal(cols), cols);
        o.Cpu.ColumnSums(dy.Cpu, db.Cpu, rows, cols, accumulate: true); o.Gpu.ColumnSums(dy.Gpu, db.Gpu, rows, cols, accumulate: true);
        Assert.Equal(o.Host(db.Cpu), o.Host(db.Gpu));   // the same double sums in the same order: bit for bit
        o.Cpu.ColumnSums(dy.Cpu, db.Cpu, 1, cols, accumulate: false); o.Gpu.ColumnSums(dy.Gpu, db.Gpu, 1, cols, accumulate: false);
        Assert.Equal(o.Host(db.Cpu), o.Host(db.Gpu));
    }

    [Theory, MemberData(nameof(Kinds))]
    public void Dropout_masks_match_the_CPU_hash_exactly(string kind, string precision)
    {
        using var o = new OpPair(kind, precision);
        const int n = 4099;
        var seeds = o.Ints([11, -5, unchecked((int)0x9E3779B9), 77], 4);
        var x = o.Compute(o.Normal(n), n); var y = o.Compute(new float[n], n); var g = o.Compute(o.Normal(n), n);
        foreach (var (be, xx, yy, gg, s) in new[] { (o.Cpu as IBackend, x.Cpu, y.Cpu, g.Cpu, seeds.Cpu), (o.Gpu, x.Gpu, y.Gpu, g.Gpu, seeds.Gpu) })
        {
            be.Dropout(xx, yy, n, 0.1f, new DropoutSeed(s, 1));
            be.DropoutBackward(gg, gg, n - 1, 0.37f, new DropoutSeed(s, 0));   // in place, another seed
        }
        // a product by 0 or by keep = 1/(1 - p): exact in fp32, one rounding of the same product in bf16
        Assert.Equal(o.Host(y.Cpu).Select(v => o.Bf16 ? Round(v) : v), o.Host(y.Gpu));
        Assert.Equal(o.Host(g.Cpu).Select(v => o.Bf16 ? Round(v) : v), o.Host(g.Gpu));
        int dropped = o.Host(y.Gpu).Count(v => v == 0);
        Assert.InRange(dropped, n * 0.07, n * 0.13);
    }

    static float Round(float v) => FastPrefix.IO.BFloat16Conversions.ToSingle(FastPrefix.IO.BFloat16Conversions.FromSingle(v));

    [Theory, MemberData(nameof(Devices))]
    public void Prefix_permutation_both_ways(string kind)
    {
        using var o = new OpPair(kind, "fp32");
        const int P = 3, layers = 2, heads = 3, D = 5, n = P * layers * 2 * heads * D;
        var src = o.F32(o.Normal(n), n); var bank = o.F32(new float[n], n); var back = o.F32(new float[n], n);
        foreach (var (be, s, b, r) in new[] { (o.Cpu as IBackend, src.Cpu, bank.Cpu, back.Cpu), (o.Gpu, src.Gpu, bank.Gpu, back.Gpu) })
        {
            be.PermutePrefix(s, b, P, layers, heads, D, toPeft: false);
            be.PermutePrefix(b, r, P, layers, heads, D, toPeft: true);
        }
        Assert.Equal(o.Host(bank.Cpu), o.Host(bank.Gpu));
        Assert.Equal(o.Host(src.Cpu), o.Host(back.Gpu));
    }
}
