namespace FastPrefix.Kernels.Tests.Simulator;

/// <summary>
/// What the simulator reports instead of reproducing a GPU's hang or garbage, what it checks before a launch,
/// and that block-parallel runs give the same bits as serial ones.
/// </summary>
public class SimDiagnosticsTests
{
    [Fact]
    public void A_shuffle_waiting_for_an_exited_lane_names_the_kernel_block_and_lane()
    {
        using var device = Devices.OpenSimulated();
        using var output = device.AllocateArray<float>(64);
        var error = Assert.Throws<KernelLaunchException>(() => device.Run("exited_lane_shuffle", TestLaunch.Blocks(1, 64), output));
        Assert.Contains("kernel exited_lane_shuffle, block (0,0,0)", error.Message);
        Assert.Contains("__shfl_xor_sync with mask 0xffffffff waits for lane 5, which has exited", error.Message);
        // The device recovers: fibers left in the middle of the failed kernel are reset.
        using var values = device.AllocateArray<int>(2 * 64);
        device.Run("barrier_divergent", TestLaunch.Blocks(2, 64), values);
        Assert.Equal(1 + 2, device.DownloadArray<int>(values.Pointer, 1)[0]);   // thread 0 reads thread 1's 1 + 2
    }

    [Fact]
    public void A_misaligned_128_bit_load_fails_as_on_a_gpu()
    {
        using var device = Devices.OpenSimulated();
        using var input = device.AllocateArray<float>(64);
        using var output = device.AllocateArray<float>(32);
        var error = Assert.Throws<KernelLaunchException>(() => device.Run("misaligned_load", TestLaunch.Blocks(1, 32), output, input));
        Assert.Contains("kernel misaligned_load", error.Message);
        Assert.Contains("load128 of an address that is not 16-byte aligned", error.Message);
    }

    [Fact]
    public void Arguments_that_do_not_match_the_kernel_parameters_are_refused_before_launch()
    {
        using var device = Devices.OpenSimulated();
        using var buffer = device.AllocateArray<float>(16);
        var kernel = device.Kernel("convert_f32_to_bf16");
        var error = Assert.Throws<ArgumentException>(() => LaunchWithIntCount(device, kernel, buffer.Pointer));
        Assert.Equal("kernel convert_f32_to_bf16 takes 3 parameters of 8, 8, 8 bytes; the launcher passed 3 of 8, 8, 4 bytes", error.Message);
    }

    private static void LaunchWithIntCount(IGpuDevice device, GpuKernel kernel, DevicePtr buffer)
    {
        var args = new KernelArgs();
        args.Add(buffer).Add(buffer).Add(16);   // the kernel's count is long long
        device.Launch(kernel, TestLaunch.Blocks(1, 32), args);
    }

    [Fact]
    public void Launch_shapes_beyond_cuda_limits_are_refused()
    {
        using var device = Devices.OpenSimulated();
        using var buffer = device.AllocateArray<int>(2048);
        Assert.Contains("2048 threads per block", Assert.Throws<ArgumentException>(() => device.Run("indices_3d", TestLaunch.Blocks(1, 2048), buffer)).Message);
        Assert.Contains("dynamic shared memory", Assert.Throws<ArgumentException>(() =>
            device.Run("dynamic_shared_reverse", TestLaunch.Blocks(1, 32, SimDevice.MaxSharedBytes + 4), buffer, buffer)).Message);
        Assert.Contains("no kernel named 'no_such_kernel'", Assert.Throws<ArgumentException>(() => device.Kernel("no_such_kernel")).Message);
    }

    [Fact]
    public void Blocks_on_several_host_threads_give_the_bits_of_one_thread()
    {
        const long n = 300_000;
        var random = new Random(7);
        var input = Enumerable.Range(0, (int)n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float[] Sums(int hostThreads)
        {
            using var device = Devices.OpenSimulated(new SimDeviceOptions { HostThreads = hostThreads });
            using var inBuffer = device.UploadArray<float>(input);
            using var outBuffer = device.AllocateArray<float>(40);
            device.Run("block_sums", TestLaunch.Blocks(40, 256), outBuffer, inBuffer, n);
            return device.DownloadArray<float>(outBuffer.Pointer, 40);
        }
        var serial = Sums(1);
        Assert.Equal(serial, Sums(4));
        double exact = input.Sum(x => (double)x), magnitude = input.Sum(x => Math.Abs((double)x));
        Assert.InRange(serial.Sum(x => (double)x) - exact, -1e-6 * magnitude, 1e-6 * magnitude);
    }

    [Fact]
    public void Out_of_memory_says_how_much_was_asked_and_how_much_is_free()
    {
        using var device = new SimDevice(TestKernels.Set, new SimDeviceOptions { MemoryBytes = 3 << 20 });
        using var first = device.Allocate(1 << 20);
        var error = Assert.Throws<DeviceOutOfMemoryException>(() => device.Allocate(5 << 20));
        Assert.Equal(5 << 20, error.RequestedBytes);
        Assert.Equal(2 << 20, error.FreeBytes);
        Assert.Contains("out of memory allocating 5 MiB (5242880 bytes); 2 MiB free of 3 MiB", error.Message);
        first.Dispose();
        using var fits = device.Allocate(3 << 20);   // freed memory counts again
    }
}
