using System.CommandLine;

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

    public static Option<string> Device() => new("--device")
    {
        Description = "auto | cpu | cuda (auto: CUDA when a device is found, else CPU)",
        DefaultValueFactory = _ => "auto",
    };
}
