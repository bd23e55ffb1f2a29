using System.Text.Json;
using FastPrefix.Adapters;
using FastPrefix.Data.Datasets;
using FastPrefix.Data.Features;
using FastPrefix.Data.Tasks;
using FastPrefix.Data.Tokenization;
using FastPrefix.Metrics;
using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Inference;

/// <summary>One input record turned into encoder rows (one for classification, a row per choice or per QA window).</summary>
internal sealed record EncodedRecord(IReadOnlyList<EncodedRow> Rows, object Example);

/// <summary>
/// How one adapter's task reads a JSON record and turns its rows' head outputs into the <see cref="Prediction"/>
/// `fastprefix predict` prints: the same readers, features and post-processing as predict, one record at a time.
/// </summary>
internal abstract class RecordTask(ITextTokenizer tokenizer, TaskDataOptions options)
{
    protected ITextTokenizer Tokenizer { get; } = tokenizer;
    protected TaskDataOptions Options { get; } = options;

    public static RecordTask For(AdapterMetadata meta, int outputs, ITextTokenizer tokenizer, EncoderConfig backbone)
    {
        var options = TaskDataOptions.ForAdapter(meta, backbone);
        var labels = meta.LabelNames(outputs);
        return meta.Task switch
        {
            TaskKind.SequenceClassification => new Classification(tokenizer, options, labels),
            TaskKind.TokenClassification => new Tagging(tokenizer, options, labels),
            TaskKind.QuestionAnswering => new Answering(tokenizer, options),
            TaskKind.MultipleChoice => new Choice(tokenizer, options),
            _ => throw new ArgumentOutOfRangeException(nameof(meta), meta.Task, "unknown task"),
        };
    }

    /// <summary>Reads and encodes <paramref name="input"/>; errors (<see cref="DatasetException"/>) name <paramref name="source"/> and the field.</summary>
    public abstract EncodedRecord Encode(JsonElement input, string source);

    /// <summary>The prediction from the head outputs of the record's rows, in row order.</summary>
    public abstract Prediction Decode(EncodedRecord record, float[][] rowOutputs);

    sealed class Classification(ITextTokenizer t, TaskDataOptions o, IReadOnlyList<string> labels) : RecordTask(t, o)
    {
        public override EncodedRecord Encode(JsonElement input, string source)
        {
            var example = TextClassificationReader.ReadRecord(input, source);
            var data = new TextDataset(source, [example], [], "label");
            return new EncodedRecord(ClassificationFeatures.Build(data, Tokenizer, labels, Options.MaxSeqLength).Rows, example);
        }

        public override Prediction Decode(EncodedRecord record, float[][] rowOutputs) => Prediction.FromLabelLogits(rowOutputs[0], labels);
    }

    sealed class Tagging(ITextTokenizer t, TaskDataOptions o, IReadOnlyList<string> labels) : RecordTask(t, o)
    {
        public override EncodedRecord Encode(JsonElement input, string source)
        {
            var example = ConllReader.ReadRecord(input, source);
            var f = TokenClassificationFeatures.Build([example], source, Tokenizer, labels, Options.MaxSeqLength, labelled: false);
            return new EncodedRecord(f.Rows, example);
        }

        public override Prediction Decode(EncodedRecord record, float[][] rowOutputs)
        {
            var words = ((TokenExample)record.Example).Words;
            var row = record.Rows[0];
            int k = labels.Count;
            var best = new int[row.Length];
            for (int t = 0; t < best.Length; t++) best[t] = Prediction.ArgMax(rowOutputs[0].AsSpan(t * k, k));
            return new TagsPrediction(words, TokenClassificationFeatures.WordTags(row, words.Length, best, labels));
        }
    }

    sealed class Answering(ITextTokenizer t, TaskDataOptions o) : RecordTask(t, o)
    {
        public override EncodedRecord Encode(JsonElement input, string source)
        {
            var example = SquadReader.ReadRecord(input, source);
            var f = QaFeatures.Build([example], Tokenizer, Options.MaxSeqLength, Options.DocStride);
            return new EncodedRecord(f.Windows.Select(w => w.Row).ToArray(), (example, f.Windows));
        }

        public override Prediction Decode(EncodedRecord record, float[][] rowOutputs)
        {
            var (example, windows) = ((QaExample, IReadOnlyList<QaWindowFeature>))record.Example;
            var scored = new QaWindow[windows.Count];
            for (int w = 0; w < scored.Length; w++)
            {
                int n = windows[w].Row.Length;
                var start = new float[n]; var end = new float[n];
                for (int i = 0; i < n; i++) { start[i] = rowOutputs[w][i * 2]; end[i] = rowOutputs[w][i * 2 + 1]; }
                scored[w] = QaFeatures.ToWindow(windows[w], start, end);
            }
            return Prediction.FromAnswer(example.Id, QaPostProcessing.Best(example.Context, scored, versionTwo: Options.SquadV2));
        }
    }

    sealed class Choice(ITextTokenizer t, TaskDataOptions o) : RecordTask(t, o)
    {
        public override EncodedRecord Encode(JsonElement input, string source)
        {
            var example = MultipleChoiceReader.ReadRecord(input, source);
            return new EncodedRecord(ChoiceFeatures.Build([example], source, Tokenizer, Options.MaxSeqLength).Examples[0], example);
        }

        public override Prediction Decode(EncodedRecord record, float[][] rowOutputs) =>
            Prediction.FromChoiceScores(rowOutputs.Select(o => o[0]).ToArray());
    }
}
