using FastPrefix.Model;

namespace FastPrefix.Training;

/// <summary>Gradient clipping by the global L2 norm (torch.nn.utils.clip_grad_norm_).</summary>
public static class GradientClipping
{
    /// <summary>
    /// Computes the L2 norm of all gradients together and, when maxNorm / (norm + 1e-6) &lt; 1, scales every
    /// gradient by that factor. Returns the norm before clipping. maxNorm &lt;= 0 only measures.
    /// </summary>
    public static double ClipByGlobalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var list = parameters as IReadOnlyList<Parameter> ?? [.. parameters];
        double sum = 0;
        foreach (var p in list) sum += p.Grad.Backend.SumOfSquares(p.Grad, p.Length);
        double norm = Math.Sqrt(sum);
        if (maxNorm > 0 && double.IsFinite(norm))
        {
            float coef = (float)(maxNorm / (norm + 1e-6));
            if (coef < 1f)
                foreach (var p in list) p.Grad.Backend.Scale(p.Grad, coef, p.Length);
        }
        return norm;
    }
}
