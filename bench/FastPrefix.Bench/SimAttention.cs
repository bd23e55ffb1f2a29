using System.Diagnostics;
using FastPrefix.Kernels.Device;
using FastPrefix.Kernels.KernelCompiler;
using FastPrefix.Kernels.Launchers;

namespace FastPrefix.Bench;

/// <summary>
/// `-- sim-attention [rounds] [peer.cu]`: what the simulated GPU pays for kernels/attention.cu on the shapes of the
/// small-bert-a fixture (B 2, T 100, P 20, H 2, D 64, dropout 0.1, one row padded from token 73): forward and backward,
/// fp32 and bf16, on 1 and on all host threads, with the fiber resumes of each call. With a peer file (e.g. an earlier
/// attention.cu from git show), its build runs too. All variants alternate within each round, so they see the same
/// machine load; prints medians as a markdown table (bench/RESULTS.md).
/// </summary>
public static class SimAttention
{
    private static readonly AttentionShape Shape = new(Batch: 2, Seq: 100, Heads: 2, HeadDim: 64, PrefixLen: 20, PrefixLayers: 1, PrefixSlot: 0);
    private const float Dropout = 0.1f;

    public static void Run(int rounds, string? peerFile)
    {
        rounds = rounds > 0 ? rounds : 5;
        Console.WriteLine($"# attention on the simulated GPU, {Shape}: {Environment.ProcessorCount} logical cores; " +
                          $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; median of {rounds} rounds");
        var sources = new List<(string Name, KernelSet Kernels)> { ("attention.cu", KernelSet.Builtin) };
        if (peerFile is not null)
            sources.Add(($"peer {Path.GetFileName(peerFile)}", KernelSet.Builtin.With(new KernelSource("attention.cu", File.ReadAllText(peerFile)))));
        var threadCounts = new[] { 1, Environment.ProcessorCount }.Distinct().ToArray();
        var devices = (from source in sources
                       from threads in threadCounts
                       select (Name: $"{source.Name}, {threads} host thread{(threads > 1 ? "s" : "")}",
                               Device: new SimDevice(source.Kernels, new SimDeviceOptions { HostThreads = threads }))).ToList();
        var acts = new[] { ElementType.F32, ElementType.BF16 };
        foreach (var act in acts)
            foreach (var (_, device) in devices)
            {
                using var warm = new AttentionCall(device, act);   // builds or loads the library, maps the fiber stacks
                warm.Forward();
                warm.Backward();
            }
        var results = new Dictionary<string, Dictionary<string, List<double>>>();
        void Add(string measure, string variant, double value)
        {
            if (!results.TryGetValue(measure, out var byVariant)) results[measure] = byVariant = [];
            if (!byVariant.TryGetValue(variant, out var list)) byVariant[variant] = list = [];
            list.Add(value);
        }
        for (int round = 0; round < rounds; round++)
            foreach (var act in acts)
                foreach (var (name, device) in devices)
                {
                    using var call = new AttentionCall(device, act);
                    long resumes = device.FiberResumes;
                    Add($"{act} forward (ms)", name, 1000 * Time(call.Forward));
                    Add($"{act} forward fiber resumes", name, device.FiberResumes - resumes);
                    resumes = device.FiberResumes;
                    Add($"{act} backward (ms)", name, 1000 * Time(call.Backward));
                    Add($"{act} backward fiber resumes", name, device.FiberResumes - resumes);
                }
        foreach (var (_, device) in devices) device.Dispose();
        Console.WriteLine();
        Console.WriteLine($"| measure | {string.Join(" | ", devices.Select(d => d.Name))} |");
        Console.WriteLine($"|---|{string.Concat(devices.Select(_ => "---|"))}");
        foreach (var (measure, byVariant) in results)
            Console.WriteLine($"| {measure} | {string.Join(" | ", devices.Select(d => $"{Median(byVariant[d.Name]):F1}"))} |");
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static double Time(Action action)
    {
        var watch = Stopwatch.StartNew();
        action();
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>The fixture-shaped buffers on one device, random values, and the two launches.</summary>
    private sealed class AttentionCall : IDisposable
    {
        private readonly SimDevice _device;
        private readonly ElementType _act;
        private readonly List<DeviceBuffer> _buffers = [];
        private readonly DevicePtr _qkv, _bank, _rowAdapter, _mask, _context, _lse, _dContext, _dQkv, _dBank, _seeds, _workspace;

        public AttentionCall(SimDevice device, ElementType act)
        {
            (_device, _act) = (device, act);
            var s = Shape;
            var random = new Random(5);
            int rows = s.Batch * s.Seq, C = s.Heads * s.HeadDim, bank = 2 * s.Heads * s.PrefixLen * s.HeadDim;
            DevicePtr Floats(int count, bool activation)
            {
                var buffer = device.Allocate((long)count * (activation ? act.Size() : 4));
                _buffers.Add(buffer);
                var values = Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
                if (activation && act == ElementType.BF16)
                    device.Upload<ushort>([.. values.Select(IO.BFloat16Conversions.FromSingle)], buffer.Pointer);
                else
                    device.Upload<float>(values, buffer.Pointer);
                return buffer.Pointer;
            }
            DevicePtr Ints(int[] values)
            {
                var buffer = device.Allocate(values.Length * 4L);
                _buffers.Add(buffer);
                device.Upload<int>(values, buffer.Pointer);
                return buffer.Pointer;
            }
            _qkv = Floats(rows * 3 * C, true);
            _bank = Floats(bank, false);
            _dBank = Floats(bank, false);
            _context = Floats(rows * C, true);
            _dContext = Floats(rows * C, true);
            _dQkv = Floats(rows * 3 * C, true);
            _lse = Floats(rows * s.Heads, false);
            _rowAdapter = Ints(new int[s.Batch]);
            _mask = Ints([.. Enumerable.Range(0, rows).Select(i => i < s.Seq + 73 ? 1 : 0)]);
            _seeds = Ints([12345, 678]);
            var workspace = device.Allocate(AttentionLaunchers.WorkspaceBytes(s));
            _buffers.Add(workspace);
            _workspace = workspace.Pointer;
        }

        public void Forward() =>
            AttentionLaunchers.Forward(_device, _act, Shape, _qkv, _bank, _rowAdapter, _mask, _context, _lse, Dropout, _seeds, 0);

        public void Backward() =>
            AttentionLaunchers.Backward(_device, _act, Shape, _qkv, _bank, _rowAdapter, _mask, _context, _lse, _dContext, _dQkv, _dBank,
                Dropout, _seeds, 0, _workspace);

        public void Dispose()
        {
            foreach (var buffer in _buffers) buffer.Dispose();
        }
    }
}
