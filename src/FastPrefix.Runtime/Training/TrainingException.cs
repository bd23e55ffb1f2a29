namespace FastPrefix.Training;

/// <summary>Training cannot go on: a non-finite loss, or a checkpoint that does not match the run.</summary>
public class TrainingException(string message, Exception? inner = null) : Exception(message, inner);
