using System.Diagnostics;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using FastPrefix.Backends.Cpu;

namespace FastPrefix.Bench;

/// <summary>One GEMM problem: C[m,n] = op(A)[m,k] op(B)[k,n].</summary>
public sealed record SgemmShape(string Name, bool TransA, bool TransB, int M, int N, int K)
{
    public double Flops => 2.0 * M * N * K;
    public override string ToString() => $"{Name} {M}x{N}x{K} {(TransA ? 'T' : 'N')}{(TransB ? 'T' : 'N')}";

    /// <summary>Encoder of a 4-layer model, hidden 512, intermediate 2048, batch 8 x seq 128 = 1024 rows.</summary>
    public static readonly SgemmShape[] Encoder =
    [
        new("fwd-qkv", false, true, 1024, 1536, 512),   // Y = X W^T, fused Q/K/V
        new("fwd-out", false, true, 1024, 512, 512),    // attention output projection
        new("fwd-ff1", false, true, 1024, 2048, 512),   // FFN up
        new("fwd-ff2", false, true, 1024, 512, 2048),   // FFN down
        new("bwd-ff1", false, false, 1024, 512, 2048),  // dX = dY W for FFN up
    ];
}

/// <summary>
/// Sgemm on the encoder shapes, native BLAS vs the managed kernel, 1 and 2 threads.
/// <c>dotnet run -c Release --project bench/FastPrefix.Bench -- --filter '*Sgemm*'</c>
/// </summary>
[SimpleJob(warmupCount: 2, iterationCount: 5)]
[Config(typeof(GflopsConfig))]
public unsafe class SgemmBenchmarks
{
    public enum Impl { Native, Managed }

    [ParamsSource(nameof(Implementations))]
    public Impl Implementation { get; set; }

    [ParamsSource(nameof(Shapes))]
    public SgemmShape Shape { get; set; } = SgemmShape.Encoder[0];

    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>Native only where an optimised BLAS is installed.</summary>
    public static IEnumerable<Impl> Implementations => Sgemm.NativeAvailable ? [Impl.Native, Impl.Managed] : [Impl.Managed];
    public static IEnumerable<SgemmShape> Shapes => SgemmShape.Encoder;

    float* a, b, c;
    int lda, ldb;

    [GlobalSetup]
    public void Setup()
    {
        Sgemm.MaxThreads = Threads;   // also sets the native library's threads
        var s = Shape;
        a = Alloc((nint)s.M * s.K);
        b = Alloc((nint)s.K * s.N);
        c = Alloc((nint)s.M * s.N);
        var rng = new Random(42);
        for (nint i = 0; i < (nint)s.M * s.K; i++) a[i] = (float)(rng.NextDouble() - 0.5);
        for (nint i = 0; i < (nint)s.K * s.N; i++) b[i] = (float)(rng.NextDouble() - 0.5);
        lda = s.TransA ? s.M : s.K;
        ldb = s.TransB ? s.K : s.N;
        Console.WriteLine($"// Sgemm {Implementation}: {(Implementation == Impl.Native ? Sgemm.NativeReport : Sgemm.ManagedDescription)}, threads {Threads}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(a);
        NativeMemory.AlignedFree(b);
        NativeMemory.AlignedFree(c);
    }

    [Benchmark]
    public void Multiply()
    {
        var s = Shape;
        if (Implementation == Impl.Native)
            Sgemm.MultiplyNative(s.TransA, s.TransB, s.M, s.N, s.K, 1f, a, lda, b, ldb, 0f, c, s.N);
        else
            Sgemm.MultiplyManaged(s.TransA, s.TransB, s.M, s.N, s.K, 1f, a, lda, b, ldb, 0f, c, s.N);
    }

    static float* Alloc(nint floats) => (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
}

/// <summary>Adds a GFLOP/s column (2 m n k / mean time) for benchmarks with a <see cref="SgemmShape"/> parameter.</summary>
public sealed class GflopsConfig : ManualConfig
{
    public GflopsConfig()
    {
        AddColumn(new GflopsColumn());
        SummaryStyle = SummaryStyle.Default.WithMaxParameterColumnWidth(40);
    }
}

public sealed class GflopsColumn : IColumn
{
    public string Id => nameof(GflopsColumn);
    public string ColumnName => "GFLOP/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "2*m*n*k / mean time, in 1e9 floating-point operations per second";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var shape = benchmarkCase.Parameters.Items.Select(p => p.Value).OfType<SgemmShape>().FirstOrDefault();
        var stats = summary[benchmarkCase]?.ResultStatistics;
        if (shape == null || stats == null || stats.Mean <= 0) return "-";
        return (shape.Flops / stats.Mean).ToString("F1");   // flop per ns = GFLOP/s
    }
}

/// <summary>
/// A fast Stopwatch table of the encoder shapes plus a few more, without BenchmarkDotNet's process-per-case
/// overhead. Native and managed runs are interleaved round by round so that both see the same background
/// load; the best and median of 7 rounds are printed:
/// <c>dotnet run -c Release --project bench/FastPrefix.Bench -- sgemm-quick [threads]</c>.
/// </summary>
public static unsafe class SgemmQuick
{
    public static void Run(int threads)
    {
        if (threads > 0) Sgemm.MaxThreads = threads;
        Console.WriteLine($"native:  {Sgemm.NativeReport}");
        Console.WriteLine($"managed: {Sgemm.ManagedDescription}");
        SgemmShape[] shapes =
        [
            .. SgemmShape.Encoder,
            new("dW-head", true, false, 512, 512, 1024),
            new("attn-qk", false, true, 128, 144, 64),
            new("attn-pv", false, false, 128, 64, 144),
        ];
        bool[] impls = Sgemm.NativeAvailable ? [true, false] : [false];
        const int rounds = 7;
        foreach (var s in shapes)
        {
            int lda = s.TransA ? s.M : s.K, ldb = s.TransB ? s.K : s.N;
            float* a = (float*)NativeMemory.AlignedAlloc((nuint)((nint)s.M * s.K * 4), 64);
            float* b = (float*)NativeMemory.AlignedAlloc((nuint)((nint)s.K * s.N * 4), 64);
            float* c = (float*)NativeMemory.AlignedAlloc((nuint)((nint)s.M * s.N * 4), 64);
            var rng = new Random(1);
            for (nint i = 0; i < (nint)s.M * s.K; i++) a[i] = (float)rng.NextDouble() - 0.5f;
            for (nint i = 0; i < (nint)s.K * s.N; i++) b[i] = (float)rng.NextDouble() - 0.5f;

            void Once(bool native)
            {
                if (native) Sgemm.MultiplyNative(s.TransA, s.TransB, s.M, s.N, s.K, 1f, a, lda, b, ldb, 0f, c, s.N);
                else Sgemm.MultiplyManaged(s.TransA, s.TransB, s.M, s.N, s.K, 1f, a, lda, b, ldb, 0f, c, s.N);
            }
            int reps = Math.Max(2, (int)(1e8 / s.Flops));
            var times = new double[impls.Length, rounds];
            foreach (var native in impls) for (int w = 0; w < 3; w++) Once(native);
            for (int r = 0; r < rounds; r++)
                for (int x = 0; x < impls.Length; x++)
                {
                    var sw = Stopwatch.StartNew();
                    for (int i = 0; i < reps; i++) Once(impls[x]);
                    times[x, r] = sw.Elapsed.TotalSeconds / reps;
                }
            string line = $"{s,-26}";
            for (int x = 0; x < impls.Length; x++)
            {
                var t = Enumerable.Range(0, rounds).Select(r => times[x, r]).Order().ToArray();
                line += $" | {(impls[x] ? "native" : "managed"),-7} best {s.Flops / t[0] / 1e9,6:F1} median {s.Flops / t[rounds / 2] / 1e9,6:F1} GF/s";
            }
            Console.WriteLine(line);
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(c);
        }
    }
}
