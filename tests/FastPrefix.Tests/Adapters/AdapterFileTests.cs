using System.Security.Cryptography;
using FastPrefix.Adapters;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using static FastPrefix.Tests.Adapters.AdapterTestKit;

namespace FastPrefix.Tests.Adapters;

/// <summary>FastPrefix adapter files: round trips for every head and both prefix kinds, determinism, backbone checks, malformed files.</summary>
public sealed class AdapterFileTests : IDisposable
{
    readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    string Backbone(string name = "backbone", EncoderConfig? config = null, int seed = 5, string? namePrefix = null) =>
        WriteBackbone(_dir[name], config ?? Config(), seed, namePrefix);

    /// <summary>Saves an adapter of <paramref name="kind"/> trained on a fresh backbone folder; returns the file and the original logits.</summary>
    (string Path, float[] Logits, string Backbone) SaveAdapter(TaskKind kind, bool mlp = false, int firstLayer = 0,
        PositionMode positions = PositionMode.FromZero, IReadOnlyList<string>? labels = null)
    {
        string backbone = Directory.Exists(_dir["backbone"]) ? _dir["backbone"] : Backbone();
        using var model = NewModel(LoadEncoder(backbone), kind, mlp, firstLayer, positions);
        var meta = AdapterMetadata.FromModel(model, labels, BackboneFingerprint.Of(backbone), maxSeqLength: 6, tokenizerKind: "wordpiece");
        string path = _dir[$"{AdapterMetadata.TaskName(kind)}-{(mlp ? "mlp" : "plain")}.safetensors"];
        AdapterFile.Save(path, model, meta);
        return (path, Logits(model, kind), backbone);
    }

    [Theory]
    [InlineData(TaskKind.SequenceClassification)]
    [InlineData(TaskKind.TokenClassification)]
    [InlineData(TaskKind.QuestionAnswering)]
    [InlineData(TaskKind.MultipleChoice)]
    public void Plain_adapter_round_trips_to_identical_logits(TaskKind kind)
    {
        var (path, expected, backbone) = SaveAdapter(kind);

        using var loaded = AdapterFile.Load(path, LoadEncoder(backbone), BackboneFingerprint.Of(backbone));

        Assert.IsType<PlainPrefix>(loaded.Prefix);
        Assert.Equal(kind, loaded.Head.Kind);
        Assert.Equal(DefaultLabels(kind), loaded.Head.Outputs);
        Assert.Equal(expected, Logits(loaded, kind));
    }

    [Theory]
    [InlineData(TaskKind.SequenceClassification, 0, PositionMode.FromZero)]
    [InlineData(TaskKind.TokenClassification, 1, PositionMode.AfterPrefix)]
    [InlineData(TaskKind.QuestionAnswering, 2, PositionMode.FromZero)]
    [InlineData(TaskKind.MultipleChoice, 0, PositionMode.AfterPrefix)]
    public void Mlp_adapter_round_trips_with_depth_and_positions(TaskKind kind, int firstLayer, PositionMode positions)
    {
        var (path, expected, backbone) = SaveAdapter(kind, mlp: true, firstLayer, positions);

        using var loaded = AdapterFile.Load(path, LoadEncoder(backbone), backboneFingerprint: null, new PTuningOptions { HiddenDropout = 0.2f });

        var prefix = Assert.IsType<MlpPrefix>(loaded.Prefix);
        Assert.Equal(7, prefix.ProjectionHidden);
        Assert.Equal(firstLayer, prefix.FirstLayer);
        Assert.Equal(positions, loaded.Options.Positions);
        Assert.Equal(0.2f, loaded.Options.HiddenDropout);
        Assert.Equal(expected, Logits(loaded, kind));
    }

    [Fact]
    public void Saving_twice_gives_byte_identical_files_and_leaves_no_temporary_files()
    {
        string backbone = Backbone();
        using var model = NewModel(LoadEncoder(backbone), TaskKind.SequenceClassification, mlp: true);
        var meta = AdapterMetadata.FromModel(model, ["neg", "neutral", "pos"]);
        AdapterFile.Save(_dir["a.safetensors"], model, meta);
        var first = File.ReadAllBytes(_dir["a.safetensors"]);
        AdapterFile.Save(_dir["a.safetensors"], model, meta);
        AdapterFile.Save(_dir["b.safetensors"], model, meta with { });

        Assert.Equal(first, File.ReadAllBytes(_dir["a.safetensors"]));
        Assert.Equal(first, File.ReadAllBytes(_dir["b.safetensors"]));
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.tmp"));
    }

    [Fact]
    public void Read_gives_back_metadata_and_tensors()
    {
        var extra = new Dictionary<string, string> { ["dataset"] = "sst2", ["note"] = "ü, \"quoted\"" };
        string backbone = Backbone();
        using var model = NewModel(LoadEncoder(backbone), TaskKind.SequenceClassification, positions: PositionMode.AfterPrefix);
        var meta = AdapterMetadata.FromModel(model, ["négatif", "neutral, maybe", "pos"], BackboneFingerprint.Of(backbone), 36, "bpe", extra);
        AdapterFile.Save(_dir["a.safetensors"], model, meta);

        var read = AdapterFile.Read(_dir["a.safetensors"]);

        var m = read.Metadata;
        Assert.Equal("1", m.FormatVersion);
        Assert.Equal(model.Config.ToCanonicalJson(), m.BaseModelConfig);
        Assert.Equal(BackboneFingerprint.Of(backbone), m.BaseModelFingerprint);
        Assert.Equal(TaskKind.SequenceClassification, m.Task);
        Assert.Equal(["négatif", "neutral, maybe", "pos"], m.Labels);
        Assert.Equal((4, 0, PositionMode.AfterPrefix, PrefixReparameterization.None, 0, 36, "bpe"),
            (m.PrefixLength, m.FirstLayer, m.Positions, m.Reparameterization, m.PrefixProjectionHidden, m.MaxSeqLength, m.TokenizerKind));
        Assert.Equal(extra.OrderBy(p => p.Key), m.Extra.OrderBy(p => p.Key));
        Assert.Equal(["classifier.bias", "classifier.weight", "prefix"], read.Tensors.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([3L, 2, 3, 4, 4], read.Tensors["prefix"].Shape);
        Assert.Equal(model.Prefix.Parameters[0].Download(), read.Tensors["prefix"].Data);
        Assert.Equal(3, read.HeadOutputs);

        using var file = FastPrefix.IO.SafetensorsFile.Open(_dir["a.safetensors"]);
        Assert.Equal("after-prefix", file.Metadata["fastprefix.positions"]);
        Assert.Equal("seqcls", file.Metadata["fastprefix.task"]);
        Assert.Equal("sst2", file.Metadata["fastprefix.extra.dataset"]);
    }

    [Fact]
    public void Loading_onto_a_backbone_with_another_hidden_size_names_both_values()
    {
        var (path, _, _) = SaveAdapter(TaskKind.SequenceClassification);
        string other = Backbone("wide", Config(hidden: 16, heads: 4));

        var e = Assert.Throws<AdapterException>(() => AdapterFile.Load(path, LoadEncoder(other), BackboneFingerprint.Of(other)));

        Assert.Contains(path, e.Message);
        Assert.Contains("hidden_size 12 (adapter) vs 16 (model)", e.Message);
        Assert.Contains("num_attention_heads 3 (adapter) vs 4 (model)", e.Message);
    }

    [Fact]
    public void Loading_onto_another_checkpoint_of_the_same_config_is_a_fingerprint_mismatch()
    {
        var (path, _, backbone) = SaveAdapter(TaskKind.SequenceClassification);
        string other = Backbone("other", seed: 9, namePrefix: ""); // same config, tensors without the "bert." prefix: another header
        string mine = BackboneFingerprint.Of(backbone), theirs = BackboneFingerprint.Of(other);
        Assert.NotEqual(mine, theirs);

        var e = Assert.Throws<AdapterException>(() => AdapterFile.Load(path, LoadEncoder(other), theirs));

        Assert.Contains(path, e.Message);
        Assert.Contains($"{mine} (adapter) vs {theirs} (model)", e.Message);
        // an unknown fingerprint skips the check (the config still matches)
        using var loaded = AdapterFile.Load(path, LoadEncoder(other), backboneFingerprint: null);
    }

    [Fact]
    public void Fingerprint_is_the_content_hash_of_the_whole_weights_file()
    {
        string backbone = Backbone();
        string weights = ModelFolder.WeightsPath(backbone);
        string expected = "xxh128:" + Convert.ToHexStringLower(System.IO.Hashing.XxHash128.Hash(File.ReadAllBytes(weights)));

        Assert.Equal(expected, BackboneFingerprint.Of(backbone));
        Assert.Equal(expected, BackboneFingerprint.Of(weights));
        Assert.Equal(expected, BackboneFingerprint.OfFolder(backbone));
        // a fine-tuned copy: same header (names, shapes, offsets), other values
        Assert.NotEqual(expected, BackboneFingerprint.Of(Backbone("same-header-other-values", seed: 77)));

        // adapters written before content hashing recorded the SHA-256 of the header; they are compared in that form
        var bytes = File.ReadAllBytes(weights);
        string legacy = Convert.ToHexStringLower(SHA256.HashData(bytes.AsSpan(0, (int)(8 + BitConverter.ToInt64(bytes, 0)))));
        Assert.Equal(legacy, BackboneFingerprint.OfFolderLike(backbone, new string('0', 64)));
        Assert.Equal(expected, BackboneFingerprint.OfFolderLike(backbone, expected));
        Assert.True(BackboneFingerprint.IsWellFormed(legacy) && BackboneFingerprint.IsWellFormed(expected) && BackboneFingerprint.IsWellFormed(""));
        Assert.False(BackboneFingerprint.IsWellFormed("xxh128:XYZ"));
    }

    [Fact]
    public void An_adapter_does_not_load_onto_a_fine_tuned_copy_of_its_backbone()
    {
        var (path, _, _) = SaveAdapter(TaskKind.SequenceClassification);
        string copy = Backbone("fine-tuned", seed: 77);   // same config and header, other weights
        var e = Assert.Throws<AdapterException>(() => AdapterFile.Load(path, LoadEncoder(copy), BackboneFingerprint.Of(copy)));
        Assert.Contains("another checkpoint of the same architecture", e.Message);
    }

    [Fact]
    public void Missing_tensor_names_the_file_and_the_tensor()
    {
        var (path, _, _) = SaveAdapter(TaskKind.SequenceClassification, mlp: true);
        string bad = _dir["bad.safetensors"];
        Rewrite(path, bad, tensor: (name, t) => name == "prefix_encoder.trans.2.bias" ? null : t);

        var e = Assert.Throws<AdapterException>(() => AdapterFile.Read(bad));

        Assert.Contains(bad, e.Message);
        Assert.Contains("'prefix_encoder.trans.2.bias' is missing", e.Message);
        Assert.Contains("reparameterization \"mlp\"", e.Message);
    }

    [Fact]
    public void Wrong_shape_names_the_tensor_and_the_shape_expected()
    {
        var (path, _, _) = SaveAdapter(TaskKind.TokenClassification);
        string bad = _dir["bad.safetensors"];
        Rewrite(path, bad, tensor: (name, t) => name == "prefix" ? ([3, 2, 3, 5, 4], new float[3 * 2 * 3 * 5 * 4]) : t);

        var e = Assert.Throws<AdapterException>(() => AdapterFile.Read(bad));

        Assert.Contains(bad, e.Message);
        Assert.Contains("tensor 'prefix' has shape [3, 2, 3, 5, 4], expected [3, 2, 3, 4, 4]", e.Message);
        Assert.Contains("prefix_length 4", e.Message);
    }

    [Theory]
    [InlineData("fastprefix.task", "summarise", "expected one of seqcls, tokcls, qa, mc")]
    [InlineData("fastprefix.positions", "from-one", "expected from-zero or after-prefix")]
    [InlineData("fastprefix.prefix_length", "four", "expected a positive integer")]
    [InlineData("fastprefix.first_layer", "3", "expected 0..2")]
    [InlineData("fastprefix.labels", "neg,pos", "expected a JSON array of strings")]
    [InlineData("fastprefix.reparameterization", "lstm", "expected none or mlp")]
    [InlineData("fastprefix.format_version", "2", "reads format version 1")]
    [InlineData("fastprefix.base_model_config", "{\"model_type\":\"gpt2\"}", "model_type \"gpt2\" is not supported")]
    public void Bad_metadata_value_names_the_file_the_key_and_what_was_expected(string key, string value, string expected)
    {
        var (path, _, _) = SaveAdapter(TaskKind.SequenceClassification);
        string bad = _dir["bad.safetensors"];
        Rewrite(path, bad, metadata: m => m[key] = value);

        var e = Assert.Throws<AdapterException>(() => AdapterFile.Read(bad));

        Assert.Contains(bad, e.Message);
        Assert.Contains($"'{key}'", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Missing_metadata_key_is_named()
    {
        var (path, _, _) = SaveAdapter(TaskKind.QuestionAnswering);
        string bad = _dir["bad.safetensors"];
        Rewrite(path, bad, metadata: m => m.Remove("fastprefix.positions"));

        var e = Assert.Throws<AdapterException>(() => AdapterFile.Read(bad));

        Assert.Contains(bad, e.Message);
        Assert.Contains("metadata 'fastprefix.positions' is missing", e.Message);
    }

    [Fact]
    public void Label_names_must_match_the_classifier_rows()
    {
        var (path, _, _) = SaveAdapter(TaskKind.SequenceClassification, labels: ["a", "b", "c"]);
        string bad = _dir["bad.safetensors"];
        Rewrite(path, bad, metadata: m => m["fastprefix.labels"] = "[\"a\",\"b\"]");

        var e = Assert.Throws<AdapterException>(() => AdapterFile.Read(bad));

        Assert.Contains("'fastprefix.labels' names 2 labels but tensor 'classifier.weight' has 3 rows", e.Message);
    }

    [Fact]
    public void Files_that_are_not_adapters_are_refused()
    {
        var (path, _, backbone) = SaveAdapter(TaskKind.SequenceClassification);
        File.WriteAllText(_dir["garbage.safetensors"], "not a safetensors file at all");
        var withExtra = _dir["with-extra.safetensors"];
        {
            using var f = FastPrefix.IO.SafetensorsFile.Open(path);
            var entries = f.Tensors.Select(i => FastPrefix.IO.SafetensorsEntry.FromFloat32(i.Name, f.ReadFloat32(i.Name), i.Shape)).ToList();
            entries.Add(FastPrefix.IO.SafetensorsEntry.FromFloat32("pooler.dense.bias", new float[12], 12));
            FastPrefix.IO.SafetensorsWriter.Write(withExtra, entries, f.Metadata);
        }

        var garbage = Assert.Throws<AdapterException>(() => AdapterFile.Read(_dir["garbage.safetensors"]));
        Assert.Contains(_dir["garbage.safetensors"], garbage.Message);
        var weights = Assert.Throws<AdapterException>(() => AdapterFile.Read(ModelFolder.WeightsPath(backbone)));
        Assert.Contains("no FastPrefix adapter metadata", weights.Message);
        var unexpected = Assert.Throws<AdapterException>(() => AdapterFile.Read(withExtra));
        Assert.Contains("unexpected tensor 'pooler.dense.bias'", unexpected.Message);
        Assert.Throws<AdapterException>(() => AdapterFile.Read(_dir["missing.safetensors"]));
    }

    [Fact]
    public void Save_refuses_metadata_that_does_not_describe_the_model()
    {
        string backbone = Backbone();
        using var model = NewModel(LoadEncoder(backbone), TaskKind.SequenceClassification);
        var meta = AdapterMetadata.FromModel(model);

        var length = Assert.Throws<AdapterException>(() => AdapterFile.Save(_dir["a.safetensors"], model, meta with { PrefixLength = 5 }));
        var labels = Assert.Throws<AdapterException>(() => AdapterFile.Save(_dir["a.safetensors"], model, meta with { Labels = ["x"] }));
        var tokenizer = Assert.Throws<AdapterException>(() => AdapterFile.Save(_dir["a.safetensors"], model, meta with { TokenizerKind = "sentencepiece" }));

        Assert.Contains("'fastprefix.prefix_length' is 5 but the model has 4", length.Message);
        Assert.Contains("'fastprefix.labels' names 1 labels but the model's head has 3 outputs", labels.Message);
        Assert.Contains("'fastprefix.tokenizer_kind'", tokenizer.Message);
        Assert.False(File.Exists(_dir["a.safetensors"]));
    }
}
