using FastPrefix.Kernels.Device;

namespace FastPrefix.Backends.Cuda;

// Recording ops as a graph of the device (a CUDA graph on a GPU, a replayed list on the simulator). A recording
// holds raw device addresses, so any device memory this backend frees (a tensor, a workspace that grew) makes every
// earlier recording invalid: the memory generation counts those frees.
public sealed partial class CudaBackend : ICapturingBackend
{
    int _memoryGeneration;

    public CapturedOps Capture(Action work) => new Recording(this, _device.Capture(work), Volatile.Read(ref _memoryGeneration));

    sealed class Recording(CudaBackend backend, GpuGraph graph, int generation) : CapturedOps
    {
        bool _disposed;

        public override bool IsValid => !_disposed && generation == Volatile.Read(ref backend._memoryGeneration);

        public override int Operations => graph.NodeCount;

        public override void Run()
        {
            if (!IsValid) throw new InvalidOperationException("the recording is no longer valid: device memory it may use was freed since; record again");
            backend._device.LaunchGraph(graph);
        }

        public override void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            graph.Dispose();
        }
    }
}
