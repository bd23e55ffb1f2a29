using FastPrefix.Adapters;
using FastPrefix.Data.Datasets;
using FastPrefix.Data.Tokenization;
using FastPrefix.IO;
using FastPrefix.Training;
using FastPrefix.Model;

namespace FastPrefix.Cli;

/// <summary>A problem with what the user gave: a bad file, option or value. Exit code 2, one line, no stack trace.</summary>
internal sealed class UserInputException(string message) : Exception(message);

/// <summary>Exit codes: 0 success, 2 bad input or usage (one line naming the file/option), 1 internal error, 130 interrupted (Ctrl+C).</summary>
internal static class CliErrors
{
    public const int Ok = 0, Internal = 1, BadInput = 2;
    /// <summary>Ctrl+C (SIGINT): the shell convention 128 + 2.</summary>
    public const int Interrupted = 130;

    /// <summary>Runs a command and maps its exception to an exit code and a message on <paramref name="errors"/> (standard error).</summary>
    public static int Run(Func<int> action, TextWriter? errors = null)
    {
        errors ??= Console.Error;
        try { return action(); }
        catch (Kernels.Device.DeviceOutOfMemoryException e)
        {
            // The run asked more of the GPU than it has: the user's sizes, which the user can change (exit 2).
            errors.WriteLine($"error: {OneLine(e.Message)}; lower --batch-size or --max-seq-length, or use --precision bf16");
            return BadInput;
        }
        catch (Exception e) when (IsUserError(e))
        {
            errors.WriteLine("error: " + OneLine(e.Message));
            return BadInput;
        }
        catch (OperationCanceledException)
        {
            errors.WriteLine("interrupted");
            return Interrupted;
        }
        catch (Exception e)
        {
            errors.WriteLine($"internal error: {OneLine(e.Message)} ({e.GetType().Name}); set FASTPREFIX_DEBUG=1 for the stack trace");
            if (Environment.GetEnvironmentVariable("FASTPREFIX_DEBUG") == "1") errors.WriteLine(e);
            return Internal;
        }
    }

    /// <summary>Exceptions that describe bad input rather than a bug.</summary>
    static bool IsUserError(Exception e) => e is UserInputException or ModelFormatException or SafetensorsException
        or DatasetException or TokenizerException or AdapterException or TrainingException or Onnx.OnnxFormatException
        or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException
        or Inference.AdapterHostException { Kind: Inference.HostErrorKind.BadAdapter or Inference.HostErrorKind.BadInput }
        || e is ArgumentException a && a.Message.StartsWith("--", StringComparison.Ordinal);   // option errors raised below the CLI

    static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
