using FastPrefix.Kernels.Device;

namespace FastPrefix.Kernels.Launchers;

/// <summary>Launchers of kernels/fill.cu (<see cref="Elementwise"/> shape: 256 threads × 8 elements, 128-bit stores),
/// and zeroing (a memset: no kernel needed for all-zero bits).</summary>
public static class FillLaunchers
{
    /// <summary>output (count) fp32 = value.</summary>
    public static void FillF32(IGpuDevice device, DevicePtr output, float value, long count) =>
        Launch(device, "fill_f32", output, value, count);

    /// <summary>output (count) bf16 = value rounded to nearest even.</summary>
    public static void FillBf16(IGpuDevice device, DevicePtr output, float value, long count) =>
        Launch(device, "fill_bf16", output, value, count);

    /// <summary>output (bytes) = 0; +0.0 in fp32 and bf16 alike.</summary>
    public static void Zero(IGpuDevice device, DevicePtr output, long bytes) => device.Memset8(output, 0, bytes);

    private static void Launch(IGpuDevice device, string kernel, DevicePtr output, float value, long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0) return;
        var args = new KernelArgs();
        args.Add(output).Add(value).Add(count);
        device.Launch(device.Kernel(kernel), Elementwise.Shape(count), args);
    }
}
