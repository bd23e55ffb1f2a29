using FastPrefix.Adapters;
using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Onnx.Export;

/// <summary>
/// The trained parts of one or more adapters of one task, stacked for the graph: per adapter the prefix bank
/// (L', 2, H, P, D) — an MLP prefix folded into the bank it computes — and the head, (A, O, C) and (A, O).
/// Rows of a batch pick their adapter by index, so all adapters must agree on everything that shapes the graph.
/// </summary>
internal sealed class AdapterStack
{
    public required TaskKind Task { get; init; }
    public required int Outputs { get; init; }
    public required int PrefixLen { get; init; }
    public required int FirstLayer { get; init; }
    public required PositionMode Positions { get; init; }
    public required IReadOnlyList<float[]> Banks { get; init; }
    public required float[] HeadWeight { get; init; }
    public required float[] HeadBias { get; init; }
    public required IReadOnlyList<AdapterMetadata> Metadata { get; init; }
    public required IReadOnlyList<string> Paths { get; init; }
    public int Count => Banks.Count;

    public static AdapterStack Load(IReadOnlyList<string> paths, Encoder encoder, string? backboneFingerprint)
    {
        var banks = new List<float[]>();
        var weights = new List<float>();
        var biases = new List<float>();
        var metas = new List<AdapterMetadata>();
        var full = paths.Select(Path.GetFullPath).ToList();
        AdapterContents? first = null;
        foreach (var path in full)
        {
            if (!File.Exists(path)) throw new AdapterException($"{path}: adapter file not found");
            var contents = AdapterFile.Read(path);
            if (first != null) CheckCompatible(first, contents);
            first ??= contents;
            using var model = AdapterFile.Load(contents, encoder, backboneFingerprint);
            banks.Add(model.Prefix.DownloadBank());
            weights.AddRange(model.Head.Weight.Download());
            biases.AddRange(model.Head.Bias.Download());
            metas.Add(contents.Metadata);
        }
        if (first == null) throw new ArgumentException("no adapter given");
        var m = first.Metadata;
        return new AdapterStack
        {
            Task = m.Task, Outputs = first.HeadOutputs, PrefixLen = m.PrefixLength, FirstLayer = m.FirstLayer, Positions = m.Positions,
            Banks = banks, HeadWeight = [.. weights], HeadBias = [.. biases], Metadata = metas, Paths = full,
        };
    }

    /// <summary>One graph serves all adapters: same task and head size, same prefix length, depth and position numbering.</summary>
    static void CheckCompatible(AdapterContents first, AdapterContents next)
    {
        var (a, b) = (first.Metadata, next.Metadata);
        void Same<T>(string what, T x, T y, Func<T, string> text)
        {
            if (!EqualityComparer<T>.Default.Equals(x, y))
                throw new AdapterException($"{next.Source}: {what} is {text(y)} but {first.Source} has {text(x)}; adapters exported together share one graph, " +
                                           "so they must have the same task, head size, prefix length, first layer and positions");
        }
        Same("the task", a.Task, b.Task, AdapterMetadata.TaskName);
        Same("the number of head outputs", first.HeadOutputs, next.HeadOutputs, v => v.ToString());
        Same("the prefix length", a.PrefixLength, b.PrefixLength, v => v.ToString());
        Same("the first prefixed layer", a.FirstLayer, b.FirstLayer, v => v.ToString());
        Same("the position numbering", a.Positions, b.Positions, AdapterMetadata.PositionsName);
    }
}
