using FastPrefix.Backends;

namespace FastPrefix.Model;

/// <summary>
/// The sizes an encoder's buffers are planned for. Layers below <see cref="FirstPrefixedLayer"/> have no prefix;
/// layers from <see cref="TrainedFrom"/> up keep their activations for a backward (NumLayers: inference only).
/// </summary>
public readonly record struct EncoderPlanSize(int MaxBatch, int MaxSeq, int PrefixLen, int FirstPrefixedLayer, int TrainedFrom)
{
    public int MaxRows => checked(MaxBatch * MaxSeq);

    /// <summary>True when a plan of this size can run <paramref name="other"/> (same prefix layout, no larger).</summary>
    public bool Covers(EncoderPlanSize other) =>
        other.MaxBatch <= MaxBatch && other.MaxSeq <= MaxSeq && other.PrefixLen == PrefixLen &&
        other.FirstPrefixedLayer == FirstPrefixedLayer && other.TrainedFrom >= TrainedFrom;
}

/// <summary>
/// One planned encoder pass: its buffers (<see cref="EncoderActivations"/>), its regions of the step's staging area
/// (ids, positions, types, attention mask, row adapters, dropout seeds) and the shape of the batch last staged.
/// <see cref="Stage"/> writes a batch on the host, padded to the planned shape; the owner uploads the staging area
/// once; <see cref="Encoder.Forward(EncoderPlan, PrefixInput?, EncoderPassOptions)"/> then runs ops only.
/// </summary>
public sealed class EncoderPlan : IDisposable
{
    readonly EncoderConfig _c;
    readonly StagingRegion _ids, _positions, _types, _mask, _rowAdapter, _seeds;
    Tensor? _idsView, _positionsView, _typesView, _maskView, _rowAdapterView, _seedsView;

    internal EncoderPlan(IBackend backend, EncoderConfig config, StepStaging staging, EncoderPlanSize size)
    {
        if (size.MaxBatch <= 0 || size.MaxSeq <= 0) throw new ArgumentException($"an encoder plan needs a positive batch and length, got {size.MaxBatch} x {size.MaxSeq}");
        if (size.MaxSeq > config.MaxPositionEmbeddings)
            throw new ArgumentException($"sequence length {size.MaxSeq} exceeds the model's max_position_embeddings {config.MaxPositionEmbeddings}");
        _c = config; Size = size; Staging = staging;
        int rows = size.MaxRows;
        _ids = staging.Reserve(rows); _positions = staging.Reserve(rows); _types = staging.Reserve(rows); _mask = staging.Reserve(rows);
        _rowAdapter = staging.Reserve(size.MaxBatch); _seeds = staging.Reserve(2 * DropoutSites.Count(config.NumLayers));
        Activations = new EncoderActivations(backend, config, size);
    }

    public EncoderPlanSize Size { get; }
    public StepStaging Staging { get; }
    internal EncoderActivations Activations { get; }

    /// <summary>Rows of the batch last staged (padding rows included).</summary>
    public int Batch { get; private set; }
    /// <summary>Tokens per row of the batch last staged (its length rounded up to a bucket).</summary>
    public int Seq { get; private set; }
    /// <summary>Tokens per row before bucketing, and real rows before row padding.</summary>
    public int LogicalSeq { get; private set; }
    public int LogicalBatch { get; private set; }
    public int Rows => Batch * Seq;

    /// <summary>Creates the views of the staged regions (after the staging area is allocated, before any step).</summary>
    internal void Bind()
    {
        _idsView = Staging.View(_ids); _positionsView = Staging.View(_positions); _typesView = Staging.View(_types);
        _maskView = Staging.View(_mask); _rowAdapterView = Staging.View(_rowAdapter); _seedsView = Staging.View(_seeds);
    }

    static Tensor Bound(Tensor? view) => view ?? throw new InvalidOperationException("the encoder plan's staging area is not bound yet");

    public Tensor Ids => Bound(_idsView);
    public Tensor Positions => Bound(_positionsView);
    public Tensor Types => Bound(_typesView);
    public Tensor Mask => Bound(_maskView);
    public Tensor RowAdapter => Bound(_rowAdapterView);
    /// <summary>The step's dropout seeds (<see cref="DropoutSites"/>), also read by the prefix and the head.</summary>
    public Tensor Seeds => Bound(_seedsView);
    public StagingRegion SeedsRegion => _seeds;
    public ReadOnlySpan<int> HostRowAdapter => Staging.Ints(_rowAdapter)[..Batch];

    /// <summary>The last layer's output (Batch · Seq, C) of the last forward.</summary>
    public Tensor Hidden => Activations.X[_c.NumLayers % 2];

    /// <summary>
    /// Writes a batch into the staging area (host only), padded to <paramref name="seq"/> tokens and
    /// <paramref name="rows"/> rows: padding tokens and rows are masked and count for nothing. Validates what the
    /// ops will index with: token ids, types, positions and adapter indices.
    /// </summary>
    public void Stage(EncoderBatch batch, int rows, int seq, int prefixLen, int adapters, PositionMode positions, ulong stepSeed)
    {
        if (rows < batch.Batch || rows > Size.MaxBatch || seq < batch.Seq || seq > Size.MaxSeq)
            throw new ArgumentException($"batch {batch.Batch} x {batch.Seq} padded to {rows} x {seq} does not fit the plan ({Size.MaxBatch} x {Size.MaxSeq})");
        Batch = rows; Seq = seq; LogicalSeq = batch.Seq; LogicalBatch = batch.Batch;
        int T = batch.Seq, n = rows * seq;
        Span<int> ids = Staging.Ints(_ids)[..n], pos = Staging.Ints(_positions)[..n], types = Staging.Ints(_types)[..n], mask = Staging.Ints(_mask)[..n];
        ids.Fill(_c.PadTokenId); types.Clear(); mask.Clear();
        for (int b = 0; b < batch.Batch; b++)
        {
            batch.InputIds.AsSpan(b * T, T).CopyTo(ids.Slice(b * seq, T));
            batch.TokenTypeIds.AsSpan(b * T, T).CopyTo(types.Slice(b * seq, T));
            batch.AttentionMask.AsSpan(b * T, T).CopyTo(mask.Slice(b * seq, T));
        }
        for (int i = 0; i < n; i++)
        {
            if ((uint)ids[i] >= (uint)_c.VocabSize) throw new ArgumentException($"token id {ids[i]} at row {i / seq}, position {i % seq} is outside the vocabulary of {_c.VocabSize}");
            if ((uint)types[i] >= (uint)_c.TypeVocabSize) throw new ArgumentException($"token type {types[i]} at row {i / seq}, position {i % seq} is outside type_vocab_size {_c.TypeVocabSize}");
        }
        EncoderBatch.PositionIds(_c, mask, rows, seq, prefixLen, positions, pos);
        for (int b = 0; b < rows; b++)
            for (int t = 0; t < seq; t++)
            {
                int i = b * seq + t;
                if ((uint)pos[i] < (uint)_c.MaxPositionEmbeddings) continue;
                // Padding added here (past the batch's own length, or whole rows) is masked: any valid position will do.
                if (t >= T || b >= batch.Batch) { pos[i] = _c.IsRoberta ? _c.PadTokenId : _c.MaxPositionEmbeddings - 1; continue; }
                throw new ArgumentException($"position id {pos[i]} of row {b}, token {t} is outside max_position_embeddings {_c.MaxPositionEmbeddings}" +
                    (positions == PositionMode.AfterPrefix ? $" (after-prefix positions add the {prefixLen} prefix positions)" : ""));
            }
        var ra = Staging.Ints(_rowAdapter)[..rows];
        ra.Clear();
        if (batch.RowAdapter is { } r)
            for (int b = 0; b < batch.Batch; b++)
            {
                if ((uint)r[b] >= (uint)adapters) throw new ArgumentException($"row {b} uses adapter {r[b]} but the prefix bank holds {adapters}");
                ra[b] = r[b];
            }
        DropoutSites.Write(Staging, _seeds, _c.NumLayers, stepSeed);
    }

    public void Dispose() => Activations.Dispose();
}
