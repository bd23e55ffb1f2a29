using System.Diagnostics;

namespace FastPrefix.Tests.Support;

/// <summary>Runs the real `fastprefix` program (built next to the tests) as a child process.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static Result Run(params string[] args) => RunWithInput(null, args);

    /// <summary>Runs `fastprefix` and fails the test, showing both streams, unless it exits 0.</summary>
    public static Result Succeeds(params string[] args)
    {
        var r = Run(args);
        Assert.True(r.ExitCode == 0, $"fastprefix {string.Join(' ', args)} exited {r.ExitCode}\n{r.StdErr}\n{r.StdOut}");
        return r;
    }

    /// <summary>Starts `fastprefix` without waiting (stdout and stderr redirected, stdin closed by the caller).</summary>
    public static Process Start(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "fastprefix.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        return Process.Start(psi)!;
    }

    public static Result RunWithInput(string? stdin, params string[] args)
    {
        using var p = Start(args);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin != null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException("fastprefix " + string.Join(' ', args)); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
