using FastPrefix.Backends;
using FastPrefix.IO;

namespace FastPrefix.Model;

/// <summary>
/// A Hugging Face checkpoint folder: config.json plus model.safetensors (tokenizer files alongside).
/// </summary>
public static class ModelFolder
{
    public const string WeightsFileName = "model.safetensors";

    public static string ConfigPath(string folder) => Path.Combine(folder, "config.json");
    public static string WeightsPath(string folder) => Path.Combine(folder, WeightsFileName);

    /// <summary>Checks the folder exists and holds the files, with one message naming what is missing.</summary>
    public static void Check(string folder)
    {
        if (!Directory.Exists(folder)) throw new ModelFormatException($"{folder}: model folder not found");
        if (!File.Exists(ConfigPath(folder))) throw new ModelFormatException($"{folder}: no config.json in the model folder");
        if (!File.Exists(WeightsPath(folder)))
        {
            string hint = File.Exists(Path.Combine(folder, "pytorch_model.bin"))
                ? " (it has pytorch_model.bin: convert it to safetensors first, e.g. with transformers' save_pretrained(safe_serialization=True))" : "";
            throw new ModelFormatException($"{folder}: no {WeightsFileName} in the model folder{hint}");
        }
    }

    public static EncoderConfig LoadConfig(string folder)
    {
        Check(folder);
        return EncoderConfig.Load(ConfigPath(folder));
    }

    /// <summary>Loads config and frozen weights onto the backend.</summary>
    public static EncoderWeights LoadWeights(IBackend backend, string folder)
    {
        var config = LoadConfig(folder);
        using var file = SafetensorsFile.Open(WeightsPath(folder));
        return EncoderWeights.Load(backend, config, new SafetensorsTensorSource(file));
    }
}
