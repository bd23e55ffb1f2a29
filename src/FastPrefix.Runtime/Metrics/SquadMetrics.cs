using System.Text;
using System.Text.RegularExpressions;

namespace FastPrefix.Metrics;

/// <summary>
/// Exact match and token F1 of the official SQuAD evaluation scripts (v1.1 and v2.0). Answers are
/// normalised (lower case, ASCII punctuation removed, the articles a/an/the removed, whitespace
/// collapsed) and a prediction is scored against every gold answer, keeping the best. As in the
/// v2.0 script, gold answers that normalise to nothing are dropped and a question left without gold
/// answers has the single gold answer "" — only a prediction that normalises to nothing scores 1 on it.
/// For questions with non-empty gold answers the v1.1 and v2.0 scripts agree.
/// </summary>
public static partial class SquadMetrics
{
    // Python's string.punctuation.
    const string Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    [GeneratedRegex(@"\b(a|an|the)\b", RegexOptions.CultureInvariant)]
    private static partial Regex Articles();

    /// <summary>The official normalize_answer: lower, remove punctuation, remove articles, fix whitespace.</summary>
    public static string NormalizeAnswer(string s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var sb = new StringBuilder(s.Length);
        foreach (char c in s.ToLowerInvariant())
            if (Punctuation.IndexOf(c) < 0) sb.Append(c);
        var noArticles = Articles().Replace(sb.ToString(), " ");
        return string.Join(' ', Tokens(noArticles));
    }

    /// <summary>1 when the normalised prediction equals some normalised gold answer, else 0.</summary>
    public static double ExactMatch(string prediction, IEnumerable<string> golds)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        var p = NormalizeAnswer(prediction);
        foreach (var g in GoldAnswers(golds))
            if (p == g) return 1.0;
        return 0.0;
    }

    /// <summary>Best bag-of-tokens F1 of the normalised prediction against the normalised gold answers.</summary>
    public static double F1(string prediction, IEnumerable<string> golds)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        var predTokens = Tokens(NormalizeAnswer(prediction));
        double best = 0;
        foreach (var g in GoldAnswers(golds))
            best = Math.Max(best, TokenF1(predTokens, Tokens(g)));
        return best;
    }

    /// <summary>
    /// Exact match and F1 averaged over questions, as percentages (0–100) like the official script.
    /// <paramref name="golds"/>[i] holds the gold answer texts of question i (empty for an unanswerable one).
    /// </summary>
    public static (double ExactMatch, double F1) Score(IReadOnlyList<string> predictions, IReadOnlyList<IReadOnlyList<string>> golds)
    {
        MetricChecks.SameLengthNonEmpty(predictions, golds, "predictions", "golds");
        double em = 0, f1 = 0;
        for (int i = 0; i < predictions.Count; i++)
        {
            var p = predictions[i] ?? throw new ArgumentException($"predictions[{i}] is null (expected a string, \"\" for no answer).", nameof(predictions));
            var g = golds[i] ?? throw new ArgumentException($"golds[{i}] is null (expected a list of answer texts, empty for an unanswerable question).", nameof(golds));
            em += ExactMatch(p, g);
            f1 += F1(p, g);
        }
        return (100.0 * em / predictions.Count, 100.0 * f1 / predictions.Count);
    }

    // Normalised gold answers, those that normalise to "" dropped; [""] when none is left.
    static List<string> GoldAnswers(IEnumerable<string> golds)
    {
        ArgumentNullException.ThrowIfNull(golds);
        var list = new List<string>();
        foreach (var g in golds)
        {
            if (g is null) throw new ArgumentException("golds contains null (expected answer texts).", nameof(golds));
            var n = NormalizeAnswer(g);
            if (n.Length > 0) list.Add(n);
        }
        if (list.Count == 0) list.Add("");
        return list;
    }

    // v2.0 compute_f1 on normalised token lists: when either side is empty, 1 if both are, else 0.
    static double TokenF1(string[] pred, string[] gold)
    {
        if (pred.Length == 0 || gold.Length == 0) return pred.Length == gold.Length ? 1.0 : 0.0;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in gold) counts[t] = counts.GetValueOrDefault(t) + 1;
        int same = 0;
        foreach (var t in pred)
            if (counts.TryGetValue(t, out int c) && c > 0) { counts[t] = c - 1; same++; }
        if (same == 0) return 0.0;
        double precision = (double)same / pred.Length;
        double recall = (double)same / gold.Length;
        return 2 * precision * recall / (precision + recall);
    }

    // Python's str.split(): runs of whitespace (str.isspace, which also counts U+001C–U+001F).
    static string[] Tokens(string s)
    {
        var tokens = new List<string>();
        int i = 0;
        while (i < s.Length)
        {
            while (i < s.Length && IsSpace(s[i])) i++;
            int start = i;
            while (i < s.Length && !IsSpace(s[i])) i++;
            if (i > start) tokens.Add(s[start..i]);
        }
        return tokens.ToArray();
    }

    static bool IsSpace(char c) => char.IsWhiteSpace(c) || (c >= '\u001C' && c <= '\u001F');
}
