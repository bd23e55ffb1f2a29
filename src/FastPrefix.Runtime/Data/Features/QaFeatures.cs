using FastPrefix.Data.Datasets;
using FastPrefix.Data.Tokenization;
using FastPrefix.Metrics;

namespace FastPrefix.Data.Features;

/// <summary>One doc-stride window of a SQuAD example.</summary>
public sealed record QaWindowFeature(int Example, EncodedRow Row, (int Start, int End)[] Offsets, bool[] IsContext, int StartPosition, int EndPosition);

/// <summary>
/// SQuAD examples as doc-stride windows: [CLS] question [SEP] context-window [SEP] (RoBERTa: &lt;s&gt; q &lt;/s&gt;&lt;/s&gt; c &lt;/s&gt;),
/// windows overlapping by <c>stride</c> tokens, as Hugging Face's run_qa prepares them. Training targets are the
/// answer's first and last token when the answer lies inside the window, else the [CLS] position 0.
/// </summary>
public sealed class QaFeatures
{
    public const int DefaultMaxLength = 384, DefaultStride = 128, MaxQuestionTokens = 64;

    public required IReadOnlyList<QaExample> Examples { get; init; }
    public required IReadOnlyList<QaWindowFeature> Windows { get; init; }
    public required int TruncatedQuestions { get; init; }
    /// <summary>Overlap of consecutive windows in tokens (the one asked for, or <see cref="AutoStride"/>).</summary>
    public required int Stride { get; init; }
    /// <summary>Questions are cut to this many tokens: <see cref="MaxQuestionTokens"/>, or half a short window.</summary>
    public required int MaxQuestionLength { get; init; }

    /// <summary>Questions keep at most 64 tokens, and at most half of a window's non-special tokens, so every window holds context.</summary>
    public static int QuestionLimit(int maxLength, int specials) => Math.Min(MaxQuestionTokens, (maxLength - specials) / 2);

    /// <summary>
    /// The stride when none is given: half the context tokens every window is sure to hold, at most 128 (the Hugging Face
    /// default, which is what a 384-token window gets).
    /// </summary>
    public static int AutoStride(int maxLength, int specials) => Math.Min(DefaultStride, (maxLength - specials - QuestionLimit(maxLength, specials)) / 2);

    public static QaFeatures Build(IReadOnlyList<QaExample> examples, ITextTokenizer tokenizer, int maxLength = DefaultMaxLength, int? docStride = null)
    {
        int specials = tokenizer.SpecialTokensCount(pair: true);
        if (maxLength < specials + 8) throw new ArgumentException($"--max-seq-length {maxLength} is too short for question answering (at least {specials + 8})");
        int maxQuestion = QuestionLimit(maxLength, specials);
        int stride = docStride ?? AutoStride(maxLength, specials);
        if (stride < 0) throw new ArgumentException($"--doc-stride must be >= 0, got {stride}");
        var windows = new List<QaWindowFeature>();
        int truncatedQuestions = 0;
        for (int ex = 0; ex < examples.Count; ex++)
        {
            var e = examples[ex];
            var (qIds, _) = Content(tokenizer.Encode(e.Question));
            if (qIds.Length > maxQuestion) { qIds = qIds[..maxQuestion]; truncatedQuestions++; }
            var (cIds, cpOffsets) = Content(tokenizer.Encode(e.Context));
            var cOffsets = TextOffsets.ToUtf16(e.Context, cpOffsets); // answers and contexts are indexed in UTF-16
            int budget = maxLength - specials - qIds.Length;
            if (stride >= budget)
                throw new ArgumentException($"--doc-stride {stride} must be smaller than the {budget} context tokens a window holds for question {DatasetFiles.Quote(e.Id)} " +
                                            $"(--max-seq-length {maxLength} minus {qIds.Length} question and {specials} special tokens); leave --doc-stride unset to have one chosen");
            for (int start = 0; ; start += budget - stride)
            {
                int len = Math.Min(budget, cIds.Length - start);
                windows.Add(MakeWindow(tokenizer, ex, e, qIds, cIds, cOffsets, start, Math.Max(0, len)));
                if (start + len >= cIds.Length) break;
            }
        }
        return new QaFeatures { Examples = examples, Windows = windows, TruncatedQuestions = truncatedQuestions, Stride = stride, MaxQuestionLength = maxQuestion };
    }

    static (int[] Ids, (int Start, int End)[] Offsets) Content(TokenizedText enc)
    {
        var keep = Enumerable.Range(0, enc.InputIds.Length).Where(i => enc.SequenceIds[i] != null).ToArray();
        return (keep.Select(i => enc.InputIds[i]).ToArray(), keep.Select(i => enc.Offsets[i]).ToArray());
    }

    static QaWindowFeature MakeWindow(ITextTokenizer tok, int exIndex, QaExample e, int[] q, int[] c, (int Start, int End)[] cOffsets, int start, int len)
    {
        bool bert = tok.Kind == "wordpiece";
        var ids = new List<int> { tok.ClsId }; ids.AddRange(q); ids.Add(tok.SepId);
        if (!bert) ids.Add(tok.SepId);
        int contextStart = ids.Count;
        ids.AddRange(c.AsSpan(start, len).ToArray()); ids.Add(tok.SepId);
        int n = ids.Count;
        var types = new int[n];
        if (bert) for (int i = contextStart; i < n; i++) types[i] = 1;
        var offsets = new (int, int)[n]; var isContext = new bool[n];
        for (int i = 0; i < len; i++) { offsets[contextStart + i] = cOffsets[start + i]; isContext[contextStart + i] = true; }

        int sp = 0, ep = 0;
        if (!e.IsImpossible && e.Answers.Count > 0 && len > 0)
        {
            int aStart = e.Answers[0].Start, aEnd = aStart + e.Answers[0].Text.Length;
            int first = contextStart, last = contextStart + len - 1;
            if (offsets[first].Item1 <= aStart && offsets[last].Item2 >= aEnd)
            {
                sp = first; while (sp <= last && offsets[sp].Item2 <= aStart) sp++;
                ep = last; while (ep >= first && offsets[ep].Item1 >= aEnd) ep--;
                if (sp > ep) { sp = 0; ep = 0; }
            }
        }
        return new QaWindowFeature(exIndex, new EncodedRow(ids.ToArray(), types), offsets, isContext, sp, ep);
    }

    /// <summary>The post-processing input for one window from its logits (rows of the window's own length).</summary>
    public static QaWindow ToWindow(QaWindowFeature w, float[] start, float[] end) => new(start, end, w.Offsets, w.IsContext);
}
