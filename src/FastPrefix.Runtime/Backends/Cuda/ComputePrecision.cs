namespace FastPrefix.Backends.Cuda;

/// <summary>
/// What a GPU backend computes the frozen backbone in (<see cref="IBackend.ComputeType"/>): Fp32 for validation against
/// the CPU, Bf16 (weights converted once at load, fp32 accumulation and statistics) for speed. Trainable parameters,
/// their gradients and the optimiser state are fp32 either way.
/// </summary>
public enum ComputePrecision { Fp32, Bf16 }

public static class ComputePrecisions
{
    /// <summary>"fp32" or "bf16", as the CLI spells it.</summary>
    public static string Name(this ComputePrecision precision) => precision == ComputePrecision.Bf16 ? "bf16" : "fp32";

    public static bool TryParse(string text, out ComputePrecision precision)
    {
        precision = text == "bf16" ? ComputePrecision.Bf16 : ComputePrecision.Fp32;
        return text is "fp32" or "bf16";
    }
}
