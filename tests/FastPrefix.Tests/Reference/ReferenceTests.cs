using FastPrefix.Backends;
using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Tests.Reference;

/// <summary>
/// The whole model against the float64 reference fixtures: every model fixture folder under the fixtures
/// root (FASTPREFIX_FIXTURES or tests/fixtures) × every case × every backend: the CPU (fp32), and the CUDA backend on
/// the simulated GPU and on a real one (fp32 to 1e-4, bf16 to 3e-2; a backend that is not here skips with the reason).
/// Test names carry the fixture, the case, the backend and the precision. New folders are picked up without code changes.
/// </summary>
[Trait("Category", "Reference")]
public class ReferenceTests
{
    static readonly string[] Cases = ["hidden", "seqcls", "tokcls", "qa", "mlp", "mc", "shift", "depth", "mixed"];

    static readonly (string Backend, string Precision)[] Backends = [("cpu", "fp32"), .. GpuBackends.Combinations];

    public static TheoryData<string, string, string, string> FixtureCases()
    {
        var data = new TheoryData<string, string, string, string>();
        // No model fixture: one row that skips (or fails) with the reason, instead of a theory without data.
        if (!TestPaths.FixtureFoldersWith("case.safetensors").Any()) data.Add("", "", "cpu", "fp32");
        foreach (var dir in TestPaths.FixtureFoldersWith("case.safetensors"))
            foreach (var c in Cases)
                foreach (var (backend, precision) in Backends) data.Add(Path.GetFileName(dir), c, backend, precision);
        return data;
    }

    [Fact]
    public void Fixture_root_holds_model_fixtures()
    {
        Assert.NotEmpty(TestPaths.RequireFixturesWith("case.safetensors"));
    }

    [Theory]
    [MemberData(nameof(FixtureCases))]
    public void Reference(string fixture, string caseName, string backend, string precision)
    {
        if (fixture.Length == 0) TestPaths.RequireFixturesWith("case.safetensors");
        using var fx = new FixtureCase(Path.Combine(TestPaths.FixturesRoot, fixture), GpuBackends.Open(backend, precision));
        switch (caseName)
        {
            case "hidden": Hidden(fx); break;
            case "seqcls": Classification(fx, "seqcls", TaskKind.SequenceClassification); break;
            case "tokcls": Classification(fx, "tokcls", TaskKind.TokenClassification); break;
            case "qa": QuestionAnswering(fx); break;
            case "mlp": Mlp(fx); break;
            case "mc": MultipleChoice(fx); break;
            case "shift": Shift(fx); break;
            case "depth": Depth(fx); break;
            case "mixed": Mixed(fx); break;
            default: throw new ArgumentException(caseName);
        }
    }

    const string Case1 = "case.safetensors", Case2 = "case2.safetensors", Case3 = "case3.safetensors";

    static PlainPrefix LoadPrefix(FixtureCase fx, string file, string tensor, int firstLayer = 0)
    {
        var shape = fx.Shape(file, tensor);
        int adapters = shape.Length == 6 ? (int)shape[0] : 1;
        var prefix = new PlainPrefix(fx.Backend, fx.Config, (int)shape[^2], firstLayer, adapters);
        prefix.Bank.Upload(fx.Floats(file, tensor));
        return prefix;
    }

    static TaskHead LoadHead(FixtureCase fx, TaskKind kind, string file, string weight, string bias)
    {
        var shape = fx.Shape(file, weight);
        int tasks = shape.Length == 3 ? (int)shape[0] : 1;
        var head = TaskHead.Create(kind, fx.Backend, fx.Config, (int)shape[^2], tasks);
        head.Weight.Upload(fx.Floats(file, weight));
        head.Bias.Upload(fx.Floats(file, bias));
        return head;
    }

    static float[] Host(IBackend b, Tensor t, long n) { var a = new float[n]; b.Download(t, a); return a; }

    static HeadOutput Run(PTuningModel model, TaskBatch batch)
    {
        model.ZeroGrad();
        var output = model.Forward(batch, training: false);
        model.Backward();
        return output;
    }

    static void Hidden(FixtureCase fx)
    {
        using var prefix = LoadPrefix(fx, Case1, "prefix");
        var batch = fx.Batch(Case1, "");
        bool pooled = fx.File(Case1).Contains("expected.pooled");   // a checkpoint saved without a pooler has no pooled output
        fx.Encoder.Forward(batch, prefix.Prepare(), new EncoderPassOptions { ComputePooled = pooled });
        fx.AssertClose(Case1, "expected.last_hidden_state", Host(fx.Backend, fx.Encoder.Hidden, (long)batch.Rows * fx.Config.HiddenSize));
        if (pooled) fx.AssertClose(Case1, "expected.pooled", Host(fx.Backend, fx.Encoder.Pooled, (long)batch.Batch * fx.Config.HiddenSize));
    }

    static void Classification(FixtureCase fx, string name, TaskKind kind)
    {
        using var model = new PTuningModel(fx.Encoder, LoadPrefix(fx, Case1, "prefix"),
            LoadHead(fx, kind, Case1, $"{name}.classifier.weight", $"{name}.classifier.bias"));
        var output = Run(model, new TaskBatch { Inputs = fx.Batch(Case1, ""), Labels = fx.Ints(Case1, $"{name}.labels") });
        fx.AssertClose(Case1, $"expected.{name}.logits", output.Logits);
        fx.AssertClose(Case1, $"expected.{name}.loss", output.Loss!.Value);
        fx.AssertClose(Case1, $"expected.{name}.grad.prefix", model.Prefix.Parameters[0].DownloadGrad());
        fx.AssertClose(Case1, $"expected.{name}.grad.classifier.weight", model.Head.Weight.DownloadGrad());
        fx.AssertClose(Case1, $"expected.{name}.grad.classifier.bias", model.Head.Bias.DownloadGrad());
    }

    static void QuestionAnswering(FixtureCase fx)
    {
        using var model = new PTuningModel(fx.Encoder, LoadPrefix(fx, Case1, "prefix"),
            LoadHead(fx, TaskKind.QuestionAnswering, Case1, "qa.qa_outputs.weight", "qa.qa_outputs.bias"));
        var output = Run(model, new TaskBatch
        {
            Inputs = fx.Batch(Case1, ""), StartPositions = fx.Ints(Case1, "qa.start_positions"), EndPositions = fx.Ints(Case1, "qa.end_positions"),
        });
        fx.AssertClose(Case1, "expected.qa.start_logits", output.Logits.Where((_, i) => i % 2 == 0).ToArray());
        fx.AssertClose(Case1, "expected.qa.end_logits", output.Logits.Where((_, i) => i % 2 == 1).ToArray());
        fx.AssertClose(Case1, "expected.qa.loss", output.Loss!.Value);
        fx.AssertClose(Case1, "expected.qa.grad.prefix", model.Prefix.Parameters[0].DownloadGrad());
        fx.AssertClose(Case1, "expected.qa.grad.qa_outputs.weight", model.Head.Weight.DownloadGrad());
        fx.AssertClose(Case1, "expected.qa.grad.qa_outputs.bias", model.Head.Bias.DownloadGrad());
    }

    static void Mlp(FixtureCase fx)
    {
        int prefixLen = (int)fx.Shape(Case1, "mlp.embedding.weight")[0], hidden = (int)fx.Shape(Case1, "mlp.trans.0.weight")[0];
        var prefix = new MlpPrefix(fx.Backend, fx.Config, prefixLen, hidden);
        foreach (var p in prefix.Parameters) p.Upload(fx.Floats(Case1, "mlp." + p.Name["prefix_encoder.".Length..]));
        using var model = new PTuningModel(fx.Encoder, prefix,
            LoadHead(fx, TaskKind.SequenceClassification, Case1, "seqcls.classifier.weight", "seqcls.classifier.bias"));
        var output = Run(model, new TaskBatch { Inputs = fx.Batch(Case1, ""), Labels = fx.Ints(Case1, "seqcls.labels") });
        fx.AssertClose(Case1, "expected.mlp.logits", output.Logits);
        fx.AssertClose(Case1, "expected.mlp.loss", output.Loss!.Value);
        foreach (var p in prefix.Parameters) fx.AssertClose(Case1, "expected.mlp.grad." + p.Name["prefix_encoder.".Length..], p.DownloadGrad());
        fx.AssertClose(Case1, "expected.mlp.grad.classifier.weight", model.Head.Weight.DownloadGrad());
        fx.AssertClose(Case1, "expected.mlp.grad.classifier.bias", model.Head.Bias.DownloadGrad());
        // The PEFT layout of the plain prefix is the same tensor viewed (P, L·2·hidden): check the permutation too.
        var peft = fx.Floats(Case1, "prefix_peft_layout");
        var plain = fx.Floats(Case1, "prefix");
        var src = fx.Backend.Zeros(peft.Length); var dst = fx.Backend.Zeros(peft.Length);
        fx.Backend.Upload(peft, src);
        fx.Backend.PermutePrefix(src, dst, (int)fx.Shape(Case1, "prefix_peft_layout")[0], fx.Config.NumLayers, fx.Config.NumHeads, fx.Config.HeadDim, toPeft: false);
        Assert.Equal(plain, Host(fx.Backend, dst, plain.Length));
    }

    static void MultipleChoice(FixtureCase fx)
    {
        var shape = fx.Shape(Case2, "mc.input_ids");
        using var model = new PTuningModel(fx.Encoder, LoadPrefix(fx, Case2, "mc.prefix"),
            LoadHead(fx, TaskKind.MultipleChoice, Case2, "mc.classifier.weight", "mc.classifier.bias"));
        var output = Run(model, new TaskBatch { Inputs = fx.Batch(Case2, "mc."), Labels = fx.Ints(Case2, "mc.labels"), Choices = (int)shape[1] });
        fx.AssertClose(Case2, "expected.mc.logits", output.Logits);
        fx.AssertClose(Case2, "expected.mc.loss", output.Loss!.Value);
        fx.AssertClose(Case2, "expected.mc.grad.prefix", model.Prefix.Parameters[0].DownloadGrad());
        fx.AssertClose(Case2, "expected.mc.grad.classifier.weight", model.Head.Weight.DownloadGrad());
        fx.AssertClose(Case2, "expected.mc.grad.classifier.bias", model.Head.Bias.DownloadGrad());
    }

    static void Shift(FixtureCase fx)
    {
        using var model = new PTuningModel(fx.Encoder, LoadPrefix(fx, Case2, "shift.prefix"),
            LoadHead(fx, TaskKind.SequenceClassification, Case2, "shift.classifier.weight", "shift.classifier.bias"),
            new PTuningOptions { Positions = PositionMode.AfterPrefix });
        var batch = fx.Batch(Case2, "shift.");
        var output = Run(model, new TaskBatch { Inputs = batch, Labels = fx.Ints(Case2, "shift.labels") });
        fx.AssertClose(Case2, "expected.shift.last_hidden_state", fx.Encoder.DownloadHidden());
        fx.AssertClose(Case2, "expected.shift.logits", output.Logits);
        fx.AssertClose(Case2, "expected.shift.loss", output.Loss!.Value);
        fx.AssertClose(Case2, "expected.shift.grad.prefix", model.Prefix.Parameters[0].DownloadGrad());
        fx.AssertClose(Case2, "expected.shift.grad.classifier.weight", model.Head.Weight.DownloadGrad());
        fx.AssertClose(Case2, "expected.shift.grad.classifier.bias", model.Head.Bias.DownloadGrad());
    }

    static void Depth(FixtureCase fx)
    {
        int first = (int)fx.File(Case2).ReadInt64("depth.first_layer")[0];
        using var model = new PTuningModel(fx.Encoder, LoadPrefix(fx, Case2, "depth.prefix", first),
            LoadHead(fx, TaskKind.SequenceClassification, Case2, "shift.classifier.weight", "shift.classifier.bias"));
        var output = Run(model, new TaskBatch { Inputs = fx.Batch(Case2, "shift."), Labels = fx.Ints(Case2, "shift.labels") });
        fx.AssertClose(Case2, "expected.depth.logits", output.Logits);
        fx.AssertClose(Case2, "expected.depth.loss", output.Loss!.Value);
        fx.AssertClose(Case2, "expected.depth.grad.prefix", model.Prefix.Parameters[0].DownloadGrad());
        fx.AssertClose(Case2, "expected.depth.grad.classifier.weight", model.Head.Weight.DownloadGrad());
        fx.AssertClose(Case2, "expected.depth.grad.classifier.bias", model.Head.Bias.DownloadGrad());
    }

    static void Mixed(FixtureCase fx)
    {
        var rowTask = fx.Ints(Case3, "mixed.row_task");
        using var model = new PTuningModel(fx.Encoder, LoadPrefix(fx, Case3, "mixed.prefix_bank"),
            LoadHead(fx, TaskKind.SequenceClassification, Case3, "mixed.head.weight", "mixed.head.bias"));
        var batch = fx.Batch(Case3, "mixed.", rowTask);
        var output = Run(model, new TaskBatch { Inputs = batch, Labels = fx.Ints(Case3, "mixed.labels") });
        fx.AssertClose(Case3, "expected.mixed.last_hidden_state", fx.Encoder.DownloadHidden());
        fx.AssertClose(Case3, "expected.mixed.logits", output.Logits);
        fx.AssertClose(Case3, "expected.mixed.loss", output.Loss!.Value);
        fx.AssertClose(Case3, "expected.mixed.grad.prefix_bank", model.Prefix.Parameters[0].DownloadGrad());
        fx.AssertClose(Case3, "expected.mixed.grad.head.weight", model.Head.Weight.DownloadGrad());
        fx.AssertClose(Case3, "expected.mixed.grad.head.bias", model.Head.Bias.DownloadGrad());
    }
}
