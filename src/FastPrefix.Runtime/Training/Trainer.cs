using System.Diagnostics;
using System.Globalization;
using FastPrefix.Backends;
using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Training;

/// <summary>
/// Trains a <see cref="PTuningModel"/>'s parameters (prefix and head) with AdamW. A step touches the host only at
/// its edges: the batch, its dropout seeds (from (Seed, step)), the learning rate and bias corrections are staged
/// and uploaded once; then ZeroGrad → Forward → loss → Backward → global norm → AdamW (clipped on the fly) → record
/// the loss and norm into a device ring run as backend ops (<see cref="TrainingStep"/>: on CUDA one replayed graph per
/// batch shape). The ring is read back lazily (progress reports, epoch
/// ends, checkpoints, or when it is full); a non-finite loss stops training there, naming its step. After every epoch
/// it evaluates, keeps a host copy of the best parameters, writes checkpoint.safetensors, metrics.jsonl and
/// curves.png, and stops early when the main metric stops improving; at the end the best parameters are put
/// back into the model. Same seed, data and options give bitwise-identical parameters on a deterministic
/// backend, also when the run was interrupted and resumed.
/// </summary>
public sealed class Trainer
{
    static readonly TimeSpan ReportInterval = TimeSpan.FromMilliseconds(100);
    /// <summary>Steps whose (loss, norm) the device ring holds before the host must read it.</summary>
    internal const int RecordedSteps = 256;
    const int RecordWidth = TrainingStep.RecordWidth;

    readonly PTuningModel _model;
    readonly ITrainingData _data;
    readonly IEvaluator? _evaluator;
    readonly Parameter[] _params;
    readonly float[] _recordHost = new float[RecordedSteps * RecordWidth];

    public Trainer(PTuningModel model, ITrainingData data, TrainingOptions options, IEvaluator? evaluator = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (data.Count <= 0) throw new ArgumentException("the training data has no examples");
        if (options.EarlyStoppingPatience > 0 && (evaluator == null || !options.EvalEveryEpoch))
            throw new ArgumentException("EarlyStoppingPatience needs an evaluator and EvalEveryEpoch");
        _model = model; _data = data; _evaluator = evaluator; Options = options;
        _params = [.. model.Parameters];
        StepsPerEpoch = BatchPlanner.BatchesPerEpoch(data.Count, options.BatchSize);
        TotalSteps = options.MaxSteps > 0 ? options.MaxSteps : checked(options.Epochs * StepsPerEpoch);
        Epochs = (TotalSteps + StepsPerEpoch - 1) / StepsPerEpoch;
        int warmup = options.WarmupSteps > 0 ? options.WarmupSteps : LrSchedule.WarmupFromRatio(options.WarmupRatio, TotalSteps);
        Schedule = new LrSchedule(options.Schedule, options.LearningRate, TotalSteps, warmup, options.Gamma);
    }

    public TrainingOptions Options { get; }
    public int StepsPerEpoch { get; }
    /// <summary>The configured number of optimiser steps (the schedule is computed from it).</summary>
    public int TotalSteps { get; }
    /// <summary>Epochs to run (the last one is partial when MaxSteps is not a multiple of an epoch).</summary>
    public int Epochs { get; }
    public LrSchedule Schedule { get; }
    /// <summary>Path of checkpoint.safetensors, or null when checkpoints are off.</summary>
    public string? CheckpointPath => Options.EffectiveCheckpointDir is { } d ? Path.Combine(d, TrainingCheckpoint.FileName) : null;
    public bool HasCheckpoint => CheckpointPath is { } p && File.Exists(p);

    /// <summary>Progress while training (at most ~10 per second, plus each epoch's last step and each evaluation).</summary>
    public event Action<TrainingProgress>? Progress;
    /// <summary>Raised after each epoch's evaluation, log and checkpoint.</summary>
    public event Action<EpochSummary>? EpochCompleted;
    /// <summary>Problems that do not stop training (e.g. curves.png could not be drawn).</summary>
    public event Action<string>? Warning;

    /// <summary>
    /// Trains to the end, an early stop, or cancellation. With <paramref name="resume"/> it continues from
    /// checkpoint.safetensors (which must come from a run with the same settings). Cancellation stops after
    /// the current step, writes a checkpoint and returns with Completed false (the model keeps its current
    /// parameters); otherwise the best parameters are restored into the model.
    /// </summary>
    public TrainingResult Run(bool resume = false, CancellationToken cancellationToken = default)
    {
        using var adam = new AdamW(_params, Options.AdamW);
        using var record = _model.Backend.Zeros(RecordedSteps * RecordWidth);
        using var step = new TrainingStep(_model, adam, Options.MaxGradNorm, record, Options.UseGraphs);
        var s = new RunState();
        if (resume) Restore(s, adam);
        if (Options.OutputDir != null) Directory.CreateDirectory(Options.OutputDir);
        if (Options.EffectiveCheckpointDir != null) Directory.CreateDirectory(Options.EffectiveCheckpointDir);

        var clock = Stopwatch.StartNew();
        var stepClock = new Stopwatch();
        int stepsHere = 0;
        TimeSpan? lastReport = null;
        int savedAt = resume ? s.GlobalStep : -1;
        double Elapsed() => s.ElapsedBefore + clock.Elapsed.TotalSeconds;

        while (!s.Finished)
        {
            int epoch = s.EpochsCompleted;
            int[][] plan = BatchPlanner.Plan(_data.Count, Options.BatchSize, Options.Seed, epoch, Options.LengthBucketing,
                Options.LengthBucketing ? _data.LengthOf : null);
            int stepsInEpoch = Math.Min(plan.Length, TotalSteps - epoch * StepsPerEpoch);
            for (int k = s.GlobalStep - epoch * StepsPerEpoch; k < stepsInEpoch; k++)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    ReadRecord(s, record);
                    if (savedAt != s.GlobalStep) SaveCheckpoint(s, adam, Elapsed());
                    return Result(s, step, cancelled: true);
                }
                stepClock.Start();
                s.LastLr = TrainStep(step, plan[k], epoch, s);
                stepClock.Stop();
                s.GlobalStep++; stepsHere++;

                bool last = k == stepsInEpoch - 1;
                bool report = Progress != null && (last || lastReport is not { } at || clock.Elapsed - at >= ReportInterval);
                if (report || s.GlobalStep - s.RecordedUpTo == RecordedSteps) ReadRecord(s, record);
                if (report)
                {
                    lastReport = clock.Elapsed;
                    double rate = stepClock.Elapsed.TotalSeconds > 0 ? stepsHere / stepClock.Elapsed.TotalSeconds : 0;
                    Progress!(new TrainingProgress
                    {
                        Phase = TrainingPhase.Training, Epoch = epoch + 1, Epochs = Epochs,
                        StepInEpoch = k + 1, StepsInEpoch = stepsInEpoch, Step = s.GlobalStep, TotalSteps = TotalSteps,
                        Loss = s.EpochLossSum / (k + 1), LearningRate = s.LastLr, GradNorm = s.LastNorm, StepsPerSecond = rate,
                        Eta = rate > 0 ? TimeSpan.FromSeconds((TotalSteps - s.GlobalStep) / rate) : null,
                        Elapsed = TimeSpan.FromSeconds(Elapsed()),
                    });
                }
                if (!last && Options.CheckpointEverySteps > 0 && s.GlobalStep % Options.CheckpointEverySteps == 0)
                {
                    ReadRecord(s, record);
                    SaveCheckpoint(s, adam, Elapsed());
                    savedAt = s.GlobalStep;
                }
            }
            ReadRecord(s, record);
            EndEpoch(s, epoch, stepsInEpoch, Elapsed);
            SaveCheckpoint(s, adam, Elapsed());
            savedAt = s.GlobalStep;
            WriteOutputs(s);
            EpochCompleted?.Invoke(s.History[^1]);
        }

        if (s.Best != null) Upload(s.Best);
        return Result(s, step, cancelled: false);
    }

    /// <summary>
    /// One optimiser step (<see cref="TrainingStep"/>): the batch and the step's scalars staged and uploaded once, then
    /// backend ops only. Returns the learning rate used. The step's loss and gradient norm go to the record's next row.
    /// </summary>
    double TrainStep(TrainingStep step, int[] batchIndices, int epoch, RunState s)
    {
        int globalStep = s.GlobalStep;
        var batch = _data.MakeBatch(batchIndices);
        if (!batch.HasTargets) throw new TrainingException($"training batch of step {globalStep + 1} has no targets (labels or answer positions)");
        EnsurePlan(batch);
        double lr = Schedule.At(globalStep, epoch);
        step.Run(batch, DropoutHash.Derive(Options.Seed, (ulong)globalStep), (float)lr, slot: s.GlobalStep - s.RecordedUpTo);
        return lr;
    }

    /// <summary>Plans the model's buffers once for the run: the batch size (in encoder rows) and the longest example.</summary>
    void EnsurePlan(TaskBatch first)
    {
        if (_planned) return;
        int rowsPerExample = _model.Head.RowsPerExample(first);
        int longest = 1;
        for (int i = 0; i < _data.Count; i++) longest = Math.Max(longest, _data.LengthOf(i));
        if (_evaluator?.MaxSequenceLength is { } evalLength) longest = Math.Max(longest, evalLength);
        _model.Plan(checked(Options.BatchSize * rowsPerExample), longest, training: true);
        _planned = true;
    }

    bool _planned;

    /// <summary>Reads the device record of the steps since the last read: epoch loss sum, last norm, non-finite losses.</summary>
    void ReadRecord(RunState s, Tensor record)
    {
        int n = s.GlobalStep - s.RecordedUpTo;
        if (n <= 0) return;
        _model.Backend.Download(record, _recordHost.AsSpan(0, n * RecordWidth));
        for (int i = 0; i < n; i++)
        {
            double loss = (double)_recordHost[i * RecordWidth] + _recordHost[i * RecordWidth + 1];
            int step = s.RecordedUpTo + i;
            if (!double.IsFinite(loss))
                throw new TrainingException($"training loss is {loss.ToString(CultureInfo.InvariantCulture)} at epoch {step / StepsPerEpoch + 1}, step {step + 1}; " +
                                            "lower the learning rate or check the data");
            s.EpochLossSum += loss;
            s.LastNorm = _recordHost[i * RecordWidth + 2];
        }
        s.RecordedUpTo = s.GlobalStep;
    }

    void EndEpoch(RunState s, int epoch, int stepsInEpoch, Func<double> elapsed)
    {
        bool lastEpoch = s.GlobalStep >= TotalSteps;
        IReadOnlyDictionary<string, double>? metrics = null;
        bool isBest = false;
        if (_evaluator != null && (Options.EvalEveryEpoch || lastEpoch))
        {
            Progress?.Invoke(new TrainingProgress
            {
                Phase = TrainingPhase.Evaluating, Epoch = epoch + 1, Epochs = Epochs, StepInEpoch = stepsInEpoch, StepsInEpoch = stepsInEpoch,
                Step = s.GlobalStep, TotalSteps = TotalSteps, Loss = s.EpochLossSum / Math.Max(1, stepsInEpoch), LearningRate = s.LastLr,
                Elapsed = TimeSpan.FromSeconds(elapsed()),
            });
            metrics = new Dictionary<string, double>(_evaluator.Evaluate(_model));
            if (!metrics.TryGetValue(_evaluator.MainMetric, out double value))
                throw new TrainingException($"the evaluator returned no '{_evaluator.MainMetric}' (its main metric); it returned: {string.Join(", ", metrics.Keys)}");
            if (s.BestMetric is not { } best || (double.IsFinite(value) && (_evaluator.HigherIsBetter ? value > best : value < best)) || !double.IsFinite(best))
            {
                isBest = true;
                s.BestMetric = value; s.BestEpoch = epoch + 1; s.EvalsWithoutImprovement = 0;
                s.Best = Download();
            }
            else s.EvalsWithoutImprovement++;
        }
        s.History.Add(new EpochSummary
        {
            Epoch = epoch + 1, Step = s.GlobalStep, TrainLoss = s.EpochLossSum / Math.Max(1, stepsInEpoch), LearningRate = s.LastLr,
            Eval = metrics, IsBest = isBest, ElapsedSeconds = elapsed(),
        });
        s.EpochsCompleted = epoch + 1;
        s.EpochLossSum = 0;
        if (Options.EarlyStoppingPatience > 0 && s.EvalsWithoutImprovement >= Options.EarlyStoppingPatience && !lastEpoch)
            s.StoppedEarly = true;
        s.Finished = lastEpoch || s.StoppedEarly;
    }

    void WriteOutputs(RunState s)
    {
        if (Options.OutputDir == null) return;
        MetricsLog.Write(Path.Combine(Options.OutputDir, MetricsLog.FileName), s.History);
        try { CurvesPlot.Write(Path.Combine(Options.OutputDir, CurvesPlot.FileName), s.History, _evaluator?.MainMetric); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Warning?.Invoke($"{Path.Combine(Options.OutputDir, CurvesPlot.FileName)}: could not draw the curves ({e.GetType().Name}: {e.Message})");
        }
    }

    // ---- checkpoints ----

    Dictionary<string, string> Fingerprint()
    {
        var f = new Dictionary<string, string>(Options.TrajectoryFields(), StringComparer.Ordinal)
        {
            ["train_examples"] = _data.Count.ToString(CultureInfo.InvariantCulture),
            ["parameters"] = string.Join("; ", _params.Select(p => p.Name + " " + Tensor.ShapeText(p.Shape))),
            ["model"] = $"prefix {_model.Prefix.Kind} length {_model.Prefix.PrefixLen} from layer {_model.Prefix.FirstLayer}; head {_model.Head.Kind}; " +
                        $"positions {_model.Options.Positions}; dropout {F(_model.Options.HiddenDropout ?? _model.Config.HiddenDropout)}/" +
                        $"{F(_model.Options.AttentionDropout ?? _model.Config.AttentionDropout)}/{F(_model.Options.PrefixDropout ?? _model.Config.HiddenDropout)}",
            ["evaluator"] = _evaluator == null ? "none" : $"{_evaluator.MainMetric} ({(_evaluator.HigherIsBetter ? "higher" : "lower")} is better)",
        };
        return f;
        static string F(float x) => x.ToString("R", CultureInfo.InvariantCulture);
    }

    void SaveCheckpoint(RunState s, AdamW adam, double elapsed)
    {
        if (CheckpointPath is not { } path) return;
        new TrainingCheckpoint
        {
            Fingerprint = Fingerprint(),
            GlobalStep = s.GlobalStep, EpochsCompleted = s.EpochsCompleted, EpochLossSum = s.EpochLossSum, ElapsedSeconds = elapsed,
            EvalsWithoutImprovement = s.EvalsWithoutImprovement, Finished = s.Finished, StoppedEarly = s.StoppedEarly,
            BestEpoch = s.BestEpoch, BestMetric = s.BestMetric,
            Parameters = Download(), BestParameters = s.Best, Optimizer = adam.ExportState(), History = s.History,
        }.Save(path);
    }

    void Restore(RunState s, AdamW adam)
    {
        string path = CheckpointPath ?? throw new TrainingException("cannot resume: neither CheckpointDir nor OutputDir is set");
        var c = TrainingCheckpoint.Load(path);
        var expected = Fingerprint();
        var differences = expected.Keys.Union(c.Fingerprint.Keys).Order(StringComparer.Ordinal)
            .Where(k => expected.GetValueOrDefault(k) != c.Fingerprint.GetValueOrDefault(k))
            .Select(k => $"{k}: checkpoint {c.Fingerprint.GetValueOrDefault(k) ?? "(none)"}, now {expected.GetValueOrDefault(k) ?? "(none)"}")
            .ToList();
        if (differences.Count > 0)
            throw new TrainingException($"{path}: cannot resume, the checkpoint was written by a run with other settings ({string.Join("; ", differences)})");
        int epochStart = c.EpochsCompleted * StepsPerEpoch;
        if (c.GlobalStep < epochStart || c.GlobalStep > Math.Min(TotalSteps, epochStart + StepsPerEpoch) || c.History.Count != c.EpochsCompleted)
            throw new TrainingException($"{path}: inconsistent checkpoint (step {c.GlobalStep}, {c.EpochsCompleted} epochs done, {c.History.Count} logged, {StepsPerEpoch} steps per epoch)");
        Upload(c.Parameters, path);
        adam.ImportState(c.Optimizer);
        s.GlobalStep = c.GlobalStep; s.EpochsCompleted = c.EpochsCompleted; s.EpochLossSum = c.EpochLossSum;
        s.ElapsedBefore = c.ElapsedSeconds; s.EvalsWithoutImprovement = c.EvalsWithoutImprovement;
        s.Finished = c.Finished; s.StoppedEarly = c.StoppedEarly; s.BestEpoch = c.BestEpoch; s.BestMetric = c.BestMetric;
        s.Best = c.BestParameters is { } b ? [.. b] : null;
        s.History.AddRange(c.History);
        s.LastLr = s.GlobalStep > 0 ? Schedule.At(s.GlobalStep - 1, (s.GlobalStep - 1) / StepsPerEpoch) : 0;
        s.RecordedUpTo = s.GlobalStep;
    }

    // ---- parameters ----

    List<NamedTensor> Download() => [.. _params.Select(p => new NamedTensor(p.Name, (int[])p.Shape.Clone(), p.Download()))];

    void Upload(IReadOnlyList<NamedTensor> values, string? source = null)
    {
        var byName = values.ToDictionary(v => v.Name, StringComparer.Ordinal);
        foreach (var p in _params)
        {
            if (!byName.TryGetValue(p.Name, out var v)) throw new TrainingException($"{source ?? "saved parameters"}: no values for parameter '{p.Name}'");
            if (!v.Shape.SequenceEqual(p.Shape))
                throw new TrainingException($"{source ?? "saved parameters"}: parameter '{p.Name}' has shape {Tensor.ShapeText(v.Shape)}, the model's is {Tensor.ShapeText(p.Shape)}");
        }
        foreach (var p in _params) p.Upload(byName[p.Name].Data);
    }

    TrainingResult Result(RunState s, TrainingStep step, bool cancelled) => new()
    {
        Completed = !cancelled, Cancelled = cancelled, StoppedEarly = s.StoppedEarly, EpochsCompleted = s.EpochsCompleted,
        Steps = s.GlobalStep, TotalSteps = TotalSteps, BestEpoch = s.BestEpoch, BestMetric = s.BestMetric, History = [.. s.History],
        GraphReplays = step.GraphReplays,
    };

    sealed class RunState
    {
        public int GlobalStep, EpochsCompleted, EvalsWithoutImprovement;
        /// <summary>Steps before this one have had their loss and norm read back from the device record.</summary>
        public int RecordedUpTo;
        public double EpochLossSum, ElapsedBefore, LastLr, LastNorm;
        public bool Finished, StoppedEarly;
        public int? BestEpoch;
        public double? BestMetric;
        public List<NamedTensor>? Best;
        public readonly List<EpochSummary> History = [];
    }
}
