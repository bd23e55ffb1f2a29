namespace FastPrefix.Backends;

/// <summary>
/// The op set the P-Tuning v2 model needs. The encoder, prefixes, heads, losses and the optimiser are written once
/// against it; <see cref="Cpu.CpuBackend"/> is the fp32 reference every other backend must reproduce.
/// <para>
/// A training step is a fixed sequence of these ops between one <see cref="Upload(ReadOnlySpan{int}, Tensor)"/> of
/// the step's staging area and a lazy <see cref="Download(Tensor, Span{float})"/> of its results: no op returns a
/// value to the host, allocates, or takes a per-step value (learning rate, step count, dropout seed, sequence
/// length of the batch) as an argument — those are read from device tensors, so a GPU can capture a step as a graph.
/// Ops do not validate data (ids, labels, indices): batch preparation does, before the upload.
/// </para>
/// <para>
/// All matrices are row-major; shapes are given explicitly so ops can work on views of planned buffers. Header
/// comments give shapes: rows N, columns C. Outputs overwrite (=) unless the comment says they accumulate (+=).
/// </para>
/// </summary>
public interface IBackend : IDisposable
{
    string Name { get; }
    /// <summary>
    /// Planning hint: sequence lengths are padded up to a multiple of this (a GPU wants few fixed shapes to capture;
    /// the CPU only pays for the padding). Padding changes no real row's result.
    /// </summary>
    int SequenceBucket { get; }

    /// <summary>
    /// The element type of the frozen backbone's weights and of activations and their gradients: Float32 on the CPU,
    /// BFloat16 on a bf16 GPU backend. Trainable parameters, their gradients, optimiser state, normalisation
    /// statistics, attention state, logits and losses are always Float32 (<see cref="Zeros"/>).
    /// </summary>
    TensorType ComputeType { get; }

    // ---- memory: planning and the step's edges only ----
    /// <summary>A zero-filled tensor of the given element type (<see cref="BackendAllocation.Zeros"/> and ZerosInt are shorthands).</summary>
    Tensor Allocate(TensorType type, params int[] shape);
    /// <summary>A window of <paramref name="shape"/> on <paramref name="parent"/>'s memory from element <paramref name="offset"/>, read as <paramref name="type"/>.</summary>
    Tensor View(Tensor parent, long offset, TensorType type, params int[] shape);
    /// <summary>Copies host data into the first source.Length elements of the tensor (buffers may be larger than a batch).</summary>
    void Upload(ReadOnlySpan<float> source, Tensor destination);
    void Upload(ReadOnlySpan<int> source, Tensor destination);
    /// <summary>Copies the first destination.Length elements of the tensor to the host.</summary>
    void Download(Tensor source, Span<float> destination);
    void Download(Tensor source, Span<int> destination);

    // ---- elementwise and copies ----
    /// <summary>t[0..n) = value (float tensors; n = -1: the whole tensor).</summary>
    void Fill(Tensor t, float value, long n = -1);
    /// <summary>dst[dstOffset..+count] = src[srcOffset..+count] (float tensors).</summary>
    void Copy(Tensor src, long srcOffset, Tensor dst, long dstOffset, long count);
    /// <summary>out = a + b elementwise over n elements (out may alias a or b).</summary>
    void Add(Tensor a, Tensor b, Tensor output, long n);
    /// <summary>
    /// dst[s·count .. s·count + count) = src[srcOffset .. srcOffset + count) where s = slot[slotOffset] is read on the
    /// device (an int staged with the step): records a step's results into a ring the host reads back lazily.
    /// </summary>
    void CopyToSlot(Tensor src, long srcOffset, int count, Tensor dst, Tensor slot, int slotOffset);

    // ---- dense algebra ----
    /// <summary>
    /// C[m,n] = alpha op(A)[m,k] op(B)[k,n] + beta C (beta 0 never reads C). Operands start at the given element
    /// offsets with row strides lda, ldb, ldc as stored (A is [m,k], or [k,m] when transA; B is [k,n], or [n,k] when transB).
    /// </summary>
    void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, long aOffset, int lda, Tensor b, long bOffset, int ldb,
              float beta, Tensor c, long cOffset, int ldc);
    /// <summary>x (N, C) += bias (C), kept as the pre-activation; y (N, C) = act(x). With <see cref="Activation.None"/> y may be x.
    /// Tanh may also run in place (its backward reads the output); GELU's backward reads the pre-activation, so y must differ.</summary>
    void BiasActivation(Tensor x, Tensor bias, Tensor y, int rows, int cols, Activation act);
    /// <summary>dx = dy · act'(…) over n elements: GELU reads the pre-activation x, tanh the output y (saved). dx may alias dy.</summary>
    void ActivationBackward(Activation act, Tensor dy, Tensor saved, Tensor dx, long n);
    /// <summary>db (C) (+)= sum over rows of dy (N, C), summed in a fixed order in double.</summary>
    void ColumnSums(Tensor dy, Tensor db, int rows, int cols, bool accumulate);

    // ---- dropout: masks are regenerated from (seed, element index), never stored ----
    /// <summary>Inverted dropout: y = x · (keep ? 1/(1-p) : 0), keep when <see cref="DropoutHash.Uniform"/>(seed, i) ≥ p. y may alias x.</summary>
    void Dropout(Tensor x, Tensor y, long n, float p, DropoutSeed seed);
    /// <summary>dx = dy · the same mask as <see cref="Dropout"/> with the same seed. dx may alias dy.</summary>
    void DropoutBackward(Tensor dy, Tensor dx, long n, float p, DropoutSeed seed);

    // ---- transformer ops ----
    /// <summary>out (N, C) = dropout(LayerNorm(word[ids] + pos[positions] + type[types])); ids, positions, types (N) int.
    /// The backbone is frozen, so nothing of it is saved for a backward.</summary>
    void EmbedLayerNorm(in EmbedArgs args);
    /// <summary>
    /// The end of an attention or feed-forward block: sum (N, C) = dropout(branch + bias) + residual;
    /// output = LayerNorm(sum) with gamma, beta; mean, rstd (N) saved for the backward. output must not alias the inputs.
    /// </summary>
    void ResidualLayerNorm(in ResidualNormArgs args);
    /// <summary>
    /// Backward of <see cref="ResidualLayerNorm"/> from dOutput (N, C): dResidual = dSum (when not null) and
    /// dBranch = dSum · dropout mask, both overwritten, in one pass.
    /// </summary>
    void ResidualLayerNormBackward(in ResidualNormArgs args, Tensor dOutput, Tensor? dResidual, Tensor dBranch);
    /// <summary>How many floats the attention keeps per layer for its backward (<see cref="AttentionArgs.State"/>): the backend's choice.</summary>
    long AttentionStateLength(int batch, int seq, int heads, int prefixLen);
    /// <summary>Self-attention with prefix keys/values read from a prefix bank; see <see cref="AttentionArgs"/>.</summary>
    void Attention(in AttentionArgs args);
    /// <summary>dQkv (B·T, 3·H·D) = gradient of q | k | v (overwritten); dPrefixBank (bank-shaped) accumulates the prefix gradient, deterministically.</summary>
    void AttentionBackward(in AttentionArgs args, Tensor dContext, Tensor dQkv, Tensor? dPrefixBank);
    /// <summary>
    /// Prefix layout change: src (P, L, 2, H, D) [the PEFT / P-Tuning v2 row layout] -> dst (L, 2, H, P, D), or back when toPeft.
    /// </summary>
    void PermutePrefix(Tensor src, Tensor dst, int prefixLen, int layers, int heads, int headDim, bool toPeft);

    // ---- heads and losses ----
    /// <summary>y (R, O) = x (R, C) W[idx[r]]ᵀ + b[idx[r]]; W (T, O, C), b (T, O): one head per task, a task index per row.</summary>
    void BankedLinear(Tensor x, Tensor w, Tensor b, Tensor rowIndex, Tensor y, int rows, int cols, int outputs);
    /// <summary>dx (R, C) = dy W[idx] (overwritten); dW[idx] += dyᵀ x; db[idx] += Σ dy summed in row order in double.
    /// dx and db may be null (skipped).</summary>
    void BankedLinearBackward(Tensor dy, Tensor x, Tensor w, Tensor rowIndex, Tensor? dx, Tensor dw, Tensor? db, int rows, int cols, int outputs);
    /// <summary>Mean softmax cross entropy over rows of logits and its gradient; see <see cref="CrossEntropyArgs"/>.</summary>
    void CrossEntropy(in CrossEntropyArgs args);

    // ---- optimiser ----
    /// <summary>
    /// output[index] = ‖all grads‖₂ (summed in a fixed order), output[index + 1] = the clip coefficient
    /// min(1, maxNorm / (norm + 1e-6)), or 1 when maxNorm ≤ 0 or the norm is not finite. Gradients are not changed:
    /// <see cref="AdamW"/> applies the coefficient.
    /// </summary>
    void GradientNorm(IReadOnlyList<Tensor> grads, float maxNorm, Tensor output, int index);
    /// <summary>Decoupled-weight-decay Adam step over n elements; see <see cref="AdamWArgs"/>.</summary>
    void AdamW(in AdamWArgs args);
}

/// <summary>Shorthands for <see cref="IBackend.Allocate"/>.</summary>
public static class BackendAllocation
{
    /// <summary>A zero-filled Float32 tensor.</summary>
    public static Tensor Zeros(this IBackend backend, params int[] shape) => backend.Allocate(TensorType.Float32, shape);
    /// <summary>A zero-filled Int32 tensor.</summary>
    public static Tensor ZerosInt(this IBackend backend, params int[] shape) => backend.Allocate(TensorType.Int32, shape);
    /// <summary>A zero-filled tensor of the backend's compute type (frozen weights, activations and their gradients).</summary>
    public static Tensor ZerosCompute(this IBackend backend, params int[] shape) => backend.Allocate(backend.ComputeType, shape);
}

/// <summary>Activation of <see cref="IBackend.BiasActivation"/>: GELU is the exact erf form.</summary>
public enum Activation { None, Gelu, Tanh }

/// <summary>
/// Where a dropout op reads its 64-bit seed on the device: ints [2·Index, 2·Index + 1] (low, high) of
/// <see cref="Seeds"/>, staged with each step. The mask of element i depends only on (seed, i).
/// </summary>
public readonly record struct DropoutSeed(Tensor Seeds, int Index);

/// <summary>Arguments of <see cref="IBackend.EmbedLayerNorm"/>: ids, positions, types (N) int; tables (rows, C); out (N, C).</summary>
public readonly record struct EmbedArgs(
    Tensor Ids, Tensor Positions, Tensor Types, Tensor Word, Tensor Position, Tensor Type,
    Tensor Gamma, Tensor Beta, Tensor Output, int Rows, int Cols, float Eps, float DropoutP, DropoutSeed Seed);

/// <summary>Arguments of <see cref="IBackend.ResidualLayerNorm"/> and its backward (which reads Sum, Gamma, Mean, Rstd, the dropout).</summary>
public readonly record struct ResidualNormArgs(
    Tensor Branch, Tensor Bias, Tensor Residual, Tensor Gamma, Tensor Beta, Tensor Sum, Tensor Output, Tensor Mean, Tensor Rstd,
    int Rows, int Cols, float Eps, float DropoutP, DropoutSeed Seed);

/// <summary>
/// Arguments of the prefix attention op. qkv (B·T, 3·H·D) holds q | k | v with head h at columns h·D.
/// The prefix bank is (A, Lp, 2, H, P, D): adapter a, prefixed-layer slot, key/value, head, position.
/// Row b reads adapter rowAdapter[b]; P = 0 means this layer has no prefix (bank ignored).
/// Padded key columns (mask 0) get probability 0; prefix columns are always attended to; a row with no column
/// to attend to gets a uniform distribution over its token columns (as the reference's additive minimum does).
/// context (B·T, H·D); State (<see cref="IBackend.AttentionStateLength"/> floats) is kept for the backward.
/// Dropout on the probabilities uses element index ((b·H + h)·T + i)·(P + T) + j.
/// </summary>
public readonly record struct AttentionArgs(
    int Batch, int Seq, int Heads, int HeadDim, int PrefixLen,
    Tensor Qkv, Tensor? PrefixBank, int PrefixLayers, int PrefixSlot, Tensor RowAdapter,
    Tensor AttentionMask, Tensor Context, Tensor State, float DropoutP, DropoutSeed Seed);

/// <summary>
/// Softmax cross entropy of <see cref="Rows"/> rows of <see cref="Classes"/> logits: element (r, c) is
/// Logits[Offset + r·RowStride + c·ClassStride], and DLogits has the same layout. Labels[LabelOffset + r] is the class
/// of row r; -100 ignores the row. When <see cref="ClassLimit"/> is set, only classes below ClassLimit[ClassLimitIndex]
/// (an int staged with the step: the batch's sequence length before bucketing) take part; the others get gradient 0.
/// <para>
/// loss (+)= Weight · Σ CE / kept, written as a float pair (high, low) at Loss[LossIndex], LossIndex + 1 so it keeps
/// double precision; dLogits = Weight · (softmax − onehot) / kept, overwritten for every element of the rows.
/// The gradient of a row is rounded to a grid of 2^(e − 24), 2^e > 2·Weight/kept (<see cref="CrossEntropyGrid"/>), with the label's entry set to
/// minus the sum of the others: every row's gradient then sums to exactly 0, so a bias shared by all classes (multiple
/// choice, QA) gets a gradient that is exactly 0 when it is 0 in theory.
/// </para>
/// </summary>
public readonly record struct CrossEntropyArgs(
    Tensor Logits, long Offset, int RowStride, int ClassStride, int Rows, int Classes,
    Tensor Labels, int LabelOffset, Tensor? ClassLimit, int ClassLimitIndex,
    float Weight, Tensor DLogits, Tensor Loss, int LossIndex, bool Accumulate);

/// <summary>
/// One AdamW update of n elements: g = grad · clip; m = β1 m + (1 − β1) g; v = β2 v + (1 − β2) g²;
/// param = param · (1 − lr · weightDecay) − stepSize · m / (√v · invSqrtBc2 + eps), with lr, stepSize = lr / (1 − β1^t)
/// and invSqrtBc2 = 1 / √(1 − β2^t) read at Scalars[ScalarsOffset .. +3) and clip at Clip[ClipOffset] (device values).
/// </summary>
public readonly record struct AdamWArgs(
    Tensor Param, Tensor Grad, Tensor M, Tensor V, long N, Tensor Scalars, int ScalarsOffset, Tensor Clip, int ClipOffset,
    float Beta1, float Beta2, float Eps, float WeightDecay);
