using System.Text;
using FastPrefix.Adapters;
using FastPrefix.Data.Datasets;
using FastPrefix.Data.Tokenization;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Tests.Adapters;
using static FastPrefix.Tests.Adapters.AdapterTestKit;

namespace FastPrefix.Tests.Hardening;

/// <summary>
/// JSON text that is not valid Unicode (an escaped lone surrogate, or invalid UTF-8 inside a string) is each reader's
/// own error naming the file and the line or JSON path — never System.Text.Json's InvalidOperationException.
/// </summary>
public sealed class InvalidUnicodeJsonTests : IDisposable
{
    const string Lone = "\\ud800";   // as written in the JSON text
    readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    string Write(string name, string text) { File.WriteAllText(_dir[name], text); return _dir[name]; }

    string WriteBytes(string name, params byte[][] parts)
    {
        File.WriteAllBytes(_dir[name], parts.SelectMany(p => p).ToArray());
        return _dir[name];
    }

    static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    [Theory]
    [InlineData("{\"sentence\": \"a" + Lone + "\", \"label\": \"x\"}", "sentence")]
    [InlineData("{\"sentence\": \"a\", \"label\": \"" + Lone + "\"}", "label")]
    [InlineData("{\"sentence\": \"a\", \"" + Lone + "\": 1, \"label\": \"x\"}", "$")]
    public void Classification_jsonl_names_file_line_and_field(string badLine, string path)
    {
        string file = Write("data.jsonl", "{\"sentence\": \"ok\", \"label\": \"y\"}\n" + badLine + "\n");
        var e = Assert.Throws<DatasetException>(() => TextClassificationReader.Read(file));
        Assert.StartsWith($"{file}:2: {path}:", e.Message);
        Assert.Contains("not valid Unicode", e.Message);
    }

    [Fact]
    public void Multiple_choice_jsonl_names_file_and_line()
    {
        string file = Write("mc.jsonl", "{\"premise\": \"p\", \"choice1\": \"a\", \"choice2\": \"b" + Lone + "\", \"label\": 0}\n");
        var e = Assert.Throws<DatasetException>(() => MultipleChoiceReader.Read(file));
        Assert.StartsWith($"{file}:1: choice2:", e.Message);
    }

    [Theory]
    [InlineData("{\"data\": [{\"title\": \"t\", \"paragraphs\": [{\"context\": \"c" + Lone + "\", \"qas\": []}]}]}", "data[0].paragraphs[0].context")]
    [InlineData("{\"data\": [{\"title\": \"t\", \"paragraphs\": [{\"context\": \"c\", \"qas\": [{\"id\": \"1\", \"question\": \"q\", \"answers\": [{\"text\": \"" + Lone + "\", \"answer_start\": 0}]}]}]}]}",
        "data[0].paragraphs[0].qas[0].answers[0].text")]
    [InlineData("{\"data\": [{\"" + Lone + "\": 1}]}", "data[0]")]
    public void Squad_names_file_and_json_path(string json, string path)
    {
        string file = Write("squad.json", json);
        var e = Assert.Throws<DatasetException>(() => SquadReader.Read(file));
        Assert.StartsWith($"{file}:1: {path}:", e.Message);
    }

    [Fact]
    public void Invalid_utf8_inside_a_json_string_is_reported_with_its_line()
    {
        string file = WriteBytes("data.jsonl", U("{\"sentence\": \"ok\", \"label\": \"y\"}\n{\"sentence\": \""), [0xC3, 0x28], U("\", \"label\": \"x\"}\n"));
        var e = Assert.Throws<DatasetException>(() => TextClassificationReader.Read(file));
        Assert.StartsWith($"{file}:2:", e.Message);
    }

    [Fact]
    public void Config_json_names_the_file_line_and_field()
    {
        string file = Write("config.json", "{\n  \"model_type\": \"bert\",\n  \"hidden_act\": \"gelu" + Lone + "\"\n}");
        var e = Assert.Throws<ModelFormatException>(() => EncoderConfig.Load(file));
        Assert.StartsWith($"{file}:3: hidden_act:", e.Message);

        string bytes = WriteBytes("config2.json", U("{\"model_type\": \"be"), [0xFF], U("rt\"}"));
        Assert.StartsWith($"{bytes}:1:", Assert.Throws<ModelFormatException>(() => EncoderConfig.Load(bytes)).Message);
    }

    [Fact]
    public void Tokenizer_config_and_vocab_json_name_the_file_and_line()
    {
        string folder = Path.Combine(_dir.Path, "tok");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n");
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "{\"do_lower_case\": true,\n \"unk_token\": \"" + Lone + "\"}");
        var e = Assert.Throws<TokenizerException>(() => TokenizerFactory.FromFolder(folder));
        Assert.StartsWith($"{Path.Combine(folder, "tokenizer_config.json")}:2: unk_token:", e.Message);

        string vocab = Write("vocab.json", "{\"<s>\": 0,\n\"" + Lone + "\": 1}");
        string merges = Write("merges.txt", "#version: 0.2\n");
        var v = Assert.Throws<TokenizerException>(() => ByteLevelBpeTokenizer.FromFiles(vocab, merges));
        Assert.StartsWith($"{vocab}:2:", v.Message);
        Assert.Contains("member name is not valid Unicode", v.Message);

        string vocabBytes = WriteBytes("vocab2.json", U("{\"<s>\": 0, \"a"), [0xED, 0xA0, 0x80], U("\": 1}"));   // a UTF-8-encoded surrogate
        Assert.StartsWith($"{vocabBytes}:1:", Assert.Throws<TokenizerException>(() => ByteLevelBpeTokenizer.FromFiles(vocabBytes, merges)).Message);
    }

    [Fact]
    public void Adapter_base_model_config_names_the_file_and_the_key()
    {
        string backbone = WriteBackbone(_dir["backbone"], Config());
        using var model = NewModel(LoadEncoder(backbone), TaskKind.SequenceClassification);
        string good = _dir["adapter.safetensors"], bad = _dir["bad.safetensors"];
        AdapterFile.Save(good, model, AdapterMetadata.FromModel(model));
        Rewrite(good, bad, metadata: m => m[AdapterMetadata.Keys.BaseModelConfig] = m[AdapterMetadata.Keys.BaseModelConfig].Replace("\"bert\"", "\"bert" + Lone + "\""));
        var e = Assert.Throws<AdapterException>(() => AdapterFile.Read(bad));
        Assert.Contains(bad, e.Message);
        Assert.Contains($"'{AdapterMetadata.Keys.BaseModelConfig}' is not valid: model_type:", e.Message);

        Rewrite(good, bad, metadata: m => m[AdapterMetadata.Keys.Labels] = "[\"a" + Lone + "\"]");
        Assert.Contains($"'{AdapterMetadata.Keys.Labels}' is not valid: [0]:", Assert.Throws<AdapterException>(() => AdapterFile.Read(bad)).Message);
    }

    [Fact]
    public void Through_the_cli_a_lone_surrogate_is_exit_2_with_one_line()
    {
        string model = Cli.CliModelFolder.Create();
        string data = Write("train.jsonl", "{\"sentence\": \"good\", \"label\": \"pos\"}\n{\"sentence\": \"bad" + Lone + "\", \"label\": \"neg\"}\n");
        var r = CliRunner.Run("train", "--model", model, "--task", "seqcls", "--train", data, "--output", _dir["run"], "--device", "cpu", "--max-seq-length", "16");
        Assert.Equal(2, r.ExitCode);
        Assert.Single(r.StdErr.Trim().Split('\n'));
        Assert.Contains("train.jsonl:2: sentence:", r.StdErr);
    }
}
