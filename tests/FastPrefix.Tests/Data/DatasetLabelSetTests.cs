using FastPrefix.Data.Datasets;

namespace FastPrefix.Tests.Data.Datasets;

public class DatasetLabelSetTests
{
    [Fact]
    public void Integer_labels_sort_numerically()
    {
        // ordinal order would put "10" before "2"
        Assert.Equal(["-1", "0", "2", "10"], LabelSet.Build(["2", "10", "0", "2", "-1"]));
    }

    [Fact]
    public void Other_labels_sort_ordinally_whatever_the_file_order()
    {
        Assert.Equal(["contradiction", "entailment", "neutral"], LabelSet.Build(["neutral", "entailment", "contradiction", "entailment"]));
        Assert.Equal(["false", "true"], LabelSet.Build(["true", "false"]));
        // one non-integer label makes the whole set ordinal
        Assert.Equal(["1", "10", "2", "b"], LabelSet.Build(["2", "b", "10", "1"]));
    }
}
