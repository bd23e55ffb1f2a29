using System.Runtime.InteropServices;

namespace FastPrefix.Backends.Cpu;

/// <summary>
/// Finds an optimised CBLAS (OpenBLAS, MKL, BLIS) at first use and binds <c>cblas_sgemm</c> through a
/// function pointer. Never throws: when nothing suitable is found, <see cref="Sgemm_"/> is null and
/// <see cref="Report"/> says what was tried.
/// </summary>
/// <remarks>
/// <c>FASTPREFIX_BLAS=managed</c> disables native BLAS; <c>FASTPREFIX_BLAS=native</c> probes the candidates and makes
/// the native library the default of <see cref="Sgemm.Multiply"/>; <c>FASTPREFIX_BLAS=/path/lib.so</c> (or a bare soname)
/// loads exactly that library (and makes it the default too). Unset, the candidates are probed but only benchmarks
/// and tests call them: the managed kernel is the default (see <see cref="Sgemm.PreferNative"/>). The reference BLAS (libblas.so.3) is never probed: it is slower than the
/// managed kernel. Name it in the variable to use it anyway.
/// </remarks>
internal static unsafe class NativeBlas
{
    internal const int CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112;

    /// <summary>Libraries probed in order when FASTPREFIX_BLAS does not name one.</summary>
    internal static readonly string[] Candidates =
    [
        "libopenblas.so.0", "libopenblasp.so.0", "libopenblas.so",
        "libmkl_rt.so.2", "libmkl_rt.so",
        "libblis.so.4",
        "libopenblas.dll", "openblas.dll", "libopenblas.dylib",
    ];

    /// <summary>cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); LP64 ints.</summary>
    internal static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> Sgemm_;

    static readonly delegate* unmanaged<int> openblasGetNumThreads;
    static readonly delegate* unmanaged<int, void> openblasSetNumThreads;
    static readonly delegate* unmanaged<int, void> mklSetNumThreads;

    /// <summary>The library that was bound (as named when loaded), or null.</summary>
    internal static readonly string? LibraryName;

    /// <summary>Human-readable description: "OpenBLAS 0.3.21 ... (libopenblas.so.0, pthread)" or why nothing was bound.</summary>
    internal static readonly string Report;

    /// <summary>True when FASTPREFIX_BLAS=managed.</summary>
    internal static readonly bool DisabledByEnvironment;

    /// <summary>True when FASTPREFIX_BLAS asks for a native library ("native", a path or a soname).</summary>
    internal static readonly bool RequestedByEnvironment;

    internal static bool Available => Sgemm_ != null;

    static NativeBlas()
    {
        try
        {
            string? env = Environment.GetEnvironmentVariable("FASTPREFIX_BLAS")?.Trim();
            if (string.Equals(env, "managed", StringComparison.OrdinalIgnoreCase))
            {
                DisabledByEnvironment = true;
                Report = "native BLAS disabled by FASTPREFIX_BLAS=managed";
                return;
            }

            RequestedByEnvironment = !string.IsNullOrEmpty(env);
            bool probe = string.IsNullOrEmpty(env) || string.Equals(env, "native", StringComparison.OrdinalIgnoreCase);
            string[] names = probe ? Candidates : [env!];
            var tried = new List<string>();
            foreach (var name in names)
            {
                if (!NativeLibrary.TryLoad(name, out var handle))
                {
                    tried.Add(name + " (not found)");
                    continue;
                }
                if (!NativeLibrary.TryGetExport(handle, "cblas_sgemm", out var sgemm))
                {
                    tried.Add(name + " (no cblas_sgemm)");
                    NativeLibrary.Free(handle);
                    continue;
                }
                Sgemm_ = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)sgemm;
                if (NativeLibrary.TryGetExport(handle, "openblas_get_num_threads", out var p)) openblasGetNumThreads = (delegate* unmanaged<int>)p;
                if (NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out p)) openblasSetNumThreads = (delegate* unmanaged<int, void>)p;
                if (NativeLibrary.TryGetExport(handle, "MKL_Set_Num_Threads", out p)) mklSetNumThreads = (delegate* unmanaged<int, void>)p;
                LibraryName = name;
                Report = Describe(handle, name);
                return;
            }
            Report = string.IsNullOrEmpty(env)
                ? "no optimised BLAS found; tried " + string.Join(", ", tried)
                : "FASTPREFIX_BLAS=" + env + " could not be used: " + string.Join(", ", tried);
        }
        catch (Exception e)
        {
            Sgemm_ = null;
            Report = "native BLAS probe failed: " + e.GetType().Name + ": " + e.Message;
        }
    }

    static string Describe(IntPtr handle, string name)
    {
        string lib = Path.GetFileName(name);
        if (NativeLibrary.TryGetExport(handle, "openblas_get_config", out var cfg))
        {
            string config = Marshal.PtrToStringUTF8(((delegate* unmanaged<IntPtr>)cfg)()) ?? "OpenBLAS";
            // "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64" -> "OpenBLAS 0.3.21"
            var parts = config.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string version = parts.Length >= 2 && parts[0] == "OpenBLAS" ? parts[0] + " " + parts[1] : config;
            string core = "";
            if (NativeLibrary.TryGetExport(handle, "openblas_get_corename", out var cn))
                core = Marshal.PtrToStringUTF8(((delegate* unmanaged<IntPtr>)cn)()) ?? "";
            string parallel = "";
            if (NativeLibrary.TryGetExport(handle, "openblas_get_parallel", out var par))
                parallel = ((delegate* unmanaged<int>)par)() switch { 0 => "sequential", 1 => "pthread", 2 => "openmp", var x => "parallel=" + x };
            var details = new List<string> { lib };
            if (parallel.Length > 0) details.Add(parallel);
            if (core.Length > 0) details.Add(core);
            return version + " (" + string.Join(", ", details) + ")";
        }
        if (lib.Contains("mkl", StringComparison.OrdinalIgnoreCase)) return "Intel MKL (" + lib + ")";
        if (lib.Contains("blis", StringComparison.OrdinalIgnoreCase)) return "BLIS (" + lib + ")";
        return "CBLAS (" + lib + ")";
    }

    /// <summary>Threads the native library uses, when it can say (OpenBLAS); else -1.</summary>
    internal static int Threads => openblasGetNumThreads != null ? openblasGetNumThreads() : -1;

    /// <summary>Sets the native library's thread count where supported (OpenBLAS, MKL). Process-wide.</summary>
    internal static void SetThreads(int threads)
    {
        if (openblasSetNumThreads != null) openblasSetNumThreads(threads);
        else if (mklSetNumThreads != null) mklSetNumThreads(threads);
    }
}
