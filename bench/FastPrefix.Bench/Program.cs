using BenchmarkDotNet.Running;

namespace FastPrefix.Bench;

/// <summary>
/// Runs the BenchmarkDotNet suites of this assembly, e.g.
/// <c>dotnet run -c Release --project bench/FastPrefix.Bench -- --filter '*Sgemm*'</c>.
/// <c>-- sgemm-quick [threads]</c> prints a fast Stopwatch table of the Sgemm shapes instead;
/// <c>-- step-report [steps]</c> splits a CPU training step into matrix products and the rest (bench/RESULTS.md);
/// <c>-- write-train-workload DIR [rows]</c> writes the MiniLM-shaped model and data of bench/compare-train.sh;
/// <c>-- sim-report [rounds]</c> measures the simulated GPU device (fiber switches, a block reduction, a conversion).
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
        if (args.Length > 1 && args[0] == "write-train-workload")
        {
            TrainWorkload.Write(args[1], args.Length > 2 ? int.Parse(args[2]) : 0);
            return;
        }
        if (args.Length > 0 && args[0] == "sim-report")
        {
            SimReport.Run(args.Length > 1 ? int.Parse(args[1]) : 0);
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
