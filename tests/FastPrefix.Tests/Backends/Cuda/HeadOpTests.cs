using FastPrefix.Backends;

namespace FastPrefix.Tests.Backends.Cuda;

/// <summary>The CUDA backend's banked heads and cross entropy against the CPU reference: several tasks in one batch,
/// awkward widths, strided loss layouts (QA, multiple choice), ignored rows, the class limit, accumulation.</summary>
public class HeadOpTests
{
    public static TheoryData<string, string> Kinds() => GpuBackends.GpuKinds();

    public static TheoryData<string> Devices() => new() { "cuda-sim", "cuda" };

    [Theory, MemberData(nameof(Kinds))]
    public void Banked_linear_forward_and_backward_with_several_tasks(string kind, string precision)
    {
        using var o = new OpPair(kind, precision);
        const int rows = 21, cols = 99, outputs = 5, tasks = 3;
        var x = o.Compute(o.Normal(rows * cols), rows, cols);
        var w = o.F32(o.Normal(tasks * outputs * cols, 0.1), tasks, outputs, cols); var b = o.F32(o.Normal(tasks * outputs), tasks, outputs);
        var task = o.Ints([.. Enumerable.Range(0, rows).Select(r => r % 4 == 3 ? 0 : r % tasks)], rows);
        var y = o.F32(new float[rows * outputs], rows, outputs);
        var dy = o.F32(o.Normal(rows * outputs), rows, outputs);
        var dx = o.Compute(new float[rows * cols], rows, cols);
        var dw = o.F32(o.Normal(tasks * outputs * cols, 0.01), tasks, outputs, cols); var db = o.F32(o.Normal(tasks * outputs, 0.01), tasks, outputs);
        var dw2 = o.F32(new float[tasks * outputs * cols], tasks, outputs, cols);
        foreach (var side in new[] { 0, 1 })
        {
            IBackend be = side == 0 ? o.Cpu : o.Gpu;
            Tensor T(OpPair.Pair p) => side == 0 ? p.Cpu : p.Gpu;
            be.BankedLinear(T(x), T(w), T(b), T(task), T(y), rows, cols, outputs);
            be.BankedLinearBackward(T(dy), T(x), T(w), T(task), T(dx), T(dw), T(db), rows, cols, outputs);
            be.BankedLinearBackward(T(dy), T(x), T(w), T(task), null, T(dw2), null, rows - 4, cols, outputs);   // no dx, no db
        }
        o.AssertClose(y, "logits", o.Bf16 ? OpPair.Fp32Tolerance * 10 : null);   // fp32 sums of bf16 inputs, order differs
        o.AssertClose(dx, "input gradient");
        o.AssertClose(dw, "weight gradient");
        Assert.Equal(o.Host(db.Cpu), o.Host(db.Gpu));   // double sums in row order: bit for bit
        o.AssertClose(dw2, "weight gradient of the first rows");
    }

    public static TheoryData<string, int, int, int, int, int, int, float, bool> LossCases()
    {
        var data = new TheoryData<string, int, int, int, int, int, int, float, bool>();
        foreach (var kind in new[] { "cuda-sim", "cuda" })
        {
            data.Add(kind, 7, 3, 0, 3, 1, 0, 1f, false);          // sequence classification
            data.Add(kind, 300, 9, 0, 9, 1, 0, 1f, false);        // token classification: more rows than threads
            data.Add(kind, 5, 37, 1, 74, 2, 29, 0.5f, true);      // QA end logits: offset 1, class stride 2, limit 29, accumulated
            data.Add(kind, 3, 1, 0, 1, 1, 0, 1f, false);          // one choice
            data.Add(kind, 4, 6, 0, 6, 1, 0, 1f, false);          // every row ignored
        }
        return data;
    }

    [Theory, MemberData(nameof(LossCases))]
    public void Cross_entropy_on_the_grid_of_the_CPU(string kind, int rows, int classes, int offset, int rowStride, int classStride, int limit,
        float weight, bool accumulate)
    {
        using var o = new OpPair(kind, "fp32", seed: rows * classes);
        int length = offset + rows * rowStride + 1;
        var logits = o.F32(o.Normal(length, 3), length);
        bool allIgnored = rows == 4;
        var labels = o.Ints([.. Enumerable.Range(0, rows).Select(r => allIgnored || r % 3 == 1 ? -100 : o.Random.Next(limit > 0 ? limit : classes))], rows);
        var limitTensor = o.Ints([99, limit], 2);
        var dLogits = o.F32(Enumerable.Repeat(7f, length).ToArray(), length);
        var loss = o.F32([0, 0.25f, 0.125f, 0], 4);
        foreach (var side in new[] { 0, 1 })
        {
            IBackend be = side == 0 ? o.Cpu : o.Gpu;
            Tensor T(OpPair.Pair p) => side == 0 ? p.Cpu : p.Gpu;
            be.CrossEntropy(new CrossEntropyArgs(T(logits), offset, rowStride, classStride, rows, classes, T(labels), 0,
                limit > 0 ? T(limitTensor) : null, 1, weight, T(dLogits), T(loss), 1, accumulate));
        }
        o.AssertClose(dLogits, "dLogits");
        var (l0, l1) = (o.Host(loss.Cpu), o.Host(loss.Gpu));
        Assert.Equal(l0[0], l1[0]);
        Assert.Equal(l0[3], l1[3]);
        Assert.True(Math.Abs((double)l0[1] + l0[2] - ((double)l1[1] + l1[2])) <= 1e-12 * Math.Max(1, Math.Abs((double)l0[1] + l0[2])),
            $"loss {(double)l1[1] + l1[2]} vs {(double)l0[1] + l0[2]}");
        var d = o.Host(dLogits.Gpu);
        for (int r = 0; r < rows; r++)   // every row of the device gradient sums to exactly 0
        {
            float s = 0;
            for (int c = 0; c < classes; c++) s += d[offset + r * rowStride + c * classStride];
            Assert.Equal(0f, s);
        }
    }
}
