using System.Runtime.InteropServices;
using FastPrefix.Backends.Cpu;

namespace FastPrefix.Tests.Backends;

/// <summary>
/// Sgemm against a double-precision naive reference: every transpose combination, odd sizes, padded strides,
/// alpha/beta (beta = 0 over NaN), degenerate sizes, each managed kernel family, threads, and the native BLAS
/// when one is installed. Tests never change Sgemm's global settings, so they can run beside other tests.
/// </summary>
public unsafe class SgemmTests
{
    public enum Path { Managed, Native, Avx512, Avx2, Vector128, Scalar, Threads2 }

    static readonly bool[] Bools = [false, true];

    // ---------- reference and harness ----------

    /// <summary>A matrix in unmanaged memory with a row stride; padding (and C's initial values when asked) NaN.</summary>
    sealed class Mat : IDisposable
    {
        public readonly int Rows, Cols, Ld;
        public readonly float* P;
        public Mat(int rows, int cols, int ld)
        {
            (Rows, Cols, Ld) = (rows, cols, ld);
            nint len = Math.Max(1, (nint)rows * ld);
            P = (float*)NativeMemory.AlignedAlloc((nuint)(len * sizeof(float)), 64);
            new Span<float>(P, (int)len).Fill(float.NaN);
        }
        public float this[int i, int j] { get => P[(nint)i * Ld + j]; set => P[(nint)i * Ld + j] = value; }
        public void FillRandom(Random rng)
        {
            for (int i = 0; i < Rows; i++)
                for (int j = 0; j < Cols; j++) this[i, j] = (float)(rng.NextDouble() * 2 - 1);
        }
        public float[] Snapshot() => new Span<float>(P, Math.Max(1, Rows * Ld)).ToArray();
        public void Dispose() => NativeMemory.AlignedFree(P);
    }

    static void Call(Path path, bool ta, bool tb, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb,
                     float beta, float* c, int ldc)
    {
        switch (path)
        {
            case Path.Managed: Sgemm.MultiplyManaged(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            case Path.Native: Sgemm.MultiplyNative(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            case Path.Avx512: Sgemm.MultiplyManaged(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, SgemmKernel.Avx512, 1); break;
            case Path.Avx2: Sgemm.MultiplyManaged(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, SgemmKernel.Avx2, 1); break;
            case Path.Vector128: Sgemm.MultiplyManaged(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, SgemmKernel.Vector128, 1); break;
            case Path.Scalar: Sgemm.MultiplyManaged(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, SgemmKernel.Scalar, 1); break;
            case Path.Threads2: Sgemm.MultiplyManaged(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, SgemmKernel.Auto, 2); break;
        }
    }

    static void RequireNative(Path path)
    {
        if (path == Path.Native && !Sgemm.NativeAvailable)
            Assert.Skip("no optimised BLAS installed: " + Sgemm.NativeReport);
    }

    /// <summary>
    /// Runs one product on <paramref name="path"/> and checks it against a double reference:
    /// max |C - ref| &lt;= 1e-5 * sqrt(k) * max(1, max |ref|) + tiny; C's padding must stay NaN.
    /// </summary>
    static void Check(Path path, bool ta, bool tb, int m, int n, int k, float alpha = 1f, float beta = 0f,
                      int padA = 0, int padB = 0, int padC = 0, bool nanC = true, int seed = 1)
    {
        RequireNative(path);
        var rng = new Random(seed ^ (m * 7919 + n * 104729 + k * 15485863));
        int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
        using var A = new Mat(aRows, aCols, aCols + padA);
        using var B = new Mat(bRows, bCols, bCols + padB);
        using var C = new Mat(m, n, n + padC);
        A.FillRandom(rng);
        B.FillRandom(rng);
        if (!(nanC && beta == 0f)) C.FillRandom(rng);

        var expected = new double[m, n];
        double maxRef = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double)(ta ? A[p, i] : A[i, p]) * (tb ? B[j, p] : B[p, j]);
                double e = alpha * s + (beta == 0f ? 0 : beta * (double)C[i, j]);
                expected[i, j] = e;
                maxRef = Math.Max(maxRef, Math.Abs(e));
            }

        Call(path, ta, tb, m, n, k, alpha, A.P, A.Ld, B.P, B.Ld, beta, C.P, C.Ld);

        double tol = 1e-5 * Math.Sqrt(Math.Max(k, 1)) * Math.Max(1, maxRef) + 1e-30;
        double worst = 0;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float got = C[i, j];
                Assert.False(float.IsNaN(got), $"{path} ta={ta} tb={tb} {m}x{n}x{k}: C[{i},{j}] is NaN");
                worst = Math.Max(worst, Math.Abs(got - expected[i, j]));
            }
            for (int j = n; j < C.Ld; j++)
                Assert.True(float.IsNaN(C[i, j]), $"{path}: padding C[{i},{j}] was written");
        }
        Assert.True(worst <= tol, $"{path} ta={ta} tb={tb} m={m} n={n} k={k} alpha={alpha} beta={beta}: max error {worst:G3} > {tol:G3}");
    }

    // ---------- all paths: transposes, sizes, strides, alpha/beta ----------

    public static TheoryData<Path> AllPaths() => [Path.Managed, Path.Native, Path.Threads2, Path.Avx512, Path.Avx2, Path.Vector128, Path.Scalar];

    [Theory]
    [MemberData(nameof(AllPaths))]
    public void AllTransposeCombinations(Path path)
    {
        foreach (var ta in Bools)
            foreach (var tb in Bools)
            {
                Check(path, ta, tb, 37, 45, 29);
                Check(path, ta, tb, 64, 96, Sgemm.KC + 77, alpha: 0.75f, beta: 0.5f);   // k spans two depth panels
            }
    }

    [Theory]
    [MemberData(nameof(AllPaths))]
    public void OddSizes(Path path)
    {
        int[] sizes = [1, 3, 7, 17, 33, 65];
        foreach (var s in sizes)
            Check(path, (s & 1) == 0, (s & 2) == 0, s, s, s);
        foreach (var (m, n, k) in new[] { (1, 129, 7), (129, 1, 33), (17, 257, 3), (257, 17, 65), (7, 33, 257), (65, 3, 129), (33, 65, 1) })
            foreach (var ta in Bools)
                foreach (var tb in Bools)
                    Check(path, ta, tb, m, n, k, beta: 0.25f);
    }

    [Theory]
    [MemberData(nameof(AllPaths))]
    public void PaddedStrides(Path path)
    {
        foreach (var ta in Bools)
            foreach (var tb in Bools)
            {
                Check(path, ta, tb, 19, 41, 23, padA: 5, padB: 3, padC: 7);
                Check(path, ta, tb, 40, 64, 48, alpha: -1f, beta: 1f, padA: 16, padB: 1, padC: 16);
            }
    }

    [Theory]
    [MemberData(nameof(AllPaths))]
    public void AlphaBeta(Path path)
    {
        foreach (var (alpha, beta) in new[] { (1f, 0f), (0.5f, 0f), (-1.25f, 1f), (2f, -0.5f), (1f, 1f), (0.3f, 3f) })
        {
            Check(path, false, true, 23, 35, 19, alpha, beta);
            Check(path, true, false, 33, 17, 41, alpha, beta);
        }
    }

    [Theory]
    [MemberData(nameof(AllPaths))]
    public void BetaZeroIgnoresNaNInC(Path path)
    {
        foreach (var ta in Bools)
            foreach (var tb in Bools)
                Check(path, ta, tb, 50, 70, 30, alpha: 1.5f, beta: 0f, padC: 2, nanC: true);
    }

    [Theory]
    [InlineData(Path.Managed)]
    [InlineData(Path.Native)]
    public void KZeroScalesC(Path path)
    {
        RequireNative(path);
        using var C = new Mat(5, 6, 8);
        // beta = 0: C becomes zero even though it held NaN.
        Call(path, false, false, 5, 6, 0, 1f, null, 1, null, 6, 0f, C.P, C.Ld);
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 6; j++) Assert.Equal(0f, C[i, j]);
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 6; j++) C[i, j] = i - j;
        Call(path, true, true, 5, 6, 0, 1f, null, 5, null, 1, 2f, C.P, C.Ld);
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 6; j++) Assert.Equal(2f * (i - j), C[i, j]);
        Assert.True(float.IsNaN(C[0, 7]), "padding untouched");
    }

    [Theory]
    [InlineData(Path.Managed)]
    [InlineData(Path.Native)]
    public void AlphaZeroScalesC(Path path)
    {
        RequireNative(path);
        using var A = new Mat(4, 3, 3);
        using var B = new Mat(3, 5, 5);   // all NaN: with alpha = 0 they are not read (BLAS semantics)
        using var C = new Mat(4, 5, 5);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 5; j++) C[i, j] = i + j;
        Call(path, false, false, 4, 5, 3, 0f, A.P, 3, B.P, 5, -1f, C.P, 5);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 5; j++) Assert.Equal(-(float)(i + j), C[i, j]);
    }

    [Theory]
    [InlineData(Path.Managed)]
    [InlineData(Path.Native)]
    public void MOrNZeroDoesNothing(Path path)
    {
        RequireNative(path);
        using var A = new Mat(4, 4, 4);
        using var B = new Mat(4, 4, 4);
        using var C = new Mat(4, 4, 4);
        C[0, 0] = 42f;
        Call(path, false, false, 0, 4, 4, 1f, A.P, 4, B.P, 4, 0f, C.P, 4);
        Call(path, false, false, 4, 0, 4, 1f, A.P, 4, B.P, 4, 0f, C.P, 4);
        Call(path, true, true, 0, 0, 0, 1f, null, 0, null, 0, 0f, null, 0);
        Assert.Equal(42f, C[0, 0]);
        Assert.True(float.IsNaN(C[3, 3]));
    }

    // ---------- shapes that matter ----------

    [Theory]
    [InlineData(Path.Managed)]
    [InlineData(Path.Native)]
    [InlineData(Path.Threads2)]
    public void AttentionHeadShape(Path path)
    {
        Check(path, false, true, 128, 144, 64);    // scores = Q K^T
        Check(path, false, false, 128, 64, 144);   // context = P V
        Check(path, true, false, 144, 64, 128);    // dV = P^T dC
    }

    [Theory]
    [InlineData(Path.Managed)]
    [InlineData(Path.Native)]
    [InlineData(Path.Threads2)]
    public void MultithreadedLargeShape(Path path)
    {
        // Several row blocks, two or three depth panels, edge tiles in both directions; automatic threading on Managed.
        Check(path, false, true, 333, 250, 300, alpha: 1f, beta: 0f);
        Check(path, false, false, 300, 161, Sgemm.KC + 8, alpha: 0.5f, beta: -1f);
        Check(path, true, false, 130, 129, 2 * Sgemm.KC + 5);
    }

    [Fact]
    public void WideShapeSpansSeveralColumnBlocks()
    {
        // n beyond one NC block, and few rows: threads must split columns.
        Check(Path.Threads2, false, true, 9, Sgemm.NCTarget + 77, 40);
        Check(Path.Managed, true, false, 3, Sgemm.NCTarget + 33, 20, beta: 2f);
    }

    [Fact]
    public void ThreadCountDoesNotChangeResults()
    {
        const int m = 200, n = 300, k = 1100;
        var rng = new Random(5);
        using var A = new Mat(m, k, k);
        using var B = new Mat(n, k, k);
        using var C1 = new Mat(m, n, n);
        using var C2 = new Mat(m, n, n);
        A.FillRandom(rng);
        B.FillRandom(rng);
        Sgemm.MultiplyManaged(false, true, m, n, k, 1f, A.P, k, B.P, k, 0f, C1.P, n, SgemmKernel.Auto, 1);
        Sgemm.MultiplyManaged(false, true, m, n, k, 1f, A.P, k, B.P, k, 0f, C2.P, n, SgemmKernel.Auto, 2);
        // Each element is summed in the same order whatever the split: bitwise identical.
        Assert.Equal(C1.Snapshot(), C2.Snapshot());
    }

    [Fact]
    public void NativeAndManagedAgreeOnEncoderShape()
    {
        if (!Sgemm.NativeAvailable) Assert.Skip("no optimised BLAS installed: " + Sgemm.NativeReport);
        const int m = 256, n = 384, k = 512;   // a quarter of the fused-QKV projection
        var rng = new Random(9);
        using var X = new Mat(m, k, k);
        using var W = new Mat(n, k, k);
        using var Y1 = new Mat(m, n, n);
        using var Y2 = new Mat(m, n, n);
        X.FillRandom(rng);
        W.FillRandom(rng);
        Sgemm.MultiplyNative(false, true, m, n, k, 1f, X.P, k, W.P, k, 0f, Y1.P, n);
        Sgemm.MultiplyManaged(false, true, m, n, k, 1f, X.P, k, W.P, k, 0f, Y2.P, n);
        double worst = 0, max = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                worst = Math.Max(worst, Math.Abs(Y1[i, j] - Y2[i, j]));
                max = Math.Max(max, Math.Abs(Y1[i, j]));
            }
        Assert.True(worst <= 2e-5 * Math.Sqrt(k) * max, $"native vs managed differ by {worst:G3} (max |Y| {max:G3})");
    }

    // ---------- API surface ----------

    [Fact]
    public void MultiplyUsesPreferredImplementation()
    {
        Check(Path.Managed, false, true, 30, 40, 50);
        // Multiply itself (whatever it prefers) must agree with the reference too.
        const int m = 30, n = 40, k = 50;
        var rng = new Random(3);
        using var A = new Mat(m, k, k);
        using var B = new Mat(k, n, n);
        using var C = new Mat(m, n, n);
        using var D = new Mat(m, n, n);
        A.FillRandom(rng);
        B.FillRandom(rng);
        Sgemm.Multiply(false, false, m, n, k, 1f, A.P, k, B.P, n, 0f, C.P, n);
        if (Sgemm.PreferNative) Sgemm.MultiplyNative(false, false, m, n, k, 1f, A.P, k, B.P, n, 0f, D.P, n);
        else Sgemm.MultiplyManaged(false, false, m, n, k, 1f, A.P, k, B.P, n, 0f, D.P, n);
        Assert.Equal(D.Snapshot(), C.Snapshot());
        Assert.False(string.IsNullOrWhiteSpace(Sgemm.Implementation));
    }

    [Fact]
    public void ImplementationDescribesTheBackend()
    {
        string impl = Sgemm.Implementation;
        if (Sgemm.PreferNative) Assert.Equal(Sgemm.NativeReport, impl);
        else Assert.StartsWith("managed ", impl);
        Assert.StartsWith("managed ", Sgemm.ManagedDescription);
        Assert.Contains("thread", Sgemm.ManagedDescription);
        if (!Sgemm.NativeAvailable)
        {
            Assert.False(Sgemm.PreferNative);
            var e = Assert.Throws<InvalidOperationException>(() => Sgemm.MultiplyNative(false, false, 1, 1, 1, 1f, null, 1, null, 1, 0f, null, 1));
            Assert.Contains("no native BLAS", e.Message);
        }
        else if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("FASTPREFIX_BLAS")))
        {
            Assert.DoesNotContain("libblas.so.3", Sgemm.NativeReport);   // never the reference BLAS unless named
        }
    }

    [Theory]
    [InlineData(Path.Managed)]
    [InlineData(Path.Native)]
    public void BadStridesThrow(Path path)
    {
        RequireNative(path);
        using var A = new Mat(4, 4, 4);
        using var B = new Mat(4, 4, 4);
        using var C = new Mat(4, 4, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => Call(path, false, false, 4, 4, 4, 1f, A.P, 3, B.P, 4, 0f, C.P, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => Call(path, false, true, 4, 4, 3, 1f, A.P, 4, B.P, 2, 0f, C.P, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => Call(path, false, false, 4, 4, 4, 1f, A.P, 4, B.P, 4, 0f, C.P, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Call(path, false, false, -1, 4, 4, 1f, A.P, 4, B.P, 4, 0f, C.P, 4));
    }

    [Fact]
    public void SteadyStateSingleThreadedCallsAllocateNothing()
    {
        const int m = 64, n = 96, k = 80;
        using var A = new Mat(m, k, k);
        using var B = new Mat(n, k, k);
        using var C = new Mat(m, n, n);
        A.FillRandom(new Random(2));
        B.FillRandom(new Random(3));
        for (int i = 0; i < 3; i++) Sgemm.MultiplyManaged(false, true, m, n, k, 1f, A.P, k, B.P, k, 0f, C.P, n, SgemmKernel.Auto, 1);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) Sgemm.MultiplyManaged(false, true, m, n, k, 1f, A.P, k, B.P, k, 0f, C.P, n, SgemmKernel.Auto, 1);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }
}
