namespace FastPrefix.Kernels.Device;

public enum DeviceKind
{
    /// <summary>An NVIDIA GPU through the CUDA driver.</summary>
    Cuda,
    /// <summary>The CPU simulator of a GPU: host memory, kernels built by the host C++ compiler.</summary>
    Simulated,
}

/// <summary>What a device is.</summary>
/// <param name="Name">The GPU's name, or "simulated GPU".</param>
/// <param name="ComputeCapability">e.g. (9, 0) for an H100; the simulator reports (8, 0).</param>
/// <param name="TotalMemory">Bytes of device memory (for the simulator: its configured limit).</param>
/// <param name="Multiprocessors">Streaming multiprocessors (for the simulator: host threads it runs blocks on).</param>
/// <param name="MaxSharedBytesPerBlock">Largest dynamic shared memory a block can have.</param>
/// <param name="Detail">Driver, library and compiler versions, for logs.</param>
public sealed record DeviceInfo(DeviceKind Kind, string Name, (int Major, int Minor) ComputeCapability, long TotalMemory,
    int Multiprocessors, int MaxSharedBytesPerBlock, string Detail)
{
    public override string ToString() =>
        $"{Name} (compute capability {ComputeCapability.Major}.{ComputeCapability.Minor}, {TotalMemory / (1 << 20)} MiB; {Detail})";
}
