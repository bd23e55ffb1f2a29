using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastPrefix.Backends.Cpu;

/// <summary>
/// A tensor in a pinned managed array, so ops hand raw pointers to the sgemm and to worker threads. A view points
/// into its owner's array and may reinterpret it (the step's staging area holds ints and float scalars side by side).
/// </summary>
public sealed unsafe class CpuTensor : Tensor
{
    readonly float[] _array;   // the owner's storage (shared by its views; keeps it alive while a view is)
    readonly long _offset;
    readonly bool _view;

    internal CpuTensor(IBackend backend, TensorType type, int[] shape) : base(backend, type, shape)
    {
        if (Length > Array.MaxLength) throw new ArgumentException($"tensor {ShapeText(shape)} is too large for the CPU backend");
        _array = GC.AllocateArray<float>((int)Length, pinned: true);
    }

    CpuTensor(CpuTensor owner, long offset, TensorType type, int[] shape) : base(owner.Backend, type, shape)
    {
        owner.CheckRange(offset, Length, "view");
        _array = owner._array; _offset = owner._offset + offset; _view = true;
    }

    internal CpuTensor View(long offset, TensorType type, int[] shape) => new(this, offset, type, shape);

    public override bool IsView => _view;
    void* Data => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array)) + _offset;
    public float* Ptr { get { CheckType(TensorType.Float32); return (float*)Data; } }
    public int* IntPtr { get { CheckType(TensorType.Int32); return (int*)Data; } }
    public Span<float> Floats => new(Ptr, (int)Length);
    public Span<int> Ints => new(IntPtr, (int)Length);

    void CheckType(TensorType type)
    {
        if (Type != type) throw new InvalidOperationException($"tensor {this} is not {type}");
    }

    public override void Dispose() { }
}
