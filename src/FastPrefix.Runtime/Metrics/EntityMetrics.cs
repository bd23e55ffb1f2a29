namespace FastPrefix.Metrics;

/// <summary>
/// Entity-level scores, micro-averaged over all entities of all sentences (seqeval's default mode).
/// <see cref="PerType"/> holds, for every entity type seen in the gold or the predicted tags
/// (ordinal order), precision, recall, F1 and the number of gold entities of that type.
/// </summary>
public sealed record EntityScores(
    double Precision, double Recall, double F1,
    int PredictedEntities, int GoldEntities, int CorrectEntities,
    IReadOnlyDictionary<string, (double P, double R, double F1, int Support)> PerType);

/// <summary>
/// Entity F1 with the semantics of seqeval's default (conlleval-compatible) mode: chunks are
/// read leniently from IOB1/IOB2/IOE/IOBES tags (an I- after O or after another type starts a
/// chunk; E- and S- are understood), an entity is correct when its type, first and last word
/// match a gold entity exactly, and the scores are micro-averaged with 0 for an empty denominator.
/// </summary>
public static class EntityMetrics
{
    /// <summary>Scores <paramref name="predictedTags"/> against <paramref name="goldTags"/>, sentence by sentence.</summary>
    public static EntityScores Score(IReadOnlyList<IReadOnlyList<string>> predictedTags, IReadOnlyList<IReadOnlyList<string>> goldTags)
    {
        MetricChecks.SameLengthNonEmpty(predictedTags, goldTags, "predictedTags", "goldTags");
        var gold = new HashSet<(int Sentence, string Type, int Start, int End)>();
        var goldPerType = new Dictionary<string, int>(StringComparer.Ordinal);
        var predPerType = new Dictionary<string, int>(StringComparer.Ordinal);
        var correctPerType = new Dictionary<string, int>(StringComparer.Ordinal);
        int predictedTotal = 0, correctTotal = 0;

        for (int s = 0; s < goldTags.Count; s++)
        {
            var p = predictedTags[s] ?? throw new ArgumentException($"predictedTags[{s}] is null (expected a list of tags).", nameof(predictedTags));
            var g = goldTags[s] ?? throw new ArgumentException($"goldTags[{s}] is null (expected a list of tags).", nameof(goldTags));
            if (p.Count != g.Count)
                throw new ArgumentException(
                    $"sentence {s}: predictedTags has {p.Count} tags but goldTags has {g.Count} (expected the same length).",
                    nameof(predictedTags));
            foreach (var (type, start, end) in GetEntities(g, $"goldTags[{s}]"))
            {
                gold.Add((s, type, start, end));
                goldPerType[type] = goldPerType.GetValueOrDefault(type) + 1;
            }
        }
        for (int s = 0; s < predictedTags.Count; s++)
        {
            foreach (var (type, start, end) in GetEntities(predictedTags[s], $"predictedTags[{s}]"))
            {
                predictedTotal++;
                predPerType[type] = predPerType.GetValueOrDefault(type) + 1;
                if (gold.Contains((s, type, start, end)))
                {
                    correctTotal++;
                    correctPerType[type] = correctPerType.GetValueOrDefault(type) + 1;
                }
            }
        }

        var perType = new SortedDictionary<string, (double P, double R, double F1, int Support)>(StringComparer.Ordinal);
        foreach (var type in goldPerType.Keys.Union(predPerType.Keys))
        {
            int support = goldPerType.GetValueOrDefault(type);
            var (tp, tr, tf) = Prf(correctPerType.GetValueOrDefault(type), predPerType.GetValueOrDefault(type), support);
            perType[type] = (tp, tr, tf, support);
        }
        var (precision, recall, f1) = Prf(correctTotal, predictedTotal, gold.Count);
        return new EntityScores(precision, recall, f1, predictedTotal, gold.Count, correctTotal, perType);
    }

    /// <summary>
    /// The chunks of one tag sequence as (type, first word, last word), in order; seqeval's
    /// get_entities: the tag letter is the first character, the type what follows the first '-'
    /// ("_" when there is none), and a chunk ends / starts by conlleval's end/start-of-chunk rules.
    /// </summary>
    public static IReadOnlyList<(string Type, int Start, int End)> GetEntities(IReadOnlyList<string> tags)
        => GetEntities(tags, nameof(tags));

    static List<(string Type, int Start, int End)> GetEntities(IReadOnlyList<string> tags, string what)
    {
        ArgumentNullException.ThrowIfNull(tags, what);
        var chunks = new List<(string, int, int)>();
        char prevTag = 'O';
        string prevType = "";
        int begin = 0;
        for (int i = 0; i <= tags.Count; i++)
        {
            char tag;
            string type;
            if (i == tags.Count) { tag = 'O'; type = "_"; } // the sentinel 'O' that closes the last chunk
            else
            {
                var chunk = tags[i];
                if (string.IsNullOrEmpty(chunk))
                    throw new ArgumentException($"{what}[{i}] is {(chunk is null ? "null" : "empty")} (expected a tag such as O or B-PER).", what);
                tag = chunk[0];
                // Python: chunk[1:].split('-', maxsplit=1)[-1] or '_'
                var rest = chunk.AsSpan(1);
                int dash = rest.IndexOf('-');
                type = dash >= 0 ? rest[(dash + 1)..].ToString() : rest.ToString();
                if (type.Length == 0) type = "_";
            }
            if (EndOfChunk(prevTag, tag, prevType, type)) chunks.Add((prevType, begin, i - 1));
            if (StartOfChunk(prevTag, tag, prevType, type)) begin = i;
            prevTag = tag;
            prevType = type;
        }
        return chunks;
    }

    static bool EndOfChunk(char prevTag, char tag, string prevType, string type)
    {
        if (prevTag == 'E' || prevTag == 'S') return true;
        if ((prevTag == 'B' || prevTag == 'I') && (tag == 'B' || tag == 'S' || tag == 'O')) return true;
        return prevTag != 'O' && prevTag != '.' && !string.Equals(prevType, type, StringComparison.Ordinal);
    }

    static bool StartOfChunk(char prevTag, char tag, string prevType, string type)
    {
        if (tag == 'B' || tag == 'S') return true;
        if ((prevTag == 'E' || prevTag == 'S' || prevTag == 'O') && (tag == 'E' || tag == 'I')) return true;
        return tag != 'O' && tag != '.' && !string.Equals(prevType, type, StringComparison.Ordinal);
    }

    static (double P, double R, double F1) Prf(int correct, int predicted, int gold)
    {
        double p = predicted == 0 ? 0.0 : (double)correct / predicted;
        double r = gold == 0 ? 0.0 : (double)correct / gold;
        double f = p + r == 0 ? 0.0 : 2 * p * r / (p + r);
        return (p, r, f);
    }
}
