using System.Diagnostics;

namespace FastPrefix.Tests.Hardening;

/// <summary>`fastprefix` installs as a .NET tool from a local package folder (README), and the installed command runs.</summary>
public class ToolInstallTests
{
    static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)), $"{file} {string.Join(' ', args)} timed out");
        return (p.ExitCode, output + err.Result);
    }

    [Fact]
    public void Packs_installs_from_a_local_folder_and_runs()
    {
        string dir = TestPaths.NewTempDir(), packages = Path.Combine(dir, "nupkg"), tools = Path.Combine(dir, "tools");
        string project = Path.Combine(TestPaths.RepoRoot, "src", "FastPrefix.Cli", "FastPrefix.Cli.csproj");
        try
        {
            var pack = Run("dotnet", "pack", project, "-c", "Release", "--no-build", "-o", packages);
            Assert.True(pack.Code == 0, pack.Output);
            var install = Run("dotnet", "tool", "install", "--tool-path", tools, "--add-source", packages, "--ignore-failed-sources", "fastprefix");
            Assert.True(install.Code == 0, install.Output);
            var help = Run(Path.Combine(tools, "fastprefix"), "--help");
            Assert.True(help.Code == 0, help.Output);
            Assert.Contains("train", help.Output);
            Assert.Contains("130", help.Output);
        }
        finally { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } }
    }
}
