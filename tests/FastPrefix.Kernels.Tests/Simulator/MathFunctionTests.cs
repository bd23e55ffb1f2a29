namespace FastPrefix.Kernels.Tests.Simulator;

/// <summary>The math functions and intrinsics kernels use, on the simulator (host libm) and the GPU, against .NET.</summary>
public class MathFunctionTests
{
    private static readonly float[] Inputs = [-3f, -1.5f, -0.7f, 0f, 0.25f, 0.5f, 1f, 2f, 3.3f];

    // erf of the float inputs above, in double (Python's math.erf); .NET has no erf.
    private static readonly double[] Erf =
        [-0.9999779095030014, -0.9661051464753108, -0.6778011855967799, 0.0, 0.2763263901682369, 0.5204998778130465,
         0.8427007929497149, 0.9953222650189527, 0.9999969422892004];

    [Theory, MemberData(nameof(Devices.Kinds), MemberType = typeof(Devices))]
    public void Math_functions_agree_with_dotnet(string kind)
    {
        using var device = Devices.Open(kind);
        using var input = device.UploadArray<float>(Inputs);
        using var output = device.AllocateArray<float>(Inputs.Length * 16);
        device.Run("math_functions", TestLaunch.Blocks(1, 32), output, input, Inputs.Length);
        var got = device.DownloadArray<float>(output.Pointer, Inputs.Length * 16);
        for (int i = 0; i < Inputs.Length; i++)
        {
            float v = Inputs[i], a = MathF.Abs(v) + 1;
            // Fast intrinsics (__expf, __logf) trade a few more units in the last place on a GPU: 1e-5 relative covers both.
            double[] expected =
            [
                Math.Exp(v), Math.Exp(v), Math.Log(a), Math.Log(a), Erf[i], Math.Tanh(v), 1 / Math.Sqrt(a), Math.Max(v, 0.5f),
                v / 3.0, -v, MathF.Round(v * 10f, MidpointRounding.ToEven), Math.Sqrt(a), Math.Clamp(v, 0f, 1f),
                Math.Min(v, -0.5f), Math.Pow(2, v), Math.Pow(a, 1.5),
            ];
            for (int j = 0; j < 16; j++)
                Assert.True(Math.Abs(got[i * 16 + j] - expected[j]) <= 1e-5 * Math.Abs(expected[j]) + 1e-7,
                    $"function {j} of {v}: got {got[i * 16 + j]}, expected {expected[j]}");
        }
    }
}
