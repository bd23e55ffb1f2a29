using FastPrefix.Backends;
using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Training;

/// <summary>
/// One optimiser step as the trainer runs it: the host stages the batch, its dropout seed, the learning rate and bias
/// corrections and the record slot, uploads them once, then backend ops only — ZeroGrad → forward → loss → backward →
/// global norm → AdamW (clipped on the fly) → the loss and norm into a device record. Where the backend can record
/// (CUDA), those ops run as one replayed graph per pass shape (<see cref="CapturedOpsCache{TKey}"/>), bit-identical to
/// issuing them one by one.
/// </summary>
public sealed class TrainingStep : IDisposable
{
    /// <summary>Floats each step writes into the record: the loss as a float pair (high, low) and the gradient norm.</summary>
    public const int RecordWidth = 3;

    readonly PTuningModel _model;
    readonly AdamW _adam;
    readonly GradientClipping _clipping;
    readonly double _maxGradNorm;
    readonly Tensor? _record;
    readonly CapturedOpsCache<(int Rows, int Seq)> _graphs;
    readonly Action _ops;   // Ops as a delegate made once: a step must not allocate

    /// <param name="model">The model, planned or not (a step plans nothing: plan it before the first step).</param>
    /// <param name="adam">The optimiser of the model's parameters.</param>
    /// <param name="maxGradNorm">Global norm clipping threshold; 0: off.</param>
    /// <param name="record">Where each step's loss and norm go (<see cref="RecordWidth"/> floats at its slot); null: nowhere.</param>
    /// <param name="useGraphs">Replay a recorded step where the backend can (false: always issue the ops).</param>
    public TrainingStep(PTuningModel model, AdamW adam, double maxGradNorm, Tensor? record = null, bool useGraphs = true)
    {
        _model = model; _adam = adam; _maxGradNorm = maxGradNorm; _record = record;
        _clipping = new GradientClipping(model.Parameters);
        _graphs = new CapturedOpsCache<(int, int)>(model.Backend, useGraphs);
        _ops = Ops;
    }

    /// <summary>True when steps run as replayed recordings.</summary>
    public bool UsesGraphs => _graphs.Records;

    /// <summary>Recordings made so far (one per pass shape, again after device memory was freed).</summary>
    public int GraphCaptures => _graphs.Captures;

    /// <summary>Steps served by replaying a recording.</summary>
    public int GraphReplays => _graphs.Replays;

    /// <summary>Operations (kernels, GEMMs, copies) in the latest recorded step: what issuing it costs in launches.</summary>
    public int GraphOperations => _graphs.Operations;

    /// <summary>
    /// Runs one step on <paramref name="batch"/> (which must have targets) with learning rate <paramref name="lr"/>,
    /// dropout drawn from <paramref name="seed"/>, recording into row <paramref name="slot"/> of the record.
    /// </summary>
    public void Run(TaskBatch batch, ulong seed, float lr, int slot = 0)
    {
        _model.Stage(batch, training: true, seed, padRows: true);
        var staging = _model.Staging;
        _adam.StageStep(staging.Floats(_model.OptimizerScalars), lr);
        staging.Ints(_model.ResultSlot)[0] = slot;
        staging.Upload();

        // A new plan frees the old one's buffers, which invalidates every recording made on them (CapturedOps.IsValid).
        var plan = _model.CurrentPlan!;
        _graphs.Run((plan.Batch, plan.Seq), _ops);
    }

    void Ops()
    {
        _model.ZeroGrad();
        _model.RunForward();
        _model.Backward();
        _clipping.Measure(_maxGradNorm, _model.Results, PTuningModel.NormIndex);
        _adam.Apply(_model.OptimizerScalarsView, 0, _model.Results, PTuningModel.ClipIndex);
        if (_record != null)
            _model.Backend.CopyToSlot(_model.Results, PTuningModel.LossIndex, RecordWidth, _record, _model.Staging.Tensor, _model.ResultSlot.Offset);
    }

    public void Dispose() => _graphs.Dispose();
}
