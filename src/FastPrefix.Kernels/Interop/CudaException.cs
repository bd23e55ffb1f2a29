using System.Runtime.CompilerServices;

namespace FastPrefix.Kernels.Interop;

/// <summary>A CUDA driver, cuBLAS or NVRTC call failed. The message names the call and the native error.</summary>
public sealed class CudaException : Exception
{
    public CudaException(string library, int code, string error, string call, string? detail = null)
        : base($"{library} call {call} failed: {error}{(detail is null ? "" : ". " + detail)}")
    {
        Library = library;
        Code = code;
        Error = error;
        Call = call;
    }

    /// <summary>"CUDA driver", "cuBLAS" or "NVRTC".</summary>
    public string Library { get; }
    /// <summary>The native result code.</summary>
    public int Code { get; }
    /// <summary>The native error's name and description, e.g. "CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)".</summary>
    public string Error { get; }
    /// <summary>The failed call as written in the source.</summary>
    public string Call { get; }

    public static void ThrowIfFailed(CuResult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != CuResult.Success) throw new CudaException("CUDA driver", (int)result, LibCuda.Describe(result), call, Hint(result));
    }

    public static void ThrowIfFailed(CublasStatus status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != CublasStatus.Success) throw new CudaException("cuBLAS", (int)status, LibCublas.Describe(status), call);
    }

    public static void ThrowIfFailed(NvrtcResult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != NvrtcResult.Success) throw new CudaException("NVRTC", (int)result, LibNvrtc.Describe(result), call);
    }

    private static string? Hint(CuResult result) => result switch
    {
        CuResult.UnsupportedPtxVersion => "The NVRTC found is newer than the driver: update the NVIDIA driver or install an NVRTC no newer than the driver's CUDA version",
        CuResult.InsufficientDriver or CuResult.SystemDriverMismatch => "The NVIDIA driver is too old for this CUDA library or does not match the kernel module",
        _ => null,
    };
}
