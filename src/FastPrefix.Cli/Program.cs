using System.CommandLine;
using FastPrefix.Cli;
using FastPrefix.Cli.Commands;

var root = new RootCommand("fastprefix: P-Tuning v2 (deep prompt tuning) on a frozen BERT/RoBERTa, in .NET. " +
    $"Exit codes: {CliErrors.Ok} success, {CliErrors.BadInput} bad input or usage (one line naming the file, line or option), " +
    $"{CliErrors.Internal} internal error, {CliErrors.Interrupted} interrupted by Ctrl+C")
{
    InspectCommand.Create(),
    TokenizeCommand.Create(),
    TrainCommand.Create(),
    EvalCommand.Create(),
    PredictCommand.Create(),
    ServeCommand.Create(),
    PeftCommand.Create(),
    OnnxCommands.Import(),
    OnnxCommands.Export(),
    FastPrefix.Cli.Demo.DemoCommand.Create(),
    BenchCommand.Create(),
};

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors) Console.Error.WriteLine("error: " + error.Message);
    Console.Error.WriteLine("run 'fastprefix --help' for usage");
    return CliErrors.BadInput;
}
return parse.Invoke();
