using FastPrefix.Backends;

namespace FastPrefix.Model;

/// <summary>Loss conventions shared by the data layer and the heads (the loss itself is <see cref="IBackend.CrossEntropy"/>).</summary>
public static class Losses
{
    /// <summary>Label of examples or tokens that take no part in the loss (Hugging Face's -100).</summary>
    public const int IgnoreIndex = CrossEntropyGrid.IgnoreIndex;
}
