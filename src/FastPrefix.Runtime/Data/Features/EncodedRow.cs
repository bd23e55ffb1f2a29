namespace FastPrefix.Data.Features;

/// <summary>
/// One encoder row: token ids and types (special tokens included), and for token-level tasks a label per
/// token (-100 where no loss applies) and the word each token starts (-1 for specials and continuation pieces).
/// </summary>
public sealed record EncodedRow(int[] Ids, int[] Types, int[]? TokenLabels = null, int[]? WordStarts = null)
{
    public int Length => Ids.Length;
}

/// <summary>Counts how many inputs were truncated, to report it once per dataset rather than per row.</summary>
public sealed class TruncationCounter
{
    public int Truncated { get; private set; }
    public int Total { get; private set; }
    public void Add(bool truncated) { Total++; if (truncated) Truncated++; }
    public string? Describe(string what, int maxLength) =>
        Truncated == 0 ? null : $"{Truncated} of {Total} {what} were truncated to --max-seq-length {maxLength}";
}
