using System.Text;
using System.Text.Json;
using FastPrefix.Metrics;

namespace FastPrefix.Inference;

/// <summary>
/// What `fastprefix predict` prints for one input record, and what <see cref="AdapterHost"/> returns for it: one
/// JSON object per record, written by <see cref="WriteJson"/> without reflection (so a trimmed build writes it too).
/// Both produce their results through the factories below, so the CLI and the host cannot drift apart.
/// </summary>
public abstract record Prediction
{
    /// <summary>Writes the record's JSON object.</summary>
    public abstract void WriteJson(Utf8JsonWriter writer);

    /// <summary>The JSON object as one line, exactly as `fastprefix predict` prints it.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer)) WriteJson(writer);
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Sequence classification: the best label and the softmax probability of every label (6 decimals).</summary>
    public static LabelPrediction FromLabelLogits(ReadOnlySpan<float> logits, IReadOnlyList<string> labels)
    {
        if (labels.Count != logits.Length) throw new ArgumentException($"{logits.Length} logits but {labels.Count} label names");
        var p = Softmax(logits);
        var scores = new KeyValuePair<string, double>[labels.Count];
        for (int i = 0; i < scores.Length; i++) scores[i] = new(labels[i], Math.Round(p[i], 6));
        return new LabelPrediction(labels[ArgMax(logits)], scores);
    }

    /// <summary>Multiple choice: the best choice's index and the softmax over the choices' scores (6 decimals).</summary>
    public static ChoicePrediction FromChoiceScores(ReadOnlySpan<float> scores)
    {
        var p = Softmax(scores);
        for (int i = 0; i < p.Length; i++) p[i] = Math.Round(p[i], 6);
        return new ChoicePrediction(ArgMax(scores), p);
    }

    /// <summary>Extractive QA: the post-processed answer of one question (empty text and -1 span when it is "no answer").</summary>
    public static AnswerPrediction FromAnswer(string id, QaPrediction a) =>
        new(id, a.IsNull ? "" : a.Text, a.IsNull ? -1 : a.Start, a.IsNull ? -1 : a.End, Math.Round(a.Score, 6));

    /// <summary>The index of the largest value (the first on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    static double[] Softmax(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity;
        foreach (var v in logits) max = Math.Max(max, v);
        var e = new double[logits.Length];
        double sum = 0;
        for (int i = 0; i < e.Length; i++) { e[i] = Math.Exp(logits[i] - max); sum += e[i]; }
        for (int i = 0; i < e.Length; i++) e[i] /= sum;
        return e;
    }
}

/// <summary>{"label": "pos", "scores": {"neg": 0.1, "pos": 0.9}}</summary>
public sealed record LabelPrediction(string Label, IReadOnlyList<KeyValuePair<string, double>> Scores) : Prediction
{
    public override void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("label", Label);
        w.WriteStartObject("scores");
        foreach (var (label, score) in Scores) w.WriteNumber(label, score);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}

/// <summary>{"words": [...], "tags": [...]}: one predicted tag per input word.</summary>
public sealed record TagsPrediction(IReadOnlyList<string> Words, IReadOnlyList<string> Tags) : Prediction
{
    public override void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartArray("words");
        foreach (var word in Words) w.WriteStringValue(word);
        w.WriteEndArray();
        w.WriteStartArray("tags");
        foreach (var tag in Tags) w.WriteStringValue(tag);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}

/// <summary>{"id", "answer", "start", "end", "score"}: the answer text and its character span [start, end) in the context.</summary>
public sealed record AnswerPrediction(string Id, string Answer, int Start, int End, double Score) : Prediction
{
    public override void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("id", Id);
        w.WriteString("answer", Answer);
        w.WriteNumber("start", Start);
        w.WriteNumber("end", End);
        w.WriteNumber("score", Score);
        w.WriteEndObject();
    }
}

/// <summary>{"label": 1, "scores": [0.2, 0.8]}: the index of the best choice and the probability of each.</summary>
public sealed record ChoicePrediction(int Label, IReadOnlyList<double> Scores) : Prediction
{
    public override void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("label", Label);
        w.WriteStartArray("scores");
        foreach (var s in Scores) w.WriteNumberValue(s);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
