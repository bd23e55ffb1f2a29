namespace FastPrefix.Data.Tokenization;

/// <summary>
/// A tokenizer that reproduces a Hugging Face <c>transformers</c> (fast) tokenizer exactly: ids, type ids and
/// offsets. Implementations are immutable after loading and safe to use from several threads at once.
/// </summary>
public interface ITextTokenizer
{
    /// <summary>"wordpiece" or "bpe".</summary>
    string Kind { get; }

    /// <summary>Id of the padding token.</summary>
    int PadId { get; }

    /// <summary>Id of the classification / begin-of-sequence token ([CLS] or &lt;s&gt;).</summary>
    int ClsId { get; }

    /// <summary>Id of the separator / end-of-sequence token ([SEP] or &lt;/s&gt;).</summary>
    int SepId { get; }

    /// <summary>Id of the unknown token.</summary>
    int UnkId { get; }

    /// <summary>One more than the largest id in the vocabulary (the size an embedding table needs).</summary>
    int VocabSize { get; }

    /// <summary>
    /// Encodes <paramref name="text"/> (and <paramref name="pair"/>, if given) with the model's template.
    /// <paramref name="maxLength"/> counts the special tokens; pairs are truncated "longest_first" exactly as
    /// Hugging Face tokenizers does it. Throws <see cref="ArgumentOutOfRangeException"/> when
    /// <paramref name="maxLength"/> is smaller than <see cref="SpecialTokensCount"/>.
    /// </summary>
    TokenizedText Encode(string text, string? pair = null, int? maxLength = null);

    /// <summary>The vocabulary strings of <paramref name="ids"/>, for display (byte-level strings for BPE).</summary>
    IReadOnlyList<string> TokenStrings(IReadOnlyList<int> ids);

    /// <summary>How many special tokens the template adds: 2 / 3 for BERT, 2 / 4 for RoBERTa.</summary>
    int SpecialTokensCount(bool pair);
}
