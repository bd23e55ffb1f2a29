using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastPrefix.Kernels.Interop;

/// <summary>The native CUDA libraries FastPrefix binds to.</summary>
public enum CudaLibrary
{
    /// <summary>The CUDA driver, <c>libcuda.so.1</c> (installed with the NVIDIA driver).</summary>
    Driver,
    /// <summary>cuBLAS, <c>libcublas.so.13/12/11</c>.</summary>
    Cublas,
    /// <summary>The runtime compiler NVRTC, <c>libnvrtc.so.13/12/11.2</c>.</summary>
    Nvrtc,
}

/// <summary>
/// Finds the CUDA libraries by their versioned names, in the loader's path and the usual CUDA folders, and
/// serves them to the <c>[LibraryImport]</c> bindings of this assembly. Nothing is loaded until a binding is
/// first called or <see cref="TryLoad"/> asks: a machine without CUDA never maps a CUDA library.
/// </summary>
public static class NativeLibraries
{
    internal const string DriverName = "fastprefix-cuda";
    internal const string CublasName = "fastprefix-cublas";
    internal const string NvrtcName = "fastprefix-nvrtc";

    private static readonly ConcurrentDictionary<CudaLibrary, Lazy<(nint Handle, string Detail)>> Loaded = new();

    // Registers the resolver only (loads nothing), before any binding of this assembly can run.
#pragma warning disable CA2255
    [ModuleInitializer]
    internal static void RegisterResolver() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
#pragma warning restore CA2255

    /// <summary>File names tried, newest first.</summary>
    public static IReadOnlyList<string> FileNames(CudaLibrary library) => library switch
    {
        CudaLibrary.Driver => ["libcuda.so.1", "libcuda.so"],
        CudaLibrary.Cublas => ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"],
        _ => ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
    };

    /// <summary>The environment variable that names the library's file directly, overriding the search.</summary>
    public static string OverrideVariable(CudaLibrary library) => library switch
    {
        CudaLibrary.Driver => "FASTPREFIX_LIBCUDA",
        CudaLibrary.Cublas => "FASTPREFIX_LIBCUBLAS",
        _ => "FASTPREFIX_LIBNVRTC",
    };

    /// <summary>Folders searched after the loader's own path: CUDA_PATH/CUDA_HOME, /usr/local/cuda, the distribution's.</summary>
    public static IReadOnlyList<string> Folders()
    {
        var folders = new List<string>();
        foreach (var variable in new[] { "CUDA_PATH", "CUDA_HOME" })
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } root)
                folders.AddRange([Path.Combine(root, "lib64"), Path.Combine(root, "targets/x86_64-linux/lib"), Path.Combine(root, "lib")]);
        folders.AddRange(["/usr/local/cuda/targets/x86_64-linux/lib", "/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu",
            "/usr/lib64", "/usr/lib/wsl/lib"]);
        return folders.Distinct().ToList();
    }

    /// <summary>Loads <paramref name="library"/> (once per process) or says why it cannot.</summary>
    public static bool TryLoad(CudaLibrary library, out nint handle, out string detail)
    {
        (handle, detail) = Loaded.GetOrAdd(library, l => new Lazy<(nint, string)>(() => Search(l))).Value;
        return handle != 0;
    }

    /// <summary>The loaded library's handle; throws <see cref="CudaLibraryNotFoundException"/> naming what was tried.</summary>
    public static nint Load(CudaLibrary library) =>
        TryLoad(library, out var handle, out var detail) ? handle : throw new CudaLibraryNotFoundException(library, detail);

    /// <summary>The file a loaded library came from, or null if it is not loaded.</summary>
    public static string? LoadedFrom(CudaLibrary library) =>
        Loaded.TryGetValue(library, out var lazy) && lazy.IsValueCreated && lazy.Value.Handle != 0 ? lazy.Value.Detail : null;

    private static (nint Handle, string Detail) Search(CudaLibrary library)
    {
        if (!OperatingSystem.IsLinux())
            return (0, $"{FileNames(library)[0]}: CUDA is supported on Linux only in this build");
        if (Environment.GetEnvironmentVariable(OverrideVariable(library)) is { Length: > 0 } path)
            return NativeLibrary.TryLoad(path, out var forced)
                ? (forced, path)
                : (0, $"{path} (from {OverrideVariable(library)}) could not be loaded");
        foreach (var name in FileNames(library))
        {
            if (NativeLibrary.TryLoad(name, out var handle)) return (handle, name);
            foreach (var folder in Folders())
            {
                var candidate = Path.Combine(folder, name);
                if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out handle)) return (handle, candidate);
            }
        }
        return (0, $"{FileNames(library)[0]} not found: tried {string.Join(", ", FileNames(library))} in the loader's path and " +
                   $"{string.Join(", ", Folders())}; set {OverrideVariable(library)} to the file if it is elsewhere");
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) => name switch
    {
        DriverName => Load(CudaLibrary.Driver),
        CublasName => Load(CudaLibrary.Cublas),
        NvrtcName => Load(CudaLibrary.Nvrtc),
        _ => 0,
    };
}

/// <summary>A CUDA library is not installed where FastPrefix looks; the message lists what was tried.</summary>
public sealed class CudaLibraryNotFoundException(CudaLibrary library, string detail) : Exception(detail)
{
    public CudaLibrary Library { get; } = library;
}
