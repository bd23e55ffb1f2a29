namespace FastPrefix.Model;

/// <summary>How real tokens are numbered when a prefix is present.</summary>
public enum PositionMode
{
    /// <summary>Tokens are numbered as without a prefix (BERT 0..T-1; RoBERTa padding_idx+1..). The default.</summary>
    FromZero,
    /// <summary>The original P-Tuning v2 code's behaviour: numbering starts after the P prefix positions.</summary>
    AfterPrefix,
}

/// <summary>Token inputs of one batch: B rows of T tokens, row-major (B·T) arrays.</summary>
public sealed class EncoderBatch
{
    public EncoderBatch(int batch, int seq, int[] inputIds, int[] attentionMask, int[]? tokenTypeIds = null, int[]? rowAdapter = null)
    {
        if (batch <= 0 || seq <= 0) throw new ArgumentException($"batch and sequence length must be positive, got {batch} x {seq}");
        int n = checked(batch * seq);
        if (inputIds.Length != n) throw new ArgumentException($"input_ids has {inputIds.Length} values, expected batch {batch} x seq {seq} = {n}");
        if (attentionMask.Length != n) throw new ArgumentException($"attention_mask has {attentionMask.Length} values, expected {n}");
        if (tokenTypeIds != null && tokenTypeIds.Length != n) throw new ArgumentException($"token_type_ids has {tokenTypeIds.Length} values, expected {n}");
        if (rowAdapter != null && rowAdapter.Length != batch) throw new ArgumentException($"row adapter index has {rowAdapter.Length} values, expected one per row ({batch})");
        foreach (var m in attentionMask) if (m is not (0 or 1)) throw new ArgumentException($"attention_mask values must be 0 or 1, got {m}");
        Batch = batch; Seq = seq; InputIds = inputIds; AttentionMask = attentionMask;
        TokenTypeIds = tokenTypeIds ?? new int[n]; RowAdapter = rowAdapter;
    }

    public int Batch { get; }
    public int Seq { get; }
    public int Rows => Batch * Seq;
    public int[] InputIds { get; }
    public int[] AttentionMask { get; }
    public int[] TokenTypeIds { get; }
    /// <summary>Which prefix of the bank each row reads (null: adapter 0 for all rows).</summary>
    public int[]? RowAdapter { get; }

    /// <summary>
    /// Position ids. BERT: 0..T-1 (from-zero) or P..P+T-1 (after-prefix).
    /// RoBERTa: padding_idx + cumsum(mask)·mask, the cumsum shifted by P in after-prefix mode.
    /// </summary>
    public int[] PositionIds(EncoderConfig config, int prefixLen, PositionMode mode)
    {
        var pos = new int[Rows];
        PositionIds(config, prefixLen, mode, pos);
        return pos;
    }

    /// <summary>Writes the position ids into the first B·T entries of <paramref name="pos"/> (a reused buffer).</summary>
    public void PositionIds(EncoderConfig config, int prefixLen, PositionMode mode, Span<int> pos)
    {
        if (pos.Length < Rows) throw new ArgumentException($"position buffer holds {pos.Length} ids, the batch has {Rows}");
        PositionIds(config, AttentionMask, Batch, Seq, prefixLen, mode, pos);
    }

    /// <summary>Position ids of <paramref name="rows"/> rows of <paramref name="seq"/> tokens with the given attention mask.</summary>
    public static void PositionIds(EncoderConfig config, ReadOnlySpan<int> mask, int rows, int seq, int prefixLen, PositionMode mode, Span<int> pos)
    {
        int shift = mode == PositionMode.AfterPrefix ? prefixLen : 0;
        for (int b = 0; b < rows; b++)
        {
            int count = 0;
            for (int t = 0; t < seq; t++)
            {
                int i = b * seq + t;
                if (config.IsRoberta)
                {
                    count += mask[i];
                    pos[i] = mask[i] != 0 ? config.PadTokenId + count + shift : config.PadTokenId;
                }
                else pos[i] = t + shift;
            }
        }
    }
}

/// <summary>
/// The prefix an encoder pass reads: a bank (A, L - firstLayer, 2, H, P, D) of A adapters' prefixes for
/// the layers firstLayer..L-1. Rows pick their adapter through <see cref="EncoderBatch.RowAdapter"/>.
/// </summary>
public sealed record PrefixInput(Backends.Tensor Bank, int Adapters, int PrefixLen, int FirstLayer);
