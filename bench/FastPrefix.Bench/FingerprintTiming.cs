using System.Diagnostics;
using FastPrefix.Adapters;
using FastPrefix.IO;

namespace FastPrefix.Bench;

/// <summary>
/// `-- fingerprint [file]`: times the backbone fingerprint (streamed XxHash128 of the whole weights file) on a
/// bert-large-sized synthetic safetensors file (1.34 GB of F32), written once to the temp folder when not given.
/// Each round runs in a fresh child-free call path (the in-process cache is bypassed by touching the file).
/// </summary>
internal static class FingerprintTiming
{
    public static void Run(string? path)
    {
        path ??= Path.Combine(Path.GetTempPath(), "fastprefix-bert-large-sized.safetensors");
        if (!File.Exists(path))
        {
            const long values = 335_000_000;   // bert-large: ~335M parameters
            var rng = new Random(1);
            var chunk = new float[values / 100];
            var entries = Enumerable.Range(0, 100).Select(i =>
            {
                for (int k = 0; k < chunk.Length; k++) chunk[k] = (float)rng.NextDouble();
                return SafetensorsEntry.FromFloat32($"t{i:D3}", (float[])chunk.Clone(), chunk.Length);
            });
            SafetensorsWriter.Write(path, entries);
        }
        long bytes = new FileInfo(path).Length;
        Console.WriteLine($"{path}: {bytes:N0} bytes");
        for (int round = 0; round < 3; round++)
        {
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(round));   // a new cache key: hash again
            var clock = Stopwatch.StartNew();
            string f = BackboneFingerprint.OfWeights(path);
            clock.Stop();
            Console.WriteLine($"round {round + 1}: {clock.Elapsed.TotalSeconds:F3} s ({bytes / clock.Elapsed.TotalSeconds / 1e9:F2} GB/s) {f}");
        }
    }
}
