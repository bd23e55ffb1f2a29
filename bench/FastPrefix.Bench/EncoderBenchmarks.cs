using BenchmarkDotNet.Attributes;

namespace FastPrefix.Bench;

/// <summary>
/// The CPU encoder: inference forward and a full training step of <see cref="BenchModel"/>.
/// <c>dotnet run -c Release --project bench/FastPrefix.Bench -- --filter '*Encoder*'</c>
/// </summary>
[SimpleJob(warmupCount: 2, iterationCount: 6)]
[MemoryDiagnoser]
public class EncoderBenchmarks
{
    BenchModel _m = null!;

    [GlobalSetup] public void Setup() => _m = new BenchModel();
    [GlobalCleanup] public void Cleanup() => _m.Dispose();

    [Benchmark(Description = "encoder forward (eval), 4L h512 b8 t128 p16")]
    public double Forward() => _m.Forward();

    [Benchmark(Description = "train step (fwd + bwd + AdamW)")]
    public double TrainStep() => _m.TrainStep();
}
