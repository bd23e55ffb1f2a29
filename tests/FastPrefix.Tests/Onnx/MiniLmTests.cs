using FastPrefix.Backends.Cpu;
using FastPrefix.Data.Tokenization;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Onnx.Export;
using FastPrefix.Onnx.Packages;
using FastPrefix.Tests.Adapters;

namespace FastPrefix.Tests.Onnx;

/// <summary>The real all-MiniLM-L6-v2 export: imported by following its graph, then run by FastPrefix and ONNX Runtime side by side.</summary>
[Trait("Category", "Onnx")]
public class MiniLmTests(MiniLmFixture minilm, ITestOutputHelper log)
{
    static readonly (string Text, string? Pair)[] Sentences =
    [
        ("The cat sat on the mat.", null),
        ("A quick brown fox jumps over the lazy dog, then disappears into the forest before anyone notices.", null),
        ("How old is the Eiffel Tower?", "It was completed in 1889 for the World's Fair in Paris."),
        ("Héllo, wörld! Émojis like 🙂 become [UNK].", null),
        ("Is this a question?", "Yes."),
    ];

    [Fact]
    public void Test_project_downloads_the_version_FastPrefix_looks_for() =>
        Assert.Equal(MiniLmPackage.Version, minilm.RestoredVersion);

    [Fact]
    public void Import_infers_the_architecture_from_the_graph()
    {
        var (_, folder) = minilm.Require();
        var c = ModelFolder.LoadConfig(folder);
        Assert.Equal(("bert", 6, 384, 12, 1536, 30522, 512, 2), (c.ModelType, c.NumLayers, c.HiddenSize, c.NumHeads, c.IntermediateSize, c.VocabSize, c.MaxPositionEmbeddings, c.TypeVocabSize));
        Assert.Equal(1e-12f, c.LayerNormEps);
        Assert.Equal("wordpiece", TokenizerFactory.FromFolder(folder).Kind);
        using var backend = new CpuBackend();
        using var weights = ModelFolder.LoadWeights(backend, folder);
        Assert.NotNull(weights.PoolerWeight);
    }

    [Fact]
    public void Hidden_states_and_pooled_output_match_onnx_runtime_on_padded_sentences_and_pairs()
    {
        var (onnx, folder) = minilm.Require();
        var tokenizer = TokenizerFactory.FromFolder(folder);
        var encoded = Sentences.Select(s => tokenizer.Encode(s.Text, s.Pair)).ToArray();
        int B = encoded.Length, T = encoded.Max(e => e.Length), C = 384;
        var ids = new int[B * T]; var mask = new int[B * T]; var types = new int[B * T];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < encoded[b].Length; t++)
            {
                ids[b * T + t] = encoded[b].InputIds[t]; mask[b * T + t] = 1; types[b * T + t] = encoded[b].TokenTypeIds![t];
            }
        Assert.Contains(mask, m => m == 0);   // the batch is padded
        Assert.Contains(types, t => t == 1);  // and holds pairs

        var ort = OrtRunner.Run(onnx, OrtRunner.Tokens(ids, mask, types, B, T));
        using var backend = new CpuBackend();
        using var weights = ModelFolder.LoadWeights(backend, folder);
        using var encoder = new Encoder(backend, weights);
        encoder.Forward(new EncoderBatch(B, T, ids, mask, types), null, new EncoderPassOptions { ComputePooled = true });
        var hidden = new float[B * T * C]; backend.Download(encoder.Hidden, hidden);
        var pooled = new float[B * C]; backend.Download(encoder.Pooled, pooled);

        double hiddenError = OrtRunner.RelativeError(hidden, ort["last_hidden_state"]);
        double pooledError = OrtRunner.RelativeError(pooled, ort.Single(o => o.Key != "last_hidden_state").Value);
        log.WriteLine($"all-MiniLM-L6-v2, {B} x {T}: last_hidden_state relative error {hiddenError:E2} (largest value {ort["last_hidden_state"].Max(MathF.Abs):F2}), pooled {pooledError:E2}");
        Assert.True(hiddenError < 1e-4, $"last_hidden_state: relative error {hiddenError:E2}");
        Assert.True(pooledError < 1e-4, $"pooled output: relative error {pooledError:E2}");
    }

    [Fact]
    public void Export_with_two_adapters_matches_fastprefix_on_a_mixed_batch_of_the_real_encoder()
    {
        var (_, folder) = minilm.Require();
        using var dir = new TempDir();
        using var encoder = AdapterTestKit.LoadEncoder(folder);
        var paths = new[] { dir["a.safetensors"], dir["b.safetensors"] };
        var models = paths.Select((p, i) => OnnxTestKit.SaveAdapter(p, folder, encoder, TaskKind.SequenceClassification, prefixLen: 8, seed: 10 * i + 1)).ToList();
        OnnxExporter.Export(folder, paths, dir["model.onnx"]);

        var tokenizer = TokenizerFactory.FromFolder(folder);
        var batch = OnnxTestKit.Encode(tokenizer, ["great film", "an awful, boring book", "the hotel was lovely"], rowAdapter: [1, 0, 1]);
        var ort = OrtRunner.Run(dir["model.onnx"], [.. OrtRunner.Tokens(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds, batch.Batch, batch.Seq),
            new OrtRunner.Input("adapter_index", [1, 0, 1], [3])]);
        var expected = OnnxTestKit.MixedLogits(models, batch);
        double error = OrtRunner.RelativeError(ort["logits"], expected);
        log.WriteLine($"all-MiniLM-L6-v2 + 2 adapters, mixed batch: logits relative error {error:E2}");
        Assert.True(error < 1e-4, $"logits: relative error {error:E2}");
        foreach (var m in models) m.Dispose();
    }
}
