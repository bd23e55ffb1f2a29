using FastPrefix.Kernels.Device;

namespace FastPrefix.Kernels.Launchers;

/// <summary>Launchers of kernels/convert.cu: fp32 ↔ bf16 over flat arrays of <c>count</c> elements
/// (<see cref="Elementwise"/> shape: 256 threads × 8 elements, 128-bit accesses).</summary>
public static class ConvertLaunchers
{
    /// <summary>output (count) bf16 = input (count) fp32, rounded to nearest even.</summary>
    public static void F32ToBf16(IGpuDevice device, DevicePtr output, DevicePtr input, long count) =>
        Launch(device, "convert_f32_to_bf16", output, input, count);

    /// <summary>output (count) fp32 = input (count) bf16, exactly.</summary>
    public static void Bf16ToF32(IGpuDevice device, DevicePtr output, DevicePtr input, long count) =>
        Launch(device, "convert_bf16_to_f32", output, input, count);

    private static void Launch(IGpuDevice device, string kernel, DevicePtr output, DevicePtr input, long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0) return;
        var args = new KernelArgs();
        args.Add(output).Add(input).Add(count);
        device.Launch(device.Kernel(kernel), Elementwise.Shape(count), args);
    }
}
