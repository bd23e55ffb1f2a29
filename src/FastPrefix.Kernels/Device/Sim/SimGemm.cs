using System.Buffers;
using System.Numerics;

namespace FastPrefix.Kernels.Device;

/// <summary>
/// The simulated device's GEMM: what cuBLAS computes for a <see cref="GemmSpec"/>, on the CPU, with the same
/// operand types — bf16 operands are read as bf16 (widening is exact), products accumulate in fp32 in a fixed
/// order (so results do not depend on threading), and C is rounded once to its type (bf16: nearest even).
/// </summary>
internal static unsafe class SimGemm
{
    private const long ParallelWork = 1 << 18;   // multiply-adds below which threads cost more than they save

    public static void Run(in GemmSpec spec)
    {
        var s = spec;
        int m = s.M, n = s.N, k = s.K;
        var panel = ArrayPool<float>.Shared.Rent(k * n);
        try
        {
            for (int batch = 0; batch < s.BatchCount; batch++)
            {
                PackB(s, batch, panel);
                if ((long)m * n * k < ParallelWork) RunRows(s, batch, panel, 0, m);
                else Parallel.For(0, (m + 15) / 16, chunk => RunRows(s, batch, panel, chunk * 16, Math.Min(m, chunk * 16 + 16)));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(panel);
        }
    }

    // op(B) as a dense K×N fp32 panel: row p holds op(B)(p, 0..N).
    private static void PackB(in GemmSpec s, int batch, float[] panel)
    {
        var b = s.B;
        long batchOffset = batch * b.BatchStride;
        for (int p = 0; p < s.K; p++)
            for (int j = 0; j < s.N; j++)
            {
                long index = batchOffset + (s.TransposeB ? (long)j * b.LeadingDim + p : (long)p * b.LeadingDim + j);
                panel[p * s.N + j] = Read(b.Pointer, s.InputType, index);
            }
    }

    private static void RunRows(GemmSpec s, int batch, float[] panel, int firstRow, int endRow)
    {
        int n = s.N, k = s.K, width = Vector<float>.Count;
        var a = ArrayPool<float>.Shared.Rent(k);
        var accumulator = ArrayPool<float>.Shared.Rent(n);
        try
        {
            for (int i = firstRow; i < endRow; i++)
            {
                for (int p = 0; p < k; p++)
                {
                    long index = batch * s.A.BatchStride + (s.TransposeA ? (long)p * s.A.LeadingDim + i : (long)i * s.A.LeadingDim + p);
                    a[p] = Read(s.A.Pointer, s.InputType, index);
                }
                Array.Clear(accumulator, 0, n);
                for (int p = 0; p < k; p++)
                {
                    var scale = new Vector<float>(a[p]);
                    var row = panel.AsSpan(p * n, n);
                    int j = 0;
                    for (; j <= n - width; j += width)
                        (new Vector<float>(accumulator, j) + scale * new Vector<float>(row.Slice(j))).CopyTo(accumulator, j);
                    for (; j < n; j++) accumulator[j] += a[p] * row[j];
                }
                long rowStart = batch * s.C.BatchStride + (long)i * s.C.LeadingDim;
                for (int j = 0; j < n; j++)
                {
                    float value = s.Alpha * accumulator[j];
                    if (s.Beta != 0) value += s.Beta * Read(s.C.Pointer, s.OutputType, rowStart + j);
                    Write(s.C.Pointer, s.OutputType, rowStart + j, value);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(a);
            ArrayPool<float>.Shared.Return(accumulator);
        }
    }

    private static float Read(DevicePtr basePointer, ElementType type, long index) => type == ElementType.F32
        ? ((float*)basePointer.Address)[index]
        : Bf16.ToSingle(((ushort*)basePointer.Address)[index]);

    private static void Write(DevicePtr basePointer, ElementType type, long index, float value)
    {
        if (type == ElementType.F32) ((float*)basePointer.Address)[index] = value;
        else ((ushort*)basePointer.Address)[index] = Bf16.FromSingle(value);
    }
}

/// <summary>bf16 bits, as kernels/common.cuh converts them (round to nearest even, NaN kept quiet).</summary>
internal static class Bf16
{
    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    public static ushort FromSingle(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        return (u & 0x7FFF_FFFFu) > 0x7F80_0000u ? (ushort)((u >> 16) | 0x40u) : (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    }
}
