using FastPrefix.Metrics;

namespace FastPrefix.Tests.Metrics;

public class SquadMetricsTests
{
    [Theory]
    // lower -> "the  quick, brown fox!"; punctuation -> "the  quick brown fox"; article -> "   quick brown fox"; whitespace
    [InlineData("The  Quick, brown fox!", "quick brown fox")]
    [InlineData("An apple a day", "apple day")]
    // articles only as whole words
    [InlineData("Theory of anthems", "theory of anthems")]
    // punctuation is removed before articles, so "a-b" becomes the word "ab"
    [InlineData("a-b (the) A.", "ab")]
    [InlineData("Anne's\t\n 1,000 ", "annes 1000")]
    [InlineData("the", "")]
    public void NormalizeAnswer_follows_the_official_script(string input, string expected)
    {
        Assert.Equal(expected, SquadMetrics.NormalizeAnswer(input));
    }

    [Fact]
    public void ExactMatch_takes_the_best_gold()
    {
        Assert.Equal(1.0, SquadMetrics.ExactMatch("the Eiffel Tower.", ["Paris", "Eiffel Tower"]));
        Assert.Equal(0.0, SquadMetrics.ExactMatch("Paris, France", ["Paris"]));
    }

    [Fact]
    public void F1_counts_common_tokens_and_takes_the_best_gold()
    {
        // [paris, france] vs [paris]: 1 common, P 1/2, R 1 -> 2/3
        Assert.Equal(2.0 / 3, SquadMetrics.F1("Paris France", ["Paris"]), 12);
        // vs [red, dog]: 2 common, P 2/3, R 1 -> 0.8; vs [big, dog, barked]: P = R = 2/3 -> 2/3; best 0.8
        Assert.Equal(0.8, SquadMetrics.F1("big red dog", ["red dog", "the big dog barked"]), 12);
        // multiset intersection: [x,x,y] & [x,y,y] = {x:1, y:1} -> 2 common, P = R = 2/3
        Assert.Equal(2.0 / 3, SquadMetrics.F1("x x y", ["x y y"]), 12);
        Assert.Equal(0.0, SquadMetrics.F1("cat", ["dog"]));
    }

    [Fact]
    public void Unanswerable_questions_score_one_only_for_an_empty_prediction()
    {
        // v2.0: no gold answers -> gold [""]; EM and F1 are 1 only when the prediction normalises to nothing
        Assert.Equal(1.0, SquadMetrics.ExactMatch("", []));
        Assert.Equal(1.0, SquadMetrics.F1("", []));
        Assert.Equal(1.0, SquadMetrics.F1("The", []));
        Assert.Equal(0.0, SquadMetrics.ExactMatch("Paris", []));
        Assert.Equal(0.0, SquadMetrics.F1("Paris", []));
        // gold answers that normalise to "" are dropped (v2.0 script)
        Assert.Equal(1.0, SquadMetrics.ExactMatch("", ["a", " . "]));
        // an empty prediction for an answerable question scores 0
        Assert.Equal(0.0, SquadMetrics.F1("", ["Paris"]));
    }

    [Fact]
    public void Score_averages_as_percentages()
    {
        // EM: 1, 0, 1 -> 200/3 %; F1: 1, 2/3, 1 -> (8/3)/3 * 100 %
        var (em, f1) = SquadMetrics.Score(
            ["Eiffel Tower", "Paris France", ""],
            [["the Eiffel Tower"], ["Paris"], []]);
        Assert.Equal(200.0 / 3, em, 9);
        Assert.Equal(800.0 / 9, f1, 9);
    }

    [Fact]
    public void Score_rejects_different_lengths_and_empty_input()
    {
        var ex = Assert.Throws<ArgumentException>(() => SquadMetrics.Score(["a", "b"], [["a"]]));
        Assert.Contains("predictions has 2", ex.Message);
        Assert.Throws<ArgumentException>(() => SquadMetrics.Score([], []));
    }
}
