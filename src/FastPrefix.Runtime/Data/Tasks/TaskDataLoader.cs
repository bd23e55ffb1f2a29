using FastPrefix.Adapters;
using FastPrefix.Data.Datasets;
using FastPrefix.Data.Features;
using FastPrefix.Data.Tokenization;
using FastPrefix.Model.Heads;
using FastPrefix.Training;

namespace FastPrefix.Data.Tasks;

/// <summary>How a dataset file is read and encoded for a task.</summary>
public sealed record TaskDataOptions
{
    public int MaxSeqLength { get; init; } = 128;
    public IReadOnlyList<string>? TextFields { get; init; }
    public string? LabelField { get; init; }
    /// <summary>QA window overlap in tokens; null: chosen to fit the window (<see cref="QaFeatures.AutoStride"/>).</summary>
    public int? DocStride { get; init; }
    public bool SquadV2 { get; init; }
    public int TagColumn { get; init; } = -1;

    /// <summary>
    /// Encoding as at training time: the max length, QA doc stride and SQuAD version recorded in an adapter. Older
    /// adapters may not record the length: 128, or less when the backbone's positions allow less.
    /// </summary>
    public static TaskDataOptions ForAdapter(AdapterMetadata meta, Model.EncoderConfig backbone) => new()
    {
        MaxSeqLength = meta.MaxSeqLength > 0 ? meta.MaxSeqLength : (int)Math.Min(128, backbone.MaxInputTokens(meta.Positions, meta.PrefixLength)),
        SquadV2 = meta.Extra.GetValueOrDefault("squad_v2") == "true",
        DocStride = int.TryParse(meta.Extra.GetValueOrDefault("doc_stride"), out int stride) ? stride : null,
    };
}

/// <summary>One dataset file read, tokenized and wrapped for training, evaluation or prediction.</summary>
public sealed record TaskDataset
{
    public required TaskKind Task { get; init; }
    public required string FilePath { get; init; }
    public required ITrainingData Data { get; init; }
    /// <summary>Label names (classification, NER tags); empty for QA and multiple choice.</summary>
    public required IReadOnlyList<string> Labels { get; init; }
    /// <summary>Head outputs: labels, 2 for QA, 1 for multiple choice.</summary>
    public int NumOutputs => Task switch { TaskKind.QuestionAnswering => 2, TaskKind.MultipleChoice => 1, _ => Labels.Count };
    /// <summary>A one-line note when inputs were truncated, else null.</summary>
    public string? TruncationNote { get; init; }
    public required bool SquadV2 { get; init; }
    /// <summary>QA: the doc stride used (the one asked for, or the one chosen when none was).</summary>
    public int? DocStride { get; init; }

    public IEvaluator Evaluator(int batchSize = 32) => Data switch
    {
        ClassificationData d => new ClassificationEvaluator(d, Labels.Count, batchSize),
        TokenClassificationData d => new TokenClassificationEvaluator(d, Labels, batchSize),
        QaData d => new QaEvaluator(d, SquadV2, batchSize),
        ChoiceData d => new ChoiceEvaluator(d, batchSize),
        _ => throw new InvalidOperationException(),
    };
}

public static class TaskDataLoader
{
    /// <summary>
    /// Reads and encodes a dataset file. <paramref name="labels"/> null: the label list is built from this file
    /// (training data); otherwise labels outside it are errors naming file and line (evaluation data).
    /// </summary>
    /// <param name="sourceName">The name errors and notes use instead of <paramref name="file"/> (e.g. "stdin" for a copy of standard input).</param>
    public static TaskDataset Load(TaskKind task, string file, ITextTokenizer tokenizer, TaskDataOptions options,
        IReadOnlyList<string>? labels = null, bool requireLabels = true, string? sourceName = null)
    {
        string path = sourceName ?? file;
        if (!File.Exists(file)) throw new DatasetException(path, "file not found");
        switch (task)
        {
            case TaskKind.SequenceClassification:
            {
                var data = TextClassificationReader.Read(file, options.TextFields, options.LabelField, requireLabels, path);
                labels ??= LabelSet.Build(data.Examples.Where(e => e.Label != null).Select(e => e.Label!));
                if (labels.Count < 2 && requireLabels) throw new DatasetException(path, $"needs at least two distinct labels, found {labels.Count}");
                var f = ClassificationFeatures.Build(data, tokenizer, labels, options.MaxSeqLength);
                return Result(task, path, new ClassificationData(f, tokenizer.PadId), labels, f.Truncation.Describe("inputs", options.MaxSeqLength), options);
            }
            case TaskKind.TokenClassification:
            {
                var examples = ConllReader.Read(file, options.TagColumn);
                labels ??= LabelSet.Build(examples.SelectMany(e => e.Tags));
                var f = TokenClassificationFeatures.Build(examples, path, tokenizer, labels, options.MaxSeqLength, requireLabels);
                return Result(task, path, new TokenClassificationData(f, tokenizer.PadId), labels, f.Truncation.Describe("sentences", options.MaxSeqLength), options);
            }
            case TaskKind.QuestionAnswering:
            {
                var examples = SquadReader.Read(file);
                var f = QaFeatures.Build(examples, tokenizer, options.MaxSeqLength, options.DocStride);
                string? note = f.TruncatedQuestions > 0 ? $"{f.TruncatedQuestions} questions were truncated to {f.MaxQuestionLength} tokens" : null;
                return Result(task, path, new QaData(f, tokenizer.PadId), [], note, options) with { DocStride = f.Stride };
            }
            case TaskKind.MultipleChoice:
            {
                var examples = MultipleChoiceReader.Read(file, path);
                if (requireLabels && examples.FirstOrDefault(e => e.Label == null) is { } unlabelled)
                    throw new DatasetException(path, unlabelled.Line, "missing label");
                var f = ChoiceFeatures.Build(examples, path, tokenizer, options.MaxSeqLength);
                return Result(task, path, new ChoiceData(f, tokenizer.PadId), [], f.Truncation.Describe("choices", options.MaxSeqLength), options);
            }
            default: throw new ArgumentOutOfRangeException(nameof(task));
        }
    }

    static TaskDataset Result(TaskKind task, string path, ITrainingData data, IReadOnlyList<string> labels, string? note, TaskDataOptions o) =>
        new() { Task = task, FilePath = path, Data = data, Labels = labels, TruncationNote = note, SquadV2 = o.SquadV2 };

    public static string TaskName(TaskKind kind) => kind switch
    {
        TaskKind.SequenceClassification => "seqcls", TaskKind.TokenClassification => "tokcls",
        TaskKind.QuestionAnswering => "qa", TaskKind.MultipleChoice => "mc", _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static TaskKind ParseTask(string name) => name switch
    {
        "seqcls" => TaskKind.SequenceClassification, "tokcls" => TaskKind.TokenClassification,
        "qa" => TaskKind.QuestionAnswering, "mc" => TaskKind.MultipleChoice,
        _ => throw new ArgumentException($"unknown task '{name}' (expected seqcls, tokcls, qa or mc)"),
    };
}
