using FastPrefix.Kernels.Device;

namespace FastPrefix.Kernels.Launchers;

/// <summary>Launchers of kernels/layernorm.cu: one warp per row, 128-thread blocks (4 rows a block: small blocks
/// spread the rows of a short batch over more multiprocessors). Tables and activations are of <c>type</c>; statistics fp32.</summary>
public static class LayerNormLaunchers
{
    private const int BlockSize = 128;

    /// <summary>out (rows, cols) = dropout(LayerNorm(word[ids] + position[positions] + type[types])).</summary>
    public static void EmbedLayerNorm(IGpuDevice device, ElementType type, DevicePtr output, DevicePtr ids, DevicePtr positions, DevicePtr types,
        DevicePtr wordTable, DevicePtr positionTable, DevicePtr typeTable, DevicePtr gamma, DevicePtr beta, int rows, int cols, float eps, DropoutSite dropout)
    {
        if (rows <= 0) return;
        var args = new KernelArgs();
        args.Add(output).Add(ids).Add(positions).Add(types).Add(wordTable).Add(positionTable).Add(typeTable).Add(gamma).Add(beta)
            .Add(rows).Add(cols).Add(eps);
        dropout.AddTo(ref args);
        device.Launch(device.Kernel("embed_layernorm" + GridStride.Suffix(type)), GridStride.Warps(device, rows, BlockSize), args);
    }

    /// <summary>sum = dropout(branch + bias) + residual; output = LayerNorm(sum); mean, rstd (rows) saved.</summary>
    public static void ResidualLayerNorm(IGpuDevice device, ElementType type, DevicePtr sum, DevicePtr output, DevicePtr mean, DevicePtr rstd,
        DevicePtr branch, DevicePtr bias, DevicePtr residual, DevicePtr gamma, DevicePtr beta, int rows, int cols, float eps, DropoutSite dropout)
    {
        if (rows <= 0) return;
        var args = new KernelArgs();
        args.Add(sum).Add(output).Add(mean).Add(rstd).Add(branch).Add(bias).Add(residual).Add(gamma).Add(beta).Add(rows).Add(cols).Add(eps);
        dropout.AddTo(ref args);
        device.Launch(device.Kernel("residual_layernorm" + GridStride.Suffix(type)), GridStride.Warps(device, rows, BlockSize), args);
    }

    /// <summary>From dOutput: dResidual (may be null) = dSum and dBranch = dSum · the dropout mask, in one pass.</summary>
    public static void ResidualLayerNormBackward(IGpuDevice device, ElementType type, DevicePtr dResidual, DevicePtr dBranch, DevicePtr dOutput,
        DevicePtr sum, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, int rows, int cols, DropoutSite dropout)
    {
        if (rows <= 0) return;
        var args = new KernelArgs();
        args.Add(dResidual).Add(dBranch).Add(dOutput).Add(sum).Add(gamma).Add(mean).Add(rstd).Add(rows).Add(cols);
        dropout.AddTo(ref args);
        device.Launch(device.Kernel("residual_layernorm_backward" + GridStride.Suffix(type)), GridStride.Warps(device, rows, BlockSize), args);
    }
}
