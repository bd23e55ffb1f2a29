using System.Diagnostics;
using FastPrefix.Kernels.Device;
using FastPrefix.Kernels.KernelCompiler;
using FastPrefix.Kernels.Launchers;

namespace FastPrefix.Bench;

/// <summary>
/// `-- sim-report [rounds]`: speed of the simulated GPU device. Rounds alternate the simulator as built (a
/// hand-written x86-64 fiber switch) with the same library built with -DFP_SIM_UCONTEXT (swapcontext, which
/// makes a system call per switch), so both see the same machine load. Prints a markdown table (bench/RESULTS.md).
/// </summary>
public static class SimReport
{
    private const int Floats = 1 << 20;

    public static void Run(int rounds)
    {
        rounds = rounds > 0 ? rounds : 5;
        var kernels = KernelSet.Builtin.With([.. KernelSet.ReadResources(typeof(SimReport).Assembly, "simbench/")]);
        Console.WriteLine($"# simulated GPU: {Environment.ProcessorCount} logical cores, {SimLibraryBuilder.CompilerVersion}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; median of {rounds} alternating rounds");
        var variants = new (string Name, string[] Defines)[] { ("fiber switch (asm)", []), ("ucontext (swapcontext)", ["FP_SIM_UCONTEXT"]) };
        var results = variants.ToDictionary(v => v.Name, _ => new Dictionary<string, List<double>>());
        for (int round = 0; round < rounds; round++)
            foreach (var (name, defines) in variants)
                foreach (var (measure, value) in Measure(kernels, defines))
                {
                    if (!results[name].TryGetValue(measure, out var list)) results[name][measure] = list = [];
                    list.Add(value);
                }
        var measures = results[variants[0].Name].Keys.ToList();
        Console.WriteLine();
        Console.WriteLine($"| measure | {string.Join(" | ", variants.Select(v => v.Name))} |");
        Console.WriteLine($"|---|{string.Concat(variants.Select(_ => "---|"))}");
        foreach (var measure in measures)
            Console.WriteLine($"| {measure} | {string.Join(" | ", variants.Select(v => Format(Median(results[v.Name][measure]), measure)))} |");
    }

    private static IEnumerable<(string Measure, double Value)> Measure(KernelSet kernels, string[] defines)
    {
        using var serial = new SimDevice(kernels, new SimDeviceOptions { HostThreads = 1, Defines = defines });
        using var parallel = new SimDevice(kernels, new SimDeviceOptions { HostThreads = Environment.ProcessorCount, Defines = defines });
        var values = new float[Floats];
        var random = new Random(1);
        for (int i = 0; i < Floats; i++) values[i] = (float)random.NextDouble();
        using var input = serial.Allocate(Floats * 4L);
        using var output = serial.Allocate(Floats * 4L);
        serial.Upload<float>(values, input.Pointer);

        // Every iteration of the loop switches every thread out and back in at the barrier.
        const int iterations = 4000;
        Launch(serial, "barrier_loop", new LaunchShape(new Dim3(1), new Dim3(256)), iterations);   // warm: build or load, map stacks
        long resumes = serial.FiberResumes;
        var seconds = Time(() => Launch(serial, "barrier_loop", new LaunchShape(new Dim3(1), new Dim3(256)), iterations));
        yield return ("context switches per second (1 block × 256 threads, __syncthreads loop)", 2.0 * (serial.FiberResumes - resumes) / seconds);

        // A 256-thread block reduction over 1M floats, one float per thread (4096 blocks: the most fibers).
        foreach (var device in new[] { serial, parallel })
        {
            var shape = new LaunchShape(new Dim3(Floats / 256), new Dim3(256));
            Launch(device, "block_sums", shape, output.Pointer, input.Pointer, (long)Floats);
            yield return ($"block reduction, 1M floats, 4096 blocks × 256 threads, {device.Info.Multiprocessors} host thread(s) (ms)",
                1000 * Time(() => Launch(device, "block_sums", shape, output.Pointer, input.Pointer, (long)Floats)));
        }
        // The same sum with a grid-stride loop: 64 blocks, 64 floats per thread.
        var strided = new LaunchShape(new Dim3(64), new Dim3(256));
        yield return ("block reduction, 1M floats, 64 blocks × 256 threads, grid-stride, 1 host thread (ms)",
            1000 * Time(() => Launch(serial, "block_sums", strided, output.Pointer, input.Pointer, (long)Floats)));
        yield return ("convert_f32_to_bf16, 1M floats, 1 host thread (ms)",
            1000 * Time(() => ConvertLaunchers.F32ToBf16(serial, output.Pointer, input.Pointer, Floats)));
    }

    private static void Launch(IGpuDevice device, string kernel, LaunchShape shape, params object[] arguments)
    {
        var args = new KernelArgs();
        foreach (var argument in arguments)
            _ = argument switch
            {
                DevicePtr p => args.Add(p),
                long l => args.Add(l),
                int i => args.Add(i),
                _ => throw new ArgumentException(argument.GetType().Name),
            };
        device.Launch(device.Kernel(kernel), shape, args);
    }

    private static double Time(Action action)
    {
        var watch = Stopwatch.StartNew();
        action();
        return watch.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static string Format(double value, string measure) =>
        measure.StartsWith("context", StringComparison.Ordinal) ? $"{value / 1e6:F1} M/s ({1e9 / value:F1} ns each)" : $"{value:F1}";
}
