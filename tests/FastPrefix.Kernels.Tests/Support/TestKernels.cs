namespace FastPrefix.Kernels.Tests.Support;

/// <summary>The kernels the tests bring (TestKernels/*.cu, embedded) on top of the repository's.</summary>
public static class TestKernels
{
    public static IReadOnlyList<KernelSource> Sources { get; } = KernelSet.ReadResources(typeof(TestKernels).Assembly, "testkernels/");

    /// <summary>kernels/ plus the test kernels.</summary>
    public static KernelSet Set { get; } = KernelSet.Builtin.With([.. Sources]);
}
