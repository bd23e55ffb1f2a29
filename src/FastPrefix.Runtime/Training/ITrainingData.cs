using FastPrefix.Model.Heads;

namespace FastPrefix.Training;

/// <summary>
/// Training examples as the trainer sees them: a count, a way to make a padded batch from example indices,
/// and each example's length (for length bucketing). Tokenisation and padding stay behind this interface.
/// MakeBatch must be a pure function of the indices (same indices, same batch) for runs to be reproducible.
/// </summary>
public interface ITrainingData
{
    int Count { get; }
    TaskBatch MakeBatch(IReadOnlyList<int> exampleIndices);
    /// <summary>Length of example <paramref name="index"/> in tokens (only its order matters).</summary>
    int LengthOf(int index);
}
