namespace FastPrefix.Backends.Cpu;

// Global gradient norm (with the clip coefficient AdamW applies) and the AdamW update: the references for
// kernels/optimizer.cu. The scalars that change every step (learning rate, bias corrections) are read from tensors.
public sealed unsafe partial class CpuBackend
{
    public void GradientNorm(IReadOnlyList<Tensor> grads, float maxNorm, Tensor output, int index)
    {
        double sum = 0;
        foreach (var g in grads)
        {
            float* p = C(g).Ptr;
            for (long i = 0; i < g.Length; i++) sum += (double)p[i] * p[i];
        }
        double norm = Math.Sqrt(sum);
        float coef = maxNorm > 0 && double.IsFinite(norm) ? (float)Math.Min(1.0, maxNorm / (norm + 1e-6)) : 1f;
        var o = C(output).Floats;
        o[index] = (float)norm;
        o[index + 1] = coef;
    }

    public void AdamW(in AdamWArgs a)
    {
        float* pp = C(a.Param).Ptr, pg = C(a.Grad).Ptr, pm = C(a.M).Ptr, pv = C(a.V).Ptr;
        float* s = C(a.Scalars).Ptr + a.ScalarsOffset;
        float lr = s[0], stepSize = s[1], invSqrtBc2 = s[2], clip = C(a.Clip).Ptr[a.ClipOffset];
        float beta1 = a.Beta1, beta2 = a.Beta2, eps = a.Eps, decay = 1f - lr * a.WeightDecay;
        for (long i = 0; i < a.N; i++)
        {
            float g = pg[i] * clip;
            float mi = pm[i] = beta1 * pm[i] + (1 - beta1) * g;
            float vi = pv[i] = beta2 * pv[i] + (1 - beta2) * g * g;
            pp[i] = pp[i] * decay - stepSize * mi / (MathF.Sqrt(vi) * invSqrtBc2 + eps);
        }
    }
}
