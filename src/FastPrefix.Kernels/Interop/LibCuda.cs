using System.Runtime.InteropServices;

namespace FastPrefix.Kernels.Interop;

/// <summary>CUresult. Only the values FastPrefix reacts to are named; cuGetErrorName names the rest.</summary>
public enum CuResult
{
    Success = 0,
    InvalidValue = 1,
    OutOfMemory = 2,
    NotInitialized = 3,
    Deinitialized = 4,
    StubLibrary = 34,
    InsufficientDriver = 35,
    NoDevice = 100,
    InvalidDevice = 101,
    UnsupportedPtxVersion = 222,
    NotFound = 500,
    SystemDriverMismatch = 803,
    StreamCaptureInvalidated = 901,
}

internal enum CuDeviceAttribute
{
    MultiprocessorCount = 16,
    ComputeCapabilityMajor = 75,
    ComputeCapabilityMinor = 76,
    MaxSharedMemoryPerBlockOptin = 97,
}

internal enum CuFunctionAttribute
{
    MaxDynamicSharedSizeBytes = 8,
}

internal enum CuStreamCaptureMode
{
    Global = 0,
    ThreadLocal = 1,
    Relaxed = 2,
}

/// <summary>
/// The CUDA driver API (libcuda.so.1). Entry points are the ones cuda.h maps its names to (the <c>_v2</c>
/// forms where it does), so the bindings behave as code compiled against the header. Handles are nint,
/// device pointers ulong (CUdeviceptr is 64-bit on every 64-bit platform).
/// </summary>
internal static unsafe partial class LibCuda
{
    private const string Lib = NativeLibraries.DriverName;

    public const uint StreamNonBlocking = 0x1;
    public const uint EventDefault = 0x0;

    [LibraryImport(Lib)] public static partial CuResult cuInit(uint flags);
    [LibraryImport(Lib)] public static partial CuResult cuDriverGetVersion(out int version);
    [LibraryImport(Lib)] public static partial CuResult cuGetErrorName(CuResult error, out nint name);
    [LibraryImport(Lib)] public static partial CuResult cuGetErrorString(CuResult error, out nint text);

    [LibraryImport(Lib)] public static partial CuResult cuDeviceGetCount(out int count);
    [LibraryImport(Lib)] public static partial CuResult cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Lib)] public static partial CuResult cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Lib)] public static partial CuResult cuDeviceGetAttribute(out int value, CuDeviceAttribute attribute, int device);
    [LibraryImport(Lib, EntryPoint = "cuDeviceTotalMem_v2")] public static partial CuResult cuDeviceTotalMem(out nuint bytes, int device);

    [LibraryImport(Lib)] public static partial CuResult cuDevicePrimaryCtxRetain(out nint context, int device);
    [LibraryImport(Lib, EntryPoint = "cuDevicePrimaryCtxRelease_v2")] public static partial CuResult cuDevicePrimaryCtxRelease(int device);
    [LibraryImport(Lib)] public static partial CuResult cuCtxSetCurrent(nint context);
    [LibraryImport(Lib)] public static partial CuResult cuCtxGetCurrent(out nint context);
    [LibraryImport(Lib, EntryPoint = "cuCtxPushCurrent_v2")] public static partial CuResult cuCtxPushCurrent(nint context);
    [LibraryImport(Lib, EntryPoint = "cuCtxPopCurrent_v2")] public static partial CuResult cuCtxPopCurrent(out nint context);

    [LibraryImport(Lib, EntryPoint = "cuMemGetInfo_v2")] public static partial CuResult cuMemGetInfo(out nuint free, out nuint total);
    [LibraryImport(Lib, EntryPoint = "cuMemAlloc_v2")] public static partial CuResult cuMemAlloc(out ulong pointer, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cuMemFree_v2")] public static partial CuResult cuMemFree(ulong pointer);
    [LibraryImport(Lib)] public static partial CuResult cuMemHostAlloc(out nint pointer, nuint bytes, uint flags);
    [LibraryImport(Lib)] public static partial CuResult cuMemFreeHost(nint pointer);

    [LibraryImport(Lib, EntryPoint = "cuMemcpyHtoDAsync_v2")] public static partial CuResult cuMemcpyHtoDAsync(ulong destination, void* source, nuint bytes, nint stream);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyDtoHAsync_v2")] public static partial CuResult cuMemcpyDtoHAsync(void* destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyDtoDAsync_v2")] public static partial CuResult cuMemcpyDtoDAsync(ulong destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(Lib)] public static partial CuResult cuMemsetD8Async(ulong destination, byte value, nuint count, nint stream);
    [LibraryImport(Lib)] public static partial CuResult cuMemsetD16Async(ulong destination, ushort value, nuint count, nint stream);
    [LibraryImport(Lib)] public static partial CuResult cuMemsetD32Async(ulong destination, uint value, nuint count, nint stream);

    [LibraryImport(Lib)] public static partial CuResult cuStreamCreate(out nint stream, uint flags);
    [LibraryImport(Lib, EntryPoint = "cuStreamDestroy_v2")] public static partial CuResult cuStreamDestroy(nint stream);
    [LibraryImport(Lib)] public static partial CuResult cuStreamSynchronize(nint stream);

    [LibraryImport(Lib)] public static partial CuResult cuEventCreate(out nint evt, uint flags);
    [LibraryImport(Lib, EntryPoint = "cuEventDestroy_v2")] public static partial CuResult cuEventDestroy(nint evt);
    [LibraryImport(Lib)] public static partial CuResult cuEventRecord(nint evt, nint stream);
    [LibraryImport(Lib)] public static partial CuResult cuEventSynchronize(nint evt);
    [LibraryImport(Lib)] public static partial CuResult cuEventElapsedTime(out float milliseconds, nint start, nint end);

    [LibraryImport(Lib)] public static partial CuResult cuModuleLoadData(out nint module, void* image);
    [LibraryImport(Lib)] public static partial CuResult cuModuleUnload(nint module);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial CuResult cuModuleGetFunction(out nint function, nint module, string name);
    [LibraryImport(Lib)] public static partial CuResult cuFuncSetAttribute(nint function, CuFunctionAttribute attribute, int value);
    /// <summary>CUDA 12.4+: size and offset of a kernel parameter; CUDA_ERROR_INVALID_VALUE past the last one.</summary>
    [LibraryImport(Lib)] public static partial CuResult cuFuncGetParamInfo(nint function, nuint index, out nuint offset, out nuint size);
    [LibraryImport(Lib)] public static partial CuResult cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ,
        uint blockX, uint blockY, uint blockZ, uint sharedBytes, nint stream, void** parameters, void** extra);

    [LibraryImport(Lib, EntryPoint = "cuStreamBeginCapture_v2")] public static partial CuResult cuStreamBeginCapture(nint stream, CuStreamCaptureMode mode);
    [LibraryImport(Lib)] public static partial CuResult cuStreamEndCapture(nint stream, out nint graph);
    /// <summary>cuda.h 12+ maps cuGraphInstantiate to this one (CUDA 11.4+).</summary>
    [LibraryImport(Lib)] public static partial CuResult cuGraphInstantiateWithFlags(out nint exec, nint graph, ulong flags);
    [LibraryImport(Lib)] public static partial CuResult cuGraphLaunch(nint exec, nint stream);
    [LibraryImport(Lib)] public static partial CuResult cuGraphGetNodes(nint graph, nint* nodes, ref nuint count);
    [LibraryImport(Lib)] public static partial CuResult cuGraphExecDestroy(nint exec);
    [LibraryImport(Lib)] public static partial CuResult cuGraphDestroy(nint graph);

    /// <summary>"CUDA_ERROR_OUT_OF_MEMORY (out of memory)", or the number if the driver does not know it.</summary>
    public static string Describe(CuResult result)
    {
        try
        {
            string name = cuGetErrorName(result, out var n) == CuResult.Success && n != 0 ? Marshal.PtrToStringUTF8(n)! : $"CUresult {(int)result}";
            string text = cuGetErrorString(result, out var s) == CuResult.Success && s != 0 ? Marshal.PtrToStringUTF8(s)! : "unknown error";
            return $"{name} ({text})";
        }
        catch (Exception e) when (e is CudaLibraryNotFoundException or DllNotFoundException or EntryPointNotFoundException)
        {
            return $"CUresult {(int)result} ({result})";
        }
    }
}
