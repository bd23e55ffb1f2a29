namespace FastPrefix.Backends;

/// <summary>What kind of backend call a <see cref="BackendDecorator"/> sees.</summary>
public enum BackendCallKind
{
    /// <summary>Allocate, View: planning only.</summary>
    Allocation,
    /// <summary>Host to device.</summary>
    Upload,
    /// <summary>Device to host.</summary>
    Download,
    /// <summary>A device op (reads and writes device tensors only).</summary>
    Op,
}

/// <summary>
/// Forwards every call to an inner backend, telling <see cref="Before"/> and <see cref="After"/> which call it is:
/// the base of profilers (time per op) and of the tests that check what a training step does between its upload and
/// its read-back. Tensors are the inner backend's own.
/// </summary>
public abstract class BackendDecorator(IBackend inner) : IBackend
{
    protected IBackend Inner { get; } = inner;

    protected virtual void Before(string name, BackendCallKind kind) { }
    protected virtual void After(string name, BackendCallKind kind) { }

    T Call<T>(string name, BackendCallKind kind, Func<T> f) { Before(name, kind); var r = f(); After(name, kind); return r; }

    public virtual string Name => Inner.Name;
    public int SequenceBucket => Inner.SequenceBucket;

    public TensorType ComputeType => Inner.ComputeType;
    public Tensor Allocate(TensorType type, params int[] shape) => Call(nameof(Allocate), BackendCallKind.Allocation, () => Inner.Allocate(type, shape));
    public Tensor View(Tensor parent, long offset, TensorType type, params int[] shape) => Call(nameof(View), BackendCallKind.Allocation, () => Inner.View(parent, offset, type, shape));

    public void Upload(ReadOnlySpan<float> source, Tensor destination) { Before(nameof(Upload), BackendCallKind.Upload); Inner.Upload(source, destination); After(nameof(Upload), BackendCallKind.Upload); }
    public void Upload(ReadOnlySpan<int> source, Tensor destination) { Before(nameof(Upload), BackendCallKind.Upload); Inner.Upload(source, destination); After(nameof(Upload), BackendCallKind.Upload); }
    public void Download(Tensor source, Span<float> destination) { Before(nameof(Download), BackendCallKind.Download); Inner.Download(source, destination); After(nameof(Download), BackendCallKind.Download); }
    public void Download(Tensor source, Span<int> destination) { Before(nameof(Download), BackendCallKind.Download); Inner.Download(source, destination); After(nameof(Download), BackendCallKind.Download); }

    void Op(string name) => Before(name, BackendCallKind.Op);
    void Done(string name) => After(name, BackendCallKind.Op);

    public void Fill(Tensor t, float value, long n = -1) { Op(nameof(Fill)); Inner.Fill(t, value, n); Done(nameof(Fill)); }
    public void Copy(Tensor src, long srcOffset, Tensor dst, long dstOffset, long count) { Op(nameof(Copy)); Inner.Copy(src, srcOffset, dst, dstOffset, count); Done(nameof(Copy)); }
    public void Add(Tensor a, Tensor b, Tensor output, long n) { Op(nameof(Add)); Inner.Add(a, b, output, n); Done(nameof(Add)); }
    public void CopyToSlot(Tensor src, long srcOffset, int count, Tensor dst, Tensor slot, int slotOffset) { Op(nameof(CopyToSlot)); Inner.CopyToSlot(src, srcOffset, count, dst, slot, slotOffset); Done(nameof(CopyToSlot)); }
    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, long aOffset, int lda, Tensor b, long bOffset, int ldb, float beta, Tensor c, long cOffset, int ldc)
    { Op(nameof(Gemm)); Inner.Gemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc); Done(nameof(Gemm)); }
    public void BiasActivation(Tensor x, Tensor bias, Tensor y, int rows, int cols, Activation act) { Op(nameof(BiasActivation)); Inner.BiasActivation(x, bias, y, rows, cols, act); Done(nameof(BiasActivation)); }
    public void ActivationBackward(Activation act, Tensor dy, Tensor saved, Tensor dx, long n) { Op(nameof(ActivationBackward)); Inner.ActivationBackward(act, dy, saved, dx, n); Done(nameof(ActivationBackward)); }
    public void ColumnSums(Tensor dy, Tensor db, int rows, int cols, bool accumulate) { Op(nameof(ColumnSums)); Inner.ColumnSums(dy, db, rows, cols, accumulate); Done(nameof(ColumnSums)); }
    public void Dropout(Tensor x, Tensor y, long n, float p, DropoutSeed seed) { Op(nameof(Dropout)); Inner.Dropout(x, y, n, p, seed); Done(nameof(Dropout)); }
    public void DropoutBackward(Tensor dy, Tensor dx, long n, float p, DropoutSeed seed) { Op(nameof(DropoutBackward)); Inner.DropoutBackward(dy, dx, n, p, seed); Done(nameof(DropoutBackward)); }
    public void EmbedLayerNorm(in EmbedArgs args) { Op(nameof(EmbedLayerNorm)); Inner.EmbedLayerNorm(args); Done(nameof(EmbedLayerNorm)); }
    public void ResidualLayerNorm(in ResidualNormArgs args) { Op(nameof(ResidualLayerNorm)); Inner.ResidualLayerNorm(args); Done(nameof(ResidualLayerNorm)); }
    public void ResidualLayerNormBackward(in ResidualNormArgs args, Tensor dOutput, Tensor? dResidual, Tensor dBranch)
    { Op(nameof(ResidualLayerNormBackward)); Inner.ResidualLayerNormBackward(args, dOutput, dResidual, dBranch); Done(nameof(ResidualLayerNormBackward)); }
    public long AttentionStateLength(int batch, int seq, int heads, int prefixLen) => Inner.AttentionStateLength(batch, seq, heads, prefixLen);
    public void Attention(in AttentionArgs args) { Op(nameof(Attention)); Inner.Attention(args); Done(nameof(Attention)); }
    public void AttentionBackward(in AttentionArgs args, Tensor dContext, Tensor dQkv, Tensor? dPrefixBank)
    { Op(nameof(AttentionBackward)); Inner.AttentionBackward(args, dContext, dQkv, dPrefixBank); Done(nameof(AttentionBackward)); }
    public void PermutePrefix(Tensor src, Tensor dst, int prefixLen, int layers, int heads, int headDim, bool toPeft)
    { Op(nameof(PermutePrefix)); Inner.PermutePrefix(src, dst, prefixLen, layers, heads, headDim, toPeft); Done(nameof(PermutePrefix)); }
    public void BankedLinear(Tensor x, Tensor w, Tensor b, Tensor rowIndex, Tensor y, int rows, int cols, int outputs)
    { Op(nameof(BankedLinear)); Inner.BankedLinear(x, w, b, rowIndex, y, rows, cols, outputs); Done(nameof(BankedLinear)); }
    public void BankedLinearBackward(Tensor dy, Tensor x, Tensor w, Tensor rowIndex, Tensor? dx, Tensor dw, Tensor? db, int rows, int cols, int outputs)
    { Op(nameof(BankedLinearBackward)); Inner.BankedLinearBackward(dy, x, w, rowIndex, dx, dw, db, rows, cols, outputs); Done(nameof(BankedLinearBackward)); }
    public void CrossEntropy(in CrossEntropyArgs args) { Op(nameof(CrossEntropy)); Inner.CrossEntropy(args); Done(nameof(CrossEntropy)); }
    public void GradientNorm(IReadOnlyList<Tensor> grads, float maxNorm, Tensor output, int index) { Op(nameof(GradientNorm)); Inner.GradientNorm(grads, maxNorm, output, index); Done(nameof(GradientNorm)); }
    public void AdamW(in AdamWArgs args) { Op(nameof(AdamW)); Inner.AdamW(args); Done(nameof(AdamW)); }

    public virtual void Dispose() => Inner.Dispose();
}
