using FastPrefix.Backends;
using FastPrefix.Model;

namespace FastPrefix.Training;

/// <summary>AdamW hyperparameters (torch.optim.AdamW semantics; weight decay 0 is the P-Tuning v2 default).</summary>
public sealed record AdamWOptions
{
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    public float Eps { get; init; } = 1e-8f;
    /// <summary>Decoupled weight decay, applied only to parameters whose <see cref="Parameter.WeightDecay"/> is set.</summary>
    public float WeightDecay { get; init; }

    public void Validate()
    {
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentException($"AdamW beta1 must be in [0, 1), got {Beta1}");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentException($"AdamW beta2 must be in [0, 1), got {Beta2}");
        if (!(Eps > 0)) throw new ArgumentException($"AdamW eps must be positive, got {Eps}");
        if (!(WeightDecay >= 0) || float.IsInfinity(WeightDecay)) throw new ArgumentException($"AdamW weight decay must be a finite value >= 0, got {WeightDecay}");
    }
}

/// <summary>The optimiser state of one parameter, as host arrays (checkpoints).</summary>
public sealed record AdamWMoments(string Name, float[] M, float[] V);

/// <summary>The whole optimiser state: the step count and the moments of every parameter, in parameter order.</summary>
public sealed record AdamWState(int Step, IReadOnlyList<AdamWMoments> Moments);

/// <summary>
/// AdamW over a fixed list of parameters: first and second moments live on the parameters' backend, allocated
/// once. A trainer stages each step's scalars (<see cref="StageStep"/>: learning rate and bias corrections, written
/// into the step's staging area on the host) and then runs <see cref="Apply"/>, ops only, which also applies the
/// gradient-clipping coefficient the backend computed. <see cref="Step"/> does both for standalone use.
/// </summary>
public sealed class AdamW : IDisposable
{
    readonly Parameter[] _params;
    readonly Tensor[] _m, _v;
    readonly Tensor _ownScalars;   // lr, stepSize, invSqrtBc2, clip = 1: the standalone Step's staging

    public AdamW(IReadOnlyList<Parameter> parameters, AdamWOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Options = options ?? new AdamWOptions();
        Options.Validate();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in parameters)
            if (!seen.Add(p.Name)) throw new ArgumentException($"AdamW: two parameters are named '{p.Name}'");
        _params = [.. parameters];
        _m = new Tensor[_params.Length];
        _v = new Tensor[_params.Length];
        for (int i = 0; i < _params.Length; i++)
        {
            _m[i] = _params[i].Value.Backend.Zeros(_params[i].Shape);
            _v[i] = _params[i].Value.Backend.Zeros(_params[i].Shape);
        }
        _ownScalars = (_params.Length > 0 ? _params[0].Value.Backend : throw new ArgumentException("AdamW needs at least one parameter")).Zeros(4);
    }

    public AdamWOptions Options { get; }
    public IReadOnlyList<Parameter> Parameters => _params;
    /// <summary>Number of updates applied so far (the bias correction of the next step uses StepCount + 1).</summary>
    public int StepCount { get; private set; }

    /// <summary>One update of every parameter with learning rate <paramref name="lr"/> and no clipping (uploads its scalars).</summary>
    public void Step(float lr)
    {
        Span<float> scalars = stackalloc float[4];
        StageStep(scalars, lr);
        scalars[3] = 1f;
        _ownScalars.Backend.Upload(scalars, _ownScalars);
        Apply(_ownScalars, 0, _ownScalars, 3);
    }

    /// <summary>
    /// Counts the next step and writes its scalars (lr, lr / (1 − β1^t), 1 / √(1 − β2^t)) into
    /// <paramref name="scalars"/>[0..3), the part of a staging area that <see cref="Apply"/> will read.
    /// </summary>
    public void StageStep(Span<float> scalars, float lr)
    {
        if (!float.IsFinite(lr) || lr < 0) throw new ArgumentException($"AdamW: learning rate must be finite and >= 0, got {lr}");
        StepCount++;
        double bc1 = 1 - Math.Pow(Options.Beta1, StepCount), bc2 = 1 - Math.Pow(Options.Beta2, StepCount);
        scalars[0] = lr;
        scalars[1] = (float)(lr / bc1);
        scalars[2] = (float)(1 / Math.Sqrt(bc2));
    }

    /// <summary>The update of every parameter (ops only), reading the staged scalars and the clip coefficient on the device.</summary>
    public void Apply(Tensor scalars, int scalarsOffset, Tensor clip, int clipOffset)
    {
        for (int i = 0; i < _params.Length; i++)
        {
            var p = _params[i];
            float decay = p.WeightDecay ? Options.WeightDecay : 0f;
            p.Value.Backend.AdamW(new AdamWArgs(p.Value, p.Grad, _m[i], _v[i], p.Length, scalars, scalarsOffset, clip, clipOffset,
                Options.Beta1, Options.Beta2, Options.Eps, decay));
        }
    }

    /// <summary>Host copy of the step count and moments.</summary>
    public AdamWState ExportState()
    {
        var moments = new AdamWMoments[_params.Length];
        for (int i = 0; i < _params.Length; i++)
        {
            var m = new float[_params[i].Length];
            var v = new float[_params[i].Length];
            _m[i].Backend.Download(_m[i], m);
            _v[i].Backend.Download(_v[i], v);
            moments[i] = new AdamWMoments(_params[i].Name, m, v);
        }
        return new AdamWState(StepCount, moments);
    }

    /// <summary>Restores a state exported from an optimiser over parameters of the same names and sizes.</summary>
    public void ImportState(AdamWState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Step < 0) throw new ArgumentException($"AdamW state: step count must be >= 0, got {state.Step}");
        var byName = new Dictionary<string, AdamWMoments>(StringComparer.Ordinal);
        foreach (var mo in state.Moments) byName[mo.Name] = mo;
        foreach (var p in _params)
        {
            if (!byName.TryGetValue(p.Name, out var mo)) throw new ArgumentException($"AdamW state has no moments for parameter '{p.Name}'");
            if (mo.M.Length != p.Length || mo.V.Length != p.Length)
                throw new ArgumentException($"AdamW state for '{p.Name}' has {mo.M.Length}/{mo.V.Length} values, the parameter {Tensor.ShapeText(p.Shape)} has {p.Length}");
        }
        if (byName.Count != _params.Length)
        {
            var extra = byName.Keys.Except(_params.Select(p => p.Name)).First();
            throw new ArgumentException($"AdamW state has moments for '{extra}', which is not a parameter of this optimiser");
        }
        for (int i = 0; i < _params.Length; i++)
        {
            var mo = byName[_params[i].Name];
            _m[i].Backend.Upload(mo.M, _m[i]);
            _v[i].Backend.Upload(mo.V, _v[i]);
        }
        StepCount = state.Step;
    }

    public void Dispose()
    {
        foreach (var t in _m) t.Dispose();
        foreach (var t in _v) t.Dispose();
        _ownScalars.Dispose();
    }
}
