using BenchmarkDotNet.Running;

namespace FastPrefix.Bench;

/// <summary>
/// Runs the BenchmarkDotNet suites of this assembly, e.g.
/// <c>dotnet run -c Release --project bench/FastPrefix.Bench -- --filter '*Sgemm*'</c>.
/// <c>-- sgemm-quick [threads]</c> prints a fast Stopwatch table of the Sgemm shapes instead;
/// <c>-- tokenize-hostile CASE [MAX] [bpe|wordpiece]</c> times one Encode of hostile input (text26m, bangs1m);
/// <c>-- fingerprint [file]</c> times the backbone content hash on a bert-large-sized file;
/// <c>-- step-report [steps]</c> splits a CPU training step into matrix products and the rest (bench/RESULTS.md);
/// <c>-- write-train-workload DIR [rows]</c> writes the MiniLM-shaped model and data of bench/compare-train.sh;
/// <c>-- ort [rounds]</c> times CPU inference side by side with ONNX Runtime on all-MiniLM-L6-v2 and prints the ratio;
/// <c>-- serve-load [--clients N] [--adapters K] [--seconds S] [--rounds R] [--device D]</c> loads the HTTP server over loopback,
/// mixed-adapter batching against one adapter per pass (bench/RESULTS.md);
/// <c>-- sim-report [rounds]</c> measures the simulated GPU device (fiber switches, a block reduction, a conversion);
/// <c>-- sim-attention [rounds] [peer.cu]</c> times the attention kernels on the simulated GPU at the small-bert-a fixture's
/// shapes, alternating with an earlier attention.cu when given.
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
        if (args.Length > 0 && args[0] == "sim-attention")
        {
            SimAttention.Run(args.Length > 1 ? int.Parse(args[1]) : 0, args.Length > 2 ? args[2] : null);
            return;
        }
        if (args.Length > 0 && args[0] == "ort")
        {
            OrtSideBySide.Run(args.Length > 1 ? int.Parse(args[1]) : 0);
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
        if (args.Length > 0 && args[0] == "tokenize-hostile")
        {
            HostileTokenizerInput.Run(args[1], args.Length > 2 ? int.Parse(args[2]) : 0, args.Length > 3 ? args[3] : "bpe");
            return;
        }
        if (args.Length > 0 && args[0] == "fingerprint")
        {
            FingerprintTiming.Run(args.Length > 1 ? args[1] : null);
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
