using FastPrefix.Kernels.Device;

namespace FastPrefix.Kernels.Launchers;

/// <summary>
/// Launch shapes of the grid-stride kernels (kernels/ops.cuh): enough blocks to cover the work, capped at a few per
/// multiprocessor. The cap costs a GPU nothing (each thread loops), and the simulator, which pays per thread resumed
/// (it reports its host threads as multiprocessors), runs such kernels 50–70× faster than one thread per element.
/// </summary>
internal static class GridStride
{
    /// <summary>Blocks per multiprocessor: enough resident warps to hide memory latency on any GPU.</summary>
    private const int BlocksPerMultiprocessor = 8;

    /// <summary>A 1-D grid of <paramref name="blockSize"/>-thread blocks for <paramref name="items"/> work items of one thread each.</summary>
    public static LaunchShape Threads(IGpuDevice device, long items, int blockSize) => Blocks(device, (items + blockSize - 1) / blockSize, blockSize);

    /// <summary>A 1-D grid for <paramref name="rows"/> rows of one warp each, <paramref name="blockSize"/> / 32 rows per block.</summary>
    public static LaunchShape Warps(IGpuDevice device, long rows, int blockSize) => Blocks(device, (rows + blockSize / 32 - 1) / (blockSize / 32), blockSize);

    private static LaunchShape Blocks(IGpuDevice device, long wanted, int blockSize)
    {
        long cap = (long)Math.Max(1, device.Info.Multiprocessors) * BlocksPerMultiprocessor;
        return new LaunchShape(new Dim3((uint)Math.Clamp(wanted, 1, cap)), new Dim3((uint)blockSize));
    }

    /// <summary>"_f32" or "_bf16": the suffix of a kernel's instance for an element type.</summary>
    public static string Suffix(ElementType type) => type == ElementType.F32 ? "_f32" : "_bf16";
}

/// <summary>
/// A dropout site as kernels take it (kernels/dropout.cuh): probability <see cref="P"/> (0: none, the seed is then never
/// read) and the step's seed on the device, ints [2·SeedIndex, 2·SeedIndex + 1] of <see cref="Seeds"/>.
/// </summary>
public readonly record struct DropoutSite(float P, DevicePtr Seeds, int SeedIndex)
{
    public static DropoutSite None => new(0f, DevicePtr.Null, 0);

    internal void AddTo(ref KernelArgs args) => args.Add(P).Add(Seeds).Add(SeedIndex);
}

/// <summary>Activations of kernels/elementwise.cu (FastPrefix.Backends.Activation has the same order).</summary>
public enum KernelActivation { None = 0, Gelu = 1, Tanh = 2 }
