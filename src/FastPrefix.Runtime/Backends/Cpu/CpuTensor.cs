namespace FastPrefix.Backends.Cpu;

/// <summary>A tensor in pinned managed memory, so ops can hand raw pointers to BLAS and to worker threads.</summary>
public sealed unsafe class CpuTensor : Tensor
{
    readonly float[]? _floats;
    readonly int[]? _ints;

    internal CpuTensor(IBackend backend, TensorType type, int[] shape) : base(backend, type, shape)
    {
        if (Length > Array.MaxLength) throw new ArgumentException($"tensor {ShapeText(shape)} is too large for the CPU backend");
        if (type == TensorType.Float32) _floats = GC.AllocateArray<float>((int)Length, pinned: true);
        else _ints = GC.AllocateArray<int>((int)Length, pinned: true);
    }

    public float[] Floats => _floats ?? throw new InvalidOperationException($"tensor {this} is not float32");
    public int[] Ints => _ints ?? throw new InvalidOperationException($"tensor {this} is not int32");
    public Span<float> Span => Floats;
    public float* Ptr => (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(Floats));
    public int* IntPtr => (int*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(Ints));

    public override void Dispose() { }
}
