using FastPrefix.IO;

namespace FastPrefix.Tests.Cli;

public class InspectCommandTests
{
    static string AnyModelFixture() => TestPaths.RequireFixturesWith("model.safetensors")[0];

    [Fact]
    public void Summarises_a_model_folder()
    {
        var folder = AnyModelFixture();
        var r = CliRunner.Run("inspect", folder);
        Assert.Equal(0, r.ExitCode);
        var config = FastPrefix.Model.EncoderConfig.Load(Path.Combine(folder, "config.json"));
        Assert.Contains($"type              {config.ModelType}", r.StdOut);
        Assert.Contains($"layers            {config.NumLayers}", r.StdOut);
        Assert.Contains($"hidden size       {config.HiddenSize}", r.StdOut);
        using var weights = SafetensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        Assert.Contains($"parameters        {weights.Tensors.Sum(t => t.ElementCount):N0}", r.StdOut);
    }

    [Fact]
    public void Lists_the_tensors_of_a_file()
    {
        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "t.safetensors");
        SafetensorsWriter.Write(path, [SafetensorsEntry.FromFloat32("a.weight", new float[6], 2, 3), SafetensorsEntry.FromInt64("ids", new long[4], 4)],
            new Dictionary<string, string> { ["format"] = "pt" });
        var r = CliRunner.Run("inspect", path);
        Assert.Equal(0, r.ExitCode);
        Assert.Matches(@"a\.weight\s+F32\s+\[2, 3\]\s+24", r.StdOut);
        Assert.Matches(@"ids\s+I64\s+\[4\]\s+32", r.StdOut);
        Assert.Contains("metadata format = pt", r.StdOut);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("missing")]
    [InlineData("folder")]
    public void Bad_input_prints_one_line_and_exits_2(string kind)
    {
        var dir = TestPaths.NewTempDir();
        string target = kind switch
        {
            "garbage" => Path.Combine(dir, "x.safetensors"),
            "missing" => Path.Combine(dir, "nope.safetensors"),
            _ => dir,
        };
        if (kind == "garbage") File.WriteAllText(target, "not a safetensors file at all");
        var r = CliRunner.Run("inspect", target);
        Assert.Equal(2, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(kind == "folder" ? dir : target, lines[0]);
        Assert.DoesNotContain("   at ", r.StdErr);
    }

    [Fact]
    public void Usage_errors_exit_2()
    {
        var r = CliRunner.Run("inspect");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("error:", r.StdErr);
        Assert.Equal(2, CliRunner.Run("no-such-command").ExitCode);
    }

    [Fact]
    public void Help_works_everywhere()
    {
        Assert.Equal(0, CliRunner.Run("--help").ExitCode);
        var r = CliRunner.Run("inspect", "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("safetensors", r.StdOut);
    }
}
