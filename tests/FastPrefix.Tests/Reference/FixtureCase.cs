using FastPrefix.Backends;
using FastPrefix.Backends.Cpu;
using FastPrefix.IO;
using FastPrefix.Model;

namespace FastPrefix.Tests.Reference;

/// <summary>One model fixture folder opened for a test: config, backbone and the case files.</summary>
public sealed class FixtureCase : IDisposable
{
    public const double Tolerance = 1e-4;
    readonly Dictionary<string, SafetensorsFile> _files = [];

    public FixtureCase(string folder, IBackend? backend = null)
    {
        Folder = folder;
        Backend = backend ?? new CpuBackend();
        Config = EncoderConfig.Load(Path.Combine(folder, "config.json"));
        using var model = SafetensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        Weights = EncoderWeights.Load(Backend, Config, new SafetensorsTensorSource(model));
        Encoder = new Encoder(Backend, Weights);
    }

    public string Folder { get; }
    public IBackend Backend { get; }
    public EncoderConfig Config { get; }
    public EncoderWeights Weights { get; }
    public Encoder Encoder { get; }

    public SafetensorsFile File(string name)
    {
        if (!_files.TryGetValue(name, out var f)) _files[name] = f = SafetensorsFile.Open(Path.Combine(Folder, name));
        return f;
    }

    public int[] Ints(string file, string tensor) => File(file).ReadInt64(tensor).Select(v => checked((int)v)).ToArray();
    public float[] Floats(string file, string tensor) => File(file).ReadFloat32(tensor);
    public long[] Shape(string file, string tensor) => File(file).GetInfo(tensor).Shape;

    /// <summary>Inputs named {prefix}input_ids etc., of shape [B, T] (or [B, C, T], flattened to B·C rows).</summary>
    public EncoderBatch Batch(string file, string prefix, int[]? rowAdapter = null)
    {
        var shape = Shape(file, prefix + "input_ids");
        int seq = (int)shape[^1];
        int rows = (int)(shape.Aggregate(1L, (a, b) => a * b) / seq);
        return new EncoderBatch(rows, seq, Ints(file, prefix + "input_ids"), Ints(file, prefix + "attention_mask"),
            Ints(file, prefix + "token_type_ids"), rowAdapter);
    }

    /// <summary>Asserts max|got - expected| / max(max|expected|, 1e-6) below the tolerance; NaN never passes.</summary>
    public void AssertClose(string file, string expectedName, ReadOnlySpan<float> got, double tolerance = Tolerance)
    {
        var f = File(file);
        Assert.True(f.Contains(expectedName), $"{Folder}/{file}: no tensor '{expectedName}'");
        var expected = f.ReadFloat64(expectedName);
        Assert.True(expected.Length == got.Length, $"{expectedName}: got {got.Length} values, expected {expected.Length}");
        double maxExp = 0, maxErr = 0; int worst = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(got[i]) || float.IsInfinity(got[i]), $"{expectedName}: non-finite value {got[i]} at {i}");
            maxExp = Math.Max(maxExp, Math.Abs(expected[i]));
            double err = Math.Abs(got[i] - expected[i]);
            if (err > maxErr) { maxErr = err; worst = i; }
        }
        double rel = maxErr / Math.Max(maxExp, 1e-6);
        Assert.True(rel < tolerance,
            $"{Path.GetFileName(Folder)} {expectedName}: relative error {rel:E2} >= {tolerance:E0} (worst at {worst}: got {(worst >= 0 ? got[worst] : 0)}, expected {(worst >= 0 ? expected[worst] : 0)})");
    }

    public void AssertClose(string file, string expectedName, double got) => AssertClose(file, expectedName, new[] { (float)got });

    public void Dispose()
    {
        foreach (var f in _files.Values) f.Dispose();
        Encoder.Dispose();
        Weights.Dispose();
    }
}
