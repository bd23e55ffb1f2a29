using FastPrefix.Metrics;

namespace FastPrefix.Tests.Metrics;

public class EntityMetricsTests
{
    static IReadOnlyList<IReadOnlyList<string>> S(params string[][] sentences) => sentences;

    [Fact]
    public void Seqeval_readme_example_scores_one_half()
    {
        // gold: MISC(3..5), PER(0..1); predicted: MISC(2..5), PER(0..1) -> only PER correct: P = R = F1 = 1/2
        var gold = S(["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]);
        var pred = S(["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]);
        var s = EntityMetrics.Score(pred, gold);
        Assert.Equal(0.5, s.Precision, 12);
        Assert.Equal(0.5, s.Recall, 12);
        Assert.Equal(0.5, s.F1, 12);
        Assert.Equal((2, 2, 1), (s.PredictedEntities, s.GoldEntities, s.CorrectEntities));
        Assert.Equal((0.0, 0.0, 0.0, 1), s.PerType["MISC"]);
        Assert.Equal((1.0, 1.0, 1.0, 1), s.PerType["PER"]);
    }

    [Fact]
    public void Micro_average_over_types_with_per_type_scores()
    {
        // gold: PER(s0 0..1), LOC(s0 3), ORG(s1 0); pred: PER(s0 0..1), ORG(s0 3), ORG(s1 0)
        // correct: PER, ORG(s1) -> P = R = F1 = 2/3
        // ORG: 2 predicted, 1 correct, 1 gold -> P 1/2, R 1, F1 = 2*(1/2)/(3/2) = 2/3; LOC: nothing predicted -> 0, 0, 0
        var gold = S(["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]);
        var pred = S(["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"]);
        var s = EntityMetrics.Score(pred, gold);
        Assert.Equal(2.0 / 3, s.Precision, 12);
        Assert.Equal(2.0 / 3, s.Recall, 12);
        Assert.Equal(2.0 / 3, s.F1, 12);
        Assert.Equal(["LOC", "ORG", "PER"], s.PerType.Keys);
        Assert.Equal((0.0, 0.0, 0.0, 1), s.PerType["LOC"]);
        var org = s.PerType["ORG"];
        Assert.Equal(0.5, org.P, 12);
        Assert.Equal(1.0, org.R, 12);
        Assert.Equal(2.0 / 3, org.F1, 12);
        Assert.Equal(1, org.Support);
    }

    [Fact]
    public void Entities_do_not_cross_sentence_boundaries()
    {
        // seqeval joins sentences with an 'O': I-PER opening sentence 2 starts a new chunk
        var tags = S(["B-PER"], ["I-PER"]);
        var s = EntityMetrics.Score(tags, tags);
        Assert.Equal(2, s.GoldEntities);
        Assert.Equal(1.0, s.F1);
    }

    [Fact]
    public void No_predicted_entities_scores_zero_not_nan()
    {
        var s = EntityMetrics.Score(S(["O", "O"]), S(["B-LOC", "O"]));
        Assert.Equal((0.0, 0.0, 0.0), (s.Precision, s.Recall, s.F1));
        Assert.Equal(0, s.PredictedEntities);
    }

    public static TheoryData<string[], (string, int, int)[]> Chunks => new()
    {
        // seqeval docstring: get_entities(['B-PER','I-PER','O','B-LOC']) -> [('PER',0,1), ('LOC',3,3)]
        { ["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 1), ("LOC", 3, 3)] },
        // IOB1 / lenient: I- after O starts a chunk
        { ["I-PER", "I-PER", "O", "I-LOC"], [("PER", 0, 1), ("LOC", 3, 3)] },
        // a type change ends the chunk and starts another, even with I-
        { ["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 0), ("LOC", 1, 2)] },
        // B after B: two chunks
        { ["B-PER", "B-PER"], [("PER", 0, 0), ("PER", 1, 1)] },
        // IOBES
        { ["S-PER", "B-LOC", "I-LOC", "E-LOC", "O"], [("PER", 0, 0), ("LOC", 1, 3)] },
        // B E then I: E ends (0..1); I after E starts (2..2), closed by the sentinel O
        { ["B-PER", "E-PER", "I-PER"], [("PER", 0, 1), ("PER", 2, 2)] },
        // E after O starts, E after E ends and starts
        { ["E-PER", "E-PER"], [("PER", 0, 0), ("PER", 1, 1)] },
        // tags without a type get type "_"; the type is everything after the first '-'
        { ["B", "I", "O", "B-ORG-X"], [("_", 0, 1), ("ORG-X", 3, 3)] },
    };

    [Theory]
    [MemberData(nameof(Chunks))]
    public void GetEntities_follows_seqeval_chunking(string[] tags, (string, int, int)[] expected)
    {
        Assert.Equal(expected, EntityMetrics.GetEntities(tags).Select(e => (e.Type, e.Start, e.End)));
    }

    [Fact]
    public void Mismatched_sentences_and_bad_tags_are_rejected_with_their_position()
    {
        var ex = Assert.Throws<ArgumentException>(() => EntityMetrics.Score(S(["O"], ["O", "O"]), S(["O"], ["O"])));
        Assert.Contains("sentence 1", ex.Message);
        Assert.Throws<ArgumentException>(() => EntityMetrics.Score(S(["O"]), S(["O"], ["O"])));
        Assert.Throws<ArgumentException>(() => EntityMetrics.Score(S(), S()));
        var empty = Assert.Throws<ArgumentException>(() => EntityMetrics.Score(S(["O", ""]), S(["O", "O"])));
        Assert.Contains("predictedTags[0][1]", empty.Message);
    }
}
