using System.Numerics.Tensors;

namespace FastPrefix.Backends.Cpu;

/// <summary>
/// The reference backend: fp32, vectorised with System.Numerics.Tensors, multithreaded over rows,
/// matrix products through <see cref="Sgemm"/> (an optimised BLAS when installed, else managed SIMD).
/// Op families live in partial files: normalisation, attention, heads and losses, optimiser.
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    public string Name => "cpu (" + Sgemm.Implementation + ")";

    /// <summary>Small: on the CPU padding only costs time (8 keeps rows a multiple of a SIMD width).</summary>
    public int SequenceBucket { get; init; } = 8;

    static CpuTensor C(Tensor t) => t as CpuTensor ?? throw new ArgumentException($"tensor {t} does not belong to the CPU backend");

    /// <summary>The CPU computes in fp32 throughout.</summary>
    public TensorType ComputeType => TensorType.Float32;

    // ---- memory ----
    public Tensor Allocate(TensorType type, params int[] shape) => type switch
    {
        TensorType.Float32 or TensorType.Int32 => new CpuTensor(this, type, shape),
        _ => throw new NotSupportedException($"the CPU backend holds no {type} tensors: it computes in fp32 (ComputeType)"),
    };
    public Tensor View(Tensor parent, long offset, TensorType type, params int[] shape) => C(parent).View(offset, type, shape);

    public void Upload(ReadOnlySpan<float> source, Tensor destination)
    {
        var d = C(destination).Floats;
        if (source.Length > d.Length) throw new ArgumentException($"upload of {source.Length} floats into tensor {destination}");
        source.CopyTo(d);
    }

    public void Upload(ReadOnlySpan<int> source, Tensor destination)
    {
        var d = C(destination).Ints;
        if (source.Length > d.Length) throw new ArgumentException($"upload of {source.Length} ints into tensor {destination}");
        source.CopyTo(d);
    }

    public void Download(Tensor source, Span<float> destination) => C(source).Floats[..destination.Length].CopyTo(destination);
    public void Download(Tensor source, Span<int> destination) => C(source).Ints[..destination.Length].CopyTo(destination);

    // ---- elementwise and copies ----
    public void Fill(Tensor t, float value, long n = -1)
    {
        var f = C(t).Floats;
        (n < 0 ? f : f[..checked((int)n)]).Fill(value);
    }

    public void Copy(Tensor src, long srcOffset, Tensor dst, long dstOffset, long count) =>
        C(src).Floats.Slice(checked((int)srcOffset), checked((int)count)).CopyTo(C(dst).Floats[checked((int)dstOffset)..]);

    public void Add(Tensor a, Tensor b, Tensor output, long n)
    {
        float* pa = C(a).Ptr, pb = C(b).Ptr, po = C(output).Ptr;
        ForBlocks(n, 1, (s, e) => TensorPrimitives.Add(new ReadOnlySpan<float>(pa + s, (int)(e - s)), new ReadOnlySpan<float>(pb + s, (int)(e - s)), new Span<float>(po + s, (int)(e - s))));
    }

    public void CopyToSlot(Tensor src, long srcOffset, int count, Tensor dst, Tensor slot, int slotOffset)
    {
        int s = C(slot).Ints[slotOffset];
        Copy(src, srcOffset, dst, (long)s * count, count);
    }

    // ---- dense algebra ----
    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, long aOffset, int lda, Tensor b, long bOffset, int ldb,
                     float beta, Tensor c, long cOffset, int ldc)
    {
        var ca = C(a); var cb = C(b); var cc = C(c);
        CheckOperand(ca, aOffset, transA ? k : m, transA ? m : k, lda, "A");
        CheckOperand(cb, bOffset, transB ? n : k, transB ? k : n, ldb, "B");
        CheckOperand(cc, cOffset, m, n, ldc, "C");
        GemmTrace?.Invoke((transA, transB, m, n, k));
        long start = ProfileGemm ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
        Sgemm.Multiply(transA, transB, m, n, k, alpha, ca.Ptr + aOffset, lda, cb.Ptr + bOffset, ldb, beta, cc.Ptr + cOffset, ldc);
        if (ProfileGemm)
        {
            GemmSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
            GemmFlops += 2.0 * m * n * k;
            GemmCalls++;
        }
    }

    /// <summary>When set, <see cref="Gemm"/> accumulates its wall time and flops (benchmarks split a step into GEMM and the rest).</summary>
    public bool ProfileGemm { get; set; }
    public double GemmSeconds { get; private set; }
    public double GemmFlops { get; private set; }
    public long GemmCalls { get; private set; }
    /// <summary>Called with the shape of every GEMM (benchmarks record what a step multiplies).</summary>
    public Action<(bool TransA, bool TransB, int M, int N, int K)>? GemmTrace { get; set; }
    public void ResetGemmProfile() { GemmSeconds = 0; GemmFlops = 0; GemmCalls = 0; }

    /// <summary>A stored rows × cols operand with row stride ld must fit in its tensor from the offset.</summary>
    static void CheckOperand(CpuTensor t, long offset, int rows, int cols, int ld, string what)
    {
        if (rows == 0 || cols == 0) return;
        if (ld < cols) throw new ArgumentException($"GEMM operand {what}: row stride {ld} is less than its {cols} columns");
        t.CheckRange(offset, (long)(rows - 1) * ld + cols, "GEMM operand " + what);
    }

    public void BiasActivation(Tensor x, Tensor bias, Tensor y, int rows, int cols, Activation act)
    {
        float* px = C(x).Ptr, pb = C(bias).Ptr, py = C(y).Ptr;
        int cost = act == Activation.None ? 1 : 8;
        CpuParallel.For(rows, (long)cols * cost, (r0, r1) =>
        {
            var b = new ReadOnlySpan<float>(pb, cols);
            for (int r = r0; r < r1; r++)
            {
                var xr = new Span<float>(px + (long)r * cols, cols);
                var yr = new Span<float>(py + (long)r * cols, cols);
                TensorPrimitives.Add(xr, b, xr);
                switch (act)
                {
                    case Activation.Gelu: CpuGelu.Forward(xr, yr); break;
                    case Activation.Tanh: TensorPrimitives.Tanh(xr, yr); break;
                    default: if (px != py) xr.CopyTo(yr); break;
                }
            }
        });
    }

    public void ActivationBackward(Activation act, Tensor dy, Tensor saved, Tensor dx, long n)
    {
        float* pdy = C(dy).Ptr, ps = C(saved).Ptr, pdx = C(dx).Ptr;
        switch (act)
        {
            case Activation.Gelu:
                ForBlocks(n, 12, (s, e) => CpuGelu.Backward(new ReadOnlySpan<float>(pdy + s, (int)(e - s)), new ReadOnlySpan<float>(ps + s, (int)(e - s)), new Span<float>(pdx + s, (int)(e - s))));
                break;
            case Activation.Tanh:
                ForBlocks(n, 2, (s, e) => { for (long i = s; i < e; i++) pdx[i] = pdy[i] * (1f - ps[i] * ps[i]); });
                break;
            default:
                if (pdx != pdy) Copy(dy, 0, dx, 0, n);
                break;
        }
    }

    public void ColumnSums(Tensor dy, Tensor db, int rows, int cols, bool accumulate)
    {
        var pdy = C(dy).Ptr;
        Span<double> sums = cols <= 4096 ? stackalloc double[cols] : new double[cols];
        for (int r = 0; r < rows; r++)
        {
            float* row = pdy + (long)r * cols;
            for (int c = 0; c < cols; c++) sums[c] += row[c];
        }
        var d = C(db).Floats;
        for (int c = 0; c < cols; c++) d[c] = (float)((accumulate ? d[c] : 0) + sums[c]);
    }

    // ---- dropout ----
    /// <summary>The 64-bit seed a dropout op reads from the step's staged seeds.</summary>
    static ulong ReadSeed(DropoutSeed seed)
    {
        var s = C(seed.Seeds).Ints;
        return (uint)s[2 * seed.Index] | (ulong)(uint)s[2 * seed.Index + 1] << 32;
    }


    public void Dropout(Tensor x, Tensor y, long n, float p, DropoutSeed seed)
    {
        float* px = C(x).Ptr, py = C(y).Ptr;
        ulong s = ReadSeed(seed);
        ForBlocks(n, 3, (b, e) => DropoutHash.Apply(s, b, new ReadOnlySpan<float>(px + b, (int)(e - b)), new Span<float>(py + b, (int)(e - b)), p));
    }

    public void DropoutBackward(Tensor dy, Tensor dx, long n, float p, DropoutSeed seed) => Dropout(dy, dx, n, p, seed);

    static void ForBlocks(long n, int costPerElement, Action<long, long> body)
    {
        const int block = 8192;
        int blocks = (int)((n + block - 1) / block);
        CpuParallel.For(blocks, (long)block * costPerElement, (b0, b1) =>
            body((long)b0 * block, Math.Min(n, (long)b1 * block)));
    }

    // ---- prefix layout ----
    public void PermutePrefix(Tensor src, Tensor dst, int prefixLen, int layers, int heads, int headDim, bool toPeft)
    {
        var s = C(src).Floats; var d = C(dst).Floats;
        int lanes = layers * 2 * heads; // (layer, key/value, head) in both layouts
        for (int p = 0; p < prefixLen; p++)
            for (int lane = 0; lane < lanes; lane++)
            {
                int peft = (p * lanes + lane) * headDim;           // (P, L, 2, H, D)
                int bank = (lane * prefixLen + p) * headDim;       // (L, 2, H, P, D)
                if (toPeft) s.Slice(bank, headDim).CopyTo(d[peft..]);
                else s.Slice(peft, headDim).CopyTo(d[bank..]);
            }
    }

    public void Dispose() { }
}
