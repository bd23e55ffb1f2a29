using System.Text.Json;
using FastPrefix.Adapters;
using FastPrefix.IO;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using static FastPrefix.Tests.Adapters.AdapterTestKit;

namespace FastPrefix.Tests.Adapters;

/// <summary>Hugging Face PEFT prefix-tuning folders: export → import, MLP folding, layout and names, folders written as PEFT writes them.</summary>
public sealed class PeftPrefixAdapterTests : IDisposable
{
    readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    string Backbone(string type = "bert", string name = "backbone") =>
        Directory.Exists(_dir[name]) ? _dir[name] : WriteBackbone(_dir[name], Config(type));

    [Theory]
    [InlineData("bert", TaskKind.SequenceClassification)]
    [InlineData("bert", TaskKind.TokenClassification)]
    [InlineData("bert", TaskKind.QuestionAnswering)]
    [InlineData("bert", TaskKind.MultipleChoice)]
    [InlineData("roberta", TaskKind.SequenceClassification)]
    [InlineData("roberta", TaskKind.QuestionAnswering)]
    public void Export_then_import_gives_identical_logits(string type, TaskKind kind)
    {
        string backbone = Backbone(type);
        using var model = NewModel(LoadEncoder(backbone), kind);
        var expected = Logits(model, kind);
        PeftPrefixAdapter.Export(_dir["peft"], model, AdapterMetadata.FromModel(model), "synthetic/tiny-" + type);

        using var imported = PeftPrefixAdapter.Import(_dir["peft"], LoadEncoder(backbone));

        Assert.IsType<PlainPrefix>(imported.Prefix);
        Assert.Equal(kind, imported.Head.Kind);
        Assert.Equal(PositionMode.FromZero, imported.Options.Positions); // recorded by export, read back
        Assert.Equal(expected, Logits(imported, kind));
    }

    [Theory]
    [InlineData(TaskKind.SequenceClassification, PositionMode.FromZero)]
    [InlineData(TaskKind.TokenClassification, PositionMode.AfterPrefix)]
    public void Mlp_prefix_is_folded_into_the_bank_it_computes(TaskKind kind, PositionMode positions)
    {
        string backbone = Backbone();
        using var model = NewModel(LoadEncoder(backbone), kind, mlp: true, positions: positions);
        var expected = Logits(model, kind);
        PeftPrefixAdapter.Export(_dir["peft"], model, AdapterMetadata.FromModel(model, labels: null), null);

        using var imported = PeftPrefixAdapter.Import(_dir["peft"], LoadEncoder(backbone));

        var plain = Assert.IsType<PlainPrefix>(imported.Prefix);
        Assert.Equal(model.Prefix.DownloadBank(), plain.Bank.Download());
        Assert.Equal(positions, imported.Options.Positions);
        var got = Logits(imported, kind);
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(got[i] - expected[i]) <= 1e-6f * Math.Max(1, Math.Abs(expected[i])), $"logit {i}: {got[i]} vs {expected[i]}");
        using var file = SafetensorsFile.Open(Path.Combine(_dir["peft"], PeftPrefixAdapter.WeightsFileName));
        Assert.Equal("none", file.Metadata["fastprefix.reparameterization"]);
    }

    [Fact]
    public void Prefix_starting_above_layer_zero_cannot_be_exported()
    {
        using var model = NewModel(LoadEncoder(Backbone()), TaskKind.SequenceClassification, firstLayer: 1);

        var e = Assert.Throws<AdapterException>(() => PeftPrefixAdapter.Export(_dir["peft"], model, AdapterMetadata.FromModel(model), null));

        Assert.Contains("starts at layer 1", e.Message);
        Assert.Contains("PEFT", e.Message);
        Assert.False(Directory.Exists(_dir["peft"]));
    }

    [Fact]
    public void Export_writes_prompt_embeddings_in_the_peft_layout_and_a_peft_config()
    {
        string backbone = Backbone();
        using var model = NewModel(LoadEncoder(backbone), TaskKind.SequenceClassification);
        PeftPrefixAdapter.Export(_dir["peft"], model, AdapterMetadata.FromModel(model, ["a", "b", "c"]), "bert-base-uncased");

        using var file = SafetensorsFile.Open(Path.Combine(_dir["peft"], "adapter_model.safetensors"));
        Assert.Equal(["base_model.classifier.bias", "base_model.classifier.weight", "prompt_embeddings"], file.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        int P = 4, L = 3, H = 3, D = 4;
        Assert.Equal([(long)P, L * 2 * H * D], file.GetInfo("prompt_embeddings").Shape);
        Assert.Equal(SafetensorsDType.F32, file.GetInfo("prompt_embeddings").DType);
        var peft = file.ReadFloat32("prompt_embeddings");
        var bank = model.Prefix.DownloadBank(); // [L, 2, H, P, D]
        for (int p = 0; p < P; p++)
            for (int l = 0; l < L; l++)
                for (int kv = 0; kv < 2; kv++)
                    for (int h = 0; h < H; h++)
                        for (int d = 0; d < D; d++)
                            Assert.Equal(bank[(((l * 2 + kv) * H + h) * P + p) * D + d], peft[p * (L * 2 * H * D) + ((l * 2 + kv) * H + h) * D + d]);
        Assert.Equal(model.Head.Weight.Download(), file.ReadFloat32("base_model.classifier.weight"));
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("[\"a\",\"b\",\"c\"]", file.Metadata["fastprefix.labels"]);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir["peft"], "adapter_config.json")));
        var c = json.RootElement;
        Assert.Equal("PREFIX_TUNING", c.GetProperty("peft_type").GetString());
        Assert.Equal("SEQ_CLS", c.GetProperty("task_type").GetString());
        Assert.Equal(4, c.GetProperty("num_virtual_tokens").GetInt32());
        Assert.Equal(3, c.GetProperty("num_layers").GetInt32());
        Assert.Equal(12, c.GetProperty("token_dim").GetInt32());
        Assert.Equal(3, c.GetProperty("num_attention_heads").GetInt32());
        Assert.Equal(1, c.GetProperty("num_transformer_submodules").GetInt32());
        Assert.Equal(12, c.GetProperty("encoder_hidden_size").GetInt32());
        Assert.False(c.GetProperty("prefix_projection").GetBoolean());
        Assert.True(c.GetProperty("inference_mode").GetBoolean());
        Assert.Equal("bert-base-uncased", c.GetProperty("base_model_name_or_path").GetString());
        Assert.Empty(Directory.GetFiles(_dir["peft"], "*.tmp"));
    }

    /// <summary>A folder as PEFT's save_pretrained writes it (no FastPrefix metadata), head under each accepted name.</summary>
    [Theory]
    [InlineData("base_model.classifier.")]
    [InlineData("classifier.")]
    [InlineData("base_model.classifier.modules_to_save.default.")]
    public void Folder_written_by_peft_imports_with_after_prefix_positions(string headKey)
    {
        string backbone = Backbone();
        using var reference = NewModel(LoadEncoder(backbone), TaskKind.TokenClassification, positions: PositionMode.AfterPrefix, seed: 7);
        string folder = _dir["from-peft"];
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "adapter_config.json"), """
            {
              "auto_mapping": null,
              "base_model_name_or_path": "tiny-bert",
              "encoder_hidden_size": 12,
              "inference_mode": true,
              "init_weights": null,
              "num_attention_heads": 3,
              "num_layers": 3,
              "num_transformer_submodules": 1,
              "num_virtual_tokens": 4,
              "peft_type": "PREFIX_TUNING",
              "peft_version": "0.17.1",
              "prefix_projection": true,
              "revision": null,
              "task_type": "TOKEN_CLS",
              "token_dim": 12
            }
            """);
        int P = 4, L = 3, H = 3, D = 4, row = L * 2 * H * D;
        var bank = reference.Prefix.DownloadBank();
        var peft = new float[P * row];
        for (int l = 0; l < L; l++)
            for (int kv = 0; kv < 2; kv++)
                for (int h = 0; h < H; h++)
                    for (int p = 0; p < P; p++)
                        for (int d = 0; d < D; d++)
                            peft[p * row + ((l * 2 + kv) * H + h) * D + d] = bank[(((l * 2 + kv) * H + h) * P + p) * D + d];
        SafetensorsWriter.Write(Path.Combine(folder, "adapter_model.safetensors"),
        [
            SafetensorsEntry.FromFloat32(headKey + "bias", reference.Head.Bias.Download(), 4),
            SafetensorsEntry.FromFloat32(headKey + "weight", reference.Head.Weight.Download(), 4, 12),
            SafetensorsEntry.FromFloat32("prompt_embeddings", peft, P, row),
        ], new Dictionary<string, string> { ["format"] = "pt" });

        using var imported = PeftPrefixAdapter.Import(folder, LoadEncoder(backbone));

        Assert.Equal(PositionMode.AfterPrefix, imported.Options.Positions);
        Assert.Equal(TaskKind.TokenClassification, imported.Head.Kind);
        Assert.Equal(Logits(reference, TaskKind.TokenClassification), Logits(imported, TaskKind.TokenClassification));
        var contents = PeftPrefixAdapter.Read(folder, LoadEncoder(backbone), new PeftImportOptions { Labels = ["O", "B", "I", "X"] });
        Assert.Equal(["O", "B", "I", "X"], contents.Metadata.Labels);
        Assert.Equal("", contents.Metadata.BaseModelFingerprint);
    }

    [Fact]
    public void Import_refuses_another_backbone_other_peft_types_and_missing_files()
    {
        string backbone = Backbone();
        using var model = NewModel(LoadEncoder(backbone), TaskKind.SequenceClassification);
        PeftPrefixAdapter.Export(_dir["peft"], model, AdapterMetadata.FromModel(model), null);
        string configPath = Path.Combine(_dir["peft"], "adapter_config.json");
        string config = File.ReadAllText(configPath);

        var deeper = WriteBackbone(_dir["deeper"], Config(layers: 4));
        var layers = Assert.Throws<AdapterException>(() => PeftPrefixAdapter.Import(_dir["peft"], LoadEncoder(deeper)));
        Assert.Contains("num_layers 3 (adapter) vs 4 (model)", layers.Message);

        File.WriteAllText(configPath, config.Replace("\"PREFIX_TUNING\"", "\"LORA\""));
        var lora = Assert.Throws<AdapterException>(() => PeftPrefixAdapter.Import(_dir["peft"], LoadEncoder(backbone)));
        Assert.Contains(configPath, lora.Message);
        Assert.Contains("peft_type is \"LORA\"; expected \"PREFIX_TUNING\"", lora.Message);

        File.WriteAllText(configPath, config);
        File.Move(Path.Combine(_dir["peft"], "adapter_model.safetensors"), Path.Combine(_dir["peft"], "adapter_model.bin"));
        var bin = Assert.Throws<AdapterException>(() => PeftPrefixAdapter.Import(_dir["peft"], LoadEncoder(backbone)));
        Assert.Contains("adapter_model.bin", bin.Message);
        Assert.Contains("safe_serialization=True", bin.Message);
    }

    [Fact]
    public void Import_without_a_known_task_asks_for_one()
    {
        string backbone = Backbone();
        using var model = NewModel(LoadEncoder(backbone), TaskKind.MultipleChoice);
        var expected = Logits(model, TaskKind.MultipleChoice);
        string folder = _dir["peft"];
        PeftPrefixAdapter.Export(folder, model, AdapterMetadata.FromModel(model), null);
        // strip FastPrefix's metadata, as a PEFT-trained multiple-choice adapter would be
        string weights = Path.Combine(folder, "adapter_model.safetensors");
        Rewrite(weights, weights, metadata: m => { foreach (var k in m.Keys.Where(k => k.StartsWith("fastprefix.")).ToList()) m.Remove(k); });

        var e = Assert.Throws<AdapterException>(() => PeftPrefixAdapter.Import(folder, LoadEncoder(backbone)));
        Assert.Contains("task_type null", e.Message);
        Assert.Contains("PeftImportOptions.Task", e.Message);

        using var imported = PeftPrefixAdapter.Import(folder, LoadEncoder(backbone),
            new PeftImportOptions { Task = TaskKind.MultipleChoice, Positions = PositionMode.FromZero });
        Assert.Equal(expected, Logits(imported, TaskKind.MultipleChoice));
    }
}
