using FastPrefix.Kernels.Device;

namespace FastPrefix.Kernels.Launchers;

/// <summary>
/// The sizes of one prefix attention call: batch B, sequence T, heads H, head dimension D, prefix length P (0: this layer
/// has no prefix), and where the layer's prefix sits in the bank: PrefixLayers slots, this one PrefixSlot.
/// </summary>
public readonly record struct AttentionShape(int Batch, int Seq, int Heads, int HeadDim, int PrefixLen, int PrefixLayers, int PrefixSlot);

/// <summary>
/// Launchers of kernels/attention.cu: prefix attention in the FlashAttention-2 style, the same numerics as
/// CpuBackend.Attention / AttentionBackward (padded columns get probability 0, a row with nothing to attend to gets
/// uniform weights over its tokens, dropout on the probabilities at element ((b·H + h)·T + i)·(P + T) + j).
/// The saved state is lse (B·H·T) fp32: log Σ exp(score) over the attended columns (over all T token columns with
/// score 0 in a row with nothing to attend to), so that p = exp(score − lse).
/// </summary>
public static class AttentionLaunchers
{
    // Threads per block, as attention.cu's RowsPerBlock and ColumnsPerBlock: one query row per thread in the forward
    // and the dq kernel (64 rows cover a typical sequence in two blocks), one key column per thread in the dk/dv kernel
    // (32 keep a block's own keys and values in shared memory near 17 KiB at head_dim 64).
    private const int RowsPerBlock = 64;
    private const int ColumnsPerBlock = 32;
    // The tensor-core kernels: 4 warps of 16 query rows (forward) or key columns (dk/dv), 64 per block.
    private const int TensorCoreThreads = 128, TensorCoreRowsPerBlock = 64;

    /// <summary>The kernels hold a head's vectors in arrays of 32, 64 or 128 floats: the largest head_dim.</summary>
    public const int MaxHeadDim = 128;

    // The prefix-gradient reduction: 256 threads of a grid-stride loop over the bank elements of one slot, at most a
    // few blocks per multiprocessor (its work per element is a short loop over the batch; the simulator pays per thread).
    private const int ReduceBlock = 256;
    private const int ReduceBlocksPerMultiprocessor = 4;

    /// <summary>
    /// context (B·T, H·D) `act` and lse (B·H·T) fp32 from qkv (B·T, 3·H·D) `act` and the prefix bank
    /// (A, PrefixLayers, 2, H, P, D) fp32 (Null when P = 0); rowAdapter (B) and mask (B·T) int32 (rowAdapter may be Null
    /// when P = 0). Dropout on the probabilities with the seed at ints [2·seedIndex, 2·seedIndex + 1] of
    /// <paramref name="seeds"/> (Null when dropout is 0). <paramref name="tensorCores"/> (bf16 only, compute capability
    /// 8.0 or the simulator): the products on tensor cores, the probabilities rounded to bf16 before the second one.
    /// </summary>
    public static void Forward(IGpuDevice device, ElementType act, in AttentionShape s, DevicePtr qkv, DevicePtr bank,
        DevicePtr rowAdapter, DevicePtr mask, DevicePtr context, DevicePtr lse, float dropout, DevicePtr seeds, int seedIndex,
        bool tensorCores = false)
    {
        Check(s, act, bank, rowAdapter, dropout, seeds, seedIndex, tensorCores);
        RequireAll(("qkv", qkv), ("mask", mask), ("context", context), ("lse", lse));
        var args = new KernelArgs();
        args.Add(qkv).Add(bank).Add(rowAdapter).Add(mask).Add(context).Add(lse);
        AddShape(ref args, s).Add(dropout).Add(seeds).Add(seedIndex);
        if (tensorCores)
            device.Launch(device.Kernel(KernelName("attention_forward_tc", act, s.HeadDim)),
                TensorCoreGrid(s), args);
        else device.Launch(device.Kernel(KernelName("attention_forward", act, s.HeadDim)), RowGrid(s), args);
    }

    /// <summary>Whether <paramref name="device"/> has the tensor cores <see cref="Forward"/> can use (mma.sync bf16: sm_80 and newer), or simulates them.</summary>
    public static bool HasTensorCores(IGpuDevice device) =>
        device.Info.Kind == DeviceKind.Simulated || device.Info.ComputeCapability.Major >= 8;

    /// <summary>
    /// dQkv (B·T, 3·H·D) `act`, overwritten, and dBank (bank-shaped, fp32) accumulated (+=) deterministically
    /// (Null to skip), from the forward's inputs, its context and lse, and dContext (B·T, H·D) `act`. The workspace
    /// holds <see cref="WorkspaceBytes"/> bytes, owned by the caller. <paramref name="tensorCores"/> (bf16 only): dq, and
    /// dk and dv of the token columns, on tensor cores (the prefix columns' dk, dv stay on CUDA cores: the bank is fp32).
    /// </summary>
    public static void Backward(IGpuDevice device, ElementType act, in AttentionShape s, DevicePtr qkv, DevicePtr bank,
        DevicePtr rowAdapter, DevicePtr mask, DevicePtr context, DevicePtr lse, DevicePtr dContext, DevicePtr dQkv,
        DevicePtr dBank, float dropout, DevicePtr seeds, int seedIndex, DevicePtr workspace, bool tensorCores = false)
    {
        Check(s, act, bank, rowAdapter, dropout, seeds, seedIndex, tensorCores);
        RequireAll(("qkv", qkv), ("mask", mask), ("context", context), ("lse", lse), ("dContext", dContext), ("dQkv", dQkv),
            ("workspace", workspace));
        DevicePtr delta = workspace, partial = workspace.Offset(PartialOffset(s));

        var dq = new KernelArgs();
        dq.Add(qkv).Add(bank).Add(rowAdapter).Add(mask).Add(context).Add(lse).Add(dContext).Add(dQkv).Add(delta);
        AddShape(ref dq, s).Add(dropout).Add(seeds).Add(seedIndex);
        if (tensorCores)
            device.Launch(device.Kernel(KernelName("attention_backward_dq_tc", act, s.HeadDim)),
                TensorCoreGrid(s), dq);
        else device.Launch(device.Kernel(KernelName("attention_backward_dq", act, s.HeadDim)), RowGrid(s), dq);

        bool prefixGradient = s.PrefixLen > 0 && !dBank.IsNull;
        int prefixTiles = prefixGradient ? Tiles(s.PrefixLen, ColumnsPerBlock) : 0;
        var dkv = new KernelArgs();
        dkv.Add(qkv).Add(bank).Add(rowAdapter).Add(mask).Add(lse).Add(dContext).Add(dQkv).Add(delta).Add(partial).Add(prefixTiles);
        AddShape(ref dkv, s).Add(dropout).Add(seeds).Add(seedIndex);
        if (tensorCores)
        {
            // prefix columns (fp32 bank) on the CUDA-core kernel, token columns on tensor cores: 4 warps of 16 columns
            if (prefixTiles > 0)
                device.Launch(device.Kernel(KernelName("attention_backward_dkv", act, s.HeadDim)),
                    new LaunchShape(new Dim3(BlocksOfHeads(s), (uint)prefixTiles), new Dim3(ColumnsPerBlock)), dkv);
            var tc = new KernelArgs();
            tc.Add(qkv).Add(mask).Add(lse).Add(dContext).Add(dQkv).Add(delta);
            AddShape(ref tc, s).Add(dropout).Add(seeds).Add(seedIndex);
            device.Launch(device.Kernel(KernelName("attention_backward_dkv_tc", act, s.HeadDim)),
                TensorCoreGrid(s), tc);
        }
        else
        {
            var columns = new LaunchShape(new Dim3(BlocksOfHeads(s), (uint)(prefixTiles + Tiles(s.Seq, ColumnsPerBlock))), new Dim3(ColumnsPerBlock));
            device.Launch(device.Kernel(KernelName("attention_backward_dkv", act, s.HeadDim)), columns, dkv);
        }

        if (!prefixGradient) return;
        long perRow = 2L * s.Heads * s.PrefixLen * s.HeadDim;
        long blocks = Math.Min((perRow + ReduceBlock - 1) / ReduceBlock, (long)ReduceBlocksPerMultiprocessor * device.Info.Multiprocessors);
        var reduce = new KernelArgs();
        reduce.Add(dBank).Add(partial).Add(rowAdapter).Add(s.Batch).Add(s.PrefixLayers).Add(s.PrefixSlot).Add(perRow);
        device.Launch(device.Kernel("attention_prefix_grad_reduce"), new LaunchShape(new Dim3((uint)Math.Max(1, blocks)), new Dim3(ReduceBlock)), reduce);
    }

    /// <summary>Bytes of workspace <see cref="Backward"/> needs: delta (B·H·T) and each batch row's prefix gradient
    /// (B, 2, H, P, D), fp32.</summary>
    public static long WorkspaceBytes(in AttentionShape s)
    {
        CheckSizes(s);
        return PartialOffset(s) + (s.PrefixLen > 0 ? checked(4L * s.Batch * 2 * s.Heads * s.PrefixLen * s.HeadDim) : 0);
    }

    // delta first, the partial prefix gradients from the next 256-byte boundary
    private static long PartialOffset(in AttentionShape s) => checked((4L * s.Batch * s.Heads * s.Seq + 255) / 256 * 256);

    // The kernels' arrays come in 32, 64 and 128 floats; the smallest that holds a head is the fastest.
    private static string KernelName(string kernel, ElementType act, int headDim) =>
        $"{kernel}_{(act == ElementType.F32 ? "f32" : "bf16")}_d{(headDim <= 32 ? 32 : headDim <= 64 ? 64 : 128)}";

    private static LaunchShape RowGrid(in AttentionShape s) =>
        new(new Dim3(BlocksOfHeads(s), (uint)Tiles(s.Seq, RowsPerBlock)), new Dim3(RowsPerBlock));

    private static LaunchShape TensorCoreGrid(in AttentionShape s) =>
        new(new Dim3(BlocksOfHeads(s), (uint)Tiles(s.Seq, TensorCoreRowsPerBlock)), new Dim3(TensorCoreThreads));

    private static uint BlocksOfHeads(in AttentionShape s) => (uint)checked(s.Batch * s.Heads);

    private static int Tiles(int count, int size) => (count + size - 1) / size;

    private static ref KernelArgs AddShape(ref KernelArgs args, in AttentionShape s) =>
        ref args.Add(s.Batch).Add(s.Seq).Add(s.Heads).Add(s.HeadDim).Add(s.PrefixLen).Add(s.PrefixLayers).Add(s.PrefixSlot);

    private static void CheckSizes(in AttentionShape s)
    {
        string problem =
            s.Batch < 1 || s.Seq < 1 || s.Heads < 1 ? $"batch {s.Batch}, seq {s.Seq} and heads {s.Heads} must be at least 1" :
            s.HeadDim < 1 || s.HeadDim > MaxHeadDim ? $"head_dim {s.HeadDim} is outside 1..{MaxHeadDim}, what attention.cu supports" :
            s.PrefixLen < 0 ? $"prefix length {s.PrefixLen} is negative" :
            s.PrefixLen > 0 && (s.PrefixLayers < 1 || s.PrefixSlot < 0 || s.PrefixSlot >= s.PrefixLayers)
                ? $"prefix slot {s.PrefixSlot} is outside the bank's {s.PrefixLayers} prefixed layers" :
            (long)s.Batch * s.Heads > int.MaxValue ? $"batch {s.Batch} × heads {s.Heads} blocks do not fit a grid" :
            "";
        if (problem.Length > 0) throw new ArgumentOutOfRangeException(nameof(s), $"attention {s}: {problem}");
    }

    private static void Check(in AttentionShape s, ElementType act, DevicePtr bank, DevicePtr rowAdapter, float dropout, DevicePtr seeds,
        int seedIndex, bool tensorCores)
    {
        CheckSizes(s);
        if (tensorCores && act != ElementType.BF16) throw new ArgumentException("attention on tensor cores takes bf16 activations", nameof(tensorCores));
        if (s.PrefixLen > 0) RequireAll(("bank", bank), ("rowAdapter", rowAdapter));
        if (!(dropout >= 0 && dropout <= 1))
            throw new ArgumentOutOfRangeException(nameof(dropout), $"attention dropout {dropout} is outside [0, 1]");
        if (dropout > 0 && seeds.IsNull)
            throw new ArgumentException($"attention dropout {dropout} needs the seeds (Null given)", nameof(seeds));
        if (dropout > 0) ArgumentOutOfRangeException.ThrowIfNegative(seedIndex);
    }

    private static void RequireAll(params ReadOnlySpan<(string Name, DevicePtr Pointer)> pointers)
    {
        foreach (var (name, pointer) in pointers)
            if (pointer.IsNull) throw new ArgumentException($"attention: {name} is Null", name);
    }
}
