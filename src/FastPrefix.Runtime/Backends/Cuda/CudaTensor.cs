using FastPrefix.Kernels.Device;

namespace FastPrefix.Backends.Cuda;

/// <summary>
/// A tensor in device memory: a <see cref="DeviceBuffer"/> it owns, or a view of another tensor's memory (a window at
/// an element offset, possibly reinterpreting Float32 and Int32). Disposing a view frees nothing.
/// </summary>
public sealed class CudaTensor : Tensor
{
    readonly DeviceBuffer? _buffer;          // set on owners
    readonly CudaTensor? _owner;             // set on views: keeps the owner alive while a view is
    readonly CudaBackend _backend;
    int _disposed;

    internal CudaTensor(CudaBackend backend, DeviceBuffer buffer, TensorType type, int[] shape) : base(backend, type, shape)
    {
        _backend = backend;
        _buffer = buffer;
        Pointer = buffer.Pointer;
    }

    CudaTensor(CudaTensor owner, long offset, TensorType type, int[] shape) : base(owner.Backend, type, shape)
    {
        owner.CheckRange(offset, Length * ElementSize(type) / owner.ElementBytes, "view");
        _backend = owner._backend;
        _owner = owner._owner ?? owner;
        Pointer = owner.Pointer.Offset(offset * owner.ElementBytes);
    }

    /// <summary>A window of <paramref name="shape"/> from element <paramref name="offset"/> (of this tensor's type), read as
    /// <paramref name="type"/>; Float32 and Int32 reinterpret each other, a BFloat16 tensor is viewed as BFloat16 only.</summary>
    internal CudaTensor View(long offset, TensorType type, int[] shape)
    {
        if (ElementSize(type) != ElementBytes)
            throw new ArgumentException($"a view of {this} as {type} would split elements: only 4-byte types (Float32, Int32) reinterpret each other");
        return new CudaTensor(this, offset, type, shape);
    }

    /// <summary>The first element.</summary>
    public DevicePtr Pointer { get; }
    public int ElementBytes => ElementSize(Type);
    public long Bytes => Length * ElementBytes;
    public override bool IsView => _owner != null;

    /// <summary>Element <paramref name="index"/>.</summary>
    public DevicePtr At(long index) => Pointer.Offset(index * ElementBytes);

    /// <summary>The element type of a float tensor as kernels and GEMMs take it.</summary>
    public ElementType Element => Type switch
    {
        TensorType.Float32 => ElementType.F32,
        TensorType.BFloat16 => ElementType.BF16,
        _ => throw new ArgumentException($"tensor {this} is not a float tensor (Float32 or BFloat16)"),
    };

    public static int ElementSize(TensorType type) => type == TensorType.BFloat16 ? 2 : 4;

    public override void Dispose()
    {
        if (_buffer == null || Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _backend.Released(_buffer.Bytes);
        _buffer.Dispose();
    }
}
