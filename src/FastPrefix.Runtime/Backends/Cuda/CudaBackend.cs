using System.Buffers;
using FastPrefix.IO;
using FastPrefix.Kernels.Device;
using FastPrefix.Kernels.Launchers;

namespace FastPrefix.Backends.Cuda;

/// <summary>
/// The GPU backend: every op of <see cref="IBackend"/> as cuBLAS GEMMs (<see cref="IGpuDevice.Gemm"/>; fp32 mode is
/// true fp32, never TF32) and the kernels of kernels/*.cu, on any <see cref="IGpuDevice"/> — a real GPU
/// (<see cref="CudaDevice"/>) or the simulator (<see cref="SimDevice"/>), with the same code. Ops run in stream
/// order and never allocate, upload or wait: workspaces are allocated once (grown on the first op that needs more,
/// which is never captured: a step runs once before a graph is taken of it). Op families live in partial files:
/// normalisation, attention, heads and losses, optimiser.
/// </summary>
public sealed partial class CudaBackend : IBackend
{
    readonly IGpuDevice _device;
    readonly bool _ownsDevice;
    long _allocated, _peak;

    /// <param name="device">The GPU (or simulated GPU) to run on.</param>
    /// <param name="precision">Fp32, or Bf16 activations and frozen weights (<see cref="ComputeType"/>).</param>
    /// <param name="ownsDevice">Dispose the device with the backend.</param>
    public CudaBackend(IGpuDevice device, ComputePrecision precision = ComputePrecision.Fp32, bool ownsDevice = false)
    {
        _device = device;
        _ownsDevice = ownsDevice;
        Precision = precision;
    }

    public IGpuDevice Device => _device;
    public ComputePrecision Precision { get; }

    /// <summary>"cuda" or "cuda-sim": the --device value that selects this kind of device.</summary>
    public string DeviceName => _device.Info.Kind == DeviceKind.Simulated ? "cuda-sim" : "cuda";

    public string Name => $"{DeviceName} ({_device.Info.Name}, {Precision.Name()}{(TensorCoreAttention ? ", attention forward on tensor cores" : "")})";

    /// <summary>Sequence lengths are padded to multiples of 32: few shapes to capture, a warp's width of tokens.</summary>
    public int SequenceBucket => 32;

    public TensorType ComputeType => Precision == ComputePrecision.Bf16 ? TensorType.BFloat16 : TensorType.Float32;

    /// <summary>Device bytes held by this backend's tensors and workspaces now, and at most so far.</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocated);
    public long PeakAllocatedBytes => Interlocked.Read(ref _peak);

    static CudaTensor C(Tensor t) => t as CudaTensor ?? throw new ArgumentException($"tensor {t} does not belong to a CUDA backend");

    // ---- memory ----
    public Tensor Allocate(TensorType type, params int[] shape)
    {
        long length = 1;
        foreach (var d in shape) length = checked(length * Math.Max(d, 0));
        var buffer = AllocateBytes(checked(length * CudaTensor.ElementSize(type)));
        return new CudaTensor(this, buffer, type, shape);
    }

    /// <summary>Zero-filled device memory counted in <see cref="AllocatedBytes"/> (at least 16 bytes, so empty tensors have an address).</summary>
    internal DeviceBuffer AllocateBytes(long bytes)
    {
        var buffer = _device.Allocate(Math.Max(16, bytes));
        _device.Memset8(buffer.Pointer, 0, buffer.Bytes);
        long now = Interlocked.Add(ref _allocated, buffer.Bytes);
        long peak;
        while (now > (peak = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, peak) != peak) { }
        return buffer;
    }

    internal void Released(long bytes)
    {
        Interlocked.Add(ref _allocated, -bytes);
        Interlocked.Increment(ref _memoryGeneration);   // recordings may point into what was freed
    }

    public Tensor View(Tensor parent, long offset, TensorType type, params int[] shape) => C(parent).View(offset, type, shape);

    public void Upload(ReadOnlySpan<float> source, Tensor destination)
    {
        var d = C(destination);
        CheckTransfer(d, source.Length, "upload of floats into");
        if (d.Type == TensorType.Float32) { _device.Upload(source, d.Pointer); return; }
        if (d.Type != TensorType.BFloat16) throw new ArgumentException($"upload of floats into tensor {destination}: it holds {d.Type}");
        var bits = ArrayPool<ushort>.Shared.Rent(source.Length);
        try
        {
            BFloat16Conversions.FromSingle(source, bits.AsSpan(0, source.Length));
            _device.Upload<ushort>(bits.AsSpan(0, source.Length), d.Pointer);
        }
        finally { ArrayPool<ushort>.Shared.Return(bits); }
    }

    public void Upload(ReadOnlySpan<int> source, Tensor destination)
    {
        var d = C(destination);
        CheckTransfer(d, source.Length, "upload of ints into");
        if (d.Type != TensorType.Int32) throw new ArgumentException($"upload of ints into tensor {destination}: it holds {d.Type}");
        _device.Upload(source, d.Pointer);
    }

    public void Download(Tensor source, Span<float> destination)
    {
        var s = C(source);
        CheckTransfer(s, destination.Length, "download of floats from");
        if (s.Type == TensorType.Float32) { _device.Download(s.Pointer, destination); return; }
        if (s.Type != TensorType.BFloat16) throw new ArgumentException($"download of floats from tensor {source}: it holds {s.Type}");
        var bits = ArrayPool<ushort>.Shared.Rent(destination.Length);
        try
        {
            _device.Download<ushort>(s.Pointer, bits.AsSpan(0, destination.Length));
            BFloat16Conversions.ToSingle(bits.AsSpan(0, destination.Length), destination);
        }
        finally { ArrayPool<ushort>.Shared.Return(bits); }
    }

    public void Download(Tensor source, Span<int> destination)
    {
        var s = C(source);
        CheckTransfer(s, destination.Length, "download of ints from");
        if (s.Type != TensorType.Int32) throw new ArgumentException($"download of ints from tensor {source}: it holds {s.Type}");
        _device.Download(s.Pointer, destination);
    }

    static void CheckTransfer(CudaTensor t, int count, string what)
    {
        if (count > t.Length) throw new ArgumentException($"{what} tensor {t}: {count} elements, the tensor holds {t.Length}");
    }

    /// <summary>Waits until every op issued so far has run (timing; errors of earlier ops surface here).</summary>
    public void Synchronize() => _device.Synchronize();

    // ---- elementwise and copies ----
    public void Fill(Tensor t, float value, long n = -1)
    {
        var c = C(t);
        long count = n < 0 ? c.Length : n;
        c.CheckRange(0, count, "Fill");
        if (value == 0 && !float.IsNegative(value)) FillLaunchers.Zero(_device, c.Pointer, count * c.ElementBytes);
        else if (c.Element == ElementType.F32) FillLaunchers.FillF32(_device, c.Pointer, value, count);
        else FillLaunchers.FillBf16(_device, c.Pointer, value, count);
    }

    public void Copy(Tensor src, long srcOffset, Tensor dst, long dstOffset, long count)
    {
        var s = C(src); var d = C(dst);
        SameType(s, d, "Copy");
        s.CheckRange(srcOffset, count, "Copy source");
        d.CheckRange(dstOffset, count, "Copy destination");
        _device.Copy(d.At(dstOffset), s.At(srcOffset), count * s.ElementBytes);
    }

    public void Add(Tensor a, Tensor b, Tensor output, long n)
    {
        var (ca, cb, co) = (C(a), C(b), C(output));
        SameType(ca, cb, "Add"); SameType(ca, co, "Add");
        foreach (var t in (ReadOnlySpan<CudaTensor>)[ca, cb, co]) t.CheckRange(0, n, "Add");
        ElementwiseLaunchers.Add(_device, co.Element, co.Pointer, ca.Pointer, cb.Pointer, n);
    }

    public void CopyToSlot(Tensor src, long srcOffset, int count, Tensor dst, Tensor slot, int slotOffset)
    {
        var (s, d, sl) = (C(src), C(dst), C(slot));
        if (s.Type != TensorType.Float32 || d.Type != TensorType.Float32 || sl.Type != TensorType.Int32)
            throw new ArgumentException($"CopyToSlot copies Float32 ({src} -> {dst}) at an Int32 slot ({slot})");
        s.CheckRange(srcOffset, count, "CopyToSlot source");
        sl.CheckRange(slotOffset, 1, "CopyToSlot slot");
        ElementwiseLaunchers.CopyToSlot(_device, d.Pointer, s.At(srcOffset), sl.At(slotOffset), count);
    }

    static void SameType(CudaTensor a, CudaTensor b, string op)
    {
        if (a.Type != b.Type) throw new ArgumentException($"{op}: tensors {a} and {b} have different element types");
    }

    // ---- dense algebra ----
    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, long aOffset, int lda, Tensor b, long bOffset, int ldb,
                     float beta, Tensor c, long cOffset, int ldc)
    {
        var (ca, cb, cc) = (C(a), C(b), C(c));
        if (m == 0 || n == 0) return;
        if (ca.Type != cb.Type)
            throw new ArgumentException($"GEMM operands A {a} and B {b} have different element types; the device multiplies equal types only");
        CheckOperand(ca, aOffset, transA ? k : m, transA ? m : k, lda, "A");
        CheckOperand(cb, bOffset, transB ? n : k, transB ? k : n, ldb, "B");
        CheckOperand(cc, cOffset, m, n, ldc, "C");
        _device.Gemm(new GemmSpec
        {
            M = m, N = n, K = k, Alpha = alpha, Beta = beta, TransposeA = transA, TransposeB = transB,
            A = new MatrixRef(ca.At(aOffset), lda), B = new MatrixRef(cb.At(bOffset), ldb), C = new MatrixRef(cc.At(cOffset), ldc),
            InputType = ca.Element, OutputType = cc.Element,
        });
    }

    /// <summary>A stored rows × cols operand with row stride ld must fit in its tensor from the offset.</summary>
    static void CheckOperand(CudaTensor t, long offset, int rows, int cols, int ld, string what)
    {
        if (rows == 0 || cols == 0) return;
        if (ld < cols) throw new ArgumentException($"GEMM operand {what}: row stride {ld} is less than its {cols} columns");
        t.CheckRange(offset, (long)(rows - 1) * ld + cols, "GEMM operand " + what);
    }

    public void BiasActivation(Tensor x, Tensor bias, Tensor y, int rows, int cols, Activation act)
    {
        var (cx, cb, cy) = (C(x), C(bias), C(y));
        SameType(cx, cb, "BiasActivation"); SameType(cx, cy, "BiasActivation");
        cx.CheckRange(0, (long)rows * cols, "BiasActivation x"); cy.CheckRange(0, (long)rows * cols, "BiasActivation y"); cb.CheckRange(0, cols, "BiasActivation bias");
        ElementwiseLaunchers.BiasActivation(_device, cx.Element, cx.Pointer, cb.Pointer, cy.Pointer, rows, cols, Kernel(act));
    }

    public void ActivationBackward(Activation act, Tensor dy, Tensor saved, Tensor dx, long n)
    {
        var (cdy, cs, cdx) = (C(dy), C(saved), C(dx));
        SameType(cdy, cs, "ActivationBackward"); SameType(cdy, cdx, "ActivationBackward");
        foreach (var t in (ReadOnlySpan<CudaTensor>)[cdy, cs, cdx]) t.CheckRange(0, n, "ActivationBackward");
        ElementwiseLaunchers.ActivationBackward(_device, cdy.Element, Kernel(act), cdy.Pointer, cs.Pointer, cdx.Pointer, n);
    }

    static KernelActivation Kernel(Activation act) => act switch
    {
        Activation.Gelu => KernelActivation.Gelu,
        Activation.Tanh => KernelActivation.Tanh,
        _ => KernelActivation.None,
    };

    public void ColumnSums(Tensor dy, Tensor db, int rows, int cols, bool accumulate)
    {
        var (cdy, cdb) = (C(dy), C(db));
        if (cdy.Type != TensorType.Float32 || cdb.Type != TensorType.Float32)
            throw new ArgumentException($"ColumnSums sums Float32 gradients ({dy} -> {db})");
        cdy.CheckRange(0, (long)rows * cols, "ColumnSums dy"); cdb.CheckRange(0, cols, "ColumnSums db");
        ElementwiseLaunchers.ColumnSums(_device, cdb.Pointer, cdy.Pointer, rows, cols, accumulate);
    }

    // ---- dropout ----
    /// <summary>A dropout site of probability <paramref name="p"/>; its seed is read on the device (never when p is 0).</summary>
    static DropoutSite Site(float p, DropoutSeed seed)
    {
        if (p <= 0) return DropoutSite.None;
        var seeds = C(seed.Seeds);
        if (seeds.Type != TensorType.Int32) throw new ArgumentException($"dropout seeds {seeds} must be Int32");
        seeds.CheckRange(2L * seed.Index, 2, "dropout seed");
        return new DropoutSite(p, seeds.Pointer, seed.Index);
    }

    public void Dropout(Tensor x, Tensor y, long n, float p, DropoutSeed seed)
    {
        var (cx, cy) = (C(x), C(y));
        SameType(cx, cy, "Dropout");
        cx.CheckRange(0, n, "Dropout x"); cy.CheckRange(0, n, "Dropout y");
        if (p <= 0) { if (cx.Pointer != cy.Pointer) Copy(x, 0, y, 0, n); return; }   // p = 0 keeps everything unscaled
        ElementwiseLaunchers.Dropout(_device, cx.Element, cx.Pointer, cy.Pointer, n, Site(p, seed));
    }

    /// <summary>The same mask multiply on the gradient.</summary>
    public void DropoutBackward(Tensor dy, Tensor dx, long n, float p, DropoutSeed seed) => Dropout(dy, dx, n, p, seed);

    // ---- prefix layout ----
    public void PermutePrefix(Tensor src, Tensor dst, int prefixLen, int layers, int heads, int headDim, bool toPeft)
    {
        var (s, d) = (C(src), C(dst));
        if (s.Type != TensorType.Float32 || d.Type != TensorType.Float32) throw new ArgumentException($"PermutePrefix permutes Float32 prefixes ({src} -> {dst})");
        long count = (long)prefixLen * layers * 2 * heads * headDim;
        s.CheckRange(0, count, "PermutePrefix source"); d.CheckRange(0, count, "PermutePrefix destination");
        ElementwiseLaunchers.PermutePrefix(_device, d.Pointer, s.Pointer, prefixLen, layers * 2 * heads, headDim, toPeft);
    }

    public void Dispose()
    {
        DisposeWorkspaces();
        if (_ownsDevice) _device.Dispose();
    }
}
