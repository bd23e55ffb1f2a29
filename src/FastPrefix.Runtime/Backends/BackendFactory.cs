using FastPrefix.Backends.Cpu;

namespace FastPrefix.Backends;

/// <summary>Picks the backend for a --device value: auto | cpu | cuda.</summary>
public static class BackendFactory
{
    public static readonly IReadOnlyList<string> Devices = ["auto", "cpu", "cuda"];

    /// <summary>
    /// Creates the backend. 'auto' falls back to the CPU and reports why through <paramref name="notice"/> (once);
    /// 'cuda' fails with an ArgumentException when no CUDA backend is available.
    /// </summary>
    public static IBackend Create(string device, Action<string>? notice = null)
    {
        switch (device)
        {
            case "cpu":
                return new CpuBackend();
            case "auto":
                notice?.Invoke($"running on the CPU backend ({Sgemm.Implementation}); this build has no CUDA backend yet");
                return new CpuBackend();
            case "cuda":
                throw new ArgumentException("--device cuda: this build has no CUDA backend yet; use --device cpu (or auto)");
            default:
                throw new ArgumentException($"--device '{device}' is not one of {string.Join(", ", Devices)}");
        }
    }
}
