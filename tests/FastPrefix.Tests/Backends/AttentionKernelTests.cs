using System.Diagnostics;
using FastPrefix.Backends;
using FastPrefix.Backends.Cpu;
using FastPrefix.IO;
using FastPrefix.Kernels.Device;
using FastPrefix.Kernels.KernelCompiler;
using FastPrefix.Kernels.Launchers;

namespace FastPrefix.Tests.Backends;

/// <summary>
/// kernels/attention.cu through <see cref="AttentionLaunchers"/> against CpuBackend.Attention / AttentionBackward on the
/// same inputs: context, the probabilities implied by lse, dQkv and the accumulated prefix gradient, on awkward sizes
/// (T = 1, odd T, several tiles, P = 0, 1, 3, 20, head_dim 8 to 96), rows that are all padding with and without a
/// prefix, several adapters and layer slots, dropout on and off. fp32 within 1e-5 of the largest reference value, bf16
/// within 2e-2; a second run gives the same bits. On the simulated GPU everywhere, on a GPU when there is one.
/// </summary>
public class AttentionKernelTests
{
    /// <summary>
    /// One call. Real[b] is the number of leading real tokens of batch row b (0: all padding), or -1 for every third
    /// token padded; rows use adapter RowAdapter[b] of Adapters, at slot Slot of Layers prefixed layers.
    /// </summary>
    public sealed record Case(int Batch, int Seq, int Heads, int HeadDim, int PrefixLen, int Adapters, int Layers, int Slot,
        float Dropout, int[] Real, int[] RowAdapter);

    static readonly Dictionary<string, Case> Cases = new()
    {
        ["T1-no-prefix"] = new(2, 1, 2, 8, 0, 1, 1, 0, 0f, [1, 1], [0, 0]),
        ["T1-P1-dropout"] = new(2, 1, 3, 12, 1, 2, 2, 1, 0.3f, [1, 0], [1, 0]),
        ["T37-P1-adapters-slot1"] = new(3, 37, 3, 12, 1, 2, 2, 1, 0.1f, [37, 20, -1], [1, 0, 1]),
        ["T37-P3-padded-row-dropout"] = new(4, 37, 2, 32, 3, 3, 3, 2, 0.2f, [37, 0, 5, -1], [2, 0, 2, 1]),
        ["T5-no-prefix-padded-row"] = new(3, 5, 2, 8, 0, 1, 1, 0, 0.3f, [0, 5, 2], [0, 0, 0]),
        ["T100-P20-fixture-shape"] = new(2, 100, 2, 64, 20, 1, 1, 0, 0f, [100, 73], [0, 0]),
        ["T70-P20-tiles-dropout"] = new(2, 70, 1, 64, 20, 2, 2, 0, 0.1f, [-1, 0], [1, 1]),
        ["T9-P2-head96"] = new(2, 9, 2, 96, 2, 1, 1, 0, 0f, [9, 4], [0, 0]),
    };

    public static TheoryData<string, string, string> DeviceCases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var device in new[] { "cuda-sim", "cuda" })
            foreach (var precision in new[] { "fp32", "bf16", "bf16-tc" })   // bf16-tc: the forward on tensor cores
                foreach (var name in Cases.Keys)
                    data.Add(device, precision, name);
        return data;
    }

    [Theory, MemberData(nameof(DeviceCases))]
    public void Matches_the_cpu_reference_and_repeats_bit_for_bit(string device, string precision, string caseName)
    {
        using var gpu = Open(device);
        var c = Cases[caseName];
        var act = precision.StartsWith("bf16", StringComparison.Ordinal) ? ElementType.BF16 : ElementType.F32;
        bool tensorCores = precision == "bf16-tc";
        float tolerance = act == ElementType.BF16 ? 2e-2f : 1e-5f;
        var inputs = Inputs.Create(c, act, seed: caseName.Length * 7919 + c.Seq);
        var expected = RunCpu(c, inputs);

        var watch = Stopwatch.StartNew();
        var actual = RunDevice(gpu, c, act, inputs, tensorCores: tensorCores);
        TestContext.Current.TestOutputHelper?.WriteLine($"{device} {precision} {caseName}: forward + backward {watch.ElapsedMilliseconds} ms");

        string where = $"{device} {precision} {caseName}";
        AssertClose($"{where}: context", expected.Context, actual.Context, tolerance);
        AssertClose($"{where}: probabilities from lse", expected.Probabilities, Probabilities(c, inputs, actual.Lse), tolerance);
        AssertClose($"{where}: dQkv", expected.DQkv, actual.DQkv, tolerance);
        if (c.PrefixLen > 0) AssertClose($"{where}: dBank", expected.DBank, actual.DBank, tolerance);

        var again = RunDevice(gpu, c, act, inputs, tensorCores: tensorCores);
        Assert.True(actual.Context.AsSpan().SequenceEqual(again.Context), $"{where}: a second forward changed context");
        Assert.True(actual.Lse.AsSpan().SequenceEqual(again.Lse), $"{where}: a second forward changed lse");
        Assert.True(actual.DQkv.AsSpan().SequenceEqual(again.DQkv), $"{where}: a second backward changed dQkv");
        Assert.True(actual.DBank.AsSpan().SequenceEqual(again.DBank), $"{where}: a second backward changed dBank");
    }

    [Fact]
    public void Without_a_bank_gradient_dqkv_is_the_same_and_nothing_else_is_written()
    {
        using var gpu = Open("cuda-sim");
        var c = Cases["T37-P3-padded-row-dropout"];
        var inputs = Inputs.Create(c, ElementType.F32, seed: 3);
        var withBank = RunDevice(gpu, c, ElementType.F32, inputs);
        var withoutBank = RunDevice(gpu, c, ElementType.F32, inputs, bankGradient: false);
        Assert.True(withBank.DQkv.AsSpan().SequenceEqual(withoutBank.DQkv), "dQkv changed when dBank is Null");
        Assert.True(inputs.DBankStart.AsSpan().SequenceEqual(withoutBank.DBank), "dBank was written although Null was passed");
    }

    [Fact]
    public void Results_do_not_depend_on_how_the_simulator_schedules_blocks()
    {
        if (!SimLibraryBuilder.IsCompilerAvailable(out var reason)) Assert.Skip(reason);
        using var serial = new SimDevice(null, new SimDeviceOptions { HostThreads = 1 });
        using var parallel = new SimDevice(null, new SimDeviceOptions { HostThreads = 3 });
        var c = Cases["T37-P1-adapters-slot1"];
        var inputs = Inputs.Create(c, ElementType.BF16, seed: 4);
        var one = RunDevice(serial, c, ElementType.BF16, inputs);
        var three = RunDevice(parallel, c, ElementType.BF16, inputs);
        Assert.True(one.Context.AsSpan().SequenceEqual(three.Context) && one.Lse.AsSpan().SequenceEqual(three.Lse) &&
                    one.DQkv.AsSpan().SequenceEqual(three.DQkv) && one.DBank.AsSpan().SequenceEqual(three.DBank),
            "1 and 3 host threads gave different bits");
    }

    [Fact]
    public void Shapes_the_kernels_cannot_run_are_refused_naming_the_problem()
    {
        var s = new AttentionShape(2, 5, 2, 129, 0, 1, 0);
        Assert.Contains("head_dim 129 is outside 1..128", Assert.Throws<ArgumentOutOfRangeException>(() => AttentionLaunchers.WorkspaceBytes(s)).Message);
        Assert.Contains("prefix slot 2 is outside the bank's 2 prefixed layers",
            Assert.Throws<ArgumentOutOfRangeException>(() => AttentionLaunchers.WorkspaceBytes(s with { HeadDim = 64, PrefixLen = 3, PrefixLayers = 2, PrefixSlot = 2 })).Message);
        using var sim = Open("cuda-sim");
        using var buffer = sim.Allocate(4096);
        var p = buffer.Pointer;
        var shape = s with { HeadDim = 8, PrefixLen = 3 };
        Assert.Contains("bank is Null", Assert.Throws<ArgumentException>(() =>
            AttentionLaunchers.Forward(sim, ElementType.F32, shape, p, DevicePtr.Null, p, p, p, p, 0f, DevicePtr.Null, 0)).Message);
        Assert.Contains("dropout 0.5 needs the seeds", Assert.Throws<ArgumentException>(() =>
            AttentionLaunchers.Forward(sim, ElementType.F32, shape, p, p, p, p, p, p, 0.5f, DevicePtr.Null, 0)).Message);
        Assert.Contains("workspace is Null", Assert.Throws<ArgumentException>(() =>
            AttentionLaunchers.Backward(sim, ElementType.F32, shape, p, p, p, p, p, p, p, p, p, 0f, DevicePtr.Null, 0, DevicePtr.Null)).Message);
    }

    static IGpuDevice Open(string kind)
    {
        if (kind == "cuda-sim")
        {
            if (!SimLibraryBuilder.IsCompilerAvailable(out var reason)) Assert.Skip(reason);
            return new SimDevice();
        }
        var probe = CudaProbe.Probe();
        if (!probe.IsAvailable) Assert.Skip($"no CUDA device here: {probe.Reason}");
        return CudaDevice.Open();
    }

    /// <summary>Random inputs; activations rounded to bf16 first when the device runs in bf16, so both sides see the same values.</summary>
    sealed record Inputs(float[] Qkv, float[] Bank, int[] Mask, float[] DContext, float[] DBankStart, int[] Seeds)
    {
        public const int SeedIndex = 1;

        public static Inputs Create(Case c, ElementType act, int seed)
        {
            var random = new Random(seed);
            int C = c.Heads * c.HeadDim;
            float[] Values(long n, float range) => [.. Enumerable.Range(0, (int)n).Select(_ => (float)(random.NextDouble() * 2 - 1) * range)];
            float[] Activation(long n, float range) => act == ElementType.BF16 ? [.. Values(n, range).Select(RoundToBf16)] : Values(n, range);
            var mask = new int[c.Batch * c.Seq];
            for (int b = 0; b < c.Batch; b++)
                for (int t = 0; t < c.Seq; t++)
                    mask[b * c.Seq + t] = c.Real[b] < 0 ? (t % 3 == 2 ? 0 : 1) : t < c.Real[b] ? 1 : 0;
            long bankLength = (long)c.Adapters * c.Layers * 2 * c.Heads * Math.Max(c.PrefixLen, 1) * c.HeadDim;
            ulong dropoutSeed = 0x9E3779B97F4A7C15UL ^ (ulong)seed;
            return new Inputs(Activation((long)c.Batch * c.Seq * 3 * C, 2f), Values(bankLength, 2f), mask,
                Activation((long)c.Batch * c.Seq * C, 1f), Values(bankLength, 0.5f),
                [-1, -1, (int)(uint)dropoutSeed, (int)(uint)(dropoutSeed >> 32)]);
        }

        static float RoundToBf16(float x) => BFloat16Conversions.ToSingle(BFloat16Conversions.FromSingle(x));
    }

    sealed record Results(float[] Context, float[] Probabilities, float[] Lse, float[] DQkv, float[] DBank);

    static Results RunCpu(Case c, Inputs x)
    {
        using var cpu = new CpuBackend();
        int C = c.Heads * c.HeadDim, P = c.PrefixLen;
        Tensor Up(float[] data, params int[] shape) { var t = cpu.Zeros(shape); cpu.Upload(data, t); return t; }
        Tensor UpInt(int[] data) { var t = cpu.ZerosInt(data.Length); cpu.Upload(data, t); return t; }
        float[] Down(Tensor t) { var a = new float[t.Length]; cpu.Download(t, a); return a; }
        var bank = Up(x.Bank, x.Bank.Length);
        var context = cpu.Zeros(c.Batch * c.Seq, C);
        var state = cpu.Zeros((int)cpu.AttentionStateLength(c.Batch, c.Seq, c.Heads, P));
        var args = new AttentionArgs(c.Batch, c.Seq, c.Heads, c.HeadDim, P, Up(x.Qkv, c.Batch * c.Seq, 3 * C), P > 0 ? bank : null,
            c.Layers, c.Slot, UpInt(c.RowAdapter), UpInt(x.Mask), context, state, c.Dropout, new DropoutSeed(UpInt(x.Seeds), Inputs.SeedIndex));
        cpu.Attention(args);
        var dQkv = cpu.Zeros(c.Batch * c.Seq, 3 * C);
        var dBank = Up(x.DBankStart, x.DBankStart.Length);
        cpu.AttentionBackward(args, Up(x.DContext, c.Batch * c.Seq, C), dQkv, P > 0 ? dBank : null);
        return new Results(Down(context), Down(state), [], Down(dQkv), Down(dBank));
    }

    static Results RunDevice(IGpuDevice gpu, Case c, ElementType act, Inputs x, bool bankGradient = true, bool tensorCores = false)
    {
        var s = new AttentionShape(c.Batch, c.Seq, c.Heads, c.HeadDim, c.PrefixLen, c.Layers, c.Slot);
        int C = c.Heads * c.HeadDim;
        long rows = (long)c.Batch * c.Seq;
        using var qkv = UploadActivation(gpu, act, x.Qkv);
        using var bank = Upload<float>(gpu, x.Bank);
        using var rowAdapter = Upload<int>(gpu, c.RowAdapter);
        using var mask = Upload<int>(gpu, x.Mask);
        using var seeds = Upload<int>(gpu, x.Seeds);
        using var dContext = UploadActivation(gpu, act, x.DContext);
        using var dBank = Upload<float>(gpu, x.DBankStart);
        // Outputs start as NaN: every element must be written.
        using var context = UploadActivation(gpu, act, Enumerable.Repeat(float.NaN, (int)(rows * C)).ToArray());
        using var lse = Upload<float>(gpu, Enumerable.Repeat(float.NaN, (int)(rows * c.Heads)).ToArray());
        using var dQkv = UploadActivation(gpu, act, Enumerable.Repeat(float.NaN, (int)(rows * 3 * C)).ToArray());
        using var workspace = gpu.Allocate(AttentionLaunchers.WorkspaceBytes(s));
        var bankPointer = c.PrefixLen > 0 ? bank.Pointer : DevicePtr.Null;

        AttentionLaunchers.Forward(gpu, act, s, qkv.Pointer, bankPointer, rowAdapter.Pointer, mask.Pointer, context.Pointer, lse.Pointer,
            c.Dropout, seeds.Pointer, Inputs.SeedIndex, tensorCores);
        AttentionLaunchers.Backward(gpu, act, s, qkv.Pointer, bankPointer, rowAdapter.Pointer, mask.Pointer, context.Pointer, lse.Pointer,
            dContext.Pointer, dQkv.Pointer, c.PrefixLen > 0 && bankGradient ? dBank.Pointer : DevicePtr.Null, c.Dropout, seeds.Pointer, Inputs.SeedIndex,
            workspace.Pointer, tensorCores);
        gpu.Synchronize();
        return new Results(DownloadActivation(gpu, act, context.Pointer, rows * C), [], Download<float>(gpu, lse.Pointer, rows * c.Heads),
            DownloadActivation(gpu, act, dQkv.Pointer, rows * 3 * C), Download<float>(gpu, dBank.Pointer, x.DBankStart.Length));
    }

    /// <summary>p = exp(score − lse) for every (b, h, i, column), laid out as the CPU's state (B, H, T, P + T): score is
    /// q·k/√D in double, and for padded columns -inf, or 0 in a batch row with nothing to attend to.</summary>
    static float[] Probabilities(Case c, Inputs x, float[] lse)
    {
        int B = c.Batch, T = c.Seq, H = c.Heads, D = c.HeadDim, P = c.PrefixLen, S = P + T, C = H * D;
        var probabilities = new float[(long)B * H * T * S];
        for (int b = 0; b < B; b++)
        {
            bool nothingToAttend = P == 0 && x.Mask.AsSpan(b * T, T).IndexOfAnyExcept(0) < 0;
            long prefixKeys = ((long)(c.RowAdapter[b] * c.Layers + c.Slot) * 2 * H) * P * D;
            for (int h = 0; h < H; h++)
                for (int i = 0; i < T; i++)
                {
                    var q = x.Qkv.AsSpan((int)(((long)b * T + i) * 3 * C + h * D), D);
                    for (int column = 0; column < S; column++)
                    {
                        double score;
                        if (column < P) score = Dot(q, x.Bank.AsSpan((int)(prefixKeys + ((long)h * P + column) * D), D)) / Math.Sqrt(D);
                        else if (x.Mask[b * T + column - P] == 0) score = nothingToAttend ? 0 : double.NegativeInfinity;
                        else score = Dot(q, x.Qkv.AsSpan((int)(((long)b * T + column - P) * 3 * C + C + h * D), D)) / Math.Sqrt(D);
                        long row = ((long)b * H + h) * T + i;
                        probabilities[row * S + column] = (float)Math.Exp(score - lse[row]);
                    }
                }
        }
        return probabilities;
    }

    static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int d = 0; d < a.Length; d++) sum += (double)a[d] * b[d];
        return sum;
    }

    static DeviceBuffer Upload<T>(IGpuDevice gpu, T[] values) where T : unmanaged
    {
        var buffer = gpu.Allocate(Math.Max(1, values.Length) * (long)System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        gpu.Upload<T>(values, buffer.Pointer);
        return buffer;
    }

    static T[] Download<T>(IGpuDevice gpu, DevicePtr source, long count) where T : unmanaged
    {
        var values = new T[count];
        gpu.Download<T>(source, values);
        return values;
    }

    static DeviceBuffer UploadActivation(IGpuDevice gpu, ElementType act, float[] values)
    {
        if (act == ElementType.F32) return Upload(gpu, values);
        var bits = new ushort[values.Length];
        BFloat16Conversions.FromSingle(values, bits);
        return Upload(gpu, bits);
    }

    static float[] DownloadActivation(IGpuDevice gpu, ElementType act, DevicePtr source, long count)
    {
        if (act == ElementType.F32) return Download<float>(gpu, source, count);
        var values = new float[count];
        BFloat16Conversions.ToSingle(Download<ushort>(gpu, source, count), values);
        return values;
    }

    /// <summary>|actual − expected| ≤ tolerance · max |expected| everywhere (NaN fails); the message names the worst element.
    /// The largest error relative to that maximum goes to the test output, to see the margin.</summary>
    static void AssertClose(string what, float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double largest = expected.Length == 0 ? 0 : expected.Max(v => Math.Abs((double)v));
        double limit = tolerance * Math.Max(largest, 1e-30);
        int worst = -1;
        double worstError = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs((double)actual[i] - expected[i]);
            if (!(error <= limit) && (worst < 0 || !(error <= worstError))) (worst, worstError) = (i, error);
        }
        double largestError = expected.Length == 0 ? 0 : expected.Zip(actual, (e, a) => Math.Abs((double)a - e)).Max();
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: largest error {largestError / Math.Max(largest, 1e-30):g3} of the largest value");
        if (worst >= 0)
            Assert.Fail($"{what}: element {worst} is {actual[worst]}, expected {expected[worst]} (error {worstError:g3} > {limit:g3} = {tolerance:g1} × largest {largest:g4})");
    }
}
