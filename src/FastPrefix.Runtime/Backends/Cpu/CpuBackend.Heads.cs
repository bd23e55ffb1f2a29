using System.Numerics.Tensors;

namespace FastPrefix.Backends.Cpu;

// Task heads: one linear per task, a task index per row.
public sealed unsafe partial class CpuBackend
{
    public void BankedLinear(Tensor x, Tensor w, Tensor b, Tensor rowIndex, Tensor y, int rows, int cols, int outputs)
    {
        float* px = C(x).Ptr, pw = C(w).Ptr, pb = C(b).Ptr, py = C(y).Ptr;
        int[] idx = C(rowIndex).Ints;
        int tasks = (int)(w.Length / ((long)outputs * cols));
        CpuParallel.For(rows, (long)cols * outputs, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                int t = idx[r];
                if ((uint)t >= tasks) throw new ArgumentOutOfRangeException(nameof(rowIndex), $"row {r} uses head {t} but there are {tasks}");
                var xr = new ReadOnlySpan<float>(px + (long)r * cols, cols);
                for (int o = 0; o < outputs; o++)
                    py[(long)r * outputs + o] = TensorPrimitives.Dot(xr, new ReadOnlySpan<float>(pw + ((long)t * outputs + o) * cols, cols)) + pb[t * outputs + o];
            }
        });
    }

    public void BankedLinearBackward(Tensor dy, Tensor x, Tensor w, Tensor rowIndex, Tensor? dx, Tensor dw, Tensor? db, int rows, int cols, int outputs)
    {
        float* pdy = C(dy).Ptr, px = C(x).Ptr, pw = C(w).Ptr, pdw = C(dw).Ptr;
        float* pdb = db == null ? null : C(db).Ptr;
        float* pdx = dx == null ? null : C(dx).Ptr;
        int[] idx = C(rowIndex).Ints;
        if (pdx != null)
            CpuParallel.For(rows, (long)cols * outputs, (r0, r1) =>
            {
                for (int r = r0; r < r1; r++)
                {
                    var dxr = new Span<float>(pdx + (long)r * cols, cols);
                    dxr.Clear();
                    int t = idx[r];
                    for (int o = 0; o < outputs; o++)
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(pw + ((long)t * outputs + o) * cols, cols), pdy[(long)r * outputs + o], dxr, dxr);
                }
            });
        // Weight gradients: split by output unit so no two workers touch the same row of dW.
        CpuParallel.For(outputs, (long)rows * cols, (o0, o1) =>
        {
            for (int o = o0; o < o1; o++)
                for (int r = 0; r < rows; r++)
                {
                    int t = idx[r];
                    float g = pdy[(long)r * outputs + o];
                    if (g == 0) continue;
                    var dwr = new Span<float>(pdw + ((long)t * outputs + o) * cols, cols);
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(px + (long)r * cols, cols), g, dwr, dwr);
                    if (pdb != null) pdb[t * outputs + o] += g;
                }
        });
    }
}
