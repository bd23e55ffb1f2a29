namespace FastPrefix.Kernels.Device;

/// <summary>CUDA's dim3: a grid or block size.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public long Count => (long)X * Y * Z;

    public override string ToString() => $"({X},{Y},{Z})";
}

/// <summary>How a kernel is launched: grid and block sizes and the dynamic shared memory per block.</summary>
public readonly record struct LaunchShape(Dim3 Grid, Dim3 Block, int SharedBytes = 0)
{
    /// <summary>A 1-D launch with enough blocks of <paramref name="blockSize"/> threads to give one thread per work item.</summary>
    public static LaunchShape Linear(long workItems, int blockSize, int sharedBytes = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(workItems);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        long blocks = (workItems + blockSize - 1) / blockSize;
        if (blocks > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(workItems), $"{workItems} work items need {blocks} blocks of {blockSize}, more than a grid holds ({int.MaxValue})");
        return new LaunchShape(new Dim3((uint)blocks), new Dim3((uint)blockSize), sharedBytes);
    }

    public override string ToString() => $"grid {Grid}, block {Block}, {SharedBytes} B dynamic shared";
}
