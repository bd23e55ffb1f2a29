using System.CommandLine;
using FastPrefix.Backends;

namespace FastPrefix.Cli.Commands;

/// <summary>Options shared by several commands, so they are spelled and described the same everywhere.</summary>
internal static class CommonOptions
{
    public static Option<string> Model() => new("--model")
    {
        Description = "Hugging Face checkpoint folder: config.json, model.safetensors and tokenizer files (vocab.txt, or vocab.json + merges.txt)",
        Required = true,
    };

    public static Option<string> Adapter() => new("--adapter")
    {
        Description = "adapter.safetensors written by train or peft import (or the folder that holds it)",
        Required = true,
    };

    /// <summary>The file a command reads records from: --data everywhere (train names its two files --train and --eval).</summary>
    public static Option<string> Data(string description) => new("--data") { Description = description, Required = true };

    public static Option<string> Device()
    {
        var option = new Option<string>("--device")
        {
            Description = "auto | cpu | cuda | cuda-sim (auto: CUDA when a GPU, its driver, cuBLAS and NVRTC are found, else CPU; " +
                          "cuda-sim: the CUDA kernels on a simulated GPU, for testing, far slower than cpu)",
            DefaultValueFactory = _ => "auto",
        };
        option.AcceptOnlyFromAmong([.. BackendFactory.Devices]);
        return option;
    }

    /// <summary>--precision: null when not given (bf16 on a GPU, fp32 on the CPU and the simulator).</summary>
    public static Option<string?> Precision()
    {
        var option = new Option<string?>("--precision")
        {
            Description = "fp32 | bf16: what the frozen backbone computes in (default: bf16 on a GPU, fp32 on cpu and cuda-sim; the CPU is fp32 only)",
        };
        option.AcceptOnlyFromAmong([.. BackendFactory.Precisions]);
        return option;
    }

    /// <summary>--graphs on|off: replay each training step as one recorded graph on CUDA.</summary>
    public static Option<string> Graphs()
    {
        var option = new Option<string>("--graphs")
        {
            Description = "on | off: run each training step as one recorded CUDA graph per batch shape (bit-identical results; " +
                          "off issues every op from the host, for comparison; no effect on the CPU)",
            DefaultValueFactory = _ => "on",
        };
        option.AcceptOnlyFromAmong("on", "off");
        return option;
    }
}
