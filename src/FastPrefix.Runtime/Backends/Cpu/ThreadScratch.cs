namespace FastPrefix.Backends.Cpu;

/// <summary>
/// Per-thread pinned scratch buffers that grow and are kept, so steady-state ops allocate nothing
/// (the memory plan of DESIGN.md: a training step allocates nothing).
/// </summary>
internal static unsafe class ThreadScratch
{
    [ThreadStatic] static float[]?[]? _buffers;

    /// <summary>A buffer of at least <paramref name="length"/> floats for this thread; slots let one op hold several at once.</summary>
    public static float* Get(int slot, int length)
    {
        var buffers = _buffers ??= new float[]?[4];
        var b = buffers[slot];
        if (b == null || b.Length < length) buffers[slot] = b = GC.AllocateUninitializedArray<float>(Math.Max(length, 1024), pinned: true);
        return (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(b));
    }
}
