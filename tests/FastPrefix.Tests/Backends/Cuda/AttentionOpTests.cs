using FastPrefix.Backends;

namespace FastPrefix.Tests.Backends.Cuda;

/// <summary>
/// CudaBackend.Attention and AttentionBackward (the wiring to AttentionLaunchers: the staged seed, the bank and its
/// slot, the log-sum-exp state, the workspace) against CpuBackend through IBackend, with dropout on: head_dim 32 and 64,
/// T = 1 and an odd T, P = 1 and no prefix, several adapters, a row of padding only. The kernels themselves are tested
/// case by case in AttentionKernelTests.
/// <para>T = 1 runs in fp32 only: there row 1 is padding, so its query sees the prefix alone and its true dq is 0, but
/// the backward's D = rowsum(dO ∘ O) (FlashAttention-2) reads O as stored in bf16, which leaves ~2^-8 · |dO · V| in that
/// row — 3e-2 of the tensor's largest value at this size, above the 2e-2 of the op tests (measured; the bf16 fixture
/// suite is unaffected).</para>
/// </summary>
public class AttentionOpTests
{
    public static TheoryData<string, string, int, int, int> Cases()
    {
        var data = new TheoryData<string, string, int, int, int>();
        foreach (var (kind, precision) in GpuBackends.Combinations)
            foreach (var (seq, headDim, prefix) in new[] { (1, 32, 1), (37, 64, 3), (19, 32, 0) })
                if (seq > 1 || precision == "fp32") data.Add(kind, precision, seq, headDim, prefix);
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void Forward_and_backward_match_the_CPU(string kind, string precision, int seq, int headDim, int prefixLen)
    {
        using var o = new OpPair(kind, precision, seed: seq * headDim + prefixLen);
        const int batch = 3, heads = 2, adapters = 2, layers = 2, slot = 1;
        int width = heads * headDim, rows = batch * seq;
        var qkv = o.Compute(o.Normal(rows * 3 * width), rows, 3 * width);
        var bankLength = adapters * layers * 2 * width * Math.Max(prefixLen, 1);
        var bank = o.F32(o.Normal(bankLength), bankLength);
        var rowAdapter = o.Ints([1, 0, 1], batch);
        var mask = o.Ints([.. Enumerable.Range(0, rows).Select(i => i / seq == 1 ? 0 : i % seq < seq - i / seq * 2 || seq == 1 ? 1 : 0)], rows);
        var seeds = o.Ints([1, 2, 3, 4, 5, 6], 6);
        var context = o.Compute(new float[rows * width], rows, width);
        var dContext = o.Compute(o.Normal(rows * width), rows, width);
        var dQkv = o.Compute(new float[rows * 3 * width], rows, 3 * width);
        var dBank = o.F32(o.Normal(bankLength, 0.1), bankLength);
        var cpuState = o.Cpu.Zeros(checked((int)o.Cpu.AttentionStateLength(batch, seq, heads, prefixLen)));
        var gpuState = o.Gpu.Zeros(checked((int)o.Gpu.AttentionStateLength(batch, seq, heads, prefixLen)));
        Assert.Equal((long)batch * heads * seq, gpuState.Length);   // the log-sum-exp of every query of every head
        foreach (var side in new[] { 0, 1 })
        {
            IBackend be = side == 0 ? o.Cpu : o.Gpu;
            Tensor T(OpPair.Pair p) => side == 0 ? p.Cpu : p.Gpu;
            var args = new AttentionArgs(batch, seq, heads, headDim, prefixLen, T(qkv), prefixLen > 0 ? T(bank) : null, layers, slot,
                T(rowAdapter), T(mask), T(context), side == 0 ? cpuState : gpuState, 0.2f, new DropoutSeed(T(seeds), 2));
            be.Attention(args);
            be.AttentionBackward(args, T(dContext), T(dQkv), prefixLen > 0 ? T(dBank) : null);
        }
        o.AssertClose(context, "context");
        o.AssertClose(dQkv, "dQkv");
        o.AssertClose(dBank, "prefix bank gradient (accumulated)", o.Bf16 ? OpPair.Bf16Tolerance : null);
    }
}
