namespace FastPrefix.Data.Tokenization;

/// <summary>
/// The result of encoding one text or a text pair, special tokens included.
/// </summary>
/// <param name="InputIds">Token ids, special tokens included.</param>
/// <param name="TokenTypeIds">Segment ids (0 for the first text and its specials, 1 for the pair and its final
/// separator), or null where the model has none (RoBERTa).</param>
/// <param name="Offsets">Per token, the <c>[Start, End)</c> range in the original string, counted in Unicode code
/// points (as Python and the Hugging Face reference count; equal to UTF-16 indices when the text has no
/// characters outside the BMP); <c>(0, 0)</c> for special tokens. Offsets of pair tokens are into the pair text.</param>
/// <param name="WordIds">Per token, the index of the pre-tokenizer word it came from, counted within its own
/// sequence; null for special tokens.</param>
/// <param name="SequenceIds">Per token, 0 for the text and 1 for the pair; null for special tokens.</param>
/// <param name="NumTruncated">How many of the tokenized tokens truncation dropped (both sequences together): positive
/// whenever anything was cut, but with truncation the text after the reference's early stop is never tokenized, so it
/// does not count every token of a long input.</param>
public sealed record TokenizedText(
    int[] InputIds,
    int[]? TokenTypeIds,
    (int Start, int End)[] Offsets,
    int?[] WordIds,
    int?[] SequenceIds,
    int NumTruncated)
{
    /// <summary>Number of tokens.</summary>
    public int Length => InputIds.Length;
}
