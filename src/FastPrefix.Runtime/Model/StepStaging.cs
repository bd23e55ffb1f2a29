using System.Runtime.InteropServices;
using FastPrefix.Backends;

namespace FastPrefix.Model;

/// <summary>A region of a <see cref="StepStaging"/> area: element offset and length (4-byte elements).</summary>
public readonly record struct StagingRegion(int Offset, int Length);

/// <summary>
/// Everything a step reads that changes from step to step — token ids, positions, types, mask, adapter and task
/// indices, labels, dropout seeds, the learning rate and bias corrections, the result slot — in one host array
/// and one device tensor, so a step starts with exactly one upload. Regions are reserved while a model plans its
/// buffers; <see cref="Allocate"/> then creates the device tensor and views of every region.
/// </summary>
public sealed class StepStaging : IDisposable
{
    readonly IBackend _backend;
    readonly List<StagingRegion> _regions = [];
    int _length;
    int[] _host = [];
    Tensor? _device;

    public StepStaging(IBackend backend) => _backend = backend;

    /// <summary>Reserves a region of <paramref name="length"/> elements (before <see cref="Allocate"/>).</summary>
    public StagingRegion Reserve(int length)
    {
        if (_device != null) throw new InvalidOperationException("the staging area is already allocated; reserve every region while planning");
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var r = new StagingRegion(_length, length);
        _length = checked(_length + length);
        _regions.Add(r);
        return r;
    }

    public bool IsAllocated => _device != null;
    public int Length => _length;

    public void Allocate()
    {
        if (_device != null) return;
        _host = new int[Math.Max(1, _length)];
        _device = _backend.ZerosInt(Math.Max(1, _length));
    }

    Tensor Device => _device ?? throw new InvalidOperationException("the staging area is not allocated yet");

    /// <summary>The device tensor holding the whole area (ops that read a scalar at an offset take it).</summary>
    public Tensor Tensor => Device;

    /// <summary>A device view of a region (made while planning; views allocate nothing on the device).</summary>
    public Tensor View(StagingRegion r, TensorType type = TensorType.Int32) => _backend.View(Device, r.Offset, type, Math.Max(1, r.Length));

    /// <summary>Host ints of a region, written by batch preparation before <see cref="Upload"/>.</summary>
    public Span<int> Ints(StagingRegion r) => _host.AsSpan(r.Offset, r.Length);

    /// <summary>Host floats of a region (the same memory read as float32).</summary>
    public Span<float> Floats(StagingRegion r) => MemoryMarshal.Cast<int, float>(Ints(r));

    /// <summary>Writes a 64-bit seed as two ints (low, high) at element <paramref name="index"/> of a seeds region.</summary>
    public void WriteSeed(StagingRegion seeds, int index, ulong seed)
    {
        var s = Ints(seeds);
        s[2 * index] = (int)(uint)seed;
        s[2 * index + 1] = (int)(uint)(seed >> 32);
    }

    /// <summary>The one upload of a step.</summary>
    public void Upload() => _backend.Upload(_host.AsSpan(0, _length), Device);

    public void Dispose() => _device?.Dispose();
}
