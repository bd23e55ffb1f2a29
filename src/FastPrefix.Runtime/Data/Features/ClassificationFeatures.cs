using FastPrefix.Data.Datasets;
using FastPrefix.Data.Tokenization;

namespace FastPrefix.Data.Features;

/// <summary>Sentence and sentence-pair classification examples, tokenized, with label indices.</summary>
public sealed class ClassificationFeatures
{
    public required IReadOnlyList<EncodedRow> Rows { get; init; }
    /// <summary>Label index per row; -100 where the file has no label (prediction input).</summary>
    public required int[] Labels { get; init; }
    public required TruncationCounter Truncation { get; init; }

    /// <summary>
    /// Tokenizes every example (pairs with the model's pair template, longest-first truncation to maxLength).
    /// A label not in <paramref name="labels"/> is an error naming the file and line.
    /// </summary>
    public static ClassificationFeatures Build(TextDataset data, ITextTokenizer tokenizer, IReadOnlyList<string> labels, int maxLength)
    {
        var index = labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i, StringComparer.Ordinal);
        var rows = new List<EncodedRow>(data.Examples.Count);
        var ys = new int[data.Examples.Count];
        var truncation = new TruncationCounter();
        for (int i = 0; i < data.Examples.Count; i++)
        {
            var e = data.Examples[i];
            var enc = tokenizer.Encode(e.Text, e.TextPair, maxLength);
            truncation.Add(enc.NumTruncated > 0);
            rows.Add(new EncodedRow(enc.InputIds, enc.TokenTypeIds ?? new int[enc.InputIds.Length]));
            if (e.Label == null) ys[i] = Model.Losses.IgnoreIndex;
            else if (!index.TryGetValue(e.Label, out ys[i]))
                throw new DatasetException(data.FilePath, e.Line, $"label '{e.Label}' is not one of the trained labels ({string.Join(", ", labels)})");
        }
        return new ClassificationFeatures { Rows = rows, Labels = ys, Truncation = truncation };
    }
}
