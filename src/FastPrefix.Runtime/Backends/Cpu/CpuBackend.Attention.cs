using System.Numerics.Tensors;

namespace FastPrefix.Backends.Cpu;

// Prefix attention, the reference for kernels/attention.cu.
// qkv (B·T, 3·H·D), prefix bank (A, Lp, 2, H, P, D), mask (B, T) -> context (B·T, H·D); probs (B, H, T, P+T).
public sealed unsafe partial class CpuBackend
{
    public void Attention(in AttentionArgs a)
    {
        int B = a.Batch, T = a.Seq, H = a.Heads, D = a.HeadDim, P = a.PrefixLen, S = P + T, Cm = H * D, row3 = 3 * Cm;
        float scale = 1f / MathF.Sqrt(D);
        float* qkv = C(a.Qkv).Ptr, ctx = C(a.Context).Ptr, probs = C(a.Probs).Ptr;
        float* bank = P > 0 ? C(a.PrefixBank!).Ptr : null;
        float* dropMask = a.DropoutP > 0 ? C(a.ProbsDropMask!).Ptr : null;
        int[] mask = C(a.AttentionMask).Ints;
        int[]? adapters = a.RowAdapter == null ? null : C(a.RowAdapter).Ints;
        int prefixLayers = a.PrefixLayers, slot = a.PrefixSlot;
        float dropP = a.DropoutP; ulong seed = a.DropoutSeed;
        float keepScale = dropP >= 1f ? 0f : 1f / (1f - dropP);

        CpuParallel.For(B * H, (long)T * S * D * 2, (w0, w1) =>
        {
            var weighted = new float[S];
            for (int w = w0; w < w1; w++)
            {
                int b = w / H, h = w % H;
                float* pk = null, pv = null;
                if (P > 0)
                {
                    int adapter = adapters?[b] ?? 0;
                    pk = PrefixBase(bank, adapter, prefixLayers, slot, H, P, D, 0) + (long)h * P * D;
                    pv = PrefixBase(bank, adapter, prefixLayers, slot, H, P, D, 1) + (long)h * P * D;
                }
                for (int i = 0; i < T; i++)
                {
                    var q = new ReadOnlySpan<float>(qkv + (long)(b * T + i) * row3 + h * D, D);
                    long probRow = ((long)(b * H + h) * T + i) * S;
                    var pr = new Span<float>(probs + probRow, S);
                    for (int j = 0; j < P; j++) pr[j] = TensorPrimitives.Dot(q, new ReadOnlySpan<float>(pk + (long)j * D, D)) * scale;
                    for (int j = 0; j < T; j++)
                        pr[P + j] = mask[b * T + j] != 0
                            ? TensorPrimitives.Dot(q, new ReadOnlySpan<float>(qkv + (long)(b * T + j) * row3 + Cm + h * D, D)) * scale
                            : float.MinValue; // the reference adds the dtype minimum; a fully padded row degrades to uniform, as there
                    float max = TensorPrimitives.Max(pr);
                    TensorPrimitives.Subtract(pr, max, pr);
                    TensorPrimitives.Exp(pr, pr);
                    float inv = 1f / TensorPrimitives.Sum(pr);
                    TensorPrimitives.Multiply(pr, inv, pr);

                    ReadOnlySpan<float> used = pr;
                    if (dropMask != null)
                    {
                        for (int j = 0; j < S; j++)
                        {
                            float m = DropoutHash.Uniform(seed, probRow + j) >= dropP ? keepScale : 0f;
                            dropMask[probRow + j] = m;
                            weighted[j] = pr[j] * m;
                        }
                        used = weighted;
                    }
                    var o = new Span<float>(ctx + (long)(b * T + i) * Cm + h * D, D);
                    o.Clear();
                    for (int j = 0; j < P; j++)
                        if (used[j] != 0) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(pv + (long)j * D, D), used[j], o, o);
                    for (int j = 0; j < T; j++)
                        if (used[P + j] != 0) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(qkv + (long)(b * T + j) * row3 + 2 * Cm + h * D, D), used[P + j], o, o);
                }
            }
        });
    }

    /// <summary>Start of the key (kv = 0) or value (kv = 1) block of one adapter's layer slot: (H, P, D) follow.</summary>
    static float* PrefixBase(float* bank, int adapter, int layers, int slot, int H, int P, int D, int kv) =>
        bank + ((((long)adapter * layers + slot) * 2 + kv) * H) * P * D;

    public void AttentionBackward(in AttentionArgs a, Tensor dContext, Tensor dQkv, Tensor? dPrefixBank)
    {
        int B = a.Batch, T = a.Seq, H = a.Heads, D = a.HeadDim, P = a.PrefixLen, S = P + T, Cm = H * D, row3 = 3 * Cm;
        float scale = 1f / MathF.Sqrt(D);
        float* qkv = C(a.Qkv).Ptr, probs = C(a.Probs).Ptr, dctx = C(dContext).Ptr, dqkv = C(dQkv).Ptr;
        float* bank = P > 0 ? C(a.PrefixBank!).Ptr : null;
        float* dbank = P > 0 && dPrefixBank != null ? C(dPrefixBank).Ptr : null;
        float* dropMask = a.DropoutP > 0 ? C(a.ProbsDropMask!).Ptr : null;
        int[] mask = C(a.AttentionMask).Ints;
        int[]? adapters = a.RowAdapter == null ? null : C(a.RowAdapter).Ints;
        int prefixLayers = a.PrefixLayers, slot = a.PrefixSlot;
        C(dQkv).Floats.AsSpan(0, B * T * row3).Clear();

        // One worker per head: prefix gradients of a head are shared by every row using the same
        // adapter, so splitting by head keeps all writes disjoint and the sums deterministic.
        CpuParallel.For(H, (long)B * T * S * D * 4, (h0, h1) =>
        {
            var dp = new float[S];
            for (int h = h0; h < h1; h++)
                for (int b = 0; b < B; b++)
                {
                    float* pk = null, pv = null, dpk = null, dpv = null;
                    if (P > 0)
                    {
                        int adapter = adapters?[b] ?? 0;
                        long headOffset = (long)h * P * D;
                        pk = PrefixBase(bank, adapter, prefixLayers, slot, H, P, D, 0) + headOffset;
                        pv = PrefixBase(bank, adapter, prefixLayers, slot, H, P, D, 1) + headOffset;
                        if (dbank != null)
                        {
                            dpk = PrefixBase(dbank, adapter, prefixLayers, slot, H, P, D, 0) + headOffset;
                            dpv = PrefixBase(dbank, adapter, prefixLayers, slot, H, P, D, 1) + headOffset;
                        }
                    }
                    for (int i = 0; i < T; i++)
                    {
                        long probRow = ((long)(b * H + h) * T + i) * S;
                        var pr = new ReadOnlySpan<float>(probs + probRow, S);
                        var dO = new ReadOnlySpan<float>(dctx + (long)(b * T + i) * Cm + h * D, D);
                        var q = new ReadOnlySpan<float>(qkv + (long)(b * T + i) * row3 + h * D, D);
                        var dq = new Span<float>(dqkv + (long)(b * T + i) * row3 + h * D, D);

                        // dV_j += p'_j dO ; dp_j = m_j <dO, V_j>
                        for (int j = 0; j < S; j++)
                        {
                            float m = dropMask != null ? dropMask[probRow + j] : 1f;
                            float pUsed = pr[j] * m;
                            float* vj = j < P ? pv + (long)j * D : qkv + (long)(b * T + j - P) * row3 + 2 * Cm + h * D;
                            float* dvj = j < P ? dpv : dqkv + (long)(b * T + j - P) * row3 + 2 * Cm + h * D;
                            if (j < P && dvj != null) dvj += (long)j * D;
                            if (pUsed != 0 && dvj != null) { var dv = new Span<float>(dvj, D); TensorPrimitives.MultiplyAdd(dO, pUsed, dv, dv); }
                            dp[j] = m == 0 ? 0 : m * TensorPrimitives.Dot(dO, new ReadOnlySpan<float>(vj, D));
                        }
                        // softmax backward: dS_j = p_j (dp_j - sum_k p_k dp_k); masked columns carry no gradient
                        float dot = TensorPrimitives.Dot(pr, dp);
                        for (int j = 0; j < S; j++)
                        {
                            if (j >= P && mask[b * T + j - P] == 0) continue;
                            float ds = pr[j] * (dp[j] - dot) * scale;
                            if (ds == 0) continue;
                            float* kj = j < P ? pk + (long)j * D : qkv + (long)(b * T + j - P) * row3 + Cm + h * D;
                            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(kj, D), ds, dq, dq);
                            float* dkj = j < P ? (dpk == null ? null : dpk + (long)j * D) : dqkv + (long)(b * T + j - P) * row3 + Cm + h * D;
                            if (dkj != null) { var dk = new Span<float>(dkj, D); TensorPrimitives.MultiplyAdd(q, ds, dk, dk); }
                        }
                    }
                }
        });
    }
}
