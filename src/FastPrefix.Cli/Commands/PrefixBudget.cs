using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Cli.Commands;

/// <summary>
/// What a prefix will cost before it is allocated: trainable values, training memory (the parameters with their
/// gradients and AdamW moments, and the attention scores over the prefix columns that every layer keeps for the
/// backward) and the checkpoint's size on disk. Prefixes longer than the position table, or whose training memory
/// exceeds the memory available, are refused unless --force.
/// </summary>
internal sealed record PrefixBudget(long TrainableValues, long TrainingBytes, long DiskBytes)
{
    public static PrefixBudget Estimate(EncoderConfig c, int prefixLen, int projection, int firstLayer, int headOutputs, int batchSize, int maxSeqLength)
    {
        long C = c.HiddenSize, L = c.NumLayers - firstLayer, P = prefixLen;
        long prefix = projection > 0 ? checked(P * C + projection * C + projection + L * 2 * C * projection + L * 2 * C) : checked(L * 2 * C * P);
        long trainable = checked(prefix + headOutputs * C + headOutputs);
        long attention = checked(c.NumLayers * (long)batchSize * c.NumHeads * maxSeqLength * (P + maxSeqLength) * 4 * 2);   // scores and probabilities
        long bank = checked(L * 2 * C * P * 4 * 2);                                                                              // the bank and its gradient
        long training = checked(trainable * 4 * 4 + attention + bank);                                                          // values, grads, AdamW m and v
        long disk = checked(trainable * 4 * 5 + (2 << 20));                                                                     // checkpoint (4 copies) + adapter + logs
        return new PrefixBudget(trainable, training, disk);
    }

    /// <summary>"184,320 trainable values; training needs about 1.2 GB of memory (batch 32 × 128 tokens)".</summary>
    public string Describe(int batchSize, int maxSeqLength) =>
        $"{TrainableValues:N0} trainable values; training needs about {OutputFolder.Megabytes(TrainingBytes)} of memory (batch {batchSize} × {maxSeqLength} tokens)";

    /// <summary>Refuses a prefix beyond the position table or the memory available, unless forced.</summary>
    public void Check(EncoderConfig c, int prefixLen, int batchSize, int maxSeqLength, bool force)
    {
        if (force) return;
        if (prefixLen > c.MaxPositionEmbeddings)
            throw new UserInputException($"--prefix-len {prefixLen} is longer than the model's {c.MaxPositionEmbeddings} positions ({Describe(batchSize, maxSeqLength)}); " +
                                         "P-Tuning v2 uses 4 to a few hundred; pass --force to train it anyway");
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (TrainingBytes > available)
            throw new UserInputException($"--prefix-len {prefixLen}: {Describe(batchSize, maxSeqLength)}, more than the {OutputFolder.Megabytes(available)} available; " +
                                         "lower --prefix-len or --batch-size, or pass --force to try anyway");
    }

    public static int HeadOutputs(TaskKind task, int labels) => task switch { TaskKind.QuestionAnswering => 2, TaskKind.MultipleChoice => 1, _ => labels };
}
