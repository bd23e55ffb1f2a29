using FastPrefix.IO;

namespace FastPrefix.Model;

/// <summary>What `fastprefix inspect` says about a model folder, computed without loading weights onto a backend.</summary>
public sealed record ModelSummary(
    string Folder, EncoderConfig Config, long Parameters, long WeightsBytes, string WeightsDType, string NamePrefix,
    bool HasPooler, IReadOnlyList<string> TokenizerFiles)
{
    public static ModelSummary Describe(string folder)
    {
        var config = ModelFolder.LoadConfig(folder);
        using var file = SafetensorsFile.Open(ModelFolder.WeightsPath(folder));
        var source = new SafetensorsTensorSource(file);
        var names = new CheckpointNames(source);
        long parameters = file.Tensors.Sum(t => t.ElementCount);
        var dtypes = file.Tensors.Select(t => SafetensorsDTypes.ToName(t.DType)).Distinct().Order().ToArray();
        string[] tokenizerCandidates = ["vocab.txt", "vocab.json", "merges.txt", "tokenizer_config.json", "tokenizer.json"];
        return new ModelSummary(folder, config, parameters, new FileInfo(file.FilePath).Length, string.Join("+", dtypes), names.Prefix,
            names.Has("pooler.dense.weight"), tokenizerCandidates.Where(f => File.Exists(Path.Combine(folder, f))).ToArray());
    }

    /// <summary>Trainable parameters of a P-Tuning v2 prefix of length P over layers firstLayer..L-1 (plain form).</summary>
    public long PrefixParameters(int prefixLen, int firstLayer = 0) => (long)(Config.NumLayers - firstLayer) * 2 * Config.HiddenSize * prefixLen;
}
