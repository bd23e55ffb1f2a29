using FastPrefix.Kernels.Interop;

namespace FastPrefix.Kernels.Device;

public sealed partial class CudaDevice
{
    // Thread-local capture: only this thread's unsafe calls (allocation, synchronisation) break the capture,
    // other threads using other devices are unaffected. GpuDeviceBase refuses those calls before CUDA would.
    protected override void BeginCaptureCore()
    {
        EnsureCurrent();
        CudaException.ThrowIfFailed(LibCuda.cuStreamBeginCapture(Stream, CuStreamCaptureMode.ThreadLocal));
    }

    protected override unsafe GpuGraph EndCaptureCore()
    {
        EnsureCurrent();
        CudaException.ThrowIfFailed(LibCuda.cuStreamEndCapture(Stream, out var captured));
        var graph = new GraphHandle(_context);
        graph.Own(captured);
        nuint nodes = 0;
        CudaException.ThrowIfFailed(LibCuda.cuGraphGetNodes(captured, null, ref nodes));
        CudaException.ThrowIfFailed(LibCuda.cuGraphInstantiateWithFlags(out var exec, captured, 0));
        var executable = new GraphExecHandle(_context);
        executable.Own(exec);
        return new CudaGraph(graph, executable, (int)nodes);
    }

    protected override void AbortCaptureCore()
    {
        EnsureCurrent();
        if (LibCuda.cuStreamEndCapture(Stream, out var captured) == CuResult.Success && captured != 0) LibCuda.cuGraphDestroy(captured);
    }

    protected override void LaunchGraphCore(GpuGraph graph)
    {
        var cudaGraph = graph as CudaGraph ?? throw new ArgumentException("the graph was captured on another kind of device", nameof(graph));
        EnsureCurrent();
        CudaException.ThrowIfFailed(LibCuda.cuGraphLaunch(cudaGraph.Executable.DangerousGetHandle(), Stream));
    }

    private sealed class CudaGraph(GraphHandle graph, GraphExecHandle executable, int nodeCount) : GpuGraph
    {
        public GraphExecHandle Executable { get; } = executable;
        public override int NodeCount { get; } = nodeCount;

        public override void Dispose()
        {
            Executable.Dispose();
            graph.Dispose();
        }
    }
}
