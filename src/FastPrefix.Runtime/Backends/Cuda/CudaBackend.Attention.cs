using FastPrefix.Kernels.Device;
using FastPrefix.Kernels.Launchers;

namespace FastPrefix.Backends.Cuda;

// Prefix attention: kernels/attention.cu through AttentionLaunchers (the forward on tensor cores in bf16). The saved state is the log-sum-exp of each
// (row, head, query) — the backward recomputes the probabilities — and the backward's workspace is allocated once.
public sealed partial class CudaBackend
{
    DeviceBuffer? _attentionWorkspace;
    bool? _tensorCoreAttention;

    /// <summary>
    /// Whether the attention forward runs on tensor cores. Default: in bf16 on a device that has them (compute capability
    /// 8.0+, or the simulator), unless the environment says FASTPREFIX_ATTENTION=cuda-cores (for comparison runs).
    /// </summary>
    public bool TensorCoreAttention
    {
        get => _tensorCoreAttention ??= Precision == ComputePrecision.Bf16 && AttentionLaunchers.HasTensorCores(_device)
            && !string.Equals(Environment.GetEnvironmentVariable("FASTPREFIX_ATTENTION"), "cuda-cores", StringComparison.OrdinalIgnoreCase);
        init
        {
            if (value && (Precision != ComputePrecision.Bf16 || !AttentionLaunchers.HasTensorCores(_device)))
                throw new ArgumentException($"attention on tensor cores needs bf16 on a device with them (compute capability 8.0+); this is {Precision.Name()} on {_device.Info}");
            _tensorCoreAttention = value;
        }
    }

    /// <summary>The log-sum-exp of every query of every head: B·H·T floats.</summary>
    public long AttentionStateLength(int batch, int seq, int heads, int prefixLen) => checked((long)batch * heads * seq);

    public void Attention(in AttentionArgs a)
    {
        var (shape, qkv) = CheckAttention(a);
        AttentionLaunchers.Forward(_device, qkv.Element, shape, qkv.Pointer, Bank(a), C(a.RowAdapter).Pointer, C(a.AttentionMask).Pointer,
            C(a.Context).Pointer, C(a.State).Pointer, a.DropoutP, C(a.Seed.Seeds).Pointer, a.Seed.Index, TensorCoreAttention);
    }

    public void AttentionBackward(in AttentionArgs a, Tensor dContext, Tensor dQkv, Tensor? dPrefixBank)
    {
        var (shape, qkv) = CheckAttention(a);
        long rows = (long)a.Batch * a.Seq, width = (long)a.Heads * a.HeadDim;
        SameType(qkv, C(dContext), "AttentionBackward dContext"); dContext.CheckRange(0, rows * width, "AttentionBackward dContext");
        SameType(qkv, C(dQkv), "AttentionBackward dQkv"); dQkv.CheckRange(0, rows * 3 * width, "AttentionBackward dQkv");
        var dBank = a.PrefixLen > 0 && dPrefixBank != null ? C(dPrefixBank) : null;
        if (dBank != null) RequireFloat32(dBank, a.PrefixBank!.Length, "AttentionBackward dPrefixBank");
        var workspace = Workspace(ref _attentionWorkspace, AttentionLaunchers.WorkspaceBytes(shape));
        AttentionLaunchers.Backward(_device, qkv.Element, shape, qkv.Pointer, Bank(a), C(a.RowAdapter).Pointer, C(a.AttentionMask).Pointer,
            C(a.Context).Pointer, C(a.State).Pointer, C(dContext).Pointer, C(dQkv).Pointer, dBank?.Pointer ?? DevicePtr.Null,
            a.DropoutP, C(a.Seed.Seeds).Pointer, a.Seed.Index, workspace.Pointer, TensorCoreAttention);
    }

    static DevicePtr Bank(in AttentionArgs a) => a.PrefixLen > 0 ? C(a.PrefixBank!).Pointer : DevicePtr.Null;

    static (AttentionShape Shape, CudaTensor Qkv) CheckAttention(in AttentionArgs a)
    {
        var qkv = C(a.Qkv);
        long rows = (long)a.Batch * a.Seq, width = (long)a.Heads * a.HeadDim;
        qkv.CheckRange(0, rows * 3 * width, "attention qkv");
        SameType(qkv, C(a.Context), "attention context"); a.Context.CheckRange(0, rows * width, "attention context");
        RequireFloat32(a.State, (long)a.Batch * a.Heads * a.Seq, "attention state (log-sum-exp)");
        RequireInts(C(a.RowAdapter), a.Batch, "attention row adapters");
        RequireInts(C(a.AttentionMask), rows, "attention mask");
        RequireInts(C(a.Seed.Seeds), 2L * a.Seed.Index + 2, "attention dropout seeds");
        if (a.PrefixLen > 0)
        {
            var bank = a.PrefixBank ?? throw new ArgumentException($"attention with a prefix of {a.PrefixLen} needs a prefix bank");
            long slot = (long)a.PrefixLayers * 2 * width * a.PrefixLen;
            if (slot == 0 || bank.Length % slot != 0 || a.PrefixSlot < 0 || a.PrefixSlot >= a.PrefixLayers)
                throw new ArgumentException($"prefix bank {bank} is not (adapters, {a.PrefixLayers}, 2, {a.Heads}, {a.PrefixLen}, {a.HeadDim}) with slot {a.PrefixSlot} in it");
            RequireFloat32(bank, bank.Length, "prefix bank");
        }
        return (new AttentionShape(a.Batch, a.Seq, a.Heads, a.HeadDim, a.PrefixLen, a.PrefixLayers, a.PrefixSlot), qkv);
    }
}
