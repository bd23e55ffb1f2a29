using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastPrefix.Backends.Cpu;

// Managed GEMM in the BLIS/GotoBLAS style:
//   for jc in n by NC:                      B block (KC x NC) packed once, shared by all threads (L3)
//     for pc in k by KC:
//       pack B[pc.., jc..] into NR-wide micro-panels           (parallel over micro-panels)
//       for ic in m by MC (parallel over blocks):
//         pack A[ic.., pc..] into MR-tall micro-panels          (per-thread buffer, L2)
//         for jr in NC by NR: for ir in MC by MR: micro-kernel  (B micro-panel in L1)
// Packing does every transpose, so the micro-kernel only ever sees one layout. Edges are zero-padded in
// the packed panels and written back through a scratch tile.
public static unsafe partial class Sgemm
{
    internal const int KC = 512;          // depth of a packed panel (512 measured ~7% faster than 256 on Zen 4)
    internal const int MCTarget = 128;    // rows of A per block: MC x KC floats = 256 KiB, well inside a 1 MiB L2
    internal const int NCTarget = 2048;   // columns of B per block: KC x NC floats = 4 MiB (L3), kept per calling thread

    /// <summary>Multiply-adds (m*n*k) below which the managed path stays on the calling thread: 4M, about
    /// 85 us of single-thread work. Measured on the 2-core Zen 4 box: 2 threads break even near 2M
    /// (128^3: 44 vs 41 us) and win clearly at 4M (256x256x64: 85 -> 62 us); the margin covers a busy
    /// second core. Attention-sized products (128 x 144 x 64) never pay for threads.</summary>
    internal const long ParallelThreshold = 1L << 22;

    /// <summary>The kernel family <see cref="MultiplyManaged(bool, bool, int, int, int, float, float*, int, float*, int, float, float*, int)"/> uses on this CPU.</summary>
    internal static SgemmKernel BestKernel { get; } =
        Avx512F.IsSupported ? SgemmKernel.Avx512
        : Avx2.IsSupported && Fma.IsSupported ? SgemmKernel.Avx2
        : Vector128.IsHardwareAccelerated ? SgemmKernel.Vector128
        : SgemmKernel.Scalar;

    internal static string ManagedDescription
    {
        get
        {
            string name = BestKernel switch
            {
                SgemmKernel.Avx512 => Avx512Kernel.Name,
                SgemmKernel.Avx2 => Avx2Kernel.Name,
                SgemmKernel.Vector128 => Vector128Kernel.Name,
                _ => ScalarKernel.Name,
            };
            int t = Math.Min(MaxThreads, Environment.ProcessorCount);
            return "managed " + name + " (" + t + (t == 1 ? " thread)" : " threads)");
        }
    }

    /// <summary>As <see cref="Multiply"/>, always on the managed kernel.</summary>
    public static void MultiplyManaged(bool transA, bool transB, int m, int n, int k, float alpha,
                                       float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
        => MultiplyManaged(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, SgemmKernel.Auto, 0);

    /// <summary>
    /// The managed path with a chosen kernel family (<see cref="SgemmKernel.Auto"/>: the best this CPU runs;
    /// a family the CPU lacks falls back to a portable one) and thread count (0: automatic, by problem size
    /// and <see cref="MaxThreads"/>; otherwise exactly that many, whatever the size). For tests and benchmarks.
    /// </summary>
    internal static void MultiplyManaged(bool transA, bool transB, int m, int n, int k, float alpha,
                                         float* a, int lda, float* b, int ldb, float beta, float* c, int ldc,
                                         SgemmKernel kernel, int threads)
    {
        if (!Prologue(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
        if (threads <= 0)
        {
            threads = Math.Min(maxThreads, Environment.ProcessorCount);
            if ((long)m * n * k < ParallelThreshold) threads = 1;
        }
        switch (kernel == SgemmKernel.Auto ? BestKernel : kernel)
        {
            case SgemmKernel.Avx512 when Avx512F.IsSupported:
                Driver<Avx512Kernel>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
            case SgemmKernel.Avx2 when Avx2.IsSupported && Fma.IsSupported:
                Driver<Avx2Kernel>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
            case SgemmKernel.Vector128 or SgemmKernel.Avx512 or SgemmKernel.Avx2:
                Driver<Vector128Kernel>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
            default:
                Driver<ScalarKernel>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
        }
    }

    /// <summary>A pinned, 64-byte aligned scratch array, grown on demand; one per thread and role.</summary>
    struct Scratch
    {
        float[]? array;
        float* ptr;
        int length;

        public float* Get(int floats)
        {
            if (floats > length)
            {
                int len = Math.Max(floats, length + length / 2);
                array = GC.AllocateUninitializedArray<float>(len + 16, pinned: true);
                ptr = (float*)(((nint)Unsafe.AsPointer(ref array[0]) + 63) & ~(nint)63);
                length = len;
            }
            return ptr;
        }
    }

    [ThreadStatic] static Scratch aScratch;   // packed A block (per worker)
    [ThreadStatic] static Scratch bScratch;   // packed B block (per calling thread, shared with its workers)

    /// <summary>One GEMM call's state. A pooled instance per calling thread carries cached delegates, so a
    /// call allocates nothing (its threads come from the allocation-free <see cref="CpuParallel"/> pool).</summary>
    sealed class Driver<K> where K : struct, IMicroKernel
    {
        [ThreadStatic] static Driver<K>? cached;

        bool transA, transB;
        int m, n, k, mc, mBlocks, nSplits, panelsPerSplit, bTasks;
        float alpha, beta;
        float* a, b, c, bp;
        nint lda, ldb, ldc;
        int jc, nc, pc, kc, kcStep;
        readonly Action<int, int> packBTasks, computeTasks;
        int threads;

        Driver()
        {
            packBTasks = (t0, t1) => { for (int t = t0; t < t1; t++) PackBTask(t); };
            computeTasks = (t0, t1) => { for (int t = t0; t < t1; t++) ComputeTask(t); };
        }

        public static void Run(bool transA, bool transB, int m, int n, int k, float alpha,
                               float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, int threads)
        {
            var d = cached ?? new Driver<K>();
            cached = null;   // re-entrancy safe: a nested call on this thread makes its own
            try
            {
                d.Execute(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
            }
            finally
            {
                d.a = d.b = d.c = d.bp = null;
                cached = d;
            }
        }

        void Execute(bool transA, bool transB, int m, int n, int k, float alpha,
                     float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, int threads)
        {
            int MR = K.MR, NR = K.NR;
            (this.transA, this.transB, this.m, this.n, this.k, this.alpha) = (transA, transB, m, n, k, alpha);
            this.a = a; this.b = b; this.c = c;
            (this.lda, this.ldb, this.ldc) = (lda, ldb, ldc);

            int ncMax = Math.Min(RoundUp(n, NR), NCTarget / NR * NR);
            // Depth panels of equal size (k = 520 -> 264 + 256, not 512 + 8), a multiple of 8 but the last.
            kcStep = Math.Min(KC, RoundUp(DivUp(k, DivUp(k, KC)), 8));
            bp = bScratch.Get(ncMax * kcStep);

            // Row blocks: MCTarget, but small enough that every thread gets work.
            mc = Math.Min(RoundUp(MCTarget, MR), RoundUp(m, MR));
            if (threads > 1) mc = Math.Min(mc, Math.Max(MR, RoundUp(DivUp(m, threads), MR)));
            mBlocks = DivUp(m, mc);
            this.threads = threads;

            for (jc = 0; jc < n; jc += ncMax)
            {
                nc = Math.Min(ncMax, n - jc);
                int panels = DivUp(nc, NR);
                // Too few row blocks to feed the threads: also split the columns.
                nSplits = threads > 1 && mBlocks < 2 * threads ? Math.Min(panels, DivUp(2 * threads, mBlocks)) : 1;
                panelsPerSplit = DivUp(panels, nSplits);
                nSplits = DivUp(panels, panelsPerSplit);
                bTasks = Math.Min(4 * threads, panels);   // fine-grained: a descheduled worker does not stall the rest
                for (pc = 0; pc < k; pc += kcStep)
                {
                    kc = Math.Min(kcStep, k - pc);
                    this.beta = pc == 0 ? beta : 1f;
                    if (threads > 1)
                    {
                        CpuParallel.ForEachIndex(bTasks, this.threads, packBTasks);
                        CpuParallel.ForEachIndex(mBlocks * nSplits, this.threads, computeTasks);
                    }
                    else
                    {
                        bTasks = 1;
                        PackBTask(0);
                        for (int t = 0; t < mBlocks; t++) ComputeTask(t);
                    }
                }
            }
        }

        void PackBTask(int t)
        {
            int NR = K.NR;
            int panels = DivUp(nc, NR);
            int per = DivUp(panels, bTasks);
            int j0 = t * per * NR, j1 = Math.Min(nc, j0 + per * NR);
            if (j0 < j1) PackB(transB, b, ldb, pc, jc + j0, kc, j1 - j0, bp + (nint)j0 * kc, NR);
        }

        void ComputeTask(int task)
        {
            int MR = K.MR, NR = K.NR;
            int block = task / nSplits, split = task % nSplits;
            int ic = block * mc, mcur = Math.Min(mc, m - ic);
            float* ap = aScratch.Get(RoundUp(mc, MR) * kcStep);
            PackA(transA, a, lda, ic, pc, mcur, kc, ap, MR);

            int jr0 = split * panelsPerSplit * NR;
            int jr1 = Math.Min(nc, jr0 + panelsPerSplit * NR);
            float* tile = stackalloc float[K.MR * K.NR + 16];
            tile = (float*)(((nint)tile + 63) & ~(nint)63);
            float al = alpha, be = beta;
            for (int jr = jr0; jr < jr1; jr += NR)
            {
                int ncur = Math.Min(NR, nc - jr);
                float* bpanel = bp + (nint)jr * kc;
                float* cc = c + (nint)ic * ldc + jc + jr;
                for (int ir = 0; ir < mcur; ir += MR)
                {
                    int mr = Math.Min(MR, mcur - ir);
                    float* cij = cc + ir * ldc;
                    if (mr == MR && ncur == NR)
                    {
                        K.Run(kc, ap + (nint)ir * kc, bpanel, cij, ldc, al, be);
                    }
                    else
                    {
                        K.Run(kc, ap + (nint)ir * kc, bpanel, tile, NR, 1f, 0f);
                        for (int i = 0; i < mr; i++)
                        {
                            float* crow = cij + i * ldc;
                            float* trow = tile + i * NR;
                            if (be == 0f) for (int j = 0; j < ncur; j++) crow[j] = al * trow[j];
                            else for (int j = 0; j < ncur; j++) crow[j] = al * trow[j] + be * crow[j];
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Packs op(A)[ic..ic+mcur, pc..pc+kc] as MR-row micro-panels: panel r0 at ap + r0*kc, element
    /// (i, p) at [p*MR + i]. Rows past mcur are zero.
    /// </summary>
    internal static void PackA(bool transA, float* a, nint lda, int ic, int pc, int mcur, int kc, float* ap, int MR)
    {
        if (transA)
        {
            // A(i, p) = a[p*lda + i]: each stored row gives MR values to every micro-panel.
            PackRows(a + (nint)pc * lda + ic, lda, mcur, kc, ap, MR);
            return;
        }
        // A(i, p) = a[i*lda + p]: transposing gather, one micro-panel at a time.
        for (int ir = 0; ir < mcur; ir += MR)
            PackTransposed(a + (nint)(ic + ir) * lda + pc, lda, Math.Min(MR, mcur - ir), kc, ap + (nint)ir * kc, MR);
    }

    /// <summary>
    /// Packs op(B)[pc..pc+kc, j0..j0+cols] as NR-wide micro-panels: panel q at dst + q*NR*kc, element (p, j)
    /// at [p*NR + j]. Columns past cols (in the last panel) are zero.
    /// </summary>
    internal static void PackB(bool transB, float* b, nint ldb, int pc, int j0, int kc, int cols, float* dst, int NR)
    {
        if (!transB)
        {
            PackRows(b + (nint)pc * ldb + j0, ldb, cols, kc, dst, NR);   // B(p, j) = b[p*ldb + j]
            return;
        }
        for (int j = 0; j < cols; j += NR)                               // B(p, j) = b[j*ldb + p]
            PackTransposed(b + (nint)(j0 + j) * ldb + pc, ldb, Math.Min(NR, cols - j), kc, dst + (nint)j * kc, NR);
    }

    /// <summary>
    /// From kc stored rows of count values (row p at src + p*ld) fills ceil(count/w) micro-panels of width w:
    /// panel q at dst + q*w*kc, value [p*w + i] = src[p*ld + q*w + i], zero past count. Reads each row once,
    /// contiguously.
    /// </summary>
    static void PackRows(float* src, nint ld, int count, int kc, float* dst, int w)
    {
        int full = count / w, rest = count - full * w;
        nint panelStride = (nint)w * kc;
        for (int p = 0; p < kc; p++, src += ld)
        {
            float* d = dst + (nint)p * w;
            float* s = src;
            for (int q = 0; q < full; q++, s += w, d += panelStride)
                Copy(s, d, w);
            if (rest > 0)
            {
                int i = 0;
                for (; i < rest; i++) d[i] = s[i];
                for (; i < w; i++) d[i] = 0f;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Copy(float* s, float* d, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= count; i += 8) Vector256.Store(Vector256.Load(s + i), d + i);
        else if (Vector128.IsHardwareAccelerated)
            for (; i + 4 <= count; i += 4) Vector128.Store(Vector128.Load(s + i), d + i);
        for (; i < count; i++) d[i] = s[i];
    }

    /// <summary>dst[p*w + i] = src[i*ld + p] for i &lt; count (zero for count &lt;= i &lt; w), p &lt; kc.</summary>
    static void PackTransposed(float* src, nint ld, int count, int kc, float* dst, int w)
    {
        int i0 = 0;
        if (Avx.IsSupported)
        {
            int kc8 = kc & ~7;
            for (; i0 + 8 <= count; i0 += 8)
            {
                float* s = src + i0 * ld;
                for (int p = 0; p < kc8; p += 8)
                    Transpose.T8x8(s + p, ld, dst + (nint)p * w + i0, w);
                for (int p = kc8; p < kc; p++)
                    for (int i = 0; i < 8; i++) dst[(nint)p * w + i0 + i] = s[i * ld + p];
            }
        }
        for (int i = i0; i < count; i++)
        {
            float* s = src + i * ld;
            float* d = dst + i;
            for (int p = 0; p < kc; p++) d[(nint)p * w] = s[p];
        }
        for (int i = Math.Max(count, i0); i < w; i++)
            for (int p = 0; p < kc; p++) dst[(nint)p * w + i] = 0f;
    }

    static int DivUp(int x, int y) => (x + y - 1) / y;
    static int RoundUp(int x, int y) => DivUp(x, y) * y;
}
