using FastPrefix.Kernels.Device;

namespace FastPrefix.Kernels.Launchers;

/// <summary>The launch shape of the flat elementwise kernels (convert.cu, fill.cu): 8 elements per thread.</summary>
internal static class Elementwise
{
    // 256 threads of 8 elements: each thread moves 128 bits at a time, a block covers 2048 elements, and blocks
    // are small enough that several per SM hide memory latency on any GPU; the work per element is tiny.
    private const int BlockSize = 256;
    private const int ElementsPerThread = 8;

    public static LaunchShape Shape(long count) => LaunchShape.Linear((count + ElementsPerThread - 1) / ElementsPerThread, BlockSize);
}
