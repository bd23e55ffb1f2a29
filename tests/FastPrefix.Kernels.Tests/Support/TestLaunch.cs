namespace FastPrefix.Kernels.Tests.Support;

public static class TestLaunch
{
    /// <summary>Launches a test kernel with arguments of the types its parameters have (DevicePtr, DeviceBuffer, int, long, float, uint).</summary>
    public static void Run(this IGpuDevice device, string kernel, LaunchShape shape, params object[] arguments)
    {
        var args = new KernelArgs();
        foreach (var argument in arguments)
        {
            switch (argument)
            {
                case DeviceBuffer b: args.Add(b.Pointer); break;
                case DevicePtr p: args.Add(p); break;
                case int i: args.Add(i); break;
                case long l: args.Add(l); break;
                case float f: args.Add(f); break;
                case uint u: args.Add(u); break;
                default: throw new ArgumentException($"unsupported argument type {argument.GetType()}");
            }
        }
        device.Launch(device.Kernel(kernel), shape, args);
    }

    public static LaunchShape Blocks(uint blocks, uint threads, int sharedBytes = 0) => new(new Dim3(blocks), new Dim3(threads), sharedBytes);
}
