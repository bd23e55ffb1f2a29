using FastPrefix.Data.Datasets;

namespace FastPrefix.Tests.Data.Datasets;

public sealed class MultipleChoiceReaderTests : IDisposable
{
    readonly string dir = TestPaths.NewTempDir();
    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Write(string name, params string[] lines)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    static void FailsAt(string path, int line, string fragment)
    {
        var ex = Assert.Throws<DatasetException>(() => MultipleChoiceReader.Read(path));
        Assert.Contains($"{Path.GetFileName(path)}:{line}: ", ex.Message);
        Assert.Contains(fragment, ex.Message);
        Assert.Equal(line, ex.Line);
    }

    [Fact]
    public void Reads_copa_and_generic_records()
    {
        var path = Write("val.jsonl",
            "{\"premise\": \"The man broke his toe.\", \"choice1\": \"He dropped a hammer on his foot.\", \"choice2\": \"He got a hole in his sock.\", \"question\": \"cause\", \"label\": 0, \"idx\": 0}",
            "",
            "{\"context\": \"She opened the box.\", \"choices\": [\"a\", \"b\", \"c\", \"d\"], \"label\": \"3\"}",
            "{\"premise\": \"It rained.\", \"choice1\": \"x\", \"choice2\": \"y\", \"question\": \"effect\", \"label\": -1}");
        var ex = MultipleChoiceReader.Read(path);
        Assert.Equal(3, ex.Count);
        Assert.Equal("The man broke his toe.", ex[0].Context);
        Assert.Equal("cause", ex[0].Question);
        Assert.Equal(["He dropped a hammer on his foot.", "He got a hole in his sock."], ex[0].Choices);
        Assert.Equal((0, 1), (ex[0].Label, ex[0].Line));
        Assert.Null(ex[1].Question);
        Assert.Equal(["a", "b", "c", "d"], ex[1].Choices);
        Assert.Equal((3, 3), (ex[1].Label, ex[1].Line)); // string label "3"; the blank line 2 is skipped
        Assert.Null(ex[2].Label); // -1 = unlabeled (Hugging Face test splits)
    }

    [Fact]
    public void Label_out_of_range_names_file_and_line()
    {
        var path = Write("copa.jsonl",
            "{\"premise\": \"p\", \"choice1\": \"a\", \"choice2\": \"b\", \"question\": \"cause\", \"label\": 1}",
            "{\"premise\": \"p\", \"choice1\": \"a\", \"choice2\": \"b\", \"question\": \"cause\", \"label\": 2}");
        FailsAt(path, 2, "label 2 is out of range");
    }

    [Fact]
    public void Non_integer_label_names_file_and_line()
    {
        var path = Write("frac.jsonl", "{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"label\": 0.5}");
        FailsAt(path, 1, "number 0.5");
    }

    [Fact]
    public void Missing_choices_context_or_too_few_choices_name_file_and_line()
    {
        var noChoices = Write("nochoice.jsonl", "{\"context\": \"c\", \"label\": 0}");
        FailsAt(noChoices, 1, "no choices");
        var noContext = Write("noctx.jsonl", "{\"context\": \"c\", \"choices\": [\"a\", \"b\"]}", "{\"choices\": [\"a\", \"b\"], \"label\": 0}");
        FailsAt(noContext, 2, "\"context\" or \"premise\"");
        var one = Write("one.jsonl", "{\"premise\": \"p\", \"choice1\": \"a\", \"label\": 0}");
        FailsAt(one, 1, "expected at least 2");
        var blank = Write("blank.jsonl", "{\"context\": \"c\", \"choices\": [\"a\", \" \"], \"label\": 0}");
        FailsAt(blank, 1, "choices[1] is blank");
    }
}
