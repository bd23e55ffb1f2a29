using FastPrefix.Training;
using Spectre.Console;

namespace FastPrefix.Cli;

/// <summary>
/// Shows training progress: a live Spectre.Console bar (loss, steps/s, ETA) on a terminal, and plain lines
/// (about every 10 % and at each epoch end) when output is redirected, so logs stay readable.
/// </summary>
internal sealed class ProgressRenderer
{
    readonly TextWriter _out;
    readonly EtaEstimate _eta = new();
    int _lastDecile = -1;

    public ProgressRenderer(TextWriter output) { _out = output; }

    public static bool Interactive => !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") == null
        && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>Runs <paramref name="run"/> with the trainer's events rendered; returns its result.</summary>
    public T Run<T>(Trainer trainer, Func<T> run)
    {
        if (!Interactive)
        {
            trainer.EpochCompleted += e => _out.WriteLine(FormatEpoch(e));
            trainer.Warning += w => _out.WriteLine("warning: " + w);
            trainer.Progress += p =>
            {
                if (p.Phase != TrainingPhase.Training || p.TotalSteps == 0) return;
                var eta = _eta.Update(p);   // every report: the estimate starts from the first one
                int decile = (int)(10L * p.Step / p.TotalSteps);
                if (decile == _lastDecile) return;
                _lastDecile = decile;
                _out.WriteLine(FormatProgress(p, eta));
            };
            return run();
        }
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("training", maxValue: Math.Max(1, trainer.TotalSteps));
                // Lines written through AnsiConsole are placed above the live bar instead of tearing it.
                trainer.EpochCompleted += e => AnsiConsole.WriteLine(FormatEpoch(e));
                trainer.Warning += w => AnsiConsole.WriteLine("warning: " + w);
                trainer.Progress += p =>
                {
                    task.Value = p.Step;
                    task.Description = p.Phase == TrainingPhase.Evaluating
                        ? $"epoch {p.Epoch}/{p.Epochs} evaluating"
                        : $"epoch {p.Epoch}/{p.Epochs} loss {p.Loss:F4} {p.StepsPerSecond:F1} steps/s{EtaText(_eta.Update(p))}";
                };
                result = run();
                task.Value = task.MaxValue;
            });
        return result;
    }

    static string FormatProgress(TrainingProgress p, TimeSpan? eta) =>
        $"epoch {p.Epoch}/{p.Epochs} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4} lr {FormatLr(p.LearningRate)} {p.StepsPerSecond:F1} steps/s" +
        EtaText(eta);

    static string EtaText(TimeSpan? eta) => eta is { } e ? $" eta {e:hh\\:mm\\:ss}" : "";

    /// <summary>"1e-2", "9.5e-3", and "0" for zero (E2 printed 0.00E+000).</summary>
    internal static string FormatLr(double lr) =>
        lr == 0 ? "0" : lr.ToString("0.##e0", System.Globalization.CultureInfo.InvariantCulture);

    static string FormatEpoch(EpochSummary e)
    {
        string eval = e.Eval == null ? "" : " " + string.Join(" ", e.Eval.Select(kv => $"{kv.Key} {kv.Value:F4}"));
        return $"epoch {e.Epoch} done: train loss {e.TrainLoss:F4}{eval}{(e.IsBest ? " (best)" : "")} [{e.ElapsedSeconds:F1} s]";
    }
}
