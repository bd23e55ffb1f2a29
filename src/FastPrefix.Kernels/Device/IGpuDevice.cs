using FastPrefix.Kernels.KernelCompiler;

namespace FastPrefix.Kernels.Device;

/// <summary>
/// A GPU as a backend sees it: device memory, copies, kernels launched by name with typed arguments, GEMMs,
/// events and captured graphs, all ordered on one stream. Two implementations behave the same from above:
/// <see cref="CudaDevice"/> (the driver, cuBLAS, NVRTC) and <see cref="SimDevice"/> (host memory, the same
/// kernel sources built by the host C++ compiler, GEMMs on the CPU). Use a device from one thread at a time.
/// <para>Operations marked "in stream order" may run after they return (on a GPU) and may be captured into a
/// graph; the others wait for the stream and are refused while capturing, on both devices alike.</para>
/// </summary>
public interface IGpuDevice : IDisposable
{
    DeviceInfo Info { get; }

    /// <summary>The kernel sources this device launches from.</summary>
    KernelSet Kernels { get; }

    /// <summary>Device memory; throws <see cref="DeviceOutOfMemoryException"/> (bytes asked, bytes free) when it does not fit.</summary>
    DeviceBuffer Allocate(long bytes);

    /// <summary>Page-locked host memory for copies in stream order.</summary>
    PinnedBuffer AllocatePinned(long bytes);

    /// <summary>Free and total device memory in bytes.</summary>
    (long Free, long Total) GetMemoryInfo();

    /// <summary>Copies host values to the device and waits for the stream; <paramref name="source"/> may be reused when this returns.</summary>
    void Upload<T>(ReadOnlySpan<T> source, DevicePtr destination) where T : unmanaged;

    /// <summary>Waits for the stream, then copies device values into <paramref name="destination"/>.</summary>
    void Download<T>(DevicePtr source, Span<T> destination) where T : unmanaged;

    /// <summary>In stream order: pinned host bytes to the device.</summary>
    void UploadAsync(PinnedBuffer source, long sourceOffset, DevicePtr destination, long bytes);

    /// <summary>In stream order: device bytes to pinned host memory (valid after <see cref="Synchronize"/>).</summary>
    void DownloadAsync(DevicePtr source, PinnedBuffer destination, long destinationOffset, long bytes);

    /// <summary>In stream order: device to device.</summary>
    void Copy(DevicePtr destination, DevicePtr source, long bytes);

    /// <summary>In stream order: sets <paramref name="count"/> bytes.</summary>
    void Memset8(DevicePtr destination, byte value, long count);

    /// <summary>In stream order: sets <paramref name="count"/> 16-bit values (e.g. bf16 bits).</summary>
    void Memset16(DevicePtr destination, ushort value, long count);

    /// <summary>In stream order: sets <paramref name="count"/> 32-bit values (e.g. float bits).</summary>
    void Memset32(DevicePtr destination, uint value, long count);

    /// <summary>The kernel named <paramref name="name"/> (its <c>extern "C"</c> name); compiled or loaded on first use.</summary>
    GpuKernel Kernel(string name);

    /// <summary>In stream order: launches <paramref name="kernel"/>; its arguments are copied at the call.</summary>
    void Launch(GpuKernel kernel, LaunchShape shape, in KernelArgs args);

    /// <summary>In stream order: a strided batched matrix product (<see cref="GemmSpec"/>).</summary>
    void Gemm(in GemmSpec spec);

    /// <summary>Waits until everything in the stream has run; surfaces errors of earlier operations.</summary>
    void Synchronize();

    GpuEvent CreateEvent();

    /// <summary>In stream order: marks <paramref name="gpuEvent"/>.</summary>
    void Record(GpuEvent gpuEvent);

    /// <summary>Waits for <paramref name="end"/>; milliseconds between the two recorded events.</summary>
    float ElapsedMilliseconds(GpuEvent start, GpuEvent end);

    /// <summary>True while <see cref="Capture"/> runs its work.</summary>
    bool IsCapturing { get; }

    /// <summary>
    /// Runs <paramref name="work"/> with the stream capturing instead of executing: the operations in stream
    /// order become a graph, launched later with <see cref="LaunchGraph"/>. Nothing runs during capture;
    /// allocation, synchronous copies, events and first use of a kernel are refused. Run the work once before
    /// capturing it: kernels load and cuBLAS sets itself up on first use, which a capture cannot contain.
    /// </summary>
    GpuGraph Capture(Action work);

    /// <summary>In stream order: runs a captured graph.</summary>
    void LaunchGraph(GpuGraph graph);
}
