using FastPrefix.Metrics;

namespace FastPrefix.Tests.Metrics;

public class ClassificationMetricsTests
{
    [Fact]
    public void Accuracy_counts_equal_positions()
    {
        // positions 0, 1, 3 agree: 3 / 5
        Assert.Equal(0.6, ClassificationMetrics.Accuracy([0, 1, 1, 0, 2], [0, 1, 0, 0, 1]), 12);
        Assert.Equal(0.6, ChoiceMetrics.Accuracy([0, 1, 1, 0, 2], [0, 1, 0, 0, 1]), 12);
    }

    [Theory]
    // pred [1,1,1,1,0,0] gold [1,0,0,1,1,0]
    // positive 1: tp {0,3} = 2, fp {1,2} = 2, fn {4} = 1 -> 2*2 / (4 + 2 + 1) = 4/7
    [InlineData(1, 4.0 / 7)]
    // positive 0: tp {5} = 1, fp {4} = 1, fn {1,2} = 2 -> 2 / (2 + 1 + 2) = 2/5
    [InlineData(0, 2.0 / 5)]
    public void BinaryF1_of_the_positive_class(int positive, double expected)
    {
        Assert.Equal(expected, ClassificationMetrics.BinaryF1([1, 1, 1, 1, 0, 0], [1, 0, 0, 1, 1, 0], positive), 12);
    }

    [Fact]
    public void BinaryF1_is_zero_without_true_positives()
    {
        // sklearn zero_division=0: no positive predicted and none gold -> 0, not NaN
        Assert.Equal(0.0, ClassificationMetrics.BinaryF1([0, 0], [0, 0]));
    }

    [Fact]
    public void MacroF1_matches_sklearn_doc_example_and_counts_absent_classes_as_zero()
    {
        // sklearn f1_score docs: y_true [0,1,2,0,1,2], y_pred [0,2,1,0,0,1], macro = 0.2666...
        // class 0: tp 2, fp 1 (pos 4), fn 0 -> 4/5; classes 1 and 2: tp 0 -> 0.  0.8 / 3
        int[] gold = [0, 1, 2, 0, 1, 2], pred = [0, 2, 1, 0, 0, 1];
        Assert.Equal(0.8 / 3, ClassificationMetrics.MacroF1(pred, gold, 3), 12);
        // labels=range(4): class 3 has no support and no prediction -> F1 0, still averaged: 0.8 / 4
        Assert.Equal(0.2, ClassificationMetrics.MacroF1(pred, gold, 4), 12);
    }

    [Fact]
    public void MacroF1_rejects_labels_outside_the_class_range()
    {
        var ex = Assert.Throws<ArgumentException>(() => ClassificationMetrics.MacroF1([0, 3], [0, 1], 2));
        Assert.Contains("predicted[1] = 3", ex.Message);
    }

    [Fact]
    public void Mcc_matches_sklearn_binary_doc_example()
    {
        // sklearn matthews_corrcoef([+1,+1,+1,-1], [+1,-1,+1,+1]) = -0.333...
        // s 4, c 2, t = p = {1:3, -1:1}: cov_tp = 2*4 - (9+1) = -2, cov_pp = cov_tt = 16 - 10 = 6 -> -2/6
        Assert.Equal(-1.0 / 3, ClassificationMetrics.MatthewsCorrelation([1, -1, 1, 1], [1, 1, 1, -1]), 12);
    }

    [Fact]
    public void Mcc_binary_agrees_with_the_confusion_matrix_formula()
    {
        // gold [1,1,0,0,1] pred [1,0,0,1,1]: TP 2, TN 1, FP 1, FN 1
        // (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2 - 1) / sqrt(3*3*2*2) = 1/6
        Assert.Equal(1.0 / 6, ClassificationMetrics.MatthewsCorrelation([1, 0, 0, 1, 1], [1, 1, 0, 0, 1]), 12);
    }

    [Fact]
    public void Mcc_multiclass_uses_the_covariance_form()
    {
        // gold [0,0,1,1,2,2], pred [0,0,1,2,2,2]: s 6, c 5; t = (2,2,2), p = (2,1,3)
        // cov_tp = 5*6 - (4+2+6) = 18; cov_pp = 36 - (4+1+9) = 22; cov_tt = 36 - 12 = 24 -> 18 / sqrt(528)
        Assert.Equal(18 / Math.Sqrt(528), ClassificationMetrics.MatthewsCorrelation([0, 0, 1, 2, 2, 2], [0, 0, 1, 1, 2, 2]), 12);
        Assert.Equal(1.0, ClassificationMetrics.MatthewsCorrelation([2, 0, 1], [2, 0, 1]), 12);
    }

    [Fact]
    public void Mcc_is_zero_when_undefined()
    {
        // a constant prediction: s^2 - sum p^2 = 9 - 9 = 0
        Assert.Equal(0.0, ClassificationMetrics.MatthewsCorrelation([1, 1, 1], [0, 1, 0]));
    }

    [Fact]
    public void Different_lengths_and_empty_inputs_are_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => ClassificationMetrics.Accuracy([0, 1, 2], [0, 1]));
        Assert.Contains("3", ex.Message);
        Assert.Contains("2", ex.Message);
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.MatthewsCorrelation([], []));
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.BinaryF1([1], []));
        Assert.Throws<ArgumentException>(() => ChoiceMetrics.Accuracy([], []));
    }
}
