using FastPrefix.Data.Datasets;
using FastPrefix.Data.Tokenization;

namespace FastPrefix.Data.Features;

/// <summary>
/// Multiple-choice examples: each choice becomes one row, the pair (context, question + " " + choice), so an
/// example of C choices is C consecutive rows.
/// </summary>
public sealed class ChoiceFeatures
{
    public required IReadOnlyList<IReadOnlyList<EncodedRow>> Examples { get; init; }
    public required int[] Labels { get; init; }
    public required int Choices { get; init; }
    public required TruncationCounter Truncation { get; init; }

    public static ChoiceFeatures Build(IReadOnlyList<ChoiceExample> examples, string filePath, ITextTokenizer tokenizer, int maxLength)
    {
        if (examples.Count == 0) throw new DatasetException(filePath, (int?)null, "no examples");
        int choices = examples[0].Choices.Count;
        var rows = new List<IReadOnlyList<EncodedRow>>(examples.Count);
        var labels = new int[examples.Count];
        var truncation = new TruncationCounter();
        for (int i = 0; i < examples.Count; i++)
        {
            var e = examples[i];
            if (e.Choices.Count != choices)
                throw new DatasetException(filePath, e.Line, $"{e.Choices.Count} choices, but the first example has {choices}: every example needs the same number");
            var perChoice = new List<EncodedRow>(choices);
            foreach (var choice in e.Choices)
            {
                string second = string.IsNullOrWhiteSpace(e.Question) ? choice : e.Question + " " + choice;
                var enc = tokenizer.Encode(e.Context, second, maxLength);
                truncation.Add(enc.NumTruncated > 0);
                perChoice.Add(new EncodedRow(enc.InputIds, enc.TokenTypeIds ?? new int[enc.InputIds.Length]));
            }
            rows.Add(perChoice);
            labels[i] = e.Label ?? Model.Losses.IgnoreIndex;
        }
        return new ChoiceFeatures { Examples = rows, Labels = labels, Choices = choices, Truncation = truncation };
    }
}
