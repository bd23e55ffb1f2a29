namespace FastPrefix.Backends;

/// <summary>
/// The op set the P-Tuning v2 model needs. The encoder, prefixes, heads and losses are written once
/// against it; <see cref="Cpu.CpuBackend"/> is the fp32 reference every other backend must reproduce.
/// All matrices are row-major and contiguous; shapes are given explicitly so ops can work on views
/// of planned buffers. Header comments give shapes: rows N, columns C.
/// </summary>
public interface IBackend : IDisposable
{
    string Name { get; }

    // ---- memory ----
    Tensor Zeros(params int[] shape);
    Tensor ZerosInt(params int[] shape);
    /// <summary>Copies host data into the first source.Length elements of the tensor (buffers may be larger than a batch).</summary>
    void Upload(ReadOnlySpan<float> source, Tensor destination);
    void Upload(ReadOnlySpan<int> source, Tensor destination);
    void Download(Tensor source, Span<float> destination);
    void Download(Tensor source, Span<int> destination);
    void Fill(Tensor t, float value);
    /// <summary>dst[dstOffset..+count] = src[srcOffset..+count] (float tensors).</summary>
    void Copy(Tensor src, long srcOffset, Tensor dst, long dstOffset, long count);

    // ---- dense algebra ----
    /// <summary>C[m,n] = alpha op(A)[m,k] op(B)[k,n] + beta C. A, B, C contiguous from the given element offsets.</summary>
    void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, long aOffset, Tensor b, long bOffset, float beta, Tensor c, long cOffset);
    /// <summary>y (N, C) += bias (C) broadcast over rows.</summary>
    void AddBias(Tensor y, Tensor bias, int rows, int cols);
    /// <summary>db (C) (+)= sum over rows of dy (N, C).</summary>
    void ColumnSums(Tensor dy, Tensor db, int rows, int cols, bool accumulate);
    /// <summary>out = a + b elementwise over n elements (out may alias a or b).</summary>
    void Add(Tensor a, Tensor b, Tensor output, long n);
    /// <summary>out = a * b elementwise (out may alias a or b).</summary>
    void Multiply(Tensor a, Tensor b, Tensor output, long n);
    /// <summary>x *= s over n elements.</summary>
    void Scale(Tensor x, float s, long n);
    /// <summary>Sum of squares of the first n elements, in double.</summary>
    double SumOfSquares(Tensor x, long n);

    // ---- activations ----
    /// <summary>y = gelu(x) (exact erf form).</summary>
    void Gelu(Tensor x, Tensor y, long n);
    /// <summary>dx = dy * gelu'(x).</summary>
    void GeluBackward(Tensor dy, Tensor x, Tensor dx, long n);
    void Tanh(Tensor x, Tensor y, long n);
    /// <summary>dx = dy * (1 - y^2), y = tanh(x).</summary>
    void TanhBackward(Tensor dy, Tensor y, Tensor dx, long n);
    /// <summary>
    /// Inverted dropout: mask[i] = keep ? 1/(1-p) : 0 decided by a counter-based hash of (seed, i),
    /// y = x * mask. Deterministic for a given seed on every backend.
    /// </summary>
    void Dropout(Tensor x, Tensor y, Tensor mask, long n, float p, ulong seed);

    // ---- transformer ops ----
    /// <summary>out (N, C) = word[ids] + pos[positions] + type[types]; N = rows of ids.</summary>
    void Embed(Tensor ids, Tensor positions, Tensor types, Tensor word, Tensor pos, Tensor type, Tensor output, int rows, int cols);
    /// <summary>x (N, C) -> y (N, C); mean, rstd (N). Biased variance.</summary>
    void LayerNorm(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor rstd, int rows, int cols, float eps);
    /// <summary>dx (N, C) (+)= d LayerNorm / dx given dy, the input x and its saved statistics.</summary>
    void LayerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dx, int rows, int cols, bool accumulate);
    /// <summary>Self-attention with prefix keys/values read from a prefix bank; see <see cref="AttentionArgs"/>.</summary>
    void Attention(in AttentionArgs args);
    void AttentionBackward(in AttentionArgs args, Tensor dContext, Tensor dQkv, Tensor? dPrefixBank);
    /// <summary>dst (B, C) = src[b, token, :] of src (B, T, C).</summary>
    void GatherToken(Tensor src, Tensor dst, int batch, int seq, int cols, int token);
    /// <summary>dst[b, token, :] += src (B, C).</summary>
    void ScatterTokenAdd(Tensor src, Tensor dst, int batch, int seq, int cols, int token);
    /// <summary>
    /// Prefix layout change: src (P, L, 2, H, D) [the PEFT / P-Tuning v2 row layout] -> dst (L, 2, H, P, D), or back when toPeft.
    /// </summary>
    void PermutePrefix(Tensor src, Tensor dst, int prefixLen, int layers, int heads, int headDim, bool toPeft);

    // ---- heads and losses ----
    /// <summary>y (R, O) = x (R, C) W[idx[r]]ᵀ + b[idx[r]]; W (T, O, C), b (T, O): one head per task, a task index per row.</summary>
    void BankedLinear(Tensor x, Tensor w, Tensor b, Tensor rowIndex, Tensor y, int rows, int cols, int outputs);
    /// <summary>dx (R, C) = dy W[idx]; dW[idx] += dyᵀ x; db[idx] += dy. dx and db may be null (skipped).</summary>
    void BankedLinearBackward(Tensor dy, Tensor x, Tensor w, Tensor rowIndex, Tensor? dx, Tensor dw, Tensor? db, int rows, int cols, int outputs);
    // ---- optimiser ----
    /// <summary>Decoupled-weight-decay Adam step over n elements (AdamW, bias-corrected).</summary>
    void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, long n, float lr, float beta1, float beta2, float eps, float weightDecay, int step);
}

/// <summary>
/// Arguments of the prefix attention op. qkv (B·T, 3·H·D) holds q | k | v with head h at columns h·D.
/// The prefix bank is (A, Lp, 2, H, P, D): adapter a, prefixed-layer slot, key/value, head, position.
/// Row b reads adapter rowAdapter[b]; P = 0 means this layer has no prefix (bank ignored).
/// Padded key columns (mask 0) get probability 0; prefix columns are always attended to.
/// context (B·T, H·D); probs (B, H, T, P+T) are saved for the backward.
/// </summary>
public readonly record struct AttentionArgs(
    int Batch, int Seq, int Heads, int HeadDim, int PrefixLen,
    Tensor Qkv, Tensor? PrefixBank, int PrefixLayers, int PrefixSlot, Tensor? RowAdapter,
    Tensor AttentionMask, Tensor Context, Tensor Probs,
    Tensor? ProbsDropMask, float DropoutP, ulong DropoutSeed);
