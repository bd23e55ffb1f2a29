using FastPrefix.Data.Datasets;

namespace FastPrefix.Tests.Data.Datasets;

public sealed class ConllReaderTests : IDisposable
{
    readonly string dir = TestPaths.NewTempDir();
    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Write(string name, string content)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    const string Conll2003 =
        "-DOCSTART- -X- -X- O\n" +  // 1
        "\n" +                       // 2
        "EU NNP B-NP B-ORG\n" +      // 3
        "rejects VBZ B-VP O\n" +     // 4
        "German JJ B-NP B-MISC\n" +  // 5
        "\n" +                       // 6
        "\n" +                       // 7
        "Peter NNP B-NP B-PER\r\n" + // 8 (CRLF tolerated)
        "Blackburn\tNNP  I-NP\tI-PER"; // 9, tabs and runs of spaces, no final newline

    [Fact]
    public void Reads_sentences_skipping_docstart_with_the_tag_in_the_last_column()
    {
        var path = Write("train.txt", Conll2003);
        var s = ConllReader.Read(path);
        Assert.Equal(2, s.Count);
        Assert.Equal(["EU", "rejects", "German"], s[0].Words);
        Assert.Equal(["B-ORG", "O", "B-MISC"], s[0].Tags);
        Assert.Equal(3, s[0].Line);
        Assert.Equal(["Peter", "Blackburn"], s[1].Words);
        Assert.Equal(["B-PER", "I-PER"], s[1].Tags);
        Assert.Equal(8, s[1].Line);
    }

    [Fact]
    public void Tag_column_can_be_chosen()
    {
        var path = Write("pos.txt", Conll2003);
        Assert.Equal(["NNP", "VBZ", "JJ"], ConllReader.Read(path, tagColumn: 1)[0].Tags);
    }

    [Fact]
    public void Docstart_without_a_blank_line_still_separates_documents()
    {
        var path = Write("docs.txt", "A B-PER\n-DOCSTART- O\nB O\n");
        var s = ConllReader.Read(path);
        Assert.Equal([["A"], ["B"]], s.Select(x => x.Words));
        Assert.Equal(3, s[1].Line);
    }

    [Fact]
    public void A_line_with_one_column_names_file_and_line()
    {
        var path = Write("short.txt", "EU B-ORG\nrejects O\n\nGerman\n");
        var ex = Assert.Throws<DatasetException>(() => ConllReader.Read(path));
        Assert.Contains("short.txt:4: ", ex.Message);
        Assert.Equal(4, ex.Line);
    }

    [Fact]
    public void A_line_with_a_different_column_count_names_both_lines()
    {
        var path = Write("ragged.txt", "EU NNP B-NP B-ORG\nrejects VBZ O\n");
        var ex = Assert.Throws<DatasetException>(() => ConllReader.Read(path));
        Assert.Contains("ragged.txt:2: ", ex.Message);
        Assert.Contains("expected 4, as on line 1", ex.Message);
    }

    [Fact]
    public void A_tag_column_beyond_the_line_names_file_and_line()
    {
        var path = Write("two.txt", "\nEU B-ORG\n");
        var ex = Assert.Throws<DatasetException>(() => ConllReader.Read(path, tagColumn: 3));
        Assert.Contains("two.txt:2: ", ex.Message);
    }
}
