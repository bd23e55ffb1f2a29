namespace FastPrefix.Model;

/// <summary>
/// The tensors a BERT/RoBERTa checkpoint must hold for a config, with their shapes. <see cref="Check"/> compares them
/// with the file's header (names, shapes) and the sizes the engine will allocate (checked 64-bit arithmetic) before
/// anything is allocated, so a config that does not match its weights is an error naming the tensor and the config
/// fields, not an 8 GB allocation or an OverflowException.
/// </summary>
internal static class CheckpointLayout
{
    /// <summary>Checkpoint names (without the "bert."/"roberta." prefix), shapes, and which config fields give each dimension.</summary>
    public static IEnumerable<(string Name, long[] Shape, string Why)> Tensors(EncoderConfig c, CheckpointNames names)
    {
        long C = c.HiddenSize, I = c.IntermediateSize;
        const string CC = "[hidden_size, hidden_size]", Cv = "[hidden_size]";
        yield return ("embeddings.word_embeddings.weight", [c.VocabSize, C], "[vocab_size, hidden_size]");
        yield return ("embeddings.position_embeddings.weight", [c.MaxPositionEmbeddings, C], "[max_position_embeddings, hidden_size]");
        yield return ("embeddings.token_type_embeddings.weight", [c.TypeVocabSize, C], "[type_vocab_size, hidden_size]");
        yield return (names.NormName("embeddings.LayerNorm", "weight"), [C], Cv);
        yield return (names.NormName("embeddings.LayerNorm", "bias"), [C], Cv);
        for (int l = 0; l < c.NumLayers; l++)
        {
            string p = $"encoder.layer.{l}.";
            foreach (var part in new[] { "query", "key", "value" })
            {
                yield return ($"{p}attention.self.{part}.weight", [C, C], CC);
                yield return ($"{p}attention.self.{part}.bias", [C], Cv);
            }
            yield return (p + "attention.output.dense.weight", [C, C], CC);
            yield return (p + "attention.output.dense.bias", [C], Cv);
            yield return (names.NormName(p + "attention.output.LayerNorm", "weight"), [C], Cv);
            yield return (names.NormName(p + "attention.output.LayerNorm", "bias"), [C], Cv);
            yield return (p + "intermediate.dense.weight", [I, C], "[intermediate_size, hidden_size]");
            yield return (p + "intermediate.dense.bias", [I], "[intermediate_size]");
            yield return (p + "output.dense.weight", [C, I], "[hidden_size, intermediate_size]");
            yield return (p + "output.dense.bias", [C], Cv);
            yield return (names.NormName(p + "output.LayerNorm", "weight"), [C], Cv);
            yield return (names.NormName(p + "output.LayerNorm", "bias"), [C], Cv);
        }
        if (names.Has("pooler.dense.weight"))
        {
            yield return ("pooler.dense.weight", [C, C], CC);
            yield return ("pooler.dense.bias", [C], Cv);
        }
    }

    /// <summary>Every tensor present with its shape, then every buffer the engine builds small enough for one tensor.</summary>
    public static void Check(EncoderConfig c, ITensorSource source, CheckpointNames names)
    {
        foreach (var (name, shape, why) in Tensors(c, names))
        {
            string full = names.Resolve(name);
            var actual = source.GetShape(full);
            if (!actual.AsSpan().SequenceEqual(shape))
                throw new ModelFormatException($"{source.SourceName}: tensor '{full}' has shape [{string.Join(", ", actual)}], expected " +
                                               $"[{string.Join(", ", shape)}] ({why} of the config)");
        }
        // The fused query/key/value matrix (3·hidden, hidden) is the largest single buffer built from the config.
        long fused = checked(3L * c.HiddenSize * c.HiddenSize);
        if (fused > Array.MaxLength)
            throw new ModelFormatException($"{source.SourceName}: hidden_size {c.HiddenSize} needs a fused query/key/value matrix of {fused:N0} values, " +
                                           $"more than one tensor can hold ({Array.MaxLength:N0})");
        foreach (var (name, shape, why) in Tensors(c, names))
        {
            long count = 1;
            foreach (var d in shape) count = checked(count * d);
            if (count > Array.MaxLength)
                throw new ModelFormatException($"{source.SourceName}: tensor '{names.Resolve(name)}' {why} has {count:N0} values, more than one tensor can hold");
        }
    }
}
