using System.Numerics.Tensors;

namespace FastPrefix.Backends.Cpu;

// Embeddings + LayerNorm, and the residual block end (bias + dropout + residual + LayerNorm) with its backward:
// the references for kernels/layernorm.cu. Each row is one unit of work; a row's LayerNorm statistics are fp32.
public sealed unsafe partial class CpuBackend
{
    public void EmbedLayerNorm(in EmbedArgs a)
    {
        int* ids = C(a.Ids).IntPtr, pos = C(a.Positions).IntPtr, types = C(a.Types).IntPtr;
        float* pw = C(a.Word).Ptr, pp = C(a.Position).Ptr, pt = C(a.Type).Ptr, po = C(a.Output).Ptr, pg = C(a.Gamma).Ptr, pb = C(a.Beta).Ptr;
        int cols = a.Cols; float eps = a.Eps, p = a.DropoutP;
        ulong seed = p > 0 ? ReadSeed(a.Seed) : 0;
        CpuParallel.For(a.Rows, cols * 9, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var o = new Span<float>(po + (long)r * cols, cols);
                TensorPrimitives.Add(new ReadOnlySpan<float>(pw + (long)ids[r] * cols, cols), new ReadOnlySpan<float>(pp + (long)pos[r] * cols, cols), o);
                TensorPrimitives.Add(o, new ReadOnlySpan<float>(pt + (long)types[r] * cols, cols), o);
                NormalizeRow(o, o, pg, pb, cols, eps, out _, out _);
                if (p > 0) DropoutHash.Apply(seed, (long)r * cols, o, o, p);
            }
        });
    }

    public void ResidualLayerNorm(in ResidualNormArgs a)
    {
        float* branch = C(a.Branch).Ptr, bias = C(a.Bias).Ptr, res = C(a.Residual).Ptr, sum = C(a.Sum).Ptr, output = C(a.Output).Ptr;
        float* pg = C(a.Gamma).Ptr, pb = C(a.Beta).Ptr, mean = C(a.Mean).Ptr, rstd = C(a.Rstd).Ptr;
        int cols = a.Cols; float eps = a.Eps, p = a.DropoutP;
        ulong seed = p > 0 ? ReadSeed(a.Seed) : 0;
        CpuParallel.For(a.Rows, cols * 8, (r0, r1) =>
        {
            var b = new ReadOnlySpan<float>(bias, cols);
            for (int r = r0; r < r1; r++)
            {
                long at = (long)r * cols;
                var s = new Span<float>(sum + at, cols);
                TensorPrimitives.Add(new ReadOnlySpan<float>(branch + at, cols), b, s);
                if (p > 0) DropoutHash.Apply(seed, at, s, s, p);
                TensorPrimitives.Add(s, new ReadOnlySpan<float>(res + at, cols), s);
                NormalizeRow(s, new Span<float>(output + at, cols), pg, pb, cols, eps, out mean[r], out rstd[r]);
            }
        });
    }

    /// <summary>y = (x − mean) · rstd · gamma + beta with the biased variance; y may alias x.</summary>
    static void NormalizeRow(ReadOnlySpan<float> x, Span<float> y, float* gamma, float* beta, int cols, float eps, out float mean, out float rstd)
    {
        float mu = TensorPrimitives.Sum(x) / cols;
        TensorPrimitives.Subtract(x, mu, y);
        float var = TensorPrimitives.Dot(y, y) / cols;
        float rs = 1f / MathF.Sqrt(var + eps);
        TensorPrimitives.Multiply(y, rs, y);
        TensorPrimitives.FusedMultiplyAdd(y, new ReadOnlySpan<float>(gamma, cols), new ReadOnlySpan<float>(beta, cols), y);
        mean = mu; rstd = rs;
    }

    public void ResidualLayerNormBackward(in ResidualNormArgs a, Tensor dOutput, Tensor? dResidual, Tensor dBranch)
    {
        float* pdy = C(dOutput).Ptr, px = C(a.Sum).Ptr, pg = C(a.Gamma).Ptr, pm = C(a.Mean).Ptr, pr = C(a.Rstd).Ptr;
        float* pdr = dResidual == null ? null : C(dResidual).Ptr, pdb = C(dBranch).Ptr;
        int cols = a.Cols; float p = a.DropoutP;
        ulong seed = p > 0 ? ReadSeed(a.Seed) : 0;
        CpuParallel.For(a.Rows, cols * 12, (r0, r1) =>
        {
            var xhat = new Span<float>(ThreadScratch.Get(0, cols), cols);
            var g = new Span<float>(ThreadScratch.Get(1, cols), cols);
            for (int r = r0; r < r1; r++)
            {
                long at = (long)r * cols;
                // dSum = rstd · (g − mean(g) − xhat · mean(g · xhat)), g = dy · gamma
                TensorPrimitives.Subtract(new ReadOnlySpan<float>(px + at, cols), pm[r], xhat);
                TensorPrimitives.Multiply(xhat, pr[r], xhat);
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(pdy + at, cols), new ReadOnlySpan<float>(pg, cols), g);
                float meanG = TensorPrimitives.Sum(g) / cols;
                float meanGx = TensorPrimitives.Dot(g, xhat) / cols;
                float rs = pr[r];
                var db = new Span<float>(pdb + at, cols);
                for (int c = 0; c < cols; c++) db[c] = rs * (g[c] - meanG - xhat[c] * meanGx);
                if (pdr != null) db.CopyTo(new Span<float>(pdr + at, cols));
                if (p > 0) DropoutHash.Apply(seed, at, db, db, p);
            }
        });
    }
}
