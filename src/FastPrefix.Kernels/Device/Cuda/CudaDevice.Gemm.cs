using FastPrefix.Kernels.Interop;

namespace FastPrefix.Kernels.Device;

public sealed partial class CudaDevice
{
    /// <summary>
    /// cuBLAS is column-major. A row-major matrix read column-major is its transpose, so the row-major product
    /// C = op(A)·op(B) is the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap A with B and M with N, keep the transposes
    /// and the leading dimensions. fp32 inputs use pedantic fp32 compute (never TF32); bf16 inputs use fp32
    /// compute, i.e. tensor cores with fp32 accumulation.
    /// </summary>
    protected override unsafe void GemmCore(in GemmSpec s)
    {
        EnsureCurrent();
        float alpha = s.Alpha, beta = s.Beta;
        var input = DataType(s.InputType);
        var output = DataType(s.OutputType);
        var compute = s.InputType == ElementType.F32 ? CublasComputeType.Compute32FPedantic : CublasComputeType.Compute32F;
        CudaException.ThrowIfFailed(LibCublas.cublasGemmStridedBatchedEx(Cublas,
            s.TransposeB ? CublasOperation.T : CublasOperation.N, s.TransposeA ? CublasOperation.T : CublasOperation.N,
            s.N, s.M, s.K, &alpha,
            s.B.Pointer.Address, input, s.B.LeadingDim, s.B.BatchStride,
            s.A.Pointer.Address, input, s.A.LeadingDim, s.A.BatchStride, &beta,
            s.C.Pointer.Address, output, s.C.LeadingDim, s.C.BatchStride,
            s.BatchCount, compute, LibCublas.GemmDefaultAlgorithm));
    }

    private static CudaDataType DataType(ElementType type) => type == ElementType.F32 ? CudaDataType.R32F : CudaDataType.R16BF;
}
