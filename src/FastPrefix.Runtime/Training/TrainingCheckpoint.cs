using System.Text.Json;
using FastPrefix.IO;

namespace FastPrefix.Training;

/// <summary>A named trainable tensor as host floats.</summary>
public sealed record NamedTensor(string Name, int[] Shape, float[] Data);

/// <summary>
/// Everything a training run needs to continue exactly where it stopped, stored as checkpoint.safetensors:
/// tensors "param/NAME", "adam.m/NAME", "adam.v/NAME", "best/NAME" (float32); counters "state.*" (int64 and
/// float64 scalars); metadata "format", "fingerprint" (the run's trajectory-deciding settings, JSON) and
/// "history" (the finished epochs, metrics.jsonl lines).
/// </summary>
public sealed class TrainingCheckpoint
{
    public const string FileName = "checkpoint.safetensors";
    public const string FormatName = "fastprefix-training-checkpoint/1";

    /// <summary>The settings that decide the trajectory (options, data size, parameters, model options).</summary>
    public required IReadOnlyDictionary<string, string> Fingerprint { get; init; }
    /// <summary>Optimiser steps done.</summary>
    public required int GlobalStep { get; init; }
    /// <summary>Epochs whose end (evaluation, log, checkpoint) has been processed.</summary>
    public required int EpochsCompleted { get; init; }
    /// <summary>Sum of the training losses of the steps done in the current, unfinished epoch.</summary>
    public double EpochLossSum { get; init; }
    public double ElapsedSeconds { get; init; }
    /// <summary>Evaluations since the best one (early stopping).</summary>
    public int EvalsWithoutImprovement { get; init; }
    /// <summary>True once training reached its last step or stopped early.</summary>
    public bool Finished { get; init; }
    public bool StoppedEarly { get; init; }
    /// <summary>Epoch (from 1) of the best parameters, or null when none has been evaluated.</summary>
    public int? BestEpoch { get; init; }
    public double? BestMetric { get; init; }
    public required IReadOnlyList<NamedTensor> Parameters { get; init; }
    /// <summary>Host copy of the best parameters (same names and order as <see cref="Parameters"/>), or null.</summary>
    public IReadOnlyList<NamedTensor>? BestParameters { get; init; }
    public required AdamWState Optimizer { get; init; }
    public required IReadOnlyList<EpochSummary> History { get; init; }

    /// <summary>Writes the checkpoint atomically (temporary file + rename).</summary>
    public void Save(string path)
    {
        var entries = new List<SafetensorsEntry>();
        foreach (var p in Parameters) entries.Add(SafetensorsEntry.FromFloat32("param/" + p.Name, p.Data, Long(p.Shape)));
        foreach (var mo in Optimizer.Moments)
        {
            var shape = Parameters.First(p => p.Name == mo.Name).Shape;
            entries.Add(SafetensorsEntry.FromFloat32("adam.m/" + mo.Name, mo.M, Long(shape)));
            entries.Add(SafetensorsEntry.FromFloat32("adam.v/" + mo.Name, mo.V, Long(shape)));
        }
        if (BestParameters != null)
            foreach (var p in BestParameters) entries.Add(SafetensorsEntry.FromFloat32("best/" + p.Name, p.Data, Long(p.Shape)));
        void I(string name, long value) => entries.Add(SafetensorsEntry.FromInt64("state." + name, [value]));
        void D(string name, double value) => entries.Add(SafetensorsEntry.FromFloat64("state." + name, [value]));
        I("global_step", GlobalStep);
        I("epochs_completed", EpochsCompleted);
        I("adam_step", Optimizer.Step);
        I("evals_without_improvement", EvalsWithoutImprovement);
        I("finished", Finished ? 1 : 0);
        I("stopped_early", StoppedEarly ? 1 : 0);
        I("best_epoch", BestEpoch ?? 0);
        D("best_metric", BestMetric ?? double.NaN);
        D("epoch_loss_sum", EpochLossSum);
        D("elapsed_seconds", ElapsedSeconds);
        var metadata = new Dictionary<string, string>
        {
            ["format"] = FormatName,
            ["fingerprint"] = JsonSerializer.Serialize(new SortedDictionary<string, string>(Fingerprint.ToDictionary(), StringComparer.Ordinal)),
            ["history"] = MetricsLog.Format(History),
        };
        SafetensorsWriter.Write(path, entries, metadata);
    }

    /// <summary>Reads a checkpoint; problems name the file and the tensor or field.</summary>
    public static TrainingCheckpoint Load(string path)
    {
        if (!File.Exists(path)) throw new TrainingException($"{path}: no training checkpoint to resume from");
        using var file = SafetensorsFile.Open(path);
        if (!file.Metadata.TryGetValue("format", out var format) || format != FormatName)
            throw new TrainingException($"{path}: not a training checkpoint (metadata format is '{format ?? "(missing)"}', expected '{FormatName}')");
        string Meta(string key) => file.Metadata.TryGetValue(key, out var v) ? v
            : throw new TrainingException($"{path}: checkpoint metadata has no '{key}'");
        long I(string name) => Scalar(file, path, "state." + name, n => file.ReadInt64(n)[0]);
        double D(string name) => Scalar(file, path, "state." + name, n => file.ReadFloat64(n)[0]);

        Dictionary<string, string> fingerprint;
        IReadOnlyList<EpochSummary> history;
        foreach (var key in new[] { "fingerprint" })
            StrictJson.Validate(System.Text.Encoding.UTF8.GetBytes(Meta(key)), p => new TrainingException($"{path}: checkpoint metadata '{key}' is not valid: {p.WithPath}"));
        foreach (var (line, i) in Meta("history").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select((l, i) => (l, i)))
            StrictJson.Validate(System.Text.Encoding.UTF8.GetBytes(line), p => new TrainingException($"{path}: checkpoint metadata 'history' line {i + 1} is not valid: {p.WithPath}"));
        try
        {
            fingerprint = JsonSerializer.Deserialize<Dictionary<string, string>>(Meta("fingerprint")) ?? [];
            history = MetricsLog.Parse(Meta("history"));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new TrainingException($"{path}: checkpoint metadata is malformed ({e.Message})", e);
        }

        var parameters = new List<NamedTensor>();
        var best = new List<NamedTensor>();
        var moments = new List<AdamWMoments>();
        foreach (var info in file.Tensors.Where(t => t.Name.StartsWith("param/", StringComparison.Ordinal)))
        {
            string name = info.Name["param/".Length..];
            int[] shape = [.. info.Shape.Select(d => checked((int)d))];
            parameters.Add(new NamedTensor(name, shape, file.ReadFloat32(info.Name)));
            moments.Add(new AdamWMoments(name, Read(file, path, "adam.m/" + name, info.ElementCount), Read(file, path, "adam.v/" + name, info.ElementCount)));
            if (file.Contains("best/" + name)) best.Add(new NamedTensor(name, shape, Read(file, path, "best/" + name, info.ElementCount)));
        }
        if (best.Count != 0 && best.Count != parameters.Count)
            throw new TrainingException($"{path}: checkpoint has best values for {best.Count} of {parameters.Count} parameters");
        long bestEpoch = I("best_epoch");
        double bestMetric = D("best_metric");
        return new TrainingCheckpoint
        {
            Fingerprint = fingerprint,
            GlobalStep = checked((int)I("global_step")),
            EpochsCompleted = checked((int)I("epochs_completed")),
            EpochLossSum = D("epoch_loss_sum"),
            ElapsedSeconds = D("elapsed_seconds"),
            EvalsWithoutImprovement = checked((int)I("evals_without_improvement")),
            Finished = I("finished") != 0,
            StoppedEarly = I("stopped_early") != 0,
            BestEpoch = bestEpoch > 0 ? (int)bestEpoch : null,
            BestMetric = bestEpoch > 0 ? bestMetric : null,
            Parameters = parameters,
            BestParameters = best.Count > 0 ? best : null,
            Optimizer = new AdamWState(checked((int)I("adam_step")), moments),
            History = history,
        };
    }

    static long[] Long(int[] shape) => [.. shape.Select(d => (long)d)];

    static T Scalar<T>(SafetensorsFile file, string path, string name, Func<string, T> read)
    {
        if (!file.Contains(name)) throw new TrainingException($"{path}: checkpoint has no tensor '{name}'");
        if (file.GetInfo(name).ElementCount != 1) throw new TrainingException($"{path}: checkpoint tensor '{name}' must hold one value");
        return read(name);
    }

    static float[] Read(SafetensorsFile file, string path, string name, long count)
    {
        if (!file.Contains(name)) throw new TrainingException($"{path}: checkpoint has no tensor '{name}'");
        if (file.GetInfo(name).ElementCount != count)
            throw new TrainingException($"{path}: checkpoint tensor '{name}' has {file.GetInfo(name).ElementCount} values, expected {count}");
        return file.ReadFloat32(name);
    }
}
