namespace FastPrefix.Kernels.Device;

/// <summary>A row-major matrix (or a batch of them) in device memory; sizes and strides in elements.</summary>
/// <param name="Pointer">First element of the first matrix.</param>
/// <param name="LeadingDim">Elements from one row to the next (at least the stored row length).</param>
/// <param name="BatchStride">Elements from one matrix of the batch to the next; 0 repeats the same matrix.</param>
public readonly record struct MatrixRef(DevicePtr Pointer, int LeadingDim, long BatchStride = 0);

/// <summary>
/// A strided batched matrix product, row-major: for b &lt; BatchCount,
/// C[b] (M×N) = Alpha · op(A[b]) (M×K) · op(B[b]) (K×N) + Beta · C[b], where op transposes when asked
/// (A is then stored K×M, B N×K). A and B have <see cref="InputType"/>, C <see cref="OutputType"/>;
/// products accumulate in fp32, and C is rounded once to its type. Beta 0 never reads C.
/// Supported types: F32×F32→F32, BF16×BF16→BF16, BF16×BF16→F32.
/// </summary>
public readonly record struct GemmSpec
{
    public GemmSpec() { }

    public required int M { get; init; }
    public required int N { get; init; }
    public required int K { get; init; }
    public required MatrixRef A { get; init; }
    public required MatrixRef B { get; init; }
    public required MatrixRef C { get; init; }
    public bool TransposeA { get; init; }
    public bool TransposeB { get; init; }
    public float Alpha { get; init; } = 1;
    public float Beta { get; init; }
    public int BatchCount { get; init; } = 1;
    public ElementType InputType { get; init; } = ElementType.F32;
    public ElementType OutputType { get; init; } = ElementType.F32;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistent field.</summary>
    public void Validate()
    {
        string shape = $"GEMM M {M}, N {N}, K {K}, batch {BatchCount}";
        if (M < 1 || N < 1 || K < 1 || BatchCount < 1)
            throw new ArgumentException($"{shape}: every size must be at least 1");
        if (InputType == ElementType.F32 && OutputType != ElementType.F32)
            throw new NotSupportedException($"{shape}: F32 inputs give an F32 output only, not {OutputType}");
        CheckOperand("A", A, TransposeA ? M : K, TransposeA ? "K×M (transposed)" : "M×K");
        CheckOperand("B", B, TransposeB ? K : N, TransposeB ? "N×K (transposed)" : "K×N");
        CheckOperand("C", C, N, "M×N");
        if (BatchCount > 1 && C.BatchStride < (long)(M - 1) * C.LeadingDim + N)
            throw new ArgumentException($"{shape}: C's batch stride {C.BatchStride} makes the outputs of the batch overlap (need at least {(long)(M - 1) * C.LeadingDim + N})");

        void CheckOperand(string name, MatrixRef m, int rowLength, string layout)
        {
            if (m.Pointer.IsNull) throw new ArgumentException($"{shape}: {name} is a null pointer");
            if (m.LeadingDim < rowLength)
                throw new ArgumentException($"{shape}: {name} is stored {layout} row-major, so its leading dimension must be at least {rowLength}, not {m.LeadingDim}");
            if (m.BatchStride < 0) throw new ArgumentException($"{shape}: {name}'s batch stride {m.BatchStride} is negative");
        }
    }
}
