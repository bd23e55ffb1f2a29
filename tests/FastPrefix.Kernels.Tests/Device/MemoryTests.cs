namespace FastPrefix.Kernels.Tests.Device;

/// <summary>Copies and memsets in every direction, and the argument checks both devices share.</summary>
public class MemoryTests
{
    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Copies_and_memsets_move_the_right_bytes(string kind)
    {
        using var device = kind == "sim" ? new SimDevice(TestKernels.Set) : Devices.Open(kind);
        var values = Enumerable.Range(0, 1001).Select(i => i * 3 - 500).ToArray();
        using var a = device.UploadArray<int>(values);
        using var b = device.AllocateArray<int>(values.Length);
        device.Copy(b.Pointer, a.Pointer.Element<int>(1), (values.Length - 1) * sizeof(int));
        device.Memset32(b.Pointer.Element<int>(values.Length - 1), 0xDEADBEEF, 1);
        var got = device.DownloadArray<int>(b.Pointer, values.Length);
        Assert.Equal(values[1..], got[..^1]);
        Assert.Equal(unchecked((int)0xDEADBEEF), got[^1]);

        device.Memset16(a.Pointer, 0x3F80, 3);                 // bf16 1.0 three times: 6 bytes
        device.Memset8(a.Pointer.Offset(6), 0xAB, 2);
        Assert.Equal([0x3F80, 0x3F80, 0x3F80, 0xABAB], device.DownloadArray<ushort>(a.Pointer, 4));

        using var pinned = device.AllocatePinned(16);
        device.DownloadAsync(b.Pointer, pinned, 4, 8);
        device.Synchronize();
        Assert.Equal(got[..2], pinned.AsSpan<int>()[1..3].ToArray());
        device.UploadAsync(pinned, 4, a.Pointer, 8);
        Assert.Equal(got[..2], device.DownloadArray<int>(a.Pointer, 2));
    }

    [Fact]
    public void Bad_arguments_are_refused_with_what_is_wrong()
    {
        using var device = new SimDevice(TestKernels.Set);
        using var buffer = device.AllocateArray<int>(4);
        using var pinned = device.AllocatePinned(8);
        Assert.Contains("outside the 8-byte pinned buffer", Assert.Throws<ArgumentOutOfRangeException>(() => device.UploadAsync(pinned, 4, buffer.Pointer, 8)).Message);
        Assert.Contains("null device pointer", Assert.Throws<ArgumentException>(() => device.Copy(DevicePtr.Null, buffer.Pointer, 4)).Message);
        Assert.Contains("4-byte aligned", Assert.Throws<ArgumentException>(() => device.Memset32(buffer.Pointer.Offset(2), 0, 1)).Message);
        device.Dispose();
        Assert.Throws<ObjectDisposedException>(() => device.Allocate(4));
    }
}
