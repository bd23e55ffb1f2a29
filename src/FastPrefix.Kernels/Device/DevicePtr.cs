namespace FastPrefix.Kernels.Device;

/// <summary>An address in device memory (a CUdeviceptr; on the simulated device, a host address).</summary>
public readonly record struct DevicePtr(ulong Address)
{
    public static readonly DevicePtr Null = default;

    public bool IsNull => Address == 0;

    /// <summary>The address <paramref name="bytes"/> further on.</summary>
    public DevicePtr Offset(long bytes) => new(checked((ulong)((long)Address + bytes)));

    /// <summary>The address of element <paramref name="index"/> of an array of <typeparamref name="T"/> starting here.</summary>
    public unsafe DevicePtr Element<T>(long index) where T : unmanaged => Offset(checked(index * sizeof(T)));

    public override string ToString() => $"0x{Address:x}";
}
