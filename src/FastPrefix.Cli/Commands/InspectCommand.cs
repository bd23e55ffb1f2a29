using System.CommandLine;
using FastPrefix.IO;
using FastPrefix.Model;

namespace FastPrefix.Cli.Commands;

/// <summary>`fastprefix inspect PATH`: the tensors of a safetensors file, or a summary of a model folder.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "A .safetensors file, or a model folder (config.json + model.safetensors)" };
        var command = new Command("inspect", "List the tensors of a safetensors file or summarise a model folder") { path };
        command.SetAction(parse => CliErrors.Run(() => Execute(parse.GetValue(path)!, Console.Out)));
        return command;
    }

    public static int Execute(string path, TextWriter output)
    {
        if (Directory.Exists(path)) DescribeFolder(path, output);
        else if (File.Exists(path)) ListTensors(path, output);
        else throw new UserInputException($"{path}: no such file or folder");
        return 0;
    }

    static void ListTensors(string path, TextWriter output)
    {
        using var file = SafetensorsFile.Open(path);
        var rows = file.Tensors.Select(t => (t.Name, DType: SafetensorsDTypes.ToName(t.DType), t.ShapeText, Bytes: t.ByteLength.ToString("N0"))).ToList();
        int wn = Math.Max(4, rows.Count == 0 ? 0 : rows.Max(r => r.Name.Length)), ws = Math.Max(5, rows.Count == 0 ? 0 : rows.Max(r => r.ShapeText.Length));
        output.WriteLine($"{path}: {rows.Count} tensors, {file.Tensors.Sum(t => t.ElementCount):N0} values, {new FileInfo(path).Length:N0} bytes");
        output.WriteLine($"{"name".PadRight(wn)}  dtype  {"shape".PadRight(ws)}  bytes");
        foreach (var r in rows) output.WriteLine($"{r.Name.PadRight(wn)}  {r.DType,-5}  {r.ShapeText.PadRight(ws)}  {r.Bytes}");
        foreach (var (k, v) in file.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) output.WriteLine($"metadata {k} = {v}");
    }

    static void DescribeFolder(string folder, TextWriter output)
    {
        var s = ModelSummary.Describe(folder);
        var c = s.Config;
        output.WriteLine($"model folder      {Path.GetFullPath(folder)}");
        output.WriteLine($"type              {c.ModelType}");
        output.WriteLine($"layers            {c.NumLayers}");
        output.WriteLine($"hidden size       {c.HiddenSize}");
        output.WriteLine($"attention heads   {c.NumHeads} (head dim {c.HeadDim})");
        output.WriteLine($"intermediate      {c.IntermediateSize}");
        output.WriteLine($"vocabulary        {c.VocabSize}");
        output.WriteLine($"max positions     {c.MaxPositionEmbeddings}");
        output.WriteLine($"parameters        {s.Parameters:N0} ({s.WeightsDType}, {s.WeightsBytes:N0} bytes)");
        output.WriteLine($"tensor names      {(s.NamePrefix.Length == 0 ? "(no prefix)" : s.NamePrefix + "*")}");
        output.WriteLine($"pooler            {(s.HasPooler ? "yes" : "no (sequence classification and multiple choice need one)")}");
        output.WriteLine($"dropout           hidden {c.HiddenDropout}, attention {c.AttentionDropout}");
        output.WriteLine($"tokenizer files   {(s.TokenizerFiles.Count == 0 ? "none" : string.Join(", ", s.TokenizerFiles))}");
        output.WriteLine($"prefix of 20      {s.PrefixParameters(20):N0} trainable values ({100.0 * s.PrefixParameters(20) / s.Parameters:F2} % of the backbone)");
    }
}
