using System.Security.Cryptography;
using FastPrefix.IO;
using FastPrefix.Model;

namespace FastPrefix.Adapters;

/// <summary>
/// Identifies a backbone checkpoint cheaply: SHA-256 (lowercase hex) of the first 8 + N bytes of its
/// model.safetensors — the little-endian header length and the N-byte JSON header (tensor names, dtypes,
/// shapes, offsets, metadata). It tells checkpoints with different tensors, names, dtypes or header metadata
/// apart without reading gigabytes of weights; two checkpoints with identical headers but different values
/// (e.g. two fine-tunes of one architecture saved the same way) share a fingerprint, which is why adapters
/// also record the config and loading compares both.
/// </summary>
public static class BackboneFingerprint
{
    /// <summary>
    /// Fingerprint of a model folder (its model.safetensors) or of a weights file, whichever
    /// <paramref name="modelFolderOrWeightsPath"/> names.
    /// </summary>
    public static string Of(string modelFolderOrWeightsPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelFolderOrWeightsPath);
        return Directory.Exists(modelFolderOrWeightsPath) ? OfFolder(modelFolderOrWeightsPath) : OfWeights(modelFolderOrWeightsPath);
    }

    /// <summary>Fingerprint of the model.safetensors of a Hugging Face model folder.</summary>
    public static string OfFolder(string modelFolder)
    {
        ModelFolder.Check(modelFolder);
        return OfWeights(ModelFolder.WeightsPath(modelFolder));
    }

    /// <summary>Fingerprint of a safetensors weights file (validated first; a bad file is a <see cref="SafetensorsException"/>).</summary>
    public static string OfWeights(string weightsPath)
    {
        long headerLength;
        using (var file = SafetensorsFile.Open(weightsPath)) headerLength = file.HeaderLength;
        var bytes = new byte[checked(8 + (int)headerLength)];
        using (var stream = new FileStream(Path.GetFullPath(weightsPath), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete))
            stream.ReadExactly(bytes);
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }
}
