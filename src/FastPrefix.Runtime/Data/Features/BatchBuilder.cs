using FastPrefix.Model;

namespace FastPrefix.Data.Features;

/// <summary>Pads rows to the longest in the batch (dynamic padding) and packs them into an <see cref="EncoderBatch"/>.</summary>
public static class BatchBuilder
{
    public static EncoderBatch Pack(IReadOnlyList<EncodedRow> rows, int padId, out int seq, int[]? rowAdapter = null)
    {
        seq = Math.Max(1, rows.Max(r => r.Length));
        int B = rows.Count;
        var ids = new int[B * seq]; var mask = new int[B * seq]; var types = new int[B * seq];
        Array.Fill(ids, padId);
        for (int b = 0; b < B; b++)
        {
            var r = rows[b];
            r.Ids.CopyTo(ids, b * seq);
            r.Types.CopyTo(types, b * seq);
            Array.Fill(mask, 1, b * seq, r.Length);
        }
        return new EncoderBatch(B, seq, ids, mask, types, rowAdapter);
    }

    /// <summary>Token labels padded with -100 to the batch's sequence length.</summary>
    public static int[] PackTokenLabels(IReadOnlyList<EncodedRow> rows, int seq)
    {
        var labels = new int[rows.Count * seq];
        Array.Fill(labels, Losses.IgnoreIndex);
        for (int b = 0; b < rows.Count; b++) rows[b].TokenLabels!.CopyTo(labels, b * seq);
        return labels;
    }
}
