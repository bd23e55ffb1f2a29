using System.Diagnostics;
using System.Numerics.Tensors;

namespace FastPrefix.Backends.Cpu;

// Task heads (one linear per task, a task index per row) and the softmax cross-entropy loss:
// the references for kernels/heads.cu.
public sealed unsafe partial class CpuBackend
{
    public void BankedLinear(Tensor x, Tensor w, Tensor b, Tensor rowIndex, Tensor y, int rows, int cols, int outputs)
    {
        float* px = C(x).Ptr, pw = C(w).Ptr, pb = C(b).Ptr, py = C(y).Ptr;
        int* idx = C(rowIndex).IntPtr;
        CpuParallel.For(rows, (long)cols * outputs, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                int t = idx[r];
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
        int* idx = C(rowIndex).IntPtr;
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
                    float g = pdy[(long)r * outputs + o];
                    if (g == 0) continue;
                    var dwr = new Span<float>(pdw + ((long)idx[r] * outputs + o) * cols, cols);
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(px + (long)r * cols, cols), g, dwr, dwr);
                }
        });
        if (pdb == null) return;
        // Bias gradients in double, row order: the loss's rounded gradients then cancel exactly where they should.
        int tasks = (int)(w.Length / ((long)outputs * cols));
        Span<double> sums = tasks * outputs <= 1024 ? stackalloc double[tasks * outputs] : new double[tasks * outputs];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outputs; o++) sums[idx[r] * outputs + o] += pdy[(long)r * outputs + o];
        for (int i = 0; i < sums.Length; i++) pdb[i] = (float)(pdb[i] + sums[i]);
    }

    public void CrossEntropy(in CrossEntropyArgs a)
    {
        float* logits = C(a.Logits).Ptr + a.Offset, dlogits = C(a.DLogits).Ptr + a.Offset, loss = C(a.Loss).Ptr + a.LossIndex;
        int* labels = C(a.Labels).IntPtr + a.LabelOffset;
        int classes = a.ClassLimit is { } limit ? Math.Min(a.Classes, C(limit).Ints[a.ClassLimitIndex]) : a.Classes;
        int kept = 0;
        for (int r = 0; r < a.Rows; r++) if (labels[r] != CrossEntropyGrid.IgnoreIndex) kept++;
        var grid = new CrossEntropyGrid(a.Weight, kept);
        double sum = 0;
        for (int r = 0; r < a.Rows; r++)
        {
            float* x = logits + (long)r * a.RowStride, d = dlogits + (long)r * a.RowStride;
            int y = labels[r];
            for (int c = classes; c < a.Classes; c++) d[(long)c * a.ClassStride] = 0;
            if (y == CrossEntropyGrid.IgnoreIndex)
            {
                for (int c = 0; c < classes; c++) d[(long)c * a.ClassStride] = 0;
                continue;
            }
            Debug.Assert((uint)y < (uint)classes, "labels are validated before the step");
            double max = double.NegativeInfinity;
            for (int c = 0; c < classes; c++) max = Math.Max(max, x[(long)c * a.ClassStride]);
            double z = 0;
            for (int c = 0; c < classes; c++) z += Math.Exp(x[(long)c * a.ClassStride] - max);
            double logZ = max + Math.Log(z);
            sum += logZ - x[(long)y * a.ClassStride];
            grid.BeginRow();
            for (int c = 0; c < classes; c++)
                if (c != y) d[(long)c * a.ClassStride] = grid.Next(Math.Exp(x[(long)c * a.ClassStride] - logZ));
            d[(long)y * a.ClassStride] = grid.Label;
        }
        double total = kept == 0 ? 0 : a.Weight * sum / kept;
        if (a.Accumulate) total += (double)loss[0] + loss[1];
        loss[0] = (float)total;
        loss[1] = (float)(total - loss[0]);
    }
}
