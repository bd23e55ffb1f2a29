namespace FastPrefix.Kernels.Tests.Simulator;

/// <summary>
/// CUDA semantics the simulator must reproduce, each pinned by a small kernel (TestKernels/sim_semantics.cu);
/// expected values come from the CUDA programming guide's definitions. The same tests run on a real GPU.
/// </summary>
public class SimSemanticsTests
{
    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Barrier_waits_for_threads_with_more_work(string kind)
    {
        using var device = Devices.Open(kind);
        const int blocks = 3, threads = 96;
        using var output = device.AllocateArray<int>(blocks * threads);
        device.Run("barrier_divergent", TestLaunch.Blocks(blocks, threads), output);
        var got = device.DownloadArray<int>(output.Pointer, blocks * threads);
        for (int b = 0; b < blocks; b++)
            for (int t = 0; t < threads; t++)
            {
                int neighbour = (t + 1) % threads, expected = 0;
                for (int i = 0; i <= neighbour % 7; i++) expected += neighbour + i;
                Assert.Equal(expected, got[b * threads + t]);
            }
    }

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Barrier_count_and_or_reduce_the_predicates_of_the_block(string kind)
    {
        using var device = Devices.Open(kind);
        const int threads = 160;
        using var output = device.AllocateArray<int>(threads * 3);
        foreach (var divisor in new[] { 1, 3, 161 })
        {
            device.Run("barrier_predicates", TestLaunch.Blocks(1, threads), output, divisor);
            var got = device.DownloadArray<int>(output.Pointer, threads * 3);
            int count = Enumerable.Range(0, threads).Count(t => t % divisor == 0);
            for (int t = 0; t < threads; t++)
            {
                Assert.Equal(count, got[t * 3]);
                Assert.Equal(count == threads ? 1 : 0, got[t * 3 + 1]);
                Assert.Equal(count > 0 ? 1 : 0, got[t * 3 + 2]);
            }
        }
    }

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Shared_memory_belongs_to_one_block(string kind)
    {
        using var device = Devices.Open(kind, new SimDeviceOptions { HostThreads = 4 });
        const int blocks = 64;
        using var output = device.AllocateArray<int>(blocks);
        device.Run("shared_isolation", TestLaunch.Blocks(blocks, 128), output, 50);
        Assert.All(device.DownloadArray<int>(output.Pointer, blocks), mismatches => Assert.Equal(0, mismatches));
    }

    public static TheoryData<string, int, int> ShuffleCases()
    {
        var cases = new TheoryData<string, int, int>();
        foreach (var kind in new[] { "sim", "cuda" })
            foreach (var width in new[] { 32, 16, 8, 2 })
                foreach (var laneArgument in new[] { 0, 1, 3, 7, 16, 31 })
                    cases.Add(kind, width, laneArgument);
        return cases;
    }

    [Theory, MemberData(nameof(ShuffleCases))]
    public void Shuffles_follow_the_programming_guide(string kind, int width, int laneArgument)
    {
        using var device = Devices.Open(kind);
        const int threads = 64;
        using var output = device.AllocateArray<int>(threads * 4);
        device.Run("shuffles", TestLaunch.Blocks(1, threads), output, laneArgument, width);
        var got = device.DownloadArray<int>(output.Pointer, threads * 4);
        int Value(int thread) => 100 * thread + 7;
        for (int g = 0; g < threads; g++)
        {
            int warpBase = g / 32 * 32, lane = g % 32, segment = lane / width * width;
            // __shfl_sync: lane srcLane % width of the caller's segment.
            Assert.Equal(Value(warpBase + segment + laneArgument % width), got[g * 4]);
            // __shfl_up_sync: lane - delta, unless that leaves the segment (then the caller's own value).
            Assert.Equal(lane - segment >= laneArgument ? Value(g - laneArgument) : Value(g), got[g * 4 + 1]);
            // __shfl_down_sync: lane + delta, unless that leaves the segment.
            Assert.Equal(lane - segment + laneArgument < width ? Value(g + laneArgument) : Value(g), got[g * 4 + 2]);
            // __shfl_xor_sync: lane ^ mask; a later segment cannot be read (own value), an earlier one can.
            int source = lane ^ laneArgument;
            Assert.Equal(source / width > lane / width ? Value(g) : Value(warpBase + source), got[g * 4 + 3]);
        }
    }

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Shuffles_move_64_bit_values_whole(string kind)
    {
        using var device = Devices.Open(kind);
        const int threads = 64;
        using var output = device.AllocateArray<long>(threads * 2);
        device.Run("shuffles_64", TestLaunch.Blocks(1, threads), output);
        var got = device.DownloadArray<long>(output.Pointer, threads * 2);
        for (int g = 0; g < threads; g++)
        {
            int partner = g ^ 1;
            Assert.Equal(((long)partner << 40) | (partner + 1L), got[g * 2]);
            int source = g % 32 + 3 < 32 ? g + 3 : g;
            Assert.Equal(0.5 + source, BitConverter.Int64BitsToDouble(got[g * 2 + 1]));
        }
    }

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Votes_cover_the_lanes_of_their_mask(string kind)
    {
        using var device = Devices.Open(kind);
        const int threads = 64;
        using var output = device.AllocateArray<uint>(threads * 6);
        device.Run("votes", TestLaunch.Blocks(1, threads), output);
        var got = device.DownloadArray<uint>(output.Pointer, threads * 6);
        uint everyThird = 0;
        for (int lane = 0; lane < 32; lane += 3) everyThird |= 1u << lane;
        for (int g = 0; g < threads; g++)
        {
            int lane = g % 32;
            Assert.Equal(everyThird, got[g * 6]);
            Assert.Equal(1u, got[g * 6 + 1]);
            Assert.Equal(0u, got[g * 6 + 2]);
            Assert.Equal(lane < 16 ? 0x0000AAAAu : 0xAAAA0000u, got[g * 6 + 3]);
            Assert.Equal(1u, got[g * 6 + 4]);
            Assert.Equal(lane < 16 ? 0u : 1u, got[g * 6 + 5]);
        }
    }

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Atomics_lose_no_update_under_contention(string kind)
    {
        using var device = Devices.Open(kind, new SimDeviceOptions { HostThreads = 4 });
        const int blocks = 37, threads = 256, total = blocks * threads;
        using var counters = device.UploadArray<int>([0, -1, 0]);
        using var sum = device.UploadArray<float>([0f]);
        device.Run("atomics", TestLaunch.Blocks(blocks, threads), counters, sum);
        Assert.Equal([total, total - 1, total], device.DownloadArray<int>(counters.Pointer, 3));
        Assert.Equal(total, device.DownloadArray<float>(sum.Pointer, 1)[0]);   // integers below 2^24 add exactly in any order
    }

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Dynamic_shared_memory_is_sized_by_the_launch(string kind)
    {
        using var device = Devices.Open(kind);
        const int blocks = 5, threads = 200;
        var input = Enumerable.Range(0, blocks * threads).Select(i => i * 0.25f).ToArray();
        using var inBuffer = device.UploadArray<float>(input);
        using var outBuffer = device.AllocateArray<float>(input.Length);
        device.Run("dynamic_shared_reverse", TestLaunch.Blocks(blocks, threads, threads * sizeof(float)), outBuffer, inBuffer);
        var got = device.DownloadArray<float>(outBuffer.Pointer, input.Length);
        for (int b = 0; b < blocks; b++)
            for (int t = 0; t < threads; t++)
                Assert.Equal(input[b * threads + threads - 1 - t], got[b * threads + t]);
    }

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Indices_cover_three_dimensional_grids_and_blocks(string kind)
    {
        using var device = Devices.Open(kind);
        var grid = new Dim3(3, 2, 2);
        var block = new Dim3(4, 3, 2);
        int count = (int)(grid.Count * block.Count);
        using var output = device.AllocateArray<int>(count * 6);
        device.Run("indices_3d", new LaunchShape(grid, block), output);
        var got = device.DownloadArray<int>(output.Pointer, count * 6);
        int i = 0;
        for (int bz = 0; bz < 2; bz++) for (int by = 0; by < 2; by++) for (int bx = 0; bx < 3; bx++)
        for (int tz = 0; tz < 2; tz++) for (int ty = 0; ty < 3; ty++) for (int tx = 0; tx < 4; tx++, i++)
            Assert.Equal([tx, ty, tz, bx, by, bz], got[(i * 6)..(i * 6 + 6)]);
    }

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Warp_reduce_gives_every_lane_the_sum_and_max(string kind)
    {
        using var device = Devices.Open(kind);
        const int threads = 96;
        var input = Enumerable.Range(0, threads).Select(i => (float)((i * 37) % 101) - 50).ToArray();
        using var inBuffer = device.UploadArray<float>(input);
        using var outBuffer = device.AllocateArray<float>(threads / 32 * 2);
        device.Run("warp_reductions", TestLaunch.Blocks(1, threads), outBuffer, inBuffer);
        var got = device.DownloadArray<float>(outBuffer.Pointer, threads / 32 * 2);
        for (int w = 0; w < threads / 32; w++)
        {
            var lanes = input.Skip(w * 32).Take(32).ToArray();
            Assert.Equal(lanes.Sum(), got[w * 2]);   // small integers: exact in any order
            Assert.Equal(lanes.Max(), got[w * 2 + 1]);
        }
    }
}
