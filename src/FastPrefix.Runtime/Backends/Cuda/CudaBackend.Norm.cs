using FastPrefix.Kernels.Launchers;

namespace FastPrefix.Backends.Cuda;

// Embeddings + LayerNorm and the residual block end with its backward: kernels/layernorm.cu. Tables, activations
// and gamma/beta are the compute type; mean and rstd fp32; ids, positions and types Int32.
public sealed partial class CudaBackend
{
    public void EmbedLayerNorm(in EmbedArgs a)
    {
        var output = C(a.Output);
        foreach (var t in (ReadOnlySpan<Tensor>)[a.Word, a.Position, a.Type, a.Gamma, a.Beta]) SameType(output, C(t), "EmbedLayerNorm");
        foreach (var t in (ReadOnlySpan<Tensor>)[a.Ids, a.Positions, a.Types]) RequireInts(C(t), a.Rows, "EmbedLayerNorm indices");
        output.CheckRange(0, (long)a.Rows * a.Cols, "EmbedLayerNorm output");
        LayerNormLaunchers.EmbedLayerNorm(_device, output.Element, output.Pointer, C(a.Ids).Pointer, C(a.Positions).Pointer, C(a.Types).Pointer,
            C(a.Word).Pointer, C(a.Position).Pointer, C(a.Type).Pointer, C(a.Gamma).Pointer, C(a.Beta).Pointer, a.Rows, a.Cols, a.Eps,
            Site(a.DropoutP, a.Seed));
    }

    public void ResidualLayerNorm(in ResidualNormArgs a)
    {
        var sum = C(a.Sum);
        CheckResidualArgs(a, sum);
        C(a.Output).CheckRange(0, (long)a.Rows * a.Cols, "ResidualLayerNorm output");
        SameType(sum, C(a.Output), "ResidualLayerNorm");
        LayerNormLaunchers.ResidualLayerNorm(_device, sum.Element, sum.Pointer, C(a.Output).Pointer, C(a.Mean).Pointer, C(a.Rstd).Pointer,
            C(a.Branch).Pointer, C(a.Bias).Pointer, C(a.Residual).Pointer, C(a.Gamma).Pointer, C(a.Beta).Pointer, a.Rows, a.Cols, a.Eps,
            Site(a.DropoutP, a.Seed));
    }

    public void ResidualLayerNormBackward(in ResidualNormArgs a, Tensor dOutput, Tensor? dResidual, Tensor dBranch)
    {
        var sum = C(a.Sum);
        CheckResidualArgs(a, sum);
        long n = (long)a.Rows * a.Cols;
        ReadOnlySpan<Tensor> grads = dResidual == null ? [dOutput, dBranch] : [dOutput, dBranch, dResidual];
        foreach (var t in grads)
        {
            SameType(sum, C(t), "ResidualLayerNormBackward");
            t.CheckRange(0, n, "ResidualLayerNormBackward gradient");
        }
        LayerNormLaunchers.ResidualLayerNormBackward(_device, sum.Element, dResidual == null ? default : C(dResidual).Pointer, C(dBranch).Pointer,
            C(dOutput).Pointer, sum.Pointer, C(a.Gamma).Pointer, C(a.Mean).Pointer, C(a.Rstd).Pointer, a.Rows, a.Cols, Site(a.DropoutP, a.Seed));
    }

    static void CheckResidualArgs(in ResidualNormArgs a, CudaTensor sum)
    {
        long n = (long)a.Rows * a.Cols;
        foreach (var t in (ReadOnlySpan<Tensor>)[a.Branch, a.Residual, a.Sum]) t.CheckRange(0, n, "ResidualLayerNorm");
        foreach (var t in (ReadOnlySpan<Tensor>)[a.Branch, a.Bias, a.Residual, a.Gamma, a.Beta]) SameType(sum, C(t), "ResidualLayerNorm");
        foreach (var t in (ReadOnlySpan<Tensor>)[a.Mean, a.Rstd])
        {
            if (t.Type != TensorType.Float32) throw new ArgumentException($"ResidualLayerNorm statistics {t} must be Float32");
            t.CheckRange(0, a.Rows, "ResidualLayerNorm statistics");
        }
    }

    static void RequireInts(CudaTensor t, long count, string what)
    {
        if (t.Type != TensorType.Int32) throw new ArgumentException($"{what}: tensor {t} must be Int32");
        t.CheckRange(0, count, what);
    }
}
