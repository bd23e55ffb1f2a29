namespace FastPrefix.Kernels.Tests.Support;

/// <summary>Upload/download helpers that keep tests short.</summary>
public static class DeviceArrays
{
    public static DeviceBuffer AllocateArray<T>(this IGpuDevice device, long count) where T : unmanaged =>
        device.Allocate(Math.Max(1, count) * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());

    public static DeviceBuffer UploadArray<T>(this IGpuDevice device, ReadOnlySpan<T> values) where T : unmanaged
    {
        var buffer = device.AllocateArray<T>(values.Length);
        device.Upload(values, buffer.Pointer);
        return buffer;
    }

    public static T[] DownloadArray<T>(this IGpuDevice device, DevicePtr source, long count) where T : unmanaged
    {
        var values = new T[count];
        device.Download(source, values.AsSpan());
        return values;
    }
}
