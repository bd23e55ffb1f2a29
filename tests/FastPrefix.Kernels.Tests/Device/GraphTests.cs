using FastPrefix.Kernels.Launchers;

namespace FastPrefix.Kernels.Tests.Device;

/// <summary>Capture and replay: nothing runs while capturing, values are taken at capture, pinned memory at replay.</summary>
public class GraphTests
{
    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void A_captured_sequence_runs_only_when_launched_and_every_time(string kind)
    {
        using var device = Devices.Open(kind);
        const int n = 1000;
        using var floats = device.UploadArray<float>(new float[n]);
        using var halves = device.AllocateArray<ushort>(n);
        using var product = device.UploadArray<float>([-1f]);
        using var staged = device.AllocateArray<float>(4);
        using var copy = device.AllocateArray<float>(n);
        using var pinned = device.AllocatePinned(4 * sizeof(float));
        using var readBack = device.AllocatePinned(sizeof(float));
        pinned.AsSpan<float>().Fill(1);
        ConvertLaunchers.F32ToBf16(device, halves.Pointer, floats.Pointer, n);   // first use of the kernels happens before capture
        FillLaunchers.FillF32(device, floats.Pointer, 0, n);

        var graph = device.Capture(() =>
        {
            Assert.True(device.IsCapturing);
            FillLaunchers.FillF32(device, floats.Pointer, 2.5f, n);
            ConvertLaunchers.F32ToBf16(device, halves.Pointer, floats.Pointer, n);
            device.UploadAsync(pinned, 0, staged.Pointer, 4 * sizeof(float));
            device.Gemm(new GemmSpec { M = 1, N = 1, K = 4, A = new(floats.Pointer, 4), B = new(staged.Pointer, 1), C = new(product.Pointer, 1) });
            device.Copy(copy.Pointer, floats.Pointer, n * sizeof(float));
            device.Memset32(floats.Pointer, BitConverter.SingleToUInt32Bits(-3f), 1);
            device.DownloadAsync(product.Pointer, readBack, 0, sizeof(float));
        });
        Assert.False(device.IsCapturing);
        Assert.True(graph.NodeCount >= 7, $"{graph.NodeCount} nodes");
        Assert.All(device.DownloadArray<float>(floats.Pointer, n), v => Assert.Equal(0f, v));   // nothing ran yet
        Assert.Equal(-1f, device.DownloadArray<float>(product.Pointer, 1)[0]);

        device.LaunchGraph(graph);
        device.Synchronize();
        Assert.Equal(10f, readBack.AsSpan<float>()[0]);                        // 4 × 2.5 × 1
        Assert.Equal(0x4020, device.DownloadArray<ushort>(halves.Pointer, n)[n - 1]);   // 2.5 in bf16
        Assert.Equal(2.5f, device.DownloadArray<float>(copy.Pointer, n)[n - 1]);
        Assert.Equal(-3f, device.DownloadArray<float>(floats.Pointer, 1)[0]);

        // A replay reads the pinned memory as it is then, but kernel arguments as they were at capture.
        pinned.AsSpan<float>().Fill(2);
        FillLaunchers.FillF32(device, copy.Pointer, 7, n);
        device.LaunchGraph(graph);
        device.Synchronize();
        Assert.Equal(20f, readBack.AsSpan<float>()[0]);
        Assert.Equal(2.5f, device.DownloadArray<float>(copy.Pointer, n)[0]);
        graph.Dispose();
    }

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Operations_that_cannot_be_captured_are_refused_and_the_capture_is_abandoned(string kind)
    {
        using var device = Devices.Open(kind);
        using var buffer = device.AllocateArray<float>(16);
        var error = Assert.Throws<InvalidOperationException>(() => device.Capture(() => device.Allocate(64)));
        Assert.StartsWith("Allocate is not allowed during graph capture", error.Message);
        Assert.False(device.IsCapturing);
        Assert.Throws<InvalidOperationException>(() => device.Capture(() => device.Upload<float>([1f], buffer.Pointer)));
        Assert.Throws<InvalidOperationException>(() => device.Capture(() => device.Download(buffer.Pointer, new float[1])));
        Assert.Contains("used for the first time during graph capture",
            Assert.Throws<InvalidOperationException>(() => device.Capture(() => device.Kernel("fill_bf16"))).Message);
        // The device still works, and captures again.
        FillLaunchers.FillF32(device, buffer.Pointer, 4, 16);
        using var graph = device.Capture(() => FillLaunchers.FillF32(device, buffer.Pointer, 5, 16));
        device.LaunchGraph(graph);
        Assert.All(device.DownloadArray<float>(buffer.Pointer, 16), v => Assert.Equal(5f, v));
    }

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Events_time_the_work_between_them(string kind)
    {
        using var device = Devices.Open(kind);
        using var buffer = device.AllocateArray<float>(1 << 20);
        using var start = device.CreateEvent();
        using var end = device.CreateEvent();
        device.Record(start);
        FillLaunchers.FillF32(device, buffer.Pointer, 1, 1 << 20);
        device.Record(end);
        var milliseconds = device.ElapsedMilliseconds(start, end);
        Assert.InRange(milliseconds, 0f, 60_000f);
    }
}
