using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastPrefix.Backends.Cpu;

/// <summary>Managed micro-kernel families; <see cref="Auto"/> picks the widest the CPU runs well.</summary>
internal enum SgemmKernel { Auto, Avx512, Avx2, Vector128, Scalar }

/// <summary>
/// A register-blocked micro-kernel: C[MR,NR] (=|+=) alpha * Ap * Bp over kc steps, where Ap is a packed
/// micro-panel of A (kc groups of MR values, one per row) and Bp a packed micro-panel of B (kc groups of NR
/// values). Full tiles only; the driver routes edge tiles through a scratch tile.
/// </summary>
internal unsafe interface IMicroKernel
{
    static abstract int MR { get; }
    static abstract int NR { get; }
    static abstract string Name { get; }
    /// <summary>C = alpha * acc + beta * C; beta == 0 does not read C.</summary>
    static abstract void Run(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta);
}

/// <summary>AVX-512: 8 rows x 32 columns (16 zmm accumulators, 2 B loads + 8 broadcasts per k).</summary>
internal unsafe struct Avx512Kernel : IMicroKernel
{
    public static int MR => 8;
    public static int NR => 32;
    public static string Name => "AVX-512 8x32";

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default,
                         c20 = default, c21 = default, c30 = default, c31 = default,
                         c40 = default, c41 = default, c50 = default, c51 = default,
                         c60 = default, c61 = default, c70 = default, c71 = default;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            a += 8;
            b += 32;
        }
        var va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            (c00 * va).Store(c); (c01 * va).Store(c + 16); c += ldc;
            (c10 * va).Store(c); (c11 * va).Store(c + 16); c += ldc;
            (c20 * va).Store(c); (c21 * va).Store(c + 16); c += ldc;
            (c30 * va).Store(c); (c31 * va).Store(c + 16); c += ldc;
            (c40 * va).Store(c); (c41 * va).Store(c + 16); c += ldc;
            (c50 * va).Store(c); (c51 * va).Store(c + 16); c += ldc;
            (c60 * va).Store(c); (c61 * va).Store(c + 16); c += ldc;
            (c70 * va).Store(c); (c71 * va).Store(c + 16);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Acc(c, c00, c01, va, vb); c += ldc;
            Acc(c, c10, c11, va, vb); c += ldc;
            Acc(c, c20, c21, va, vb); c += ldc;
            Acc(c, c30, c31, va, vb); c += ldc;
            Acc(c, c40, c41, va, vb); c += ldc;
            Acc(c, c50, c51, va, vb); c += ldc;
            Acc(c, c60, c61, va, vb); c += ldc;
            Acc(c, c70, c71, va, vb);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Acc(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> va, Vector512<float> vb)
    {
        Vector512.FusedMultiplyAdd(Vector512.Load(c), vb, x0 * va).Store(c);
        Vector512.FusedMultiplyAdd(Vector512.Load(c + 16), vb, x1 * va).Store(c + 16);
    }
}

/// <summary>AVX2 + FMA: 6 rows x 16 columns (12 ymm accumulators).</summary>
internal unsafe struct Avx2Kernel : IMicroKernel
{
    public static int MR => 6;
    public static int NR => 16;
    public static string Name => "AVX2 6x16";

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default,
                         c20 = default, c21 = default, c30 = default, c31 = default,
                         c40 = default, c41 = default, c50 = default, c51 = default;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            a += 6;
            b += 16;
        }
        var va = Vector256.Create(alpha);
        if (beta == 0f)
        {
            (c00 * va).Store(c); (c01 * va).Store(c + 8); c += ldc;
            (c10 * va).Store(c); (c11 * va).Store(c + 8); c += ldc;
            (c20 * va).Store(c); (c21 * va).Store(c + 8); c += ldc;
            (c30 * va).Store(c); (c31 * va).Store(c + 8); c += ldc;
            (c40 * va).Store(c); (c41 * va).Store(c + 8); c += ldc;
            (c50 * va).Store(c); (c51 * va).Store(c + 8);
        }
        else
        {
            var vb = Vector256.Create(beta);
            Acc(c, c00, c01, va, vb); c += ldc;
            Acc(c, c10, c11, va, vb); c += ldc;
            Acc(c, c20, c21, va, vb); c += ldc;
            Acc(c, c30, c31, va, vb); c += ldc;
            Acc(c, c40, c41, va, vb); c += ldc;
            Acc(c, c50, c51, va, vb);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Acc(float* c, Vector256<float> x0, Vector256<float> x1, Vector256<float> va, Vector256<float> vb)
    {
        Vector256.FusedMultiplyAdd(Vector256.Load(c), vb, x0 * va).Store(c);
        Vector256.FusedMultiplyAdd(Vector256.Load(c + 8), vb, x1 * va).Store(c + 8);
    }
}

/// <summary>Portable 128-bit SIMD (SSE, AdvSimd, ...): 4 rows x 8 columns (8 accumulators).</summary>
internal unsafe struct Vector128Kernel : IMicroKernel
{
    public static int MR => 4;
    public static int NR => 8;
    public static string Name => "Vector128 4x8";

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default,
                         c20 = default, c21 = default, c30 = default, c31 = default;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector128.Load(b);
            var b1 = Vector128.Load(b + 4);
            var x = Vector128.Create(a[0]);
            c00 = Vector128.MultiplyAddEstimate(x, b0, c00); c01 = Vector128.MultiplyAddEstimate(x, b1, c01);
            x = Vector128.Create(a[1]);
            c10 = Vector128.MultiplyAddEstimate(x, b0, c10); c11 = Vector128.MultiplyAddEstimate(x, b1, c11);
            x = Vector128.Create(a[2]);
            c20 = Vector128.MultiplyAddEstimate(x, b0, c20); c21 = Vector128.MultiplyAddEstimate(x, b1, c21);
            x = Vector128.Create(a[3]);
            c30 = Vector128.MultiplyAddEstimate(x, b0, c30); c31 = Vector128.MultiplyAddEstimate(x, b1, c31);
            a += 4;
            b += 8;
        }
        var va = Vector128.Create(alpha);
        bool readC = beta != 0f;
        var vb = Vector128.Create(beta);
        Put(c, c00, va, vb, readC); Put(c + 4, c01, va, vb, readC); c += ldc;
        Put(c, c10, va, vb, readC); Put(c + 4, c11, va, vb, readC); c += ldc;
        Put(c, c20, va, vb, readC); Put(c + 4, c21, va, vb, readC); c += ldc;
        Put(c, c30, va, vb, readC); Put(c + 4, c31, va, vb, readC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(float* c, Vector128<float> x, Vector128<float> va, Vector128<float> vb, bool readC)
        => (readC ? Vector128.MultiplyAddEstimate(Vector128.Load(c), vb, x * va) : x * va).Store(c);
}

/// <summary>Scalar fallback: 4 x 4.</summary>
internal unsafe struct ScalarKernel : IMicroKernel
{
    public static int MR => 4;
    public static int NR => 4;
    public static string Name => "scalar 4x4";

    public static void Run(nint kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0,
              c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (nint p = 0; p < kc; p++)
        {
            float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            float x = a[0]; c00 += x * b0; c01 += x * b1; c02 += x * b2; c03 += x * b3;
            x = a[1]; c10 += x * b0; c11 += x * b1; c12 += x * b2; c13 += x * b3;
            x = a[2]; c20 += x * b0; c21 += x * b1; c22 += x * b2; c23 += x * b3;
            x = a[3]; c30 += x * b0; c31 += x * b1; c32 += x * b2; c33 += x * b3;
            a += 4;
            b += 4;
        }
        Row(c, c00, c01, c02, c03, alpha, beta); c += ldc;
        Row(c, c10, c11, c12, c13, alpha, beta); c += ldc;
        Row(c, c20, c21, c22, c23, alpha, beta); c += ldc;
        Row(c, c30, c31, c32, c33, alpha, beta);
    }

    static void Row(float* c, float x0, float x1, float x2, float x3, float alpha, float beta)
    {
        if (beta == 0f) { c[0] = alpha * x0; c[1] = alpha * x1; c[2] = alpha * x2; c[3] = alpha * x3; }
        else { c[0] = alpha * x0 + beta * c[0]; c[1] = alpha * x1 + beta * c[1]; c[2] = alpha * x2 + beta * c[2]; c[3] = alpha * x3 + beta * c[3]; }
    }
}

/// <summary>8x8 transpose used by the packing routines (AVX).</summary>
internal static unsafe class Transpose
{
    /// <summary>d[j*ldd + i] = s[i*lds + j] for i, j in [0, 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void T8x8(float* s, nint lds, float* d, nint ldd)
    {
        var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + lds);
        var r2 = Avx.LoadVector256(s + 2 * lds); var r3 = Avx.LoadVector256(s + 3 * lds);
        var r4 = Avx.LoadVector256(s + 4 * lds); var r5 = Avx.LoadVector256(s + 5 * lds);
        var r6 = Avx.LoadVector256(s + 6 * lds); var r7 = Avx.LoadVector256(s + 7 * lds);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 2 * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 3 * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 4 * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 5 * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 6 * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 7 * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }
}
