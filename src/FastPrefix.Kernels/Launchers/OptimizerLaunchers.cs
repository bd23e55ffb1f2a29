using FastPrefix.Kernels.Device;

namespace FastPrefix.Kernels.Launchers;

/// <summary>Launchers of kernels/optimizer.cu: the global gradient norm (a fixed-order two-stage reduction) and AdamW.</summary>
public static class OptimizerLaunchers
{
    private const int BlockSize = 256;
    /// <summary>Most blocks one tensor's partial sums use: the grid depends only on the tensor's length (never on the
    /// device), so the sum is the same on every device and run.</summary>
    public const int MaxNormBlocks = 64;
    private const int ElementsPerThread = 16;

    /// <summary>Partial sums a tensor of <paramref name="count"/> elements writes: a function of its length only.</summary>
    public static int NormBlocks(long count) => (int)Math.Clamp((count + BlockSize * ElementsPerThread - 1) / (BlockSize * ElementsPerThread), 1, MaxNormBlocks);

    /// <summary>partials[0 .. NormBlocks(count)) = sums of squares (double) of grad (count fp32) over fixed shares.</summary>
    public static void NormPartials(IGpuDevice device, DevicePtr partials, DevicePtr grad, long count)
    {
        var args = new KernelArgs();
        args.Add(partials).Add(grad).Add(count);
        device.Launch(device.Kernel("grad_norm_partial"), new LaunchShape(new Dim3((uint)NormBlocks(count)), new Dim3(BlockSize)), args);
    }

    /// <summary>output[0] = √Σ partials (count doubles), output[1] = the clip coefficient for <paramref name="maxNorm"/>. One block.</summary>
    public static void NormFinish(IGpuDevice device, DevicePtr output, DevicePtr partials, int count, float maxNorm)
    {
        var args = new KernelArgs();
        args.Add(output).Add(partials).Add(count).Add(maxNorm);
        device.Launch(device.Kernel("grad_norm_finish"), new LaunchShape(new Dim3(1), new Dim3(BlockSize)), args);
    }

    /// <summary>One AdamW update of <paramref name="count"/> fp32 elements; scalars (lr, step size, 1/√(1 − β2^t)) and clip on the device.</summary>
    public static void AdamW(IGpuDevice device, DevicePtr param, DevicePtr grad, DevicePtr m, DevicePtr v, long count, DevicePtr scalars, DevicePtr clip,
        float beta1, float beta2, float eps, float weightDecay)
    {
        if (count <= 0) return;
        var args = new KernelArgs();
        args.Add(param).Add(grad).Add(m).Add(v).Add(count).Add(scalars).Add(clip).Add(beta1).Add(beta2).Add(eps).Add(weightDecay);
        device.Launch(device.Kernel("adamw"), GridStride.Threads(device, count, BlockSize), args);
    }
}
