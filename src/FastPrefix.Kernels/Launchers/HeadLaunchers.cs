using FastPrefix.Kernels.Device;

namespace FastPrefix.Kernels.Launchers;

/// <summary>Launchers of kernels/heads.cu. x and dx are of <c>type</c> (the activation type); weights, logits and
/// gradients fp32; task indices int. 256-thread blocks for the per-element kernels.</summary>
public static class HeadLaunchers
{
    private const int BlockSize = 256;
    // The loss runs in one block: its rows are few (a batch, or a batch's tokens) and a block reduces its sum in a
    // fixed order without a second launch. 256 threads keep enough rows in flight for token classification.
    private const int LossBlockSize = 256;

    /// <summary>y (rows, outputs) = x (rows, cols) w[task]ᵀ + b[task]; w (tasks, outputs, cols), b (tasks, outputs).</summary>
    public static void BankedLinear(IGpuDevice device, ElementType type, DevicePtr y, DevicePtr x, DevicePtr w, DevicePtr b, DevicePtr task,
        int rows, int cols, int outputs)
    {
        if (rows <= 0 || outputs <= 0) return;
        var args = new KernelArgs();
        args.Add(y).Add(x).Add(w).Add(b).Add(task).Add(rows).Add(cols).Add(outputs);
        device.Launch(device.Kernel("banked_linear" + GridStride.Suffix(type)), GridStride.Threads(device, (long)rows * outputs, BlockSize), args);
    }

    /// <summary>dx (rows, cols) = dy w[task] (overwritten).</summary>
    public static void BankedLinearBackwardInput(IGpuDevice device, ElementType type, DevicePtr dx, DevicePtr dy, DevicePtr w, DevicePtr task,
        int rows, int cols, int outputs)
    {
        if (rows <= 0 || cols <= 0) return;
        var args = new KernelArgs();
        args.Add(dx).Add(dy).Add(w).Add(task).Add(rows).Add(cols).Add(outputs);
        device.Launch(device.Kernel("banked_linear_backward_input" + GridStride.Suffix(type)), GridStride.Threads(device, (long)rows * cols, BlockSize), args);
    }

    /// <summary>dw (tasks, outputs, cols) += Σ over each task's rows of dyᵀ x, rows in order.</summary>
    public static void BankedLinearBackwardWeight(IGpuDevice device, ElementType type, DevicePtr dw, DevicePtr dy, DevicePtr x, DevicePtr task,
        int rows, int cols, int outputs, int tasks)
    {
        if (rows <= 0 || cols <= 0) return;
        var args = new KernelArgs();
        args.Add(dw).Add(dy).Add(x).Add(task).Add(rows).Add(cols).Add(outputs).Add(tasks);
        device.Launch(device.Kernel("banked_linear_backward_weight" + GridStride.Suffix(type)),
            GridStride.Threads(device, (long)tasks * outputs * cols, BlockSize), args);
    }

    /// <summary>db (tasks, outputs) += Σ over each task's rows of dy, in double in row order.</summary>
    public static void BankedLinearBackwardBias(IGpuDevice device, DevicePtr db, DevicePtr dy, DevicePtr task, int rows, int outputs, int tasks)
    {
        if (rows <= 0) return;
        var args = new KernelArgs();
        args.Add(db).Add(dy).Add(task).Add(rows).Add(outputs).Add(tasks);
        device.Launch(device.Kernel("banked_linear_backward_bias"), GridStride.Threads(device, (long)tasks * outputs, BlockSize), args);
    }

    /// <summary>
    /// Mean softmax cross entropy of <paramref name="rows"/> rows (element (r, c) at logits + r·rowStride + c·classStride,
    /// the same layout in dLogits) into the float pair at <paramref name="loss"/> (accumulated when asked), and its
    /// gradient on CrossEntropyGrid's grid. <paramref name="classLimit"/>: one int on the device, or null.
    /// </summary>
    public static void CrossEntropy(IGpuDevice device, DevicePtr dLogits, DevicePtr loss, DevicePtr logits, long rowStride, long classStride,
        int rows, int classes, DevicePtr labels, DevicePtr classLimit, float weight, bool accumulate)
    {
        var args = new KernelArgs();
        args.Add(dLogits).Add(loss).Add(logits).Add(rowStride).Add(classStride).Add(rows).Add(classes).Add(labels).Add(classLimit)
            .Add(weight).Add(accumulate ? 1 : 0);
        device.Launch(device.Kernel("cross_entropy"), new LaunchShape(new Dim3(1), new Dim3(LossBlockSize)), args);
    }
}
