namespace FastPrefix.Metrics;

/// <summary>
/// One doc-stride window (feature) of an extractive-QA example, as the model scored it.
/// All four arrays have one entry per token of the window. <paramref name="Offsets"/> are
/// character offsets [Start, End) into the example's context; they are only read where
/// <paramref name="IsContext"/> is true (false for question, special and padding tokens).
/// Token 0 is the [CLS]/&lt;s&gt; token whose start + end logit is the window's "no answer" score.
/// </summary>
public sealed record QaWindow(float[] StartLogits, float[] EndLogits, (int Start, int End)[] Offsets, bool[] IsContext);

/// <summary>
/// The chosen answer of an example: the text and its character span [Start, End) in the context,
/// its score (start logit + end logit), and whether it is the "no answer" prediction (Text "", Start = End = 0).
/// </summary>
public sealed record QaPrediction(string Text, int Start, int End, double Score, bool IsNull);

/// <summary>
/// The standard SQuAD post-processing of Hugging Face's run_qa (postprocess_qa_predictions),
/// independent of any tokenizer.
/// </summary>
public static class QaPostProcessing
{
    /// <summary>
    /// Picks the answer of one example from the logits of all its windows. In every window the
    /// <paramref name="nBest"/> highest start and end logits are paired; a pair is a candidate when
    /// both tokens are context tokens, end ≥ start and it spans at most <paramref name="maxAnswerLength"/>
    /// tokens; its score is start logit + end logit. The null score is the smallest
    /// StartLogits[0] + EndLogits[0] over the windows. Without <paramref name="versionTwo"/> the best
    /// candidate wins (a null prediction only when there is no candidate at all). With it, among the
    /// <paramref name="nBest"/> best of the candidates and the null prediction, the best non-null
    /// candidate with non-empty text wins unless null score − its score &gt; <paramref name="nullThreshold"/>.
    /// Ties keep window order, then the order of the start and end indexes (higher logit, then lower index, first).
    /// </summary>
    public static QaPrediction Best(string context, IReadOnlyList<QaWindow> windows, int nBest = 20, int maxAnswerLength = 30,
        bool versionTwo = false, double nullThreshold = 0.0)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(windows);
        if (windows.Count == 0) throw new ArgumentException("windows is empty (expected at least one window per example).", nameof(windows));
        if (nBest < 1) throw new ArgumentOutOfRangeException(nameof(nBest), nBest, "nBest must be at least 1.");
        if (maxAnswerLength < 1) throw new ArgumentOutOfRangeException(nameof(maxAnswerLength), maxAnswerLength, "maxAnswerLength must be at least 1.");

        double nullScore = double.PositiveInfinity;
        var candidates = new List<QaPrediction>();
        for (int w = 0; w < windows.Count; w++)
        {
            var win = Validate(windows[w], w, context.Length);
            double windowNull = (double)win.StartLogits[0] + win.EndLogits[0];
            if (windowNull < nullScore) nullScore = windowNull;

            var starts = TopIndexes(win.StartLogits, nBest);
            var ends = TopIndexes(win.EndLogits, nBest);
            foreach (int s in starts)
            {
                foreach (int e in ends)
                {
                    if (!win.IsContext[s] || !win.IsContext[e]) continue;
                    if (e < s || e - s + 1 > maxAnswerLength) continue;
                    int startChar = win.Offsets[s].Start, endChar = win.Offsets[e].End;
                    if (endChar < startChar) continue; // offsets out of order: no span
                    candidates.Add(new QaPrediction(context[startChar..endChar], startChar, endChar,
                        (double)win.StartLogits[s] + win.EndLogits[e], IsNull: false));
                }
            }
        }

        var nullPrediction = new QaPrediction("", 0, 0, nullScore, IsNull: true);
        if (versionTwo) candidates.Add(nullPrediction);
        // Stable sort, best first, like Python's sorted(..., reverse=True); keep the n best.
        var top = candidates.OrderByDescending(c => c.Score).Take(nBest).ToList();

        if (!versionTwo) return top.Count > 0 ? top[0] : nullPrediction;

        var bestNonNull = top.FirstOrDefault(c => !c.IsNull && c.Text.Length > 0);
        if (bestNonNull is null) return nullPrediction;
        double scoreDiff = nullScore - bestNonNull.Score;
        return scoreDiff > nullThreshold ? nullPrediction : bestNonNull;
    }

    static QaWindow Validate(QaWindow? win, int w, int contextLength)
    {
        if (win is null) throw new ArgumentException($"windows[{w}] is null.", "windows");
        if (win.StartLogits is null || win.EndLogits is null || win.Offsets is null || win.IsContext is null)
            throw new ArgumentException($"windows[{w}] has a null array (expected StartLogits, EndLogits, Offsets, IsContext).", "windows");
        int n = win.StartLogits.Length;
        if (n == 0) throw new ArgumentException($"windows[{w}] has no tokens (expected at least the [CLS] token).", "windows");
        if (win.EndLogits.Length != n || win.Offsets.Length != n || win.IsContext.Length != n)
            throw new ArgumentException(
                $"windows[{w}]: StartLogits has {n} entries, EndLogits {win.EndLogits.Length}, Offsets {win.Offsets.Length}, " +
                $"IsContext {win.IsContext.Length} (expected one entry per token in each).", "windows");
        for (int t = 0; t < n; t++)
        {
            if (!float.IsFinite(win.StartLogits[t]) || !float.IsFinite(win.EndLogits[t]))
                throw new ArgumentException($"windows[{w}]: logit of token {t} is not finite (start {win.StartLogits[t]}, end {win.EndLogits[t]}).", "windows");
            if (!win.IsContext[t]) continue;
            var (a, b) = win.Offsets[t];
            if (a < 0 || b < a || b > contextLength)
                throw new ArgumentException(
                    $"windows[{w}]: offsets of context token {t} are ({a}, {b}) (expected 0 ≤ start ≤ end ≤ {contextLength}, the context length).", "windows");
        }
        return win;
    }

    // Indexes of the k largest values, largest first; equal values by lower index first.
    static int[] TopIndexes(float[] values, int k)
    {
        var idx = new int[values.Length];
        for (int i = 0; i < idx.Length; i++) idx[i] = i;
        Array.Sort(idx, (x, y) =>
        {
            int c = values[y].CompareTo(values[x]);
            return c != 0 ? c : x.CompareTo(y);
        });
        return idx.Length <= k ? idx : idx[..k];
    }
}
