namespace FastPrefix.Kernels.Tests.Support;

/// <summary>A kernel cache in a fresh temporary folder, deleted afterwards.</summary>
public sealed class TemporaryCache : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("fastprefix-cache-test-");

    public TemporaryCache() => Cache = new KernelCache(_folder.FullName);

    public KernelCache Cache { get; }

    public void Dispose() => _folder.Delete(recursive: true);
}
