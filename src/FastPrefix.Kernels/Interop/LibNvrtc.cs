using System.Runtime.InteropServices;

namespace FastPrefix.Kernels.Interop;

/// <summary>nvrtcResult (only the values FastPrefix reacts to are named; nvrtcGetErrorString names all).</summary>
public enum NvrtcResult
{
    Success = 0,
    InvalidOption = 5,
    Compilation = 6,
}

/// <summary>NVRTC, the CUDA runtime compiler (libnvrtc.so.13/12/11.2). Needs no GPU and no driver.</summary>
internal static unsafe partial class LibNvrtc
{
    private const string Lib = NativeLibraries.NvrtcName;

    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcVersion(out int major, out int minor);
    [LibraryImport(Lib)] public static partial nint nvrtcGetErrorString(NvrtcResult result);
    /// <summary>NVRTC 11.2+: the real architectures (e.g. 80 for sm_80) this NVRTC can compile for.</summary>
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetNumSupportedArchs(out int count);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetSupportedArchs(int* architectures);

    [LibraryImport(Lib)]
    public static partial NvrtcResult nvrtcCreateProgram(out nint program, byte* source, byte* name,
        int headerCount, byte** headers, byte** includeNames);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcCompileProgram(nint program, int optionCount, byte** options);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcDestroyProgram(ref nint program);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetProgramLogSize(nint program, out nuint size);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetProgramLog(nint program, byte* log);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetPTXSize(nint program, out nuint size);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetPTX(nint program, byte* ptx);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetCUBINSize(nint program, out nuint size);
    [LibraryImport(Lib)] public static partial NvrtcResult nvrtcGetCUBIN(nint program, byte* cubin);

    /// <summary>"NVRTC_ERROR_COMPILATION".</summary>
    public static string Describe(NvrtcResult result) =>
        Marshal.PtrToStringUTF8(nvrtcGetErrorString(result)) ?? $"nvrtcResult {(int)result}";
}
