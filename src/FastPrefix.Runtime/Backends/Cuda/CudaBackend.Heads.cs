using FastPrefix.Kernels.Launchers;

namespace FastPrefix.Backends.Cuda;

// Task heads and the softmax cross-entropy loss: kernels/heads.cu. x and dx are the compute type; weights, biases,
// logits and their gradients Float32; task indices, labels and the class limit Int32.
public sealed partial class CudaBackend
{
    public void BankedLinear(Tensor x, Tensor w, Tensor b, Tensor rowIndex, Tensor y, int rows, int cols, int outputs)
    {
        var cx = C(x);
        CheckHead(cx, w, b, rowIndex, rows, cols, outputs);
        RequireFloat32(y, (long)rows * outputs, "BankedLinear output");
        HeadLaunchers.BankedLinear(_device, cx.Element, C(y).Pointer, cx.Pointer, C(w).Pointer, C(b).Pointer, C(rowIndex).Pointer, rows, cols, outputs);
    }

    public void BankedLinearBackward(Tensor dy, Tensor x, Tensor w, Tensor rowIndex, Tensor? dx, Tensor dw, Tensor? db, int rows, int cols, int outputs)
    {
        var cx = C(x);
        CheckHead(cx, w, db ?? w, rowIndex, rows, cols, outputs);
        RequireFloat32(dy, (long)rows * outputs, "BankedLinearBackward dy");
        RequireFloat32(dw, w.Length, "BankedLinearBackward dw");
        int tasks = checked((int)(w.Length / ((long)outputs * cols)));
        if (dx != null)
        {
            SameType(cx, C(dx), "BankedLinearBackward dx");
            dx.CheckRange(0, (long)rows * cols, "BankedLinearBackward dx");
            HeadLaunchers.BankedLinearBackwardInput(_device, cx.Element, C(dx).Pointer, C(dy).Pointer, C(w).Pointer, C(rowIndex).Pointer, rows, cols, outputs);
        }
        HeadLaunchers.BankedLinearBackwardWeight(_device, cx.Element, C(dw).Pointer, C(dy).Pointer, cx.Pointer, C(rowIndex).Pointer, rows, cols, outputs, tasks);
        if (db != null)
        {
            RequireFloat32(db, (long)tasks * outputs, "BankedLinearBackward db");
            HeadLaunchers.BankedLinearBackwardBias(_device, C(db).Pointer, C(dy).Pointer, C(rowIndex).Pointer, rows, outputs, tasks);
        }
    }

    static void CheckHead(CudaTensor x, Tensor w, Tensor b, Tensor rowIndex, int rows, int cols, int outputs)
    {
        x.CheckRange(0, (long)rows * cols, "head input");
        if (w.Length % ((long)outputs * cols) != 0) throw new ArgumentException($"head weights {w} are not (tasks, {outputs}, {cols})");
        RequireFloat32(w, w.Length, "head weights");
        RequireFloat32(b, w.Length / cols, "head bias");
        RequireInts(C(rowIndex), rows, "head task indices");
        _ = x.Element;
    }

    static void RequireFloat32(Tensor t, long count, string what)
    {
        if (t.Type != TensorType.Float32) throw new ArgumentException($"{what}: tensor {t} must be Float32");
        t.CheckRange(0, count, what);
    }

    public void CrossEntropy(in CrossEntropyArgs a)
    {
        var (logits, dLogits, loss) = (C(a.Logits), C(a.DLogits), C(a.Loss));
        if (a.Rows > 0 && a.Classes > 0)
        {
            long last = a.Offset + (long)(a.Rows - 1) * a.RowStride + (long)(a.Classes - 1) * a.ClassStride;
            foreach (var t in (ReadOnlySpan<CudaTensor>)[logits, dLogits])
            {
                RequireFloat32(t, 0, "CrossEntropy logits");
                t.CheckRange(a.Offset, last - a.Offset + 1, "CrossEntropy logits");
            }
        }
        RequireFloat32(loss, a.LossIndex + 2, "CrossEntropy loss");
        RequireInts(C(a.Labels), a.LabelOffset + a.Rows, "CrossEntropy labels");
        var limit = a.ClassLimit is { } l ? C(l) : null;
        if (limit != null) RequireInts(limit, a.ClassLimitIndex + 1, "CrossEntropy class limit");
        HeadLaunchers.CrossEntropy(_device, dLogits.At(a.Offset), loss.At(a.LossIndex), logits.At(a.Offset), a.RowStride, a.ClassStride,
            a.Rows, a.Classes, C(a.Labels).At(a.LabelOffset), limit?.At(a.ClassLimitIndex) ?? default, a.Weight, a.Accumulate);
    }
}
