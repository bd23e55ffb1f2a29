using System.Runtime.InteropServices;

namespace FastPrefix.Kernels.Interop;

/// <summary>cublasStatus_t (only success is named; cublasGetStatusName names the rest).</summary>
public enum CublasStatus
{
    Success = 0,
    NotInitialized = 1,
    AllocFailed = 3,
    InvalidValue = 7,
    ArchMismatch = 8,
    ExecutionFailed = 13,
    InternalError = 14,
    NotSupported = 15,
}

internal enum CublasOperation
{
    N = 0,
    T = 1,
}

/// <summary>cudaDataType_t values used for GEMM operands.</summary>
internal enum CudaDataType
{
    R32F = 0,
    R16BF = 14,
}

internal enum CublasComputeType
{
    /// <summary>fp32 accumulation; lets cuBLAS use tensor cores for bf16 inputs.</summary>
    Compute32F = 68,
    /// <summary>fp32 with no reduced-precision shortcut (no TF32): what "fp32 mode really is fp32" needs.</summary>
    Compute32FPedantic = 69,
}

internal enum CublasMath
{
    Default = 0,
}

/// <summary>
/// cuBLAS (libcublas.so.13/12/11). Entry points are those cublas_v2.h maps to (<c>_v2</c> where it does).
/// Matrices are column-major here; <see cref="Device.CudaDevice"/> turns row-major requests into these calls.
/// </summary>
internal static unsafe partial class LibCublas
{
    private const string Lib = NativeLibraries.CublasName;

    [LibraryImport(Lib, EntryPoint = "cublasCreate_v2")] public static partial CublasStatus cublasCreate(out nint handle);
    [LibraryImport(Lib, EntryPoint = "cublasDestroy_v2")] public static partial CublasStatus cublasDestroy(nint handle);
    [LibraryImport(Lib, EntryPoint = "cublasGetVersion_v2")] public static partial CublasStatus cublasGetVersion(nint handle, out int version);
    /// <summary>Also resets the workspace to cuBLAS's own pool: set the workspace after the stream.</summary>
    [LibraryImport(Lib, EntryPoint = "cublasSetStream_v2")] public static partial CublasStatus cublasSetStream(nint handle, nint stream);
    [LibraryImport(Lib, EntryPoint = "cublasSetWorkspace_v2")] public static partial CublasStatus cublasSetWorkspace(nint handle, ulong workspace, nuint bytes);
    [LibraryImport(Lib)] public static partial CublasStatus cublasSetMathMode(nint handle, CublasMath mode);
    [LibraryImport(Lib)] public static partial nint cublasGetStatusName(CublasStatus status);
    [LibraryImport(Lib)] public static partial nint cublasGetStatusString(CublasStatus status);

    [LibraryImport(Lib)]
    public static partial CublasStatus cublasGemmStridedBatchedEx(nint handle, CublasOperation transA, CublasOperation transB,
        int m, int n, int k, float* alpha,
        ulong a, CudaDataType aType, int lda, long strideA,
        ulong b, CudaDataType bType, int ldb, long strideB, float* beta,
        ulong c, CudaDataType cType, int ldc, long strideC,
        int batchCount, CublasComputeType computeType, int algorithm);

    public const int GemmDefaultAlgorithm = -1;

    /// <summary>"CUBLAS_STATUS_NOT_SUPPORTED (the functionality requested is not supported)".</summary>
    public static string Describe(CublasStatus status)
    {
        try
        {
            var name = Marshal.PtrToStringUTF8(cublasGetStatusName(status));
            var text = Marshal.PtrToStringUTF8(cublasGetStatusString(status));
            return $"{name} ({text})";
        }
        catch (EntryPointNotFoundException)   // cuBLAS before 11.4
        {
            return $"cublasStatus_t {(int)status} ({status})";
        }
    }
}
