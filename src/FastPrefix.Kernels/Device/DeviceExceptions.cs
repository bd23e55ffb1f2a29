namespace FastPrefix.Kernels.Device;

/// <summary>An allocation did not fit in device memory; says how much was asked and how much was free.</summary>
public sealed class DeviceOutOfMemoryException(string device, long requested, long free, long total)
    : Exception($"{device}: out of memory allocating {Format(requested)} ({requested} bytes); {Format(free)} free of {Format(total)}")
{
    public long RequestedBytes { get; } = requested;
    public long FreeBytes { get; } = free;
    public long TotalBytes { get; } = total;

    internal static string Format(long bytes) => bytes >= 1 << 30 ? $"{bytes / (double)(1 << 30):0.##} GiB" : $"{bytes / (double)(1 << 20):0.##} MiB";
}

/// <summary>A kernel could not be launched or failed on the simulated device; the message names the kernel and where.</summary>
public sealed class KernelLaunchException(string message) : Exception(message);
