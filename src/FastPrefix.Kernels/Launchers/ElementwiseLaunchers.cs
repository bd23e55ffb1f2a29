using FastPrefix.Kernels.Device;

namespace FastPrefix.Kernels.Launchers;

/// <summary>Launchers of kernels/elementwise.cu. Element types are F32 or BF16 (the activation type); pointers are
/// at the first element. 256-thread blocks: the kernels are memory-bound with little per-thread state.</summary>
public static class ElementwiseLaunchers
{
    private const int BlockSize = 256;

    /// <summary>output = a + b over <paramref name="count"/> elements of <paramref name="type"/>.</summary>
    public static void Add(IGpuDevice device, ElementType type, DevicePtr output, DevicePtr a, DevicePtr b, long count)
    {
        if (count <= 0) return;
        var args = new KernelArgs();
        args.Add(output).Add(a).Add(b).Add(count);
        device.Launch(device.Kernel("add" + GridStride.Suffix(type)), GridStride.Threads(device, count, BlockSize), args);
    }

    /// <summary>fp32: destination[slot · count ..] = source (count), slot read on the device (one int).</summary>
    public static void CopyToSlot(IGpuDevice device, DevicePtr destination, DevicePtr source, DevicePtr slot, int count)
    {
        if (count <= 0) return;
        var args = new KernelArgs();
        args.Add(destination).Add(source).Add(slot).Add(count);
        device.Launch(device.Kernel("copy_to_slot_f32"), GridStride.Threads(device, count, BlockSize), args);
    }

    /// <summary>x (rows, cols) += bias (cols); y = activation(x); y may be x.</summary>
    public static void BiasActivation(IGpuDevice device, ElementType type, DevicePtr x, DevicePtr bias, DevicePtr y, long rows, int cols, KernelActivation activation)
    {
        if (rows <= 0 || cols <= 0) return;
        var args = new KernelArgs();
        args.Add(x).Add(bias).Add(y).Add(rows).Add(cols).Add((int)activation);
        device.Launch(device.Kernel("bias_activation" + GridStride.Suffix(type)), GridStride.Threads(device, rows * cols, BlockSize), args);
    }

    /// <summary>dx = dy · activation'(saved) over <paramref name="count"/> elements (GELU: saved = pre-activation; tanh: output).</summary>
    public static void ActivationBackward(IGpuDevice device, ElementType type, KernelActivation activation, DevicePtr dy, DevicePtr saved, DevicePtr dx, long count)
    {
        if (count <= 0) return;
        var args = new KernelArgs();
        args.Add(dy).Add(saved).Add(dx).Add(count).Add((int)activation);
        device.Launch(device.Kernel("activation_backward" + GridStride.Suffix(type)), GridStride.Threads(device, count, BlockSize), args);
    }

    /// <summary>y = dropout(x) over <paramref name="count"/> elements (indices 0..count-1); also the backward, on the gradient.</summary>
    public static void Dropout(IGpuDevice device, ElementType type, DevicePtr x, DevicePtr y, long count, DropoutSite dropout)
    {
        if (count <= 0) return;
        var args = new KernelArgs();
        args.Add(x).Add(y).Add(count);
        dropout.AddTo(ref args);
        device.Launch(device.Kernel("dropout" + GridStride.Suffix(type)), GridStride.Threads(device, count, BlockSize), args);
    }

    /// <summary>fp32: db (cols) (+)= column sums of dy (rows, cols), each in double over the rows in order.</summary>
    public static void ColumnSums(IGpuDevice device, DevicePtr db, DevicePtr dy, int rows, int cols, bool accumulate)
    {
        if (cols <= 0) return;
        var args = new KernelArgs();
        args.Add(db).Add(dy).Add(rows).Add(cols).Add(accumulate ? 1 : 0);
        device.Launch(device.Kernel("column_sums_f32"), GridStride.Threads(device, cols, BlockSize), args);
    }

    /// <summary>fp32 prefix layouts: bank (lanes, P, D) from PEFT (P, lanes, D), or back when <paramref name="toPeft"/>.</summary>
    public static void PermutePrefix(IGpuDevice device, DevicePtr destination, DevicePtr source, int prefixLen, int lanes, int headDim, bool toPeft)
    {
        long count = (long)prefixLen * lanes * headDim;
        if (count <= 0) return;
        var args = new KernelArgs();
        args.Add(destination).Add(source).Add(prefixLen).Add(lanes).Add(headDim).Add(toPeft ? 1 : 0);
        device.Launch(device.Kernel("permute_prefix_f32"), GridStride.Threads(device, count, BlockSize), args);
    }
}
