using System.Text.Json;
using FastPrefix.Backends.Cpu;
using FastPrefix.Model;

namespace FastPrefix.Tests.Model;

/// <summary>config.json parsing and checkpoint name mapping, with the errors a user sees.</summary>
public class CheckpointLoadingTests
{
    static EncoderConfig Small => new() { ModelType = "bert", VocabSize = 20, HiddenSize = 8, NumLayers = 2, NumHeads = 2, IntermediateSize = 16, MaxPositionEmbeddings = 16 };

    static string WriteConfig(object config)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "config.json");
        File.WriteAllText(path, JsonSerializer.Serialize(config));
        return path;
    }

    [Fact]
    public void Reads_a_hugging_face_config()
    {
        var c = EncoderConfig.Load(WriteConfig(new
        {
            model_type = "roberta", vocab_size = 50265, hidden_size = 768, num_hidden_layers = 12, num_attention_heads = 12, intermediate_size = 3072,
            max_position_embeddings = 514, type_vocab_size = 1, layer_norm_eps = 1e-5, hidden_dropout_prob = 0.1, attention_probs_dropout_prob = 0.1,
            pad_token_id = 1, hidden_act = "gelu", architectures = new[] { "RobertaForMaskedLM" },
        }));
        Assert.True(c.IsRoberta);
        Assert.Equal(64, c.HeadDim);
        Assert.Equal(1, c.PadTokenId);
        Assert.Equal(1e-5f, c.LayerNormEps);
    }

    [Fact]
    public void Unsupported_model_type_lists_the_supported_ones()
    {
        var path = WriteConfig(new { model_type = "gpt2", vocab_size = 10, hidden_size = 8, num_hidden_layers = 1, num_attention_heads = 2, intermediate_size = 8 });
        var e = Assert.Throws<ModelFormatException>(() => EncoderConfig.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("\"gpt2\" is not supported", e.Message);
        Assert.Contains("bert, roberta", e.Message);
    }

    [Theory]
    [InlineData("{\"model_type\": \"bert\", \"vocab_size\": 10, \"hidden_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2}", "intermediate_size")]
    [InlineData("{\"model_type\": \"bert\", \"vocab_size\": \"ten\", \"hidden_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"intermediate_size\": 8}", "vocab_size")]
    [InlineData("{\"model_type\": \"bert\", \"vocab_size\": 10, \"hidden_size\": 10, \"num_hidden_layers\": 1, \"num_attention_heads\": 3, \"intermediate_size\": 8}", "not a multiple")]
    [InlineData("{\"model_type\": \"bert\", \"vocab_size\": 10, \"hidden_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"intermediate_size\": 8, \"hidden_act\": \"relu\"}", "hidden_act")]
    [InlineData("[1, 2]", "JSON object")]
    [InlineData("{\"model_type\": ", "invalid JSON")]
    [InlineData("{\"vocab_size\": 10}", "model_type")]
    public void Bad_configs_name_the_file_and_field(string json, string expected)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "config.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<ModelFormatException>(() => EncoderConfig.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    static float[] Logits(ITensorSource source)
    {
        var b = new CpuBackend();
        using var w = EncoderWeights.Load(b, Small, source);
        var enc = new Encoder(b, w);
        var prefix = new PlainPrefix(b, Small, 2);
        prefix.Bank.Upload(GradCheck.Random((int)prefix.BankLength, 1));
        enc.Forward(new EncoderBatch(1, 4, [2, 5, 7, 3], [1, 1, 1, 1]), prefix.Prepare(), new EncoderPassOptions());
        var pooled = new float[Small.HiddenSize];
        b.Download(enc.Pooled, pooled);
        return pooled;
    }

    [Theory]
    [InlineData("bert.")]
    [InlineData("roberta.")]
    public void Names_with_a_model_prefix_and_legacy_gamma_beta_load_the_same(string prefix)
    {
        var plain = new SyntheticCheckpoint(Small, seed: 4);
        var prefixed = new SyntheticCheckpoint(Small, seed: 4, namePrefix: prefix);
        foreach (var name in prefixed.Names.Where(n => n.Contains("LayerNorm")).ToList())
        {
            var data = prefixed.ReadFloat32(name); var shape = prefixed.GetShape(name);
            prefixed.Remove(name);
            prefixed.Set(name.Replace(".weight", ".gamma").Replace(".bias", ".beta"), shape, data);
        }
        Assert.Equal(Logits(plain), Logits(prefixed));
    }

    [Fact]
    public void Missing_tensor_is_named()
    {
        var source = new SyntheticCheckpoint(Small, seed: 4, namePrefix: "bert.");
        source.Remove("bert.encoder.layer.1.intermediate.dense.bias");
        var e = Assert.Throws<ModelFormatException>(() => EncoderWeights.Load(new CpuBackend(), Small, source));
        Assert.Contains("missing tensor 'bert.encoder.layer.1.intermediate.dense.bias'", e.Message);
    }

    [Fact]
    public void Mis_shaped_tensor_is_named_with_the_shape_expected()
    {
        var source = new SyntheticCheckpoint(Small, seed: 4);
        source.Set("encoder.layer.0.output.dense.weight", [8, 15], new float[120]);
        var e = Assert.Throws<ModelFormatException>(() => EncoderWeights.Load(new CpuBackend(), Small, source));
        Assert.Contains("'encoder.layer.0.output.dense.weight' has shape [8, 15], expected [8, 16]", e.Message);
    }

    [Fact]
    public void Not_a_bert_checkpoint_says_so()
    {
        var source = new SyntheticCheckpoint(Small, seed: 4, namePrefix: "transformer.");
        var e = Assert.Throws<ModelFormatException>(() => EncoderWeights.Load(new CpuBackend(), Small, source));
        Assert.Contains("embeddings.word_embeddings.weight", e.Message);
    }

    [Fact]
    public void A_checkpoint_without_pooler_loads_but_pooled_heads_refuse()
    {
        var b = new CpuBackend();
        using var w = EncoderWeights.Load(b, Small, new SyntheticCheckpoint(Small, seed: 4, withPooler: false));
        Assert.Null(w.PoolerWeight);
        var enc = new Encoder(b, w);
        var e = Assert.Throws<ModelFormatException>(() => enc.Forward(new EncoderBatch(1, 3, [2, 5, 3], [1, 1, 1]), null, new EncoderPassOptions { ComputePooled = true }));
        Assert.Contains("pooler", e.Message);
        enc.Forward(new EncoderBatch(1, 3, [2, 5, 3], [1, 1, 1]), null, new EncoderPassOptions { ComputePooled = false });
    }

    [Fact]
    public void Roberta_positions_follow_the_mask_and_the_prefix_shift()
    {
        var c = Small with { ModelType = "roberta", PadTokenId = 1 };
        var batch = new EncoderBatch(1, 5, [0, 5, 6, 1, 1], [1, 1, 1, 0, 0]);
        Assert.Equal([2, 3, 4, 1, 1], batch.PositionIds(c, 3, PositionMode.FromZero));
        Assert.Equal([5, 6, 7, 1, 1], batch.PositionIds(c, 3, PositionMode.AfterPrefix));
        Assert.Equal([0, 1, 2, 3, 4], batch.PositionIds(Small, 3, PositionMode.FromZero));
        Assert.Equal([3, 4, 5, 6, 7], batch.PositionIds(Small, 3, PositionMode.AfterPrefix));
    }
}
