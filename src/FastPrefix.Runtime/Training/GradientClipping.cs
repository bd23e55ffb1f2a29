using FastPrefix.Backends;
using FastPrefix.Model;

namespace FastPrefix.Training;

/// <summary>
/// Gradient clipping by the global L2 norm (torch.nn.utils.clip_grad_norm_), split the graph-friendly way: the
/// backend writes the norm and the clip coefficient min(1, maxNorm / (norm + 1e-6)) to a device tensor
/// (<see cref="IBackend.GradientNorm"/>), and AdamW multiplies each gradient by the coefficient as it reads it —
/// the same numbers as scaling the gradients in place first, without a pass or a host round trip.
/// </summary>
public sealed class GradientClipping
{
    readonly Tensor[] _grads;
    readonly IBackend _backend;

    public GradientClipping(IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Count == 0) throw new ArgumentException("gradient clipping needs at least one parameter");
        _grads = [.. parameters.Select(p => p.Grad)];
        _backend = _grads[0].Backend;
    }

    /// <summary>Writes the global norm to output[index] and the clip coefficient to output[index + 1] (an op; maxNorm ≤ 0: coefficient 1).</summary>
    public void Measure(double maxNorm, Tensor output, int index) => _backend.GradientNorm(_grads, (float)maxNorm, output, index);

    /// <summary>Host convenience: the global norm and the clip coefficient (uploads nothing, downloads two floats).</summary>
    public (double Norm, float Coefficient) Read(double maxNorm)
    {
        using var output = _backend.Zeros(2);
        Measure(maxNorm, output, 0);
        Span<float> host = stackalloc float[2];
        _backend.Download(output, host);
        return (host[0], host[1]);
    }
}
