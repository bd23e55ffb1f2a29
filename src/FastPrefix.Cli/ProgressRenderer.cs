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
                int decile = (int)(10L * p.Step / p.TotalSteps);
                if (decile == _lastDecile) return;
                _lastDecile = decile;
                _out.WriteLine(FormatProgress(p));
            };
            return run();
        }
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
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
                        : $"epoch {p.Epoch}/{p.Epochs} loss {p.Loss:F4} {p.StepsPerSecond:F1} steps/s";
                };
                result = run();
                task.Value = task.MaxValue;
            });
        return result;
    }

    static string FormatProgress(TrainingProgress p) =>
        $"epoch {p.Epoch}/{p.Epochs} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4} lr {p.LearningRate:E2} {p.StepsPerSecond:F1} steps/s" +
        (p.Eta is { } eta ? $" eta {eta:hh\\:mm\\:ss}" : "");

    static string FormatEpoch(EpochSummary e)
    {
        string eval = e.Eval == null ? "" : " " + string.Join(" ", e.Eval.Select(kv => $"{kv.Key} {kv.Value:F4}"));
        return $"epoch {e.Epoch} done: train loss {e.TrainLoss:F4}{eval}{(e.IsBest ? " (best)" : "")} [{e.ElapsedSeconds:F1} s]";
    }
}
