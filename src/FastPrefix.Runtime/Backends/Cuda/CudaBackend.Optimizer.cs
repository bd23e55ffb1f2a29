using FastPrefix.Kernels.Device;
using FastPrefix.Kernels.Launchers;

namespace FastPrefix.Backends.Cuda;

// The global gradient norm (fixed-order two-stage reduction into a workspace allocated once) and AdamW:
// kernels/optimizer.cu. Everything Float32; the step's scalars and the clip coefficient are read on the device.
public sealed partial class CudaBackend
{
    /// <summary>Partial sums of squares (doubles) of every gradient: enough for 64 tensors of the largest grid at first.</summary>
    DeviceBuffer? _normPartials;

    public void GradientNorm(IReadOnlyList<Tensor> grads, float maxNorm, Tensor output, int index)
    {
        RequireFloat32(output, index + 2, "GradientNorm output");
        int count = 0;
        for (int i = 0; i < grads.Count; i++)   // indexed: foreach over the interface would box its enumerator every step
        {
            var g = grads[i];
            RequireFloat32(g, g.Length, "GradientNorm gradient");
            count += OptimizerLaunchers.NormBlocks(g.Length);
        }
        var partials = Workspace(ref _normPartials, Math.Max(count, 64 * OptimizerLaunchers.MaxNormBlocks) * 8L);
        int at = 0;
        for (int i = 0; i < grads.Count; i++)
        {
            var g = grads[i];
            OptimizerLaunchers.NormPartials(_device, partials.Element<double>(at), C(g).Pointer, g.Length);
            at += OptimizerLaunchers.NormBlocks(g.Length);
        }
        OptimizerLaunchers.NormFinish(_device, C(output).At(index), partials.Pointer, count, maxNorm);
    }

    public void AdamW(in AdamWArgs a)
    {
        foreach (var t in (ReadOnlySpan<Tensor>)[a.Param, a.Grad, a.M, a.V]) RequireFloat32(t, a.N, "AdamW");
        RequireFloat32(a.Scalars, a.ScalarsOffset + 3, "AdamW scalars");
        RequireFloat32(a.Clip, a.ClipOffset + 1, "AdamW clip coefficient");
        OptimizerLaunchers.AdamW(_device, C(a.Param).Pointer, C(a.Grad).Pointer, C(a.M).Pointer, C(a.V).Pointer, a.N,
            C(a.Scalars).At(a.ScalarsOffset), C(a.Clip).At(a.ClipOffset), a.Beta1, a.Beta2, a.Eps, a.WeightDecay);
    }

    /// <summary>
    /// A workspace of at least <paramref name="bytes"/>: allocated on first use and grown only when an op first needs
    /// more — never during a captured step, since a step runs once before it is captured and its shapes are planned.
    /// </summary>
    DeviceBuffer Workspace(ref DeviceBuffer? buffer, long bytes)
    {
        if (buffer != null && buffer.Bytes >= bytes) return buffer;
        if (buffer != null) { Released(buffer.Bytes); buffer.Dispose(); }
        return buffer = AllocateBytes(bytes);
    }

    void DisposeWorkspaces()
    {
        foreach (var w in new[] { _normPartials, _attentionWorkspace })
            if (w != null) { Released(w.Bytes); w.Dispose(); }
        _normPartials = _attentionWorkspace = null;
    }
}
