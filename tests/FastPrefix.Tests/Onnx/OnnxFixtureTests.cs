using FastPrefix.Adapters;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Onnx.Export;
using FastPrefix.Tests.Adapters;
using FastPrefix.Tests.Reference;

namespace FastPrefix.Tests.Onnx;

/// <summary>
/// The exported graph run by ONNX Runtime against the float64 reference fixtures (every model fixture folder × every
/// logits case): the export reproduces the reference numerics themselves, not only FastPrefix's reading of them.
/// </summary>
[Trait("Category", "Onnx")]
public class OnnxFixtureTests
{
    static readonly string[] Cases = ["seqcls", "tokcls", "qa", "mlp", "mc", "shift", "depth", "mixed"];
    const string Case1 = "case.safetensors", Case2 = "case2.safetensors", Case3 = "case3.safetensors";

    public static TheoryData<string, string> FixtureCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var dir in TestPaths.FixtureFoldersWith("case.safetensors"))
            foreach (var c in Cases) data.Add(Path.GetFileName(dir), c);
        return data;
    }

    [Theory]
    [MemberData(nameof(FixtureCases))]
    public void Onnx_runtime_reproduces_the_reference(string fixture, string caseName)
    {
        using var fx = new FixtureCase(Path.Combine(TestPaths.FixturesRoot, fixture));
        using var dir = new TempDir();
        switch (caseName)
        {
            case "seqcls":
            case "tokcls":
                var kind = caseName == "seqcls" ? TaskKind.SequenceClassification : TaskKind.TokenClassification;
                Check(fx, dir, Case1, "", [Adapter(fx, dir, kind, Plain(fx, Case1, "prefix"), Case1, $"{caseName}.classifier")], $"expected.{caseName}.logits");
                break;
            case "qa":
                var qa = Export(fx, dir, [Adapter(fx, dir, TaskKind.QuestionAnswering, Plain(fx, Case1, "prefix"), Case1, "qa.qa_outputs")], Case1, "");
                fx.AssertClose(Case1, "expected.qa.start_logits", qa["start_logits"]);
                fx.AssertClose(Case1, "expected.qa.end_logits", qa["end_logits"]);
                break;
            case "mlp":
                int len = (int)fx.Shape(Case1, "mlp.embedding.weight")[0], hidden = (int)fx.Shape(Case1, "mlp.trans.0.weight")[0];
                var mlp = new MlpPrefix(fx.Backend, fx.Config, len, hidden);
                foreach (var p in mlp.Parameters) p.Upload(fx.Floats(Case1, "mlp." + p.Name["prefix_encoder.".Length..]));
                Check(fx, dir, Case1, "", [Adapter(fx, dir, TaskKind.SequenceClassification, mlp, Case1, "seqcls.classifier")], "expected.mlp.logits");
                break;
            case "mc":
                Check(fx, dir, Case2, "mc.", [Adapter(fx, dir, TaskKind.MultipleChoice, Plain(fx, Case2, "mc.prefix"), Case2, "mc.classifier")], "expected.mc.logits");
                break;
            case "shift":
                Check(fx, dir, Case2, "shift.", [Adapter(fx, dir, TaskKind.SequenceClassification, Plain(fx, Case2, "shift.prefix"), Case2, "shift.classifier", PositionMode.AfterPrefix)],
                    "expected.shift.logits");
                break;
            case "depth":
                int first = (int)fx.File(Case2).ReadInt64("depth.first_layer")[0];
                Check(fx, dir, Case2, "shift.", [Adapter(fx, dir, TaskKind.SequenceClassification, Plain(fx, Case2, "depth.prefix", first), Case2, "shift.classifier")],
                    "expected.depth.logits");
                break;
            case "mixed":
                int tasks = (int)fx.Shape(Case3, "mixed.prefix_bank")[0];
                var adapters = Enumerable.Range(0, tasks).Select(n =>
                    Adapter(fx, dir, TaskKind.SequenceClassification, Plain(fx, Case3, "mixed.prefix_bank", slice: n), Case3, "mixed.head", slice: n)).ToArray();
                var rowTask = fx.File(Case3).ReadInt64("mixed.row_task");
                var got = Export(fx, dir, adapters, Case3, "mixed.", new OrtRunner.Input("adapter_index", rowTask, [rowTask.Length]));
                fx.AssertClose(Case3, "expected.mixed.logits", got["logits"]);
                break;
            default: throw new ArgumentException(caseName);
        }
    }

    static void Check(FixtureCase fx, TempDir dir, string file, string prefix, string[] adapters, string expected) =>
        fx.AssertClose(file, expected, Export(fx, dir, adapters, file, prefix)["logits"]);

    /// <summary>Exports the fixture's backbone with the adapters and runs the case's inputs ({prefix}input_ids, ...) through ONNX Runtime.</summary>
    static Dictionary<string, float[]> Export(FixtureCase fx, TempDir dir, string[] adapters, string file, string prefix, params OrtRunner.Input[] extra)
    {
        OnnxExporter.Export(fx.Folder, adapters, dir["model.onnx"]);
        var shape = fx.Shape(file, prefix + "input_ids");
        var inputs = new[] { "input_ids", "attention_mask", "token_type_ids" }.Select(n => new OrtRunner.Input(n, fx.File(file).ReadInt64(prefix + n), shape));
        return OrtRunner.Run(dir["model.onnx"], [.. inputs, .. extra]);
    }

    /// <summary>A plain prefix from a fixture tensor [L', 2, H, P, D], or adapter <paramref name="slice"/> of a bank [N, L', 2, H, P, D].</summary>
    static PlainPrefix Plain(FixtureCase fx, string file, string tensor, int firstLayer = 0, int? slice = null)
    {
        var shape = fx.Shape(file, tensor);
        var prefix = new PlainPrefix(fx.Backend, fx.Config, (int)shape[^2], firstLayer);
        prefix.Bank.Upload(Slice(fx.Floats(file, tensor), slice, shape));
        return prefix;
    }

    static float[] Slice(float[] data, int? slice, long[] shape)
    {
        if (slice is not int n) return data;
        int size = data.Length / (int)shape[0];
        return data.AsSpan(n * size, size).ToArray();
    }

    /// <summary>Saves the prefix with the fixture's head ({head}.weight / .bias) as an adapter file of the fixture backbone.</summary>
    static string Adapter(FixtureCase fx, TempDir dir, TaskKind kind, Prefix prefix, string file, string head,
        PositionMode positions = PositionMode.FromZero, int? slice = null)
    {
        var weightShape = fx.Shape(file, head + ".weight");
        var model = new PTuningModel(fx.Encoder, prefix, TaskHead.Create(kind, fx.Backend, fx.Config, (int)weightShape[^2]), new PTuningOptions { Positions = positions });
        using (model)
        {
            model.Head.Weight.Upload(Slice(fx.Floats(file, head + ".weight"), slice, weightShape));
            model.Head.Bias.Upload(Slice(fx.Floats(file, head + ".bias"), slice, fx.Shape(file, head + ".bias")));
            string path = dir[$"{head}.{slice}.safetensors"];
            AdapterFile.Save(path, model, AdapterMetadata.FromModel(model, baseModelFingerprint: BackboneFingerprint.OfFolder(fx.Folder)));
            return path;
        }
    }
}
