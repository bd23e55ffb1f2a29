using FastPrefix.Backends.Cpu;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Tests.Cli;

namespace FastPrefix.Tests.Model;

/// <summary>The README's library example is this test's code, verbatim (checked), and it runs.</summary>
public class ReadmeExampleTests
{
    [Fact]
    public void The_library_example_in_the_readme_compiles_runs_and_is_the_one_printed()
    {
        string folder = CliModelFolder.Create();
        try
        {
            var batch = new TaskBatch { Inputs = new EncoderBatch(2, 4, [2, 7, 8, 3, 2, 9, 3, 0], [1, 1, 1, 1, 1, 1, 1, 0]), Labels = [1, 0] };
            string modelPath = folder;
            // README example begin
            using var backend = new CpuBackend();
            using var weights = ModelFolder.LoadWeights(backend, modelPath);
            var model = new PTuningModel(new Encoder(backend, weights),
                new PlainPrefix(backend, weights.Config, prefixLen: 20),
                TaskHead.Create(TaskKind.SequenceClassification, backend, weights.Config, numLabels: 2));
            Initialization.Initialize(model, seed: 42);
            var output = model.Forward(batch, training: true, seed: 1);   // logits and mean loss
            model.Backward();                                             // gradients of the prefix and head only
            // README example end
            Assert.True(double.IsFinite(output.Loss!.Value));
            Assert.Contains(model.Prefix.Parameters[0].DownloadGrad(), g => g != 0);
        }
        finally { Directory.Delete(folder, recursive: true); }

        var source = File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, "tests", "FastPrefix.Tests", "Model", "ReadmeExampleTests.cs"));
        int begin = Array.FindIndex(source, l => l.Trim() == "// README example begin"), end = Array.FindIndex(source, l => l.Trim() == "// README example end");
        var example = source[(begin + 1)..end].Select(l => l.Trim()).ToArray();
        var readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md")).Replace("\"models/bert-base-uncased\"", "modelPath");
        var printed = readme.Split('\n').Select(l => l.Trim()).ToArray();
        int at = Array.IndexOf(printed, example[0]);
        Assert.True(at >= 0, "README.md does not contain the library example's first line: " + example[0]);
        Assert.Equal(example, printed[at..(at + example.Length)]);
    }
}
