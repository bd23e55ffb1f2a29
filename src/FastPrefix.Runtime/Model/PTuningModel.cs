using FastPrefix.Backends;
using FastPrefix.Model.Heads;

namespace FastPrefix.Model;

/// <summary>Dropout and position behaviour of a P-Tuning v2 model; null probabilities come from the config.</summary>
public sealed record PTuningOptions
{
    public PositionMode Positions { get; init; } = PositionMode.FromZero;
    /// <summary>Dropout inside the backbone and on the head input (default: config hidden_dropout_prob).</summary>
    public float? HiddenDropout { get; init; }
    /// <summary>Dropout on attention probabilities (default: config attention_probs_dropout_prob).</summary>
    public float? AttentionDropout { get; init; }
    /// <summary>Dropout on the prefix keys/values (default: config hidden_dropout_prob, as the reference).</summary>
    public float? PrefixDropout { get; init; }
}

/// <summary>
/// Frozen encoder + trainable prefix + task head. Forward gives logits and (with targets) the loss;
/// Backward accumulates gradients into <see cref="Parameters"/> (the prefix and the head only).
/// </summary>
public sealed class PTuningModel : IDisposable
{
    bool _canBackward;

    public PTuningModel(Encoder encoder, Prefix prefix, TaskHead head, PTuningOptions? options = null)
    {
        if (prefix.Config != encoder.Config || head.Config != encoder.Config)
            throw new ArgumentException("prefix, head and encoder must be built for the same config");
        if (head.Tasks != 1 && head.Tasks != prefix.Adapters)
            throw new ArgumentException($"head has {head.Tasks} tasks but the prefix bank has {prefix.Adapters}");
        Encoder = encoder; Prefix = prefix; Head = head; Options = options ?? new PTuningOptions();
        Parameters = [.. prefix.Parameters, .. head.Parameters];
    }

    public Encoder Encoder { get; }
    public Prefix Prefix { get; }
    public TaskHead Head { get; }
    public PTuningOptions Options { get; }
    public EncoderConfig Config => Encoder.Config;
    public IBackend Backend => Encoder.Backend;
    public IReadOnlyList<Parameter> Parameters { get; }

    float HiddenDropout => Options.HiddenDropout ?? Config.HiddenDropout;
    float AttentionDropout => Options.AttentionDropout ?? Config.AttentionDropout;
    float PrefixDropout => Options.PrefixDropout ?? Config.HiddenDropout;

    /// <summary>
    /// One forward pass. In training mode dropout is on, drawn from <paramref name="seed"/> (same seed, same masks).
    /// </summary>
    public HeadOutput Forward(TaskBatch batch, bool training = false, ulong seed = 0)
    {
        if (Head.Kind == TaskKind.MultipleChoice && (batch.Choices <= 0 || batch.Inputs.Batch % batch.Choices != 0))
            throw new ArgumentException($"multiple choice: {batch.Inputs.Batch} rows is not a multiple of {batch.Choices} choices");
        var prefix = Prefix.Prepare(training, PrefixDropout, DropoutHash.Derive(seed, 1));
        Encoder.Forward(batch.Inputs, prefix, new EncoderPassOptions
        {
            Training = training,
            HiddenDropout = HiddenDropout,
            AttentionDropout = AttentionDropout,
            Seed = DropoutHash.Derive(seed, 2),
            Positions = Options.Positions,
            ComputePooled = Head.UsesPooled,
        });
        var output = Head.Forward(Encoder, batch, training, HiddenDropout, DropoutHash.Derive(seed, 3));
        _canBackward = output.Loss != null;
        return output;
    }

    /// <summary>Accumulates d(loss)/d(parameter) of the last forward into each parameter's Grad.</summary>
    public void Backward()
    {
        if (!_canBackward) throw new InvalidOperationException("Backward needs a forward pass with targets first");
        Head.Backward();
        if (Head.UsesPooled) Encoder.Backward(null, Head.InputGrad, Prefix.BankGrad);
        else Encoder.Backward(Head.InputGrad, null, Prefix.BankGrad);
        Prefix.Backward();
        _canBackward = false;
    }

    public void ZeroGrad() { foreach (var p in Parameters) p.ZeroGrad(); }

    public void Dispose() { Prefix.Dispose(); Head.Dispose(); }
}
