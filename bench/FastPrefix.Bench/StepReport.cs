using System.Diagnostics;
using FastPrefix.Backends.Cpu;

namespace FastPrefix.Bench;

/// <summary>
/// `-- step-report [steps]`: splits a CPU training step of <see cref="BenchModel"/> into matrix products and
/// the rest, and measures in the same run the best sgemm this machine offers on every GEMM shape the step
/// uses (native BLAS and managed kernel, best of several repeats). Prints a markdown table for bench/RESULTS.md.
/// </summary>
public static class StepReport
{
    public static void Run(int steps)
    {
        steps = steps > 0 ? steps : 10;
        using var m = new BenchModel();
        Console.WriteLine($"# step report: {BenchModel.Layers} layers, hidden {BenchModel.Hidden}, {BenchModel.Heads} heads, intermediate {BenchModel.Intermediate}, batch {BenchModel.Batch} x seq {BenchModel.Seq}, prefix {BenchModel.PrefixLen}");
        Console.WriteLine($"# backend: {m.Backend.Name}; {Environment.ProcessorCount} logical cores; {DateTime.UtcNow:yyyy-MM-dd}");

        // Warm up, then record the GEMM shapes of one step.
        for (int i = 0; i < 2; i++) { m.TrainStep(); m.Forward(); }
        var shapes = new List<(bool TA, bool TB, int M, int N, int K)>();
        m.Backend.GemmTrace = s => shapes.Add(s);
        m.TrainStep();
        m.Backend.GemmTrace = null;

        double fwdBest = double.MaxValue;
        for (int i = 0; i < steps; i++) { var sw = Stopwatch.StartNew(); m.Forward(); fwdBest = Math.Min(fwdBest, sw.Elapsed.TotalSeconds); }

        m.Backend.ProfileGemm = true;
        var stepTimes = new List<double>(); var gemmTimes = new List<double>();
        for (int i = 0; i < steps; i++)
        {
            m.Backend.ResetGemmProfile();
            var sw = Stopwatch.StartNew();
            m.TrainStep();
            stepTimes.Add(sw.Elapsed.TotalSeconds); gemmTimes.Add(m.Backend.GemmSeconds);
        }
        double flops = m.Backend.GemmFlops;
        m.Backend.ProfileGemm = false;
        int median = steps / 2;
        var order = Enumerable.Range(0, steps).OrderBy(i => stepTimes[i]).ToArray();
        double step = stepTimes[order[median]], gemm = gemmTimes[order[median]];

        // Best sgemm per distinct shape, measured now, standalone, on both implementations.
        double ideal = 0;
        Console.WriteLine();
        Console.WriteLine("| GEMM shape (m×n×k, trans) | calls/step | native GFLOP/s | managed GFLOP/s |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var g in shapes.GroupBy(s => s).OrderByDescending(g => (double)g.Key.M * g.Key.N * g.Key.K))
        {
            var (ta, tb, M, N, K) = g.Key;
            double native = Sgemm.NativeAvailable ? Gflops(ta, tb, M, N, K, native: true) : 0;
            double managed = Gflops(ta, tb, M, N, K, native: false);
            double best = Math.Max(native, managed);
            ideal += g.Count() * 2.0 * M * N * K / (best * 1e9);
            Console.WriteLine($"| {M}×{N}×{K} {(ta ? "T" : "N")}{(tb ? "T" : "N")} | {g.Count()} | {(Sgemm.NativeAvailable ? native.ToString("F1") : "n/a")} | {managed:F1} |");
        }
        double bestGflops = flops / ideal / 1e9, inStep = flops / gemm / 1e9;
        Console.WriteLine();
        Console.WriteLine("| metric | value |");
        Console.WriteLine("|---|---|");
        Console.WriteLine($"| forward (eval), best of {steps} | {fwdBest * 1e3:F1} ms |");
        Console.WriteLine($"| train step (fwd+bwd+AdamW), median of {steps} | {step * 1e3:F1} ms |");
        Console.WriteLine($"| matrix products in the step | {gemm * 1e3:F1} ms, {flops / 1e9:F2} GFLOP → {inStep:F1} GFLOP/s |");
        Console.WriteLine($"| best sgemm on the same shapes (this run) | {bestGflops:F1} GFLOP/s ({ideal * 1e3:F1} ms) |");
        Console.WriteLine($"| matrix products vs best sgemm | {100 * inStep / bestGflops:F0} % (goal ≥ 70 %) |");
        Console.WriteLine($"| step / matrix-product time | {step / gemm:F2}× (goal ≤ 1.5×) |");

        // Where the rest goes: the same step on a profiling wrapper (its own overhead is a few µs per op).
        using var p = new BenchModel(profile: true);
        for (int i = 0; i < 2; i++) p.TrainStep();
        p.Profiler!.Reset();
        var total = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) p.TrainStep();
        double all = total.Elapsed.TotalSeconds / steps;
        Console.WriteLine();
        Console.WriteLine($"| op (per train step, mean of {steps}) | ms | share |");
        Console.WriteLine("|---|---|---|");
        foreach (var (op, (ms, _)) in p.Profiler.Totals.OrderByDescending(kv => kv.Value.Milliseconds))
            Console.WriteLine($"| {op} | {ms / steps:F1} | {100 * ms / 1e3 / steps / all:F0} % |");
        double listed = p.Profiler.Totals.Values.Sum(v => v.Milliseconds) / 1e3 / steps;
        Console.WriteLine($"| host (loss, batching, untimed) | {(all - listed) * 1e3:F1} | {100 * (all - listed) / all:F0} % |");
    }

    static unsafe double Gflops(bool ta, bool tb, int M, int N, int K, bool native)
    {
        var a = GC.AllocateArray<float>(M * K, pinned: true); var b = GC.AllocateArray<float>(K * N, pinned: true); var c = GC.AllocateArray<float>(M * N, pinned: true);
        new Random(1).NextBytes(new byte[1]);
        for (int i = 0; i < a.Length; i++) a[i] = (i % 7) * 0.1f;
        for (int i = 0; i < b.Length; i++) b[i] = (i % 5) * 0.1f;
        double best = double.MaxValue;
        fixed (float* pa = a, pb = b, pc = c)
            for (int r = 0; r < 7; r++)
            {
                var sw = Stopwatch.StartNew();
                if (native) Sgemm.MultiplyNative(ta, tb, M, N, K, 1f, pa, ta ? M : K, pb, tb ? K : N, 0f, pc, N);
                else Sgemm.MultiplyManaged(ta, tb, M, N, K, 1f, pa, ta ? M : K, pb, tb ? K : N, 0f, pc, N);
                if (r > 0) best = Math.Min(best, sw.Elapsed.TotalSeconds);
            }
        return 2.0 * M * N * K / best / 1e9;
    }
}
