using System.Text;
using FastPrefix.Data.Datasets;

namespace FastPrefix.Tests.Data.Datasets;

public sealed class TextClassificationReaderTests : IDisposable
{
    readonly string dir = TestPaths.NewTempDir();
    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Write(string name, string content, bool bom = false)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, content, new UTF8Encoding(bom));
        return path;
    }

    static DatasetException Fails(string path, int line, Action read)
    {
        var ex = Assert.Throws<DatasetException>(read);
        Assert.Contains($"{Path.GetFileName(path)}:{line}: ", ex.Message);
        Assert.Equal(path, ex.FilePath);
        Assert.Equal(line, ex.Line);
        return ex;
    }

    [Fact]
    public void Jsonl_with_bom_crlf_blank_lines_and_integer_labels_as_numbers_or_strings()
    {
        var path = Write("sst2.jsonl",
            "{\"sentence\": \"a fine film\", \"label\": 1}\r\n\r\n{\"sentence\": \"dull\", \"label\": \"0\"}\r\n{\"sentence\": \"ok\", \"label\": 0}",
            bom: true);
        var d = TextClassificationReader.Read(path);
        Assert.Equal(["sentence"], d.TextFields);
        Assert.Equal("label", d.LabelField);
        Assert.Equal(
            [new TextExample("a fine film", null, "1", 1), new TextExample("dull", null, "0", 3), new TextExample("ok", null, "0", 4)],
            d.Examples);
    }

    [Fact]
    public void Pair_fields_win_over_single_fields()
    {
        // QNLI has both "question" and "sentence": must be read as the pair, not as the single field "sentence"
        var path = Write("qnli.json", "{\"idx\": 0, \"question\": \"Who?\", \"sentence\": \"Ann did.\", \"label\": \"entailment\"}\n");
        var d = TextClassificationReader.Read(path);
        Assert.Equal(["question", "sentence"], d.TextFields);
        Assert.Equal(new TextExample("Who?", "Ann did.", "entailment", 1), d.Examples[0]);
    }

    [Fact]
    public void Csv_quoted_fields_hold_commas_quotes_and_line_breaks()
    {
        var path = Write("rte.csv",
            "premise,hypothesis,label\r\n" +
            "\"A man, tall\",\"He said \"\"hi\"\"\nand left\",entailment\r\n" +
            "x,y,not_entailment\r\n");
        var d = TextClassificationReader.Read(path);
        Assert.Equal(["premise", "hypothesis"], d.TextFields);
        Assert.Equal(new TextExample("A man, tall", "He said \"hi\"\nand left", "entailment", 2), d.Examples[0]);
        // the quoted line break puts the next record on line 4
        Assert.Equal(new TextExample("x", "y", "not_entailment", 4), d.Examples[1]);
    }

    [Fact]
    public void Tsv_keeps_bare_quotes_as_text()
    {
        var path = Write("sst2.tsv", "sentence\tlabel\nit 's \"good\" \t1\n\n");
        var d = TextClassificationReader.Read(path);
        Assert.Equal(new TextExample("it 's \"good\" ", null, "1", 2), Assert.Single(d.Examples));
    }

    [Fact]
    public void Explicit_fields_and_unlabeled_files()
    {
        var path = Write("test.jsonl", "{\"s\": \"x\", \"t\": \"y\"}\n{\"s\": \"z\", \"t\": \"w\", \"gold\": null}\n");
        var d = TextClassificationReader.Read(path, textFields: ["s", "t"], labelField: "gold", requireLabels: false);
        Assert.Equal([new TextExample("x", "y", null, 1), new TextExample("z", "w", null, 2)], d.Examples);
        Assert.Equal("gold", d.LabelField);
    }

    [Fact]
    public void Jsonl_missing_text_field_names_file_line_and_field()
    {
        var path = Write("train.jsonl",
            "{\"sentence\": \"a\", \"label\": 0}\n{\"sentence\": \"b\", \"label\": 1}\n{\"text\": \"c\", \"label\": 1}\n");
        var ex = Fails(path, 3, () => TextClassificationReader.Read(path));
        Assert.Contains("\"sentence\"", ex.Message);
    }

    [Fact]
    public void Jsonl_invalid_json_names_file_and_line()
    {
        var path = Write("bad.jsonl", "{\"sentence\": \"a\", \"label\": 0}\n{\"sentence\": \"b\", \"label\": }\n");
        Fails(path, 2, () => TextClassificationReader.Read(path));
    }

    [Fact]
    public void Json_array_file_gets_a_hint()
    {
        var path = Write("array.json", "[\n{\"sentence\": \"a\", \"label\": 0}\n]\n");
        var ex = Fails(path, 1, () => TextClassificationReader.Read(path));
        Assert.Contains("one JSON object per line", ex.Message);
    }

    [Fact]
    public void Jsonl_missing_or_unusable_label()
    {
        var missing = Write("nolabel.jsonl", "{\"sentence\": \"a\"}\n");
        Assert.Contains("\"label\"", Fails(missing, 1, () => TextClassificationReader.Read(missing)).Message);
        var obj = Write("objlabel.jsonl", "{\"sentence\": \"a\", \"label\": 1}\n{\"sentence\": \"b\", \"label\": {\"x\": 1}}\n");
        Assert.Contains("object", Fails(obj, 2, () => TextClassificationReader.Read(obj)).Message);
    }

    [Fact]
    public void Csv_wrong_column_count_names_file_and_line()
    {
        var path = Write("bad.csv", "premise,hypothesis,label\np,h,0\np,h\n");
        var ex = Fails(path, 3, () => TextClassificationReader.Read(path));
        Assert.Contains("expected 3", ex.Message);
    }

    [Fact]
    public void Csv_unterminated_quote_names_the_line_it_opens_on()
    {
        var path = Write("open.csv", "sentence,label\n\"never closed,1\nmore,0\n");
        Fails(path, 2, () => TextClassificationReader.Read(path));
    }

    [Fact]
    public void Csv_text_after_a_closing_quote_is_rejected()
    {
        var path = Write("junk.csv", "sentence,label\n\"ab\"c,1\n");
        Fails(path, 2, () => TextClassificationReader.Read(path));
    }

    [Fact]
    public void Tsv_blank_required_text_names_file_line_and_column()
    {
        var path = Write("bad.tsv", "sentence1\tsentence2\tlabel\n   \tb\t1\n");
        var ex = Fails(path, 2, () => TextClassificationReader.Read(path));
        Assert.Contains("\"sentence1\"", ex.Message);
    }

    [Fact]
    public void No_default_text_field_lists_what_is_there()
    {
        var path = Write("odd.tsv", "content\tlabel\nx\t1\n");
        var ex = Fails(path, 1, () => TextClassificationReader.Read(path));
        Assert.Contains("content", ex.Message);
        Assert.Contains("--text-fields", ex.Message);
    }

    [Fact]
    public void Unknown_extension_and_empty_files_are_rejected()
    {
        var txt = Write("data.txt", "x");
        Assert.Contains("data.txt", Assert.Throws<DatasetException>(() => TextClassificationReader.Read(txt)).Message);
        var empty = Write("empty.jsonl", "\n\n");
        Assert.Contains("no examples", Assert.Throws<DatasetException>(() => TextClassificationReader.Read(empty)).Message);
        var headerOnly = Write("header.csv", "sentence,label\n");
        Assert.Contains("header.csv", Assert.Throws<DatasetException>(() => TextClassificationReader.Read(headerOnly)).Message);
    }

    [Fact]
    public void Invalid_utf8_names_the_line()
    {
        var path = Path.Combine(dir, "latin1.tsv");
        File.WriteAllBytes(path, [.. "sentence\tlabel\nok\t1\n"u8, (byte)'c', 0xE9, (byte)'\t', (byte)'0', (byte)'\n']);
        Fails(path, 3, () => TextClassificationReader.Read(path));
    }
}
