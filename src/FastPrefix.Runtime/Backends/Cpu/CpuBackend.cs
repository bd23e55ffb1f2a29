using System.Numerics.Tensors;

namespace FastPrefix.Backends.Cpu;

/// <summary>
/// The reference backend: fp32, vectorised with System.Numerics.Tensors, multithreaded over rows,
/// matrix products through <see cref="Sgemm"/> (an optimised BLAS when installed, else managed SIMD).
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    public string Name => "cpu (" + Sgemm.Implementation + ")";

    static CpuTensor C(Tensor t) => t as CpuTensor ?? throw new ArgumentException($"tensor {t} does not belong to the CPU backend");

    // ---- memory ----
    public Tensor Zeros(params int[] shape) => new CpuTensor(this, TensorType.Float32, shape);
    public Tensor ZerosInt(params int[] shape) => new CpuTensor(this, TensorType.Int32, shape);

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

    public void Download(Tensor source, Span<float> destination) => C(source).Floats.AsSpan(0, destination.Length).CopyTo(destination);
    public void Download(Tensor source, Span<int> destination) => C(source).Ints.AsSpan(0, destination.Length).CopyTo(destination);
    public void Fill(Tensor t, float value) => C(t).Floats.AsSpan().Fill(value);

    public void Copy(Tensor src, long srcOffset, Tensor dst, long dstOffset, long count) =>
        C(src).Floats.AsSpan(checked((int)srcOffset), checked((int)count)).CopyTo(C(dst).Floats.AsSpan(checked((int)dstOffset)));

    // ---- dense algebra ----
    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, long aOffset, Tensor b, long bOffset, float beta, Tensor c, long cOffset)
    {
        var ca = C(a); var cb = C(b); var cc = C(c);
        CheckRange(ca, aOffset, (long)m * k, "A"); CheckRange(cb, bOffset, (long)k * n, "B"); CheckRange(cc, cOffset, (long)m * n, "C");
        GemmTrace?.Invoke((transA, transB, m, n, k));
        long start = ProfileGemm ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
        Sgemm.Multiply(transA, transB, m, n, k, alpha, ca.Ptr + aOffset, transA ? m : k, cb.Ptr + bOffset, transB ? k : n, beta, cc.Ptr + cOffset, n);
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

    static void CheckRange(CpuTensor t, long offset, long count, string what)
    {
        if (offset < 0 || offset + count > t.Length)
            throw new ArgumentException($"GEMM operand {what}: {count} elements at offset {offset} exceed tensor {t}");
    }

    public void AddBias(Tensor y, Tensor bias, int rows, int cols)
    {
        var py = C(y).Ptr; var pb = C(bias).Ptr;
        CpuParallel.For(rows, cols, (r0, r1) =>
        {
            var b = new ReadOnlySpan<float>(pb, cols);
            for (int r = r0; r < r1; r++)
            {
                var row = new Span<float>(py + (long)r * cols, cols);
                TensorPrimitives.Add(row, b, row);
            }
        });
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

    public void Add(Tensor a, Tensor b, Tensor output, long n) =>
        Elementwise(a, b, output, n, static (x, y, o) => TensorPrimitives.Add(x, y, o));

    public void Multiply(Tensor a, Tensor b, Tensor output, long n) =>
        Elementwise(a, b, output, n, static (x, y, o) => TensorPrimitives.Multiply(x, y, o));

    delegate void Binary(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> o);

    void Elementwise(Tensor a, Tensor b, Tensor output, long n, Binary op)
    {
        float* pa = C(a).Ptr, pb = C(b).Ptr, po = C(output).Ptr;
        const int block = 16384;
        int blocks = (int)((n + block - 1) / block);
        CpuParallel.For(blocks, block, (b0, b1) =>
        {
            for (int i = b0; i < b1; i++)
            {
                long s = (long)i * block; int len = (int)Math.Min(block, n - s);
                op(new ReadOnlySpan<float>(pa + s, len), new ReadOnlySpan<float>(pb + s, len), new Span<float>(po + s, len));
            }
        });
    }

    public void Scale(Tensor x, float s, long n)
    {
        var span = C(x).Floats.AsSpan(0, checked((int)n));
        TensorPrimitives.Multiply(span, s, span);
    }

    public double SumOfSquares(Tensor x, long n)
    {
        var f = C(x).Floats;
        double sum = 0;
        for (long i = 0; i < n; i++) sum += (double)f[i] * f[i];
        return sum;
    }

    // ---- activations ----
    public void Gelu(Tensor x, Tensor y, long n)
    {
        float* px = C(x).Ptr, py = C(y).Ptr;
        ForBlocks(n, 8, (s, e) => CpuGelu.Forward(new ReadOnlySpan<float>(px + s, (int)(e - s)), new Span<float>(py + s, (int)(e - s))));
    }

    public void GeluBackward(Tensor dy, Tensor x, Tensor dx, long n)
    {
        float* pdy = C(dy).Ptr, px = C(x).Ptr, pdx = C(dx).Ptr;
        ForBlocks(n, 12, (s, e) => CpuGelu.Backward(new ReadOnlySpan<float>(pdy + s, (int)(e - s)), new ReadOnlySpan<float>(px + s, (int)(e - s)), new Span<float>(pdx + s, (int)(e - s))));
    }

    public void Tanh(Tensor x, Tensor y, long n) =>
        TensorPrimitives.Tanh(C(x).Floats.AsSpan(0, (int)n), C(y).Floats.AsSpan(0, (int)n));

    public void TanhBackward(Tensor dy, Tensor y, Tensor dx, long n)
    {
        float* pdy = C(dy).Ptr, py = C(y).Ptr, pdx = C(dx).Ptr;
        for (long i = 0; i < n; i++) pdx[i] = pdy[i] * (1f - py[i] * py[i]);
    }

    public void Dropout(Tensor x, Tensor y, Tensor mask, long n, float p, ulong seed)
    {
        float* px = C(x).Ptr, py = C(y).Ptr, pm = C(mask).Ptr;
        float keepScale = p >= 1f ? 0f : 1f / (1f - p);
        ForBlocks(n, 8, (s, e) =>
        {
            for (long i = s; i < e; i++)
            {
                float m = DropoutHash.Uniform(seed, i) >= p ? keepScale : 0f;
                pm[i] = m; py[i] = px[i] * m;
            }
        });
    }

    static void ForBlocks(long n, int costPerElement, Action<long, long> body)
    {
        const int block = 8192;
        int blocks = (int)((n + block - 1) / block);
        CpuParallel.For(blocks, (long)block * costPerElement, (b0, b1) =>
            body((long)b0 * block, Math.Min(n, (long)b1 * block)));
    }

    // ---- transformer ops ----
    public void Embed(Tensor ids, Tensor positions, Tensor types, Tensor word, Tensor pos, Tensor type, Tensor output, int rows, int cols)
    {
        var ci = C(ids).Ints; var cp = C(positions).Ints; var ct = C(types).Ints;
        var w = C(word); var p = C(pos); var t = C(type);
        long wRows = w.Length / cols, pRows = p.Length / cols, tRows = t.Length / cols;
        for (int r = 0; r < rows; r++)
        {
            if ((uint)ci[r] >= wRows) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {ci[r]} at row {r} is outside the vocabulary of {wRows}");
            if ((uint)cp[r] >= pRows) throw new ArgumentOutOfRangeException(nameof(positions), $"position id {cp[r]} at row {r} is outside max_position_embeddings {pRows}");
            if ((uint)ct[r] >= tRows) throw new ArgumentOutOfRangeException(nameof(types), $"token type {ct[r]} at row {r} is outside type_vocab_size {tRows}");
        }
        float* pw = w.Ptr, pp = p.Ptr, pt = t.Ptr, po = C(output).Ptr;
        CpuParallel.For(rows, cols * 3, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var o = new Span<float>(po + (long)r * cols, cols);
                TensorPrimitives.Add(new ReadOnlySpan<float>(pw + (long)ci[r] * cols, cols), new ReadOnlySpan<float>(pp + (long)cp[r] * cols, cols), o);
                TensorPrimitives.Add(o, new ReadOnlySpan<float>(pt + (long)ct[r] * cols, cols), o);
            }
        });
    }

    public void LayerNorm(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor rstd, int rows, int cols, float eps)
    {
        float* px = C(x).Ptr, pg = C(gamma).Ptr, pb = C(beta).Ptr, py = C(y).Ptr, pm = C(mean).Ptr, pr = C(rstd).Ptr;
        CpuParallel.For(rows, cols * 6, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var xr = new ReadOnlySpan<float>(px + (long)r * cols, cols);
                var yr = new Span<float>(py + (long)r * cols, cols);
                float mu = TensorPrimitives.Sum(xr) / cols;
                TensorPrimitives.Subtract(xr, mu, yr);
                float var = TensorPrimitives.Dot(yr, yr) / cols;
                float rs = 1f / MathF.Sqrt(var + eps);
                TensorPrimitives.Multiply(yr, rs, yr);
                TensorPrimitives.FusedMultiplyAdd(yr, new ReadOnlySpan<float>(pg, cols), new ReadOnlySpan<float>(pb, cols), yr);
                pm[r] = mu; pr[r] = rs;
            }
        });
    }

    public void LayerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dx, int rows, int cols, bool accumulate)
    {
        float* pdy = C(dy).Ptr, px = C(x).Ptr, pg = C(gamma).Ptr, pm = C(mean).Ptr, pr = C(rstd).Ptr, pdx = C(dx).Ptr;
        CpuParallel.For(rows, cols * 10, (r0, r1) =>
        {
            var xhat = new Span<float>(ThreadScratch.Get(0, cols), cols);
            var g = new Span<float>(ThreadScratch.Get(1, cols), cols);
            for (int r = r0; r < r1; r++)
            {
                var xr = new ReadOnlySpan<float>(px + (long)r * cols, cols);
                var dyr = new ReadOnlySpan<float>(pdy + (long)r * cols, cols);
                var dxr = new Span<float>(pdx + (long)r * cols, cols);
                // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma
                TensorPrimitives.Subtract(xr, pm[r], xhat);
                TensorPrimitives.Multiply(xhat, pr[r], xhat);
                TensorPrimitives.Multiply(dyr, new ReadOnlySpan<float>(pg, cols), g);
                float meanG = TensorPrimitives.Sum(g) / cols;
                float meanGx = TensorPrimitives.Dot(g, xhat) / cols;
                float rs = pr[r];
                for (int c = 0; c < cols; c++)
                {
                    float v = rs * (g[c] - meanG - xhat[c] * meanGx);
                    dxr[c] = accumulate ? dxr[c] + v : v;
                }
            }
        });
    }

    public void GatherToken(Tensor src, Tensor dst, int batch, int seq, int cols, int token)
    {
        var s = C(src).Floats; var d = C(dst).Floats;
        for (int b = 0; b < batch; b++)
            Array.Copy(s, ((long)b * seq + token) * cols, d, (long)b * cols, cols);
    }

    public void ScatterTokenAdd(Tensor src, Tensor dst, int batch, int seq, int cols, int token)
    {
        var s = C(src).Floats; var d = C(dst).Floats;
        for (int b = 0; b < batch; b++)
        {
            var row = d.AsSpan((int)(((long)b * seq + token) * cols), cols);
            TensorPrimitives.Add(row, s.AsSpan(b * cols, cols), row);
        }
    }

    public void PermutePrefix(Tensor src, Tensor dst, int prefixLen, int layers, int heads, int headDim, bool toPeft)
    {
        var s = C(src).Floats; var d = C(dst).Floats;
        int lanes = layers * 2 * heads; // (layer, key/value, head) in both layouts
        for (int p = 0; p < prefixLen; p++)
            for (int lane = 0; lane < lanes; lane++)
            {
                int peft = (p * lanes + lane) * headDim;           // (P, L, 2, H, D)
                int bank = (lane * prefixLen + p) * headDim;       // (L, 2, H, P, D)
                if (toPeft) Array.Copy(s, bank, d, peft, headDim);
                else Array.Copy(s, peft, d, bank, headDim);
            }
    }

    public void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, long n, float lr, float beta1, float beta2, float eps, float weightDecay, int step)
    {
        float* pp = C(param).Ptr, pg = C(grad).Ptr, pm = C(m).Ptr, pv = C(v).Ptr;
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        float stepSize = (float)(lr / bc1), invSqrtBc2 = (float)(1 / Math.Sqrt(bc2)), decay = 1f - lr * weightDecay;
        for (long i = 0; i < n; i++)
        {
            float g = pg[i];
            float mi = pm[i] = beta1 * pm[i] + (1 - beta1) * g;
            float vi = pv[i] = beta2 * pv[i] + (1 - beta2) * g * g;
            pp[i] = pp[i] * decay - stepSize * mi / (MathF.Sqrt(vi) * invSqrtBc2 + eps);
        }
    }

    public void Dispose() { }
}
