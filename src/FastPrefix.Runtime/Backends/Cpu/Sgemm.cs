namespace FastPrefix.Backends.Cpu;

/// <summary>
/// Single-precision matrix product for the CPU backend, row-major:
/// <c>C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C</c>, where <c>op(X) = X^T</c> when the flag is set.
/// Uses an optimised native BLAS (OpenBLAS, MKL, BLIS) when one is installed and
/// <see cref="PreferNative"/> is set, else a managed, packed, cache-blocked, SIMD and multithreaded kernel.
/// </summary>
/// <remarks>
/// <para><c>lda</c>, <c>ldb</c>, <c>ldc</c> are row strides in elements of A, B, C as stored: A is stored
/// [m,k] (or [k,m] when <c>transA</c>), B is stored [k,n] (or [n,k] when <c>transB</c>), C is [m,n].</para>
/// <para>BLAS semantics: <c>beta == 0</c> never reads C (NaN there does not leak); <c>k == 0</c> or
/// <c>alpha == 0</c> gives <c>C = beta * C</c>; <c>m == 0</c> or <c>n == 0</c> does nothing.</para>
/// <para>Environment: <c>FASTPREFIX_BLAS=managed</c> forces the managed kernel; <c>FASTPREFIX_BLAS=native</c> makes the
/// first optimised BLAS found the default; <c>FASTPREFIX_BLAS=/path/lib.so</c> uses exactly that library.</para>
/// <para>The managed kernel is the default even when a native BLAS is installed: inside a training step its threads
/// come from the same worker pool as every other CPU op, while OpenBLAS's own threads compete with that pool for the
/// cores. Measured on the 2-vCPU bench machine (bench/RESULTS.md): step median 369 ms managed vs 414 ms OpenBLAS.</para>
/// </remarks>
public static unsafe partial class Sgemm
{
    static volatile bool preferNative = NativeBlas.Available && NativeBlas.RequestedByEnvironment;
    static volatile int maxThreads = Environment.ProcessorCount;

    /// <summary>What <see cref="Multiply"/> runs now, e.g. "OpenBLAS 0.3.21 (libopenblas.so.0, pthread, Zen)"
    /// or "managed AVX-512 8x32 (2 threads)".</summary>
    public static string Implementation =>
        PreferNative && NativeAvailable ? NativeBlas.Report : ManagedDescription;

    /// <summary>True when an optimised native BLAS was found and bound.</summary>
    public static bool NativeAvailable => NativeBlas.Available;

    /// <summary>Whether <see cref="Multiply"/> uses the native BLAS when available (default: only when FASTPREFIX_BLAS asks for it).
    /// Setting it when no native BLAS is available has no effect.</summary>
    public static bool PreferNative
    {
        get => preferNative && NativeBlas.Available;
        set => preferNative = value;
    }

    /// <summary>Why native BLAS is or is not used: what was loaded, or what was tried.</summary>
    internal static string NativeReport => NativeBlas.Report;

    /// <summary>
    /// Upper bound on threads for both paths (default: processor count). Setting it also sets the native
    /// library's thread count where supported (process-wide). For benchmarks and tests.
    /// </summary>
    internal static int MaxThreads
    {
        get => maxThreads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            maxThreads = value;
            if (NativeBlas.Available) NativeBlas.SetThreads(value);
        }
    }

    /// <summary>Row-major <c>C = alpha * op(A) * op(B) + beta * C</c> on the preferred implementation.</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
                                float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        if (preferNative && NativeBlas.Available)
            MultiplyNative(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else
            MultiplyManaged(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>As <see cref="Multiply"/>, always on the native BLAS.</summary>
    /// <exception cref="InvalidOperationException">No optimised native BLAS is available.</exception>
    public static void MultiplyNative(bool transA, bool transB, int m, int n, int k, float alpha,
                                      float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        var fn = NativeBlas.Sgemm_;
        if (fn == null)
            throw new InvalidOperationException("Sgemm.MultiplyNative: no native BLAS is available (" + NativeBlas.Report + ").");
        if (!Prologue(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
        fn(NativeBlas.CblasRowMajor,
           transA ? NativeBlas.CblasTrans : NativeBlas.CblasNoTrans,
           transB ? NativeBlas.CblasTrans : NativeBlas.CblasNoTrans,
           m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>
    /// Validates arguments and handles the degenerate cases (m, n or k zero; alpha zero) itself.
    /// Returns false when nothing is left to do.
    /// </summary>
    static bool Prologue(bool transA, bool transB, int m, int n, int k, float alpha,
                         float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (m == 0 || n == 0) return false;
        if (ldc < n) throw new ArgumentOutOfRangeException(nameof(ldc), ldc, $"ldc must be at least n = {n}.");
        if (c == null) throw new ArgumentNullException(nameof(c));
        if (k == 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, ldc);
            return false;
        }
        int aCols = transA ? m : k, bCols = transB ? k : n;
        if (lda < aCols) throw new ArgumentOutOfRangeException(nameof(lda), lda, $"lda must be at least {aCols} (A stored [{(transA ? $"{k},{m}" : $"{m},{k}")}]).");
        if (ldb < bCols) throw new ArgumentOutOfRangeException(nameof(ldb), ldb, $"ldb must be at least {bCols} (B stored [{(transB ? $"{n},{k}" : $"{k},{n}")}]).");
        if (a == null) throw new ArgumentNullException(nameof(a));
        if (b == null) throw new ArgumentNullException(nameof(b));
        return true;
    }

    /// <summary>C = beta * C; beta == 0 writes zeros without reading C.</summary>
    static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (nint)i * ldc, n);
            if (beta == 0f) row.Clear();
            else System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }
}
