using System.CommandLine;
using FastPrefix.Data.Tokenization;

namespace FastPrefix.Cli.Commands;

/// <summary>`fastprefix tokenize --model DIR`: shows what the model sees for each line of text.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var maxLen = new Option<int?>("--max-seq-length") { Description = "Truncate to this many tokens, special tokens included" };
        var input = new Option<string?>("--data") { Description = "Read lines from this file instead of standard input ('-' for stdin)" };
        var pair = new Option<bool>("--pairs") { Description = "Treat each line as 'text<TAB>text_pair'" };
        var command = new Command("tokenize", "Print tokens, ids and character offsets for lines of text") { model, maxLen, input, pair };
        command.SetAction(p => CliErrors.Run(() => Execute(p.GetValue(model)!, p.GetValue(maxLen), p.GetValue(input), p.GetValue(pair), Console.In, Console.Out)));
        return command;
    }

    public static int Execute(string modelDir, int? maxLength, string? inputPath, bool pairs, TextReader stdin, TextWriter output)
    {
        if (maxLength is <= 0) throw new UserInputException($"--max-seq-length must be positive, got {maxLength}");
        var tokenizer = TokenizerFactory.FromFolder(modelDir);
        TextReader reader = inputPath is null or "-" ? stdin : File.Exists(inputPath) ? new StreamReader(inputPath) : throw new UserInputException($"--data {inputPath}: file not found");
        using (reader == stdin ? null : reader)
        {
            string? line;
            while ((line = reader.ReadLine()) != null)
            {
                string text = line; string? second = null;
                if (pairs)
                {
                    int tab = line.IndexOf('\t');
                    if (tab >= 0) { text = line[..tab]; second = line[(tab + 1)..]; }
                }
                var enc = tokenizer.Encode(text, second, maxLength);
                var tokens = tokenizer.TokenStrings(enc.InputIds);
                output.WriteLine(second == null ? $"text: {text}" : $"text: {text}\npair: {second}");
                for (int i = 0; i < enc.InputIds.Length; i++)
                    output.WriteLine($"  {i,4}  {tokens[i],-20} {enc.InputIds[i],8}  [{enc.Offsets[i].Start}, {enc.Offsets[i].End})  type {enc.TokenTypeIds?[i] ?? 0}");
                if (enc.NumTruncated > 0) output.WriteLine($"  ({enc.NumTruncated} tokens truncated)");
            }
        }
        return 0;
    }
}
