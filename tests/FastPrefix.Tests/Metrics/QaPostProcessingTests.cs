using FastPrefix.Metrics;

namespace FastPrefix.Tests.Metrics;

public class QaPostProcessingTests
{
    //                   0         1         2
    //                   0123456789012345678901 2
    const string Context = "The cat sat on the mat.";

    // [CLS] where [SEP] The cat sat on the mat . [SEP]
    //   0     1     2    3   4   5   6   7   8  9   10
    static readonly (int, int)[] Offsets =
        [(0, 0), (0, 0), (0, 0), (0, 3), (4, 7), (8, 11), (12, 14), (15, 18), (19, 22), (22, 23), (0, 0)];
    static readonly bool[] IsContext = [false, false, false, true, true, true, true, true, true, true, false];

    static QaWindow Window(Dictionary<int, float> start, Dictionary<int, float> end)
    {
        var s = new float[Offsets.Length];
        var e = new float[Offsets.Length];
        foreach (var (i, v) in start) s[i] = v;
        foreach (var (i, v) in end) e[i] = v;
        return new QaWindow(s, e, Offsets, IsContext);
    }

    [Fact]
    public void Best_span_skips_question_tokens()
    {
        // the question token 1 has the highest logits (9 + 8) but is not context;
        // best valid pair: start 8 (5) + end 8 (4) = 9 -> "mat" [19, 22)
        // (start 7 + end 8 = 7, start 8 + end 9 = 7, start 3 + end 8 = 4 ... all lower)
        var w = Window(new() { [1] = 9, [7] = 3, [8] = 5 }, new() { [1] = 8, [8] = 4, [9] = 2 });
        var p = QaPostProcessing.Best(Context, [w]);
        Assert.Equal(new QaPrediction("mat", 19, 22, 9, false), p);
    }

    [Fact]
    public void Spans_ending_before_they_start_are_skipped()
    {
        // start 8 (10) + end 4 (10) = 20 is invalid; start 8 + end 8 = 10 + 2 = 12 beats start 4 + end 4 = 1 + 10 = 11
        var w = Window(new() { [8] = 10, [4] = 1 }, new() { [4] = 10, [8] = 2 });
        Assert.Equal("mat", QaPostProcessing.Best(Context, [w]).Text);
    }

    [Fact]
    public void Max_answer_length_limits_the_span_in_tokens()
    {
        // start 3 (10) + end 9 (10) = 20 spans tokens 3..9 = 7 tokens: "The cat sat on the mat."
        // with maxAnswerLength 3 the best is start 3 + end 5 (2) = 12: tokens 3..5 "The cat sat"
        var w = Window(new() { [3] = 10, [5] = 1 }, new() { [9] = 10, [5] = 2 });
        Assert.Equal(new QaPrediction("The cat sat on the mat.", 0, 23, 20, false), QaPostProcessing.Best(Context, [w]));
        Assert.Equal(new QaPrediction("The cat sat", 0, 11, 12, false), QaPostProcessing.Best(Context, [w], maxAnswerLength: 3));
    }

    [Fact]
    public void Only_the_n_best_start_and_end_indexes_are_paired()
    {
        // nBest 1: the only start and end considered are token 1 (question) -> no candidate -> null prediction
        var w = Window(new() { [1] = 9, [8] = 5 }, new() { [1] = 8, [8] = 4 });
        var p = QaPostProcessing.Best(Context, [w], nBest: 1);
        Assert.True(p.IsNull);
        Assert.Equal("", p.Text);
        // nBest 2 reaches token 8
        Assert.Equal("mat", QaPostProcessing.Best(Context, [w], nBest: 2).Text);
    }

    [Fact]
    public void Best_over_several_windows_and_null_score_is_the_minimum()
    {
        // window A: "cat" 3 + 3 = 6, CLS 1 + 1 = 2; window B: "mat" 4 + 5 = 9, CLS 0.5 + 0.5 = 1
        var a = Window(new() { [0] = 1, [4] = 3 }, new() { [0] = 1, [4] = 3 });
        var b = Window(new() { [0] = 0.5f, [8] = 4 }, new() { [0] = 0.5f, [8] = 5 });
        Assert.Equal(new QaPrediction("mat", 19, 22, 9, false), QaPostProcessing.Best(Context, [a, b]));
        // v2: null score = min(2, 1) = 1; best 9; diff 1 - 9 < 0 -> answer
        Assert.Equal("mat", QaPostProcessing.Best(Context, [a, b], versionTwo: true).Text);
    }

    [Fact]
    public void Version_two_predicts_null_when_null_score_beats_the_best_span_plus_threshold()
    {
        // CLS 3 + 3 = 6; best span "mat" 3 + 2 = 5; diff 6 - 5 = 1
        var w = Window(new() { [0] = 3, [8] = 3 }, new() { [0] = 3, [8] = 2 });
        Assert.Equal(new QaPrediction("", 0, 0, 6, true), QaPostProcessing.Best(Context, [w], versionTwo: true));
        // threshold 1.5: 1 > 1.5 is false -> "mat"
        Assert.Equal("mat", QaPostProcessing.Best(Context, [w], versionTwo: true, nullThreshold: 1.5).Text);
        // v1 never predicts null when there is a span
        Assert.Equal("mat", QaPostProcessing.Best(Context, [w]).Text);
    }

    [Fact]
    public void Version_two_uses_the_smallest_window_null_score()
    {
        // window A CLS 6, window B CLS 2 (minimum), span "mat" 5 in window A: diff 2 - 5 = -3 -> answer.
        // (With the largest null score, 6 - 5 = 1 > 0 would give null.)
        var a = Window(new() { [0] = 3, [8] = 3 }, new() { [0] = 3, [8] = 2 });
        var b = Window(new() { [0] = 1 }, new() { [0] = 1 });
        Assert.Equal("mat", QaPostProcessing.Best(Context, [a, b], versionTwo: true).Text);
    }

    [Fact]
    public void Malformed_windows_are_rejected_with_their_index()
    {
        var good = Window(new() { [8] = 1 }, new() { [8] = 1 });
        var shortEnd = good with { EndLogits = new float[3] };
        var ex = Assert.Throws<ArgumentException>(() => QaPostProcessing.Best(Context, [good, shortEnd]));
        Assert.Contains("windows[1]", ex.Message);
        var offsets = ((int, int)[])Offsets.Clone();
        offsets[9] = (22, 40);
        var beyond = Assert.Throws<ArgumentException>(() => QaPostProcessing.Best(Context, [good with { Offsets = offsets }]));
        Assert.Contains("token 9", beyond.Message);
        Assert.Throws<ArgumentException>(() => QaPostProcessing.Best(Context, []));
    }
}
