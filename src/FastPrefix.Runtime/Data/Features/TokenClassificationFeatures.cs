using FastPrefix.Data.Datasets;
using FastPrefix.Data.Tokenization;

namespace FastPrefix.Data.Features;

/// <summary>
/// CoNLL-style word sequences, tokenized: the words are joined by single spaces and each token is mapped
/// back to the word its offset falls in, so the label sits on each word's first sub-token (-100 elsewhere),
/// as Hugging Face's is_split_into_words + word_ids() recipe does.
/// </summary>
public sealed class TokenClassificationFeatures
{
    public required IReadOnlyList<EncodedRow> Rows { get; init; }
    public required IReadOnlyList<TokenExample> Examples { get; init; }
    public required TruncationCounter Truncation { get; init; }

    public static TokenClassificationFeatures Build(IReadOnlyList<TokenExample> examples, string filePath, ITextTokenizer tokenizer,
        IReadOnlyList<string> labels, int maxLength, bool labelled = true)
    {
        var index = labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i, StringComparer.Ordinal);
        var rows = new List<EncodedRow>(examples.Count);
        var truncation = new TruncationCounter();
        foreach (var e in examples)
        {
            var starts = new int[e.Words.Length];
            var text = new System.Text.StringBuilder();
            for (int w = 0; w < e.Words.Length; w++)
            {
                if (w > 0) text.Append(' ');
                starts[w] = text.Length;
                text.Append(e.Words[w]);
            }
            string joined = text.ToString();
            var enc = tokenizer.Encode(joined, null, maxLength);
            var offsets = TextOffsets.ToUtf16(joined, enc.Offsets);
            int n = enc.InputIds.Length;
            var tokenLabels = new int[n]; var wordStarts = new int[n];
            Array.Fill(tokenLabels, Model.Losses.IgnoreIndex); Array.Fill(wordStarts, -1);
            int lastWord = -1, seen = 0;
            for (int t = 0; t < n; t++)
            {
                if (enc.SequenceIds[t] == null) continue;
                int word = WordAt(starts, offsets[t].Start);
                if (word == lastWord) continue;
                lastWord = word; seen++;
                wordStarts[t] = word;
                if (labelled)
                {
                    string tag = e.Tags[word];
                    if (!index.TryGetValue(tag, out tokenLabels[t]))
                        throw new DatasetException(filePath, e.Line, $"tag '{tag}' of word '{e.Words[word]}' is not one of the trained tags ({string.Join(", ", labels)})");
                }
            }
            truncation.Add(enc.NumTruncated > 0);
            rows.Add(new EncodedRow(enc.InputIds, enc.TokenTypeIds ?? new int[n], tokenLabels, wordStarts));
        }
        return new TokenClassificationFeatures { Rows = rows, Examples = examples, Truncation = truncation };
    }

    /// <summary>Index of the word whose span starts at or before the character position.</summary>
    static int WordAt(int[] starts, int position)
    {
        int i = Array.BinarySearch(starts, position);
        return i >= 0 ? i : Math.Max(0, ~i - 1);
    }

    /// <summary>Per-word tags from per-token predictions; words with no token (truncated or empty) get "O".</summary>
    public static string[] WordTags(EncodedRow row, int wordCount, ReadOnlySpan<int> predictedPerToken, IReadOnlyList<string> labels)
    {
        var tags = Enumerable.Repeat("O", wordCount).ToArray();
        for (int t = 0; t < row.Length; t++)
            if (row.WordStarts![t] >= 0) tags[row.WordStarts[t]] = labels[predictedPerToken[t]];
        return tags;
    }
}
