using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace FastPrefix.Kernels.Device;

/// <summary>
/// A kernel's arguments, in order, as cuLaunchKernel takes them: each value in its own 8-byte slot, its size
/// recorded so that the device can check it against the kernel's parameter (the simulator always can, the
/// driver from CUDA 12.4). Lives on the stack: building it allocates nothing.
/// <code>var args = new KernelArgs(); args.Add(output).Add(input).Add(count);</code>
/// </summary>
public ref struct KernelArgs
{
    public const int MaxCount = 24;

    [InlineArray(MaxCount)]
    private struct Slots { private ulong _first; }

    [InlineArray(MaxCount)]
    private struct Sizes { private byte _first; }

    private Slots _slots;
    private Sizes _sizes;
    private int _count;

    public readonly int Count => _count;

    /// <summary>Size in bytes of argument <paramref name="index"/>.</summary>
    public readonly int SizeOf(int index) => _sizes[index];

    [UnscopedRef] public ref KernelArgs Add(DevicePtr value) => ref Put(value.Address);
    [UnscopedRef] public ref KernelArgs Add(long value) => ref Put(value);
    [UnscopedRef] public ref KernelArgs Add(ulong value) => ref Put(value);
    [UnscopedRef] public ref KernelArgs Add(int value) => ref Put(value);
    [UnscopedRef] public ref KernelArgs Add(uint value) => ref Put(value);
    [UnscopedRef] public ref KernelArgs Add(float value) => ref Put(value);

    [UnscopedRef]
    private ref KernelArgs Put<T>(T value) where T : unmanaged
    {
        if (_count == MaxCount) throw new InvalidOperationException($"a kernel takes at most {MaxCount} arguments here");
        _slots[_count] = 0;
        Unsafe.As<ulong, T>(ref _slots[_count]) = value;
        _sizes[_count] = (byte)Unsafe.SizeOf<T>();
        _count++;
        return ref this;
    }

    /// <summary>Fills <paramref name="pointers"/> with the address of each value: cuLaunchKernel's kernelParams.
    /// Valid while this struct stays where it is (it is a ref struct: on the caller's stack).</summary>
    internal readonly unsafe void GetPointers(void** pointers)
    {
        var first = (ulong*)Unsafe.AsPointer(ref Unsafe.AsRef(in _slots[0]));
        for (int i = 0; i < _count; i++) pointers[i] = first + i;
    }

    /// <summary>The argument values, slot by slot (for recording a launch into a simulated graph).</summary>
    internal readonly ulong[] CopyValues()
    {
        var values = new ulong[_count];
        for (int i = 0; i < _count; i++) values[i] = _slots[i];
        return values;
    }

    /// <summary>"8, 8, 4" — for messages.</summary>
    public readonly string DescribeSizes()
    {
        var parts = new string[_count];
        for (int i = 0; i < _count; i++) parts[i] = _sizes[i].ToString();
        return string.Join(", ", parts);
    }
}
