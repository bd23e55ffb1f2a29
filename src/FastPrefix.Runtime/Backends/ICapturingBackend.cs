namespace FastPrefix.Backends;

/// <summary>
/// A backend that can record a fixed sequence of its own ops once and replay it as one launch (on CUDA, a graph):
/// what a graph-ready step — no host round trip, no allocation, no per-step value in an op's arguments — is for.
/// Replays read the tensors' contents at the time they run, so staged inputs change from one replay to the next.
/// </summary>
public interface ICapturingBackend : IBackend
{
    /// <summary>
    /// Records the ops <paramref name="work"/> issues, without running them. Run the same work once before (kernels
    /// load, workspaces take their size); allocation, uploads and downloads are refused while recording.
    /// </summary>
    CapturedOps Capture(Action work);
}

/// <summary>A recorded op sequence of an <see cref="ICapturingBackend"/>.</summary>
public abstract class CapturedOps : IDisposable
{
    /// <summary>False once the backend freed device memory (a tensor or a workspace) the recording may point into.</summary>
    public abstract bool IsValid { get; }

    /// <summary>Operations (kernels, GEMMs, copies, memsets) the recording holds.</summary>
    public abstract int Operations { get; }

    /// <summary>Runs the recorded ops in stream order, like issuing them again; throws once <see cref="IsValid"/> is false.</summary>
    public abstract void Run();

    public abstract void Dispose();
}
