using FastPrefix.Backends;
using FastPrefix.Backends.Cuda;
using FastPrefix.Kernels.Device;
using FastPrefix.Model.Heads;
using FastPrefix.Tests.Training;

namespace FastPrefix.Tests.Backends.Cuda;

/// <summary>
/// The attention forward on tensor cores (the bf16 default where the device has them) against the CUDA-core forward it
/// replaces, through a whole model: the same logits and loss to bf16 accuracy; and when each is chosen. The kernels
/// themselves are compared with the CPU case by case in AttentionKernelTests ("bf16-tc").
/// </summary>
public class TensorCoreAttentionTests
{
    public static TheoryData<string> Kinds => new() { "cuda-sim", "cuda" };

    [Theory, MemberData(nameof(Kinds))]
    public void Bf16_uses_tensor_cores_fp32_cannot(string kind)
    {
        using (var bf16 = GpuBackends.OpenGpu(kind, "bf16"))
        {
            Assert.True(bf16.TensorCoreAttention);
            Assert.Contains("attention forward on tensor cores", bf16.Name);
        }
        using (var fp32 = GpuBackends.OpenGpu(kind, "fp32")) Assert.False(fp32.TensorCoreAttention);
        IGpuDevice device = kind == "cuda" ? CudaDevice.Open(0) : new SimDevice();
        using var owner = new CudaBackend(device, ComputePrecision.Fp32, ownsDevice: true);
        Assert.Contains("needs bf16", Assert.Throws<ArgumentException>(() => new CudaBackend(device, ComputePrecision.Fp32) { TensorCoreAttention = true }).Message);
    }

    [Theory, MemberData(nameof(Kinds))]
    public void Both_forwards_give_the_same_logits_and_loss(string kind)
    {
        (float[] Logits, double Loss) Run(bool tensorCores)
        {
            using var backend = GpuBackends.OpenBf16(kind, tensorCores);
            Assert.Equal(tensorCores, backend.TensorCoreAttention);
            var data = new ToyTask(16, seed: 8, maxLen: 40);
            using var model = ToyTask.BuildModel(hidden: 64, backend: backend, maxPositions: 64);   // head_dim 32
            var output = model.Forward(data.MakeBatch([.. Enumerable.Range(0, 16)]));
            return (output.Logits, output.Loss!.Value);
        }
        var cudaCores = Run(false);
        var tensorCores = Run(true);
        double scale = cudaCores.Logits.Max(Math.Abs);
        for (int i = 0; i < cudaCores.Logits.Length; i++)
            Assert.True(Math.Abs(tensorCores.Logits[i] - cudaCores.Logits[i]) <= 2e-2 * scale,
                $"logit {i}: {tensorCores.Logits[i]} on tensor cores, {cudaCores.Logits[i]} on CUDA cores");
        Assert.True(Math.Abs(tensorCores.Loss - cudaCores.Loss) <= 2e-2 * Math.Abs(cudaCores.Loss), $"loss {tensorCores.Loss} against {cudaCores.Loss}");
    }
}
