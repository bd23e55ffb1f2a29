using FastPrefix.Backends;
using FastPrefix.Model;
using static FastPrefix.Onnx.Export.GraphBuilder;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FastPrefix.Onnx.Export;

/// <summary>
/// Writes the frozen encoder with P-Tuning v2 prefixes as standard ONNX ops (opset 17), following the reference
/// numerics (tests/fixtures/README.md): embeddings (word + position + token type) → LayerNorm; per layer, keys and
/// values are [prefix; tokens] with the prefix columns always attended and padded token columns masked by the float
/// minimum; scores scaled by 1/√head_dim; GELU in its exact erf form; post-LayerNorm residuals; pooler tanh(W h₀ + b).
/// Positions: BERT numbers tokens 0..T-1, RoBERTa padding_idx + cumsum(mask)·mask; after-prefix adds P to the count.
/// Linear weights are stored transposed, [in, out], the layout MatMul reads.
/// </summary>
internal sealed class EncoderGraphWriter(GraphBuilder b, EncoderWeights w, AdapterStack? adapters)
{
    readonly EncoderConfig c = w.Config;

    /// <summary>
    /// <paramref name="ids"/>, <paramref name="mask"/>, <paramref name="types"/>: int64 [N, T]; <paramref name="row"/>: int64 [N], the
    /// adapter each row reads (null without adapters). Returns the last hidden state [N, T, C] and, when asked, the pooled [N, C].
    /// </summary>
    public (string Hidden, string? Pooled) Write(string ids, string mask, string types, string? row, bool pooled)
    {
        int P = adapters?.PrefixLen ?? 0;
        b.Scope = "embeddings/";
        var h = Embeddings(ids, mask, types, P);
        b.Scope = "mask/";
        var (tokenBias, prefixedBias) = MaskBias(mask, P);
        for (int l = 0; l < c.NumLayers; l++)
        {
            b.Scope = $"layer{l}/";
            bool prefixed = adapters != null && l >= adapters.FirstLayer;
            h = Layer(h, w.Layers[l], l, prefixed ? row : null, prefixed ? prefixedBias! : tokenBias);
        }
        b.Scope = "pooler/";
        string? pool = null;
        if (pooled)
        {
            if (w.PoolerWeight == null || w.PoolerBias == null)
                throw new ModelFormatException("the checkpoint has no pooler (pooler.dense.weight); a head on the pooled output cannot be exported");
            var first = b.Node("Gather", [h, b.Int(0)], Attr("axis", 1L));
            pool = b.Node("Tanh", b.Node("Gemm", [first, b.Initializer("pooler.dense.weight", Host(w.PoolerWeight), c.HiddenSize, c.HiddenSize),
                b.Initializer("pooler.dense.bias", Host(w.PoolerBias), c.HiddenSize)], Attr("transB", 1L)));
        }
        b.Scope = "";
        return (h, pool);
    }

    string Embeddings(string ids, string mask, string types, int prefixLen)
    {
        int C = c.HiddenSize;
        long shift = adapters?.Positions == PositionMode.AfterPrefix ? prefixLen : 0;
        var word = b.Node("Gather", b.Initializer("embeddings.word_embeddings.weight", Host(w.WordEmbeddings), c.VocabSize, C), ids);
        string positions;
        if (c.IsRoberta)
        {
            // padding_idx + (cumsum(mask) + shift)·mask: real tokens count from padding_idx + 1 (+ P), padding stays at padding_idx.
            var count = b.Node("CumSum", mask, b.Int(1));
            if (shift != 0) count = b.Node("Add", count, b.Int(shift));
            positions = b.Node("Add", b.Node("Mul", count, mask), b.Int(c.PadTokenId));
        }
        else
        {
            var seq = b.Node("Squeeze", b.Node("Shape", [ids], Attr("start", 1L), Attr("end", 2L)), b.Ints(0));
            positions = b.Node("Range", b.Int(shift), b.Node("Add", seq, b.Int(shift)), b.Int(1));   // [T], broadcast over rows
        }
        var pos = b.Node("Gather", b.Initializer("embeddings.position_embeddings.weight", Host(w.PositionEmbeddings), c.MaxPositionEmbeddings, C), positions);
        var type = b.Node("Gather", b.Initializer("embeddings.token_type_embeddings.weight", Host(w.TokenTypeEmbeddings), c.TypeVocabSize, C), types);
        var sum = b.Node("Add", b.Node("Add", word, pos), type);
        return LayerNorm(sum, "embeddings.LayerNorm", w.EmbeddingNormWeight, w.EmbeddingNormBias);
    }

    /// <summary>Additive attention bias [N, 1, 1, T] (0 attended, float minimum padded) and, with a prefix, [N, 1, 1, P + T] with the P prefix columns at 0.</summary>
    (string Tokens, string? Prefixed) MaskBias(string mask, int prefixLen)
    {
        var m = b.Node("Cast", [mask], Attr("to", (long)DataType.Float));
        var bias = b.Node("Mul", b.Node("Sub", b.Float(1f), m), b.Float(float.MinValue));
        var tokens = b.Node("Unsqueeze", bias, b.Ints(1, 2));
        if (prefixLen == 0) return (tokens, null);
        var prefixed = b.Node("Pad", tokens, b.Ints(0, 0, 0, prefixLen, 0, 0, 0, 0), b.Float(0f));
        return (tokens, prefixed);
    }

    string Layer(string x, EncoderWeights.LayerWeights lw, int l, string? row, string bias)
    {
        int C = c.HiddenSize, H = c.NumHeads, D = c.HeadDim, I = c.IntermediateSize;
        string pre = $"encoder.layer.{l}.";
        var qkv = Linear(x, pre + "attention.self.qkv", lw.QkvWeight, lw.QkvBias, 3 * C, C);
        var parts = b.Nodes("Split", [qkv, b.Ints(C, C, C)], 3, Attr("axis", -1L));
        var q = b.Node("Transpose", [b.Node("Reshape", parts[0], b.Ints(0, 0, H, D))], Attr("perm", new long[] { 0, 2, 1, 3 }));   // [N, H, T, D]
        var kT = b.Node("Transpose", [b.Node("Reshape", parts[1], b.Ints(0, 0, H, D))], Attr("perm", new long[] { 0, 2, 3, 1 }));  // [N, H, D, T]
        var v = b.Node("Transpose", [b.Node("Reshape", parts[2], b.Ints(0, 0, H, D))], Attr("perm", new long[] { 0, 2, 1, 3 }));   // [N, H, T, D]
        if (row != null)
        {
            var (keys, values) = PrefixTables(l);
            // Each row gathers its adapter's prefix: keys [N, H, D, P] before the tokens' keysᵀ, values [N, H, P, D] before theirs.
            kT = b.Node("Concat", [b.Node("Gather", keys, row), kT], Attr("axis", 3L));
            v = b.Node("Concat", [b.Node("Gather", values, row), v], Attr("axis", 2L));
        }
        var scores = b.Node("Add", b.Node("Div", b.Node("MatMul", q, kT), b.Float(MathF.Sqrt(D))), bias);
        var probs = b.Node("Softmax", [scores], Attr("axis", -1L));
        var context = b.Node("Transpose", [b.Node("MatMul", probs, v)], Attr("perm", new long[] { 0, 2, 1, 3 }));
        var attention = Linear(b.Node("Reshape", context, b.Ints(0, 0, C)), pre + "attention.output.dense", lw.OutWeight, lw.OutBias, C, C);
        var h1 = LayerNorm(b.Node("Add", attention, x), pre + "attention.output.LayerNorm", lw.Norm1Weight, lw.Norm1Bias);
        var up = Linear(h1, pre + "intermediate.dense", lw.UpWeight, lw.UpBias, I, C);
        // x · ½ · (1 + erf(x / √2)), the exact GELU, in the arrangement ONNX Runtime fuses into one Gelu kernel.
        var gelu = b.Node("Mul", b.Node("Mul", up, b.Node("Add", b.Node("Erf", b.Node("Div", up, b.Float(MathF.Sqrt(2f)))), b.Float(1f))), b.Float(0.5f));
        var down = Linear(gelu, pre + "output.dense", lw.DownWeight, lw.DownBias, C, I);
        return LayerNorm(b.Node("Add", down, h1), pre + "output.LayerNorm", lw.Norm2Weight, lw.Norm2Bias);
    }

    /// <summary>Layer l's prefix of every adapter: keys [A, H, D, P] (transposed, to sit before keysᵀ) and values [A, H, P, D].</summary>
    (string Keys, string Values) PrefixTables(int l)
    {
        int H = c.NumHeads, D = c.HeadDim, P = adapters!.PrefixLen, A = adapters.Count, layer = l - adapters.FirstLayer;
        var keys = new float[(long)A * H * D * P];
        var values = new float[(long)A * H * P * D];
        for (int a = 0; a < A; a++)
        {
            var bank = adapters.Banks[a];   // (L', 2, H, P, D)
            for (int h = 0; h < H; h++)
                for (int p = 0; p < P; p++)
                    for (int d = 0; d < D; d++)
                    {
                        long key = ((((long)layer * 2 + 0) * H + h) * P + p) * D + d;
                        long value = ((((long)layer * 2 + 1) * H + h) * P + p) * D + d;
                        keys[(((long)a * H + h) * D + d) * P + p] = bank[key];
                        values[(((long)a * H + h) * P + p) * D + d] = bank[value];
                    }
        }
        return (b.Initializer($"prefix.layer{l}.key", keys, A, H, D, P), b.Initializer($"prefix.layer{l}.value", values, A, H, P, D));
    }

    /// <summary>x Wᵀ + b with W [outs, ins] stored as Wᵀ.</summary>
    string Linear(string x, string name, Tensor weight, Tensor bias, int outs, int ins)
    {
        var wT = OnnxTensors.Transpose(Host(weight), outs, ins);
        return b.Node("Add", b.Node("MatMul", x, b.Initializer(name + ".weight", wT, ins, outs)), b.Initializer(name + ".bias", Host(bias), outs));
    }

    string LayerNorm(string x, string name, Tensor gamma, Tensor beta) =>
        b.Node("LayerNormalization", [x, b.Initializer(name + ".weight", Host(gamma), c.HiddenSize), b.Initializer(name + ".bias", Host(beta), c.HiddenSize)],
            Attr("axis", -1L), Attr("epsilon", c.LayerNormEps));

    static float[] Host(Tensor t)
    {
        var data = new float[t.Length];
        t.Backend.Download(t, data);
        return data;
    }
}
