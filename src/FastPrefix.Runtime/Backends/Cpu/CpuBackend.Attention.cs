using System.Numerics.Tensors;

namespace FastPrefix.Backends.Cpu;

// Prefix attention, the reference for kernels/attention.cu.
// qkv (B·T, 3·H·D), prefix bank (A, Lp, 2, H, P, D), mask (B, T) -> context (B·T, H·D); state = probs (B, H, T, P+T).
// Each (row, head) is a handful of small single-threaded GEMMs on strided views (the work is spread over
// (row, head) pairs instead): scores = q [Kp; K]ᵀ, context = p [Vp; V]. The prefix is read in place, never copied.
// The CPU keeps the probabilities as its saved state (a GPU keeps the log-sum-exp and recomputes); dropout masks
// are regenerated from the seed in the backward.
public sealed unsafe partial class CpuBackend
{
    /// <summary>Single-threaded strided GEMM for the per-head products (the caller is already parallel).</summary>
    static void SmallGemm(bool ta, bool tb, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc) =>
        Sgemm.MultiplyManaged(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, SgemmKernel.Auto, 1);

    public long AttentionStateLength(int batch, int seq, int heads, int prefixLen) => checked((long)batch * heads * seq * (prefixLen + seq));

    static void CheckState(in AttentionArgs a) =>
        a.State.CheckRange(0, (long)a.Batch * a.Heads * a.Seq * (a.PrefixLen + a.Seq), "attention state (probabilities)");

    public void Attention(in AttentionArgs a)
    {
        CheckState(a);
        int B = a.Batch, T = a.Seq, H = a.Heads, D = a.HeadDim, P = a.PrefixLen, S = P + T, Cm = H * D, row3 = 3 * Cm;
        float scale = 1f / MathF.Sqrt(D);
        float* qkv = C(a.Qkv).Ptr, ctx = C(a.Context).Ptr, probs = C(a.State).Ptr;
        float* bank = P > 0 ? C(a.PrefixBank!).Ptr : null;
        int* mask = C(a.AttentionMask).IntPtr, adapters = C(a.RowAdapter).IntPtr;
        int prefixLayers = a.PrefixLayers, slot = a.PrefixSlot;
        float dropP = a.DropoutP; ulong seed = dropP > 0 ? ReadSeed(a.Seed) : 0;

        CpuParallel.For(B * H, (long)T * S * D * 4, (w0, w1) =>
        {
            float* dropped = dropP > 0 ? ThreadScratch.Get(0, T * S) : null;
            for (int w = w0; w < w1; w++)
            {
                int b = w / H, h = w % H;
                float* q = qkv + (long)b * T * row3 + h * D, k = q + Cm, v = q + 2 * Cm;
                float* pr = probs + (long)(b * H + h) * T * S;
                float* pk = null, pv = null;
                if (P > 0)
                {
                    int adapter = adapters[b];
                    pk = PrefixBase(bank, adapter, prefixLayers, slot, H, P, D, 0) + (long)h * P * D;
                    pv = PrefixBase(bank, adapter, prefixLayers, slot, H, P, D, 1) + (long)h * P * D;
                    SmallGemm(false, true, T, P, D, scale, q, row3, pk, D, 0f, pr, S);
                }
                SmallGemm(false, true, T, T, D, scale, q, row3, k, row3, 0f, pr + P, S);
                for (int i = 0; i < T; i++)
                {
                    var row = new Span<float>(pr + (long)i * S, S);
                    for (int j = 0; j < T; j++)
                        if (mask[b * T + j] == 0) row[P + j] = float.MinValue; // the reference adds the dtype minimum: a fully padded row degrades to uniform, as there
                    float max = TensorPrimitives.Max(row);
                    TensorPrimitives.Subtract(row, max, row);
                    TensorPrimitives.Exp(row, row);
                    TensorPrimitives.Multiply(row, 1f / TensorPrimitives.Sum(row), row);
                }
                float* used = pr;
                if (dropped != null)
                {
                    long baseIndex = (long)(b * H + h) * T * S;
                    DropoutHash.Apply(seed, baseIndex, new ReadOnlySpan<float>(pr, T * S), new Span<float>(dropped, T * S), dropP);
                    used = dropped;
                }
                float* o = ctx + (long)b * T * Cm + h * D;
                if (P > 0) SmallGemm(false, false, T, D, P, 1f, used, S, pv, D, 0f, o, Cm);
                SmallGemm(false, false, T, D, T, 1f, used + P, S, v, row3, P > 0 ? 1f : 0f, o, Cm);
            }
        });
    }

    /// <summary>Start of the key (kv = 0) or value (kv = 1) block of one adapter's layer slot: (H, P, D) follow.</summary>
    static float* PrefixBase(float* bank, int adapter, int layers, int slot, int H, int P, int D, int kv) =>
        bank + ((((long)adapter * layers + slot) * 2 + kv) * H) * P * D;

    public void AttentionBackward(in AttentionArgs a, Tensor dContext, Tensor dQkv, Tensor? dPrefixBank)
    {
        CheckState(a);
        int B = a.Batch, T = a.Seq, H = a.Heads, D = a.HeadDim, P = a.PrefixLen, S = P + T, Cm = H * D, row3 = 3 * Cm;
        float scale = 1f / MathF.Sqrt(D);
        float* qkv = C(a.Qkv).Ptr, probs = C(a.State).Ptr, dctx = C(dContext).Ptr, dqkv = C(dQkv).Ptr;
        float* bank = P > 0 ? C(a.PrefixBank!).Ptr : null;
        float* dbank = P > 0 && dPrefixBank != null ? C(dPrefixBank).Ptr : null;
        int* mask = C(a.AttentionMask).IntPtr, adapters = C(a.RowAdapter).IntPtr;
        int prefixLayers = a.PrefixLayers, slot = a.PrefixSlot;
        float dropP = a.DropoutP; ulong seed = dropP > 0 ? ReadSeed(a.Seed) : 0;
        C(dQkv).Floats[..(B * T * row3)].Clear();

        // One worker per head: prefix gradients of a head are shared by every row using the same
        // adapter, so splitting by head keeps all writes disjoint and the sums deterministic.
        CpuParallel.For(H, (long)B * T * S * D * 8, (h0, h1) =>
        {
            float* usedScratch = ThreadScratch.Get(0, T * S), dp = ThreadScratch.Get(1, T * S);
                for (int h = h0; h < h1; h++)
                    for (int b = 0; b < B; b++)
                    {
                        float* q = qkv + (long)b * T * row3 + h * D, k = q + Cm, v = q + 2 * Cm;
                        float* dq = dqkv + (long)b * T * row3 + h * D, dk = dq + Cm, dv = dq + 2 * Cm;
                        float* dO = dctx + (long)b * T * Cm + h * D;
                        long baseIndex = (long)(b * H + h) * T * S;
                        float* pr = probs + baseIndex;
                        float* pk = null, pv = null, dpk = null, dpv = null;
                        if (P > 0)
                        {
                            int adapter = adapters[b];
                            long headOffset = (long)h * P * D;
                            pk = PrefixBase(bank, adapter, prefixLayers, slot, H, P, D, 0) + headOffset;
                            pv = PrefixBase(bank, adapter, prefixLayers, slot, H, P, D, 1) + headOffset;
                            if (dbank != null)
                            {
                                dpk = PrefixBase(dbank, adapter, prefixLayers, slot, H, P, D, 0) + headOffset;
                                dpv = PrefixBase(dbank, adapter, prefixLayers, slot, H, P, D, 1) + headOffset;
                            }
                        }
                        // the probabilities the forward multiplied V by (after dropout)
                        float* used = pr;
                        if (dropP > 0)
                        {
                            DropoutHash.Apply(seed, baseIndex, new ReadOnlySpan<float>(pr, T * S), new Span<float>(usedScratch, T * S), dropP);
                            used = usedScratch;
                        }
                        // dV += usedᵀ dO ; d(used) = dO Vᵀ
                        SmallGemm(true, false, T, D, T, 1f, used + P, S, dO, Cm, 1f, dv, row3);
                        if (P > 0)
                        {
                            if (dpv != null) SmallGemm(true, false, P, D, T, 1f, used, S, dO, Cm, 1f, dpv, D);
                            SmallGemm(false, true, T, P, D, 1f, dO, Cm, pv, D, 0f, dp, S);
                        }
                        SmallGemm(false, true, T, T, D, 1f, dO, Cm, v, row3, 0f, dp + P, S);
                        if (dropP > 0) DropoutHash.Apply(seed, baseIndex, new ReadOnlySpan<float>(dp, T * S), new Span<float>(dp, T * S), dropP);
                        // softmax backward, scaled: dS = p (dp - <p, dp>) / sqrt(D); masked columns carry no gradient
                        for (int i = 0; i < T; i++)
                        {
                            var p = new ReadOnlySpan<float>(pr + (long)i * S, S);
                            var d = new Span<float>(dp + (long)i * S, S);
                            float dot = TensorPrimitives.Dot(p, d);
                            TensorPrimitives.Subtract(d, dot, d);
                            TensorPrimitives.Multiply(d, p, d);
                            TensorPrimitives.Multiply(d, scale, d);
                            for (int j = 0; j < T; j++) if (mask[b * T + j] == 0) d[P + j] = 0;
                        }
                        // dQ = dS [Kp; K] ; dK += dS_tokᵀ Q ; dKp += dS_prefixᵀ Q
                        if (P > 0) SmallGemm(false, false, T, D, P, 1f, dp, S, pk, D, 1f, dq, row3);
                        SmallGemm(false, false, T, D, T, 1f, dp + P, S, k, row3, 1f, dq, row3);
                        SmallGemm(true, false, T, D, T, 1f, dp + P, S, q, row3, 1f, dk, row3);
                        if (dpk != null) SmallGemm(true, false, P, D, T, 1f, dp, S, q, row3, 1f, dpk, D);
                    }
        });
    }
}
