using BenchmarkDotNet.Running;

namespace FastPrefix.Bench;

/// <summary>
/// Runs the BenchmarkDotNet suites of this assembly, e.g.
/// <c>dotnet run -c Release --project bench/FastPrefix.Bench -- --filter '*Sgemm*'</c>.
/// <c>-- sgemm-quick [threads]</c> prints a fast Stopwatch table of the Sgemm shapes instead;
/// <c>-- step-report [steps]</c> splits a CPU training step into matrix products and the rest (bench/RESULTS.md);
/// <c>-- serve-load [--clients N] [--adapters K] [--seconds S] [--rounds R] [--device D]</c> loads the HTTP server over loopback,
/// mixed-adapter batching against one adapter per pass (bench/RESULTS.md).
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "step-report")
        {
            StepReport.Run(args.Length > 1 ? int.Parse(args[1]) : 0);
            return;
        }
        if (args.Length > 0 && args[0] == "serve-load")
        {
            ServeLoad.Run(args[1..]);
            return;
        }
        if (args.Length > 0 && args[0] == "sgemm-quick")
        {
            SgemmQuick.Run(args.Length > 1 ? int.Parse(args[1]) : 0);
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
