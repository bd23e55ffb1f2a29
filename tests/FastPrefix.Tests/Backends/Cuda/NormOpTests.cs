using FastPrefix.Backends;

namespace FastPrefix.Tests.Backends.Cuda;

/// <summary>The CUDA backend's embeddings + LayerNorm and residual LayerNorm (forward and backward) against the CPU
/// reference: widths that are not multiples of 32, one row, with and without dropout, with and without a residual gradient.</summary>
public class NormOpTests
{
    public static TheoryData<string, string, int, int, float> Cases()
    {
        var data = new TheoryData<string, string, int, int, float>();
        foreach (var (kind, precision) in GpuBackends.Combinations)
            foreach (var (rows, cols, p) in new[] { (1, 37, 0f), (13, 100, 0.1f), (29, 770, 0.25f) })
                data.Add(kind, precision, rows, cols, p);
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void Embeddings_and_LayerNorm(string kind, string precision, int rows, int cols, float p)
    {
        using var o = new OpPair(kind, precision, seed: rows + cols);
        const int vocab = 31, positions = 40, types = 3;
        var ids = o.Ints([.. Enumerable.Range(0, rows).Select(_ => o.Random.Next(vocab))], rows);
        var pos = o.Ints([.. Enumerable.Range(0, rows).Select(_ => o.Random.Next(positions))], rows);
        var tys = o.Ints([.. Enumerable.Range(0, rows).Select(_ => o.Random.Next(types))], rows);
        var word = o.Compute(o.Normal(vocab * cols), vocab, cols); var position = o.Compute(o.Normal(positions * cols, 0.5), positions, cols);
        var type = o.Compute(o.Normal(types * cols, 0.2), types, cols);
        var gamma = o.Compute(o.Normal(cols, 0.3).Select(v => v + 1).ToArray(), cols); var beta = o.Compute(o.Normal(cols, 0.1), cols);
        var seeds = o.Ints([3, 4, 5, 6], 4);
        var output = o.Compute(new float[rows * cols], rows, cols);
        foreach (var side in new[] { 0, 1 })
        {
            IBackend be = side == 0 ? o.Cpu : o.Gpu;
            Tensor T(OpPair.Pair x) => side == 0 ? x.Cpu : x.Gpu;
            be.EmbedLayerNorm(new EmbedArgs(T(ids), T(pos), T(tys), T(word), T(position), T(type), T(gamma), T(beta), T(output),
                rows, cols, 1e-12f, p, new DropoutSeed(T(seeds), 1)));
        }
        o.AssertClose(output, "EmbedLayerNorm");
    }

    [Theory, MemberData(nameof(Cases))]
    public void Residual_LayerNorm_forward_and_backward(string kind, string precision, int rows, int cols, float p)
    {
        using var o = new OpPair(kind, precision, seed: rows * cols);
        var branch = o.Compute(o.Normal(rows * cols), rows, cols); var bias = o.Compute(o.Normal(cols, 0.2), cols);
        var residual = o.Compute(o.Normal(rows * cols), rows, cols);
        var gamma = o.Compute(o.Normal(cols, 0.3).Select(v => v + 1).ToArray(), cols); var beta = o.Compute(o.Normal(cols, 0.1), cols);
        var sum = o.Compute(new float[rows * cols], rows, cols); var output = o.Compute(new float[rows * cols], rows, cols);
        var mean = o.F32(new float[rows], rows); var rstd = o.F32(new float[rows], rows);
        var seeds = o.Ints([8, 9], 2);
        var dOut = o.Compute(o.Normal(rows * cols), rows, cols);
        var dRes = o.Compute(new float[rows * cols], rows, cols); var dBranch = o.Compute(new float[rows * cols], rows, cols);
        var dBranchOnly = o.Compute(new float[rows * cols], rows, cols);
        foreach (var side in new[] { 0, 1 })
        {
            IBackend be = side == 0 ? o.Cpu : o.Gpu;
            Tensor T(OpPair.Pair x) => side == 0 ? x.Cpu : x.Gpu;
            var args = new ResidualNormArgs(T(branch), T(bias), T(residual), T(gamma), T(beta), T(sum), T(output), T(mean), T(rstd),
                rows, cols, 1e-5f, p, new DropoutSeed(T(seeds), 0));
            be.ResidualLayerNorm(args);
            be.ResidualLayerNormBackward(args, T(dOut), T(dRes), T(dBranch));
            be.ResidualLayerNormBackward(args, T(dOut), null, T(dBranchOnly));
        }
        o.AssertClose(sum, "residual sum");
        o.AssertClose(output, "LayerNorm output");
        o.AssertClose(mean, "mean", o.Bf16 ? OpPair.Bf16Tolerance : null);   // statistics of sums rounded to bf16
        o.AssertClose(rstd, "rstd", o.Bf16 ? OpPair.Bf16Tolerance : null);
        o.AssertClose(dRes, "residual gradient");
        o.AssertClose(dBranch, "branch gradient");
        o.AssertClose(dBranchOnly, "branch gradient without a residual gradient");
    }
}
