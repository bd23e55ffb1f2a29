// attention.cu — prefix attention (P-Tuning v2), forward and backward, in the FlashAttention-2 style.
//
// Shapes (AttentionLaunchers): qkv (B·T, 3·H·D) = q | k | v, head h at columns h·D of each part; context (B·T, H·D);
// bank (A, Lp, 2, H, P, D) fp32, batch row b reading adapter rowAdapter[b] at layer slot `slot`; mask (B·T) int,
// 0 = padding; lse (B·H·T) fp32 at (b·H + h)·T + i. The key columns of a query are the P prefix keys, then the T
// token keys: column P + j is token j. The prefix is read in place from the bank, never concatenated.
//
// Conventions (CpuBackend.Attention is the reference):
// - score = q·k / √D. Padded token columns get probability 0; prefix columns are always attended to. A batch row with
//   nothing to attend to (P = 0, every token padded) gets uniform weights over its T token columns: its padded columns
//   score 0 instead of -inf, which is what the reference's additive float minimum amounts to.
// - Dropout on the probabilities (dropout.cuh) at element ((b·H + h)·T + i)·(P + T) + column; the backward
//   regenerates the mask.
// - The forward keeps only lse = log Σ exp(score) per (b, h, i); the backward recomputes the probabilities from q, k
//   and lse, with delta = rowsum(dO ∘ O).
// - Gradients: dQkv is overwritten, each element by exactly one thread (dq by the query-row kernel, dk and dv by the
//   key-column kernel). dBank accumulates (+=) deterministically: every batch row's prefix gradient goes to the
//   workspace, then one thread per bank element adds them in batch-row order. No float atomics anywhere, so a run
//   repeats bit for bit.
// - qkv, context, dContext and dQkv are float or bf16; everything else, and all arithmetic, is fp32.
// - One thread owns one query row (forward, dq) or one key column (dk, dv), on CUDA cores. Its vectors live in
//   arrays of DMAX ≥ D (a template parameter: 32, 64 or 128, so they stay in registers) and the shared tiles are zero
//   beyond D, so the loops over a vector run to DMAX without tests; its scores for the current tile live in shared
//   memory, one column per thread (unrolled into registers, they made NVRTC take 80 s for this file). The two tile
//   products — a vector against every row of a tile, and a weighted sum of a tile's rows — are the device functions
//   a tensor-core version replaces: the _tc kernels below do so in bf16 (mma.cuh) for the forward, dq and the token
//   columns' dk/dv.
#include "common.cuh"
#include "dropout.cuh"
#include "mma.cuh"

namespace {

// Threads per block; the launchers use the same numbers. 64 query rows cover a typical sequence in two blocks,
// 32 key columns keep the dk/dv kernel's own keys and values (shared, padded) near 17 KiB at DMAX 64.
constexpr int RowsPerBlock = 64;
constexpr int ColumnsPerBlock = 32;

// Rows of the shared tiles each kernel walks through: every block stays within 48 KiB of static shared memory.
template <int DMAX> struct Tiles {
    static constexpr int Keys = DMAX <= 64 ? 32 : 16;      // forward and dq: keys and values, plus 1 or 2 scores per thread and key
    static constexpr int Queries = DMAX <= 64 ? 16 : 8;    // dk/dv: queries and dO, plus 2 scores per thread and query
};

// What a token column is to a batch row (prefix columns are always attended).
enum ColumnState : int { Attended = 0, Padded = 1 };

// ---- the two tile products ----
// Written as a * b + c, not fmaf: NVRTC contracts them into FMAs all the same, while the simulator's host build
// (no -mfma) would call libm's fmaf for every one, several times slower.

// out[r · stride] = x · tile[r] for the tile's first `rows` rows (tile: rows × DMAX, row-major, in shared memory).
template <int DMAX>
__device__ __forceinline__ void dot_tile(float* out, int stride, const float* x, const float* tile, int rows)
{
#pragma unroll 1
    for (int r = 0; r < rows; ++r) {
        float sum = 0.0f;
#pragma unroll
        for (int d = 0; d < DMAX; ++d) sum += x[d] * tile[r * DMAX + d];
        out[r * stride] = sum;
    }
}

// acc += Σ_r weights[r · stride] · tile[r] over the tile's first `rows` rows.
template <int DMAX>
__device__ __forceinline__ void accumulate_tile(float (&acc)[DMAX], const float* weights, int stride, const float* tile, int rows)
{
#pragma unroll 1
    for (int r = 0; r < rows; ++r) {
        const float w = weights[r * stride];
#pragma unroll
        for (int d = 0; d < DMAX; ++d) acc[d] += w * tile[r * DMAX + d];
    }
}

// ---- addressing and loading ----

struct Geometry {
    int batch, seq, heads, head_dim, prefix_len, prefix_layers, prefix_slot;

    __device__ __forceinline__ int columns() const { return prefix_len + seq; }
    __device__ __forceinline__ long long qkv_stride() const { return 3ll * heads * head_dim; }
    __device__ __forceinline__ long long context_stride() const { return static_cast<long long>(heads) * head_dim; }

    // Element offset of part (0 q, 1 k, 2 v) of head h in token row t of batch row b.
    __device__ __forceinline__ long long qkv_offset(int b, int t, int part, int h) const {
        return (static_cast<long long>(b) * seq + t) * qkv_stride() + (static_cast<long long>(part) * heads + h) * head_dim;
    }
    __device__ __forceinline__ long long context_offset(int b, int t, int h) const {
        return (static_cast<long long>(b) * seq + t) * context_stride() + static_cast<long long>(h) * head_dim;
    }
    // Elements of one (adapter, layer slot) in the bank: 2 · H · P · D.
    __device__ __forceinline__ long long prefix_block() const { return 2ll * heads * prefix_len * head_dim; }
    // Offset of the (P, D) keys (kv 0) or values (kv 1) of head h within one (adapter, slot) block.
    __device__ __forceinline__ long long prefix_part(int kv, int h) const {
        return (static_cast<long long>(kv) * heads + h) * prefix_len * head_dim;
    }
    __device__ __forceinline__ long long bank_offset(int adapter, int kv, int h) const {
        return (static_cast<long long>(adapter) * prefix_layers + prefix_slot) * prefix_block() + prefix_part(kv, h);
    }
    // Index of lse and delta of (b, h, i).
    __device__ __forceinline__ long long stat(int b, int h, int i) const {
        return (static_cast<long long>(b) * heads + h) * seq + i;
    }
    // Dropout element of (b, h, i, column 0).
    __device__ __forceinline__ long long dropout_row(int b, int h, int i) const {
        return ((static_cast<long long>(b) * heads + h) * seq + i) * columns();
    }
};

// tile (ROWS × DMAX, row stride `pitch`) = rows [0, count) of `source` (row stride `stride` elements), columns [0, D);
// zero elsewhere. Every thread of the block takes part.
template <int ROWS, int DMAX, class Act>
__device__ __forceinline__ void load_tile(float* tile, int pitch, const Act* source, long long stride, int count, int head_dim)
{
    for (int e = threadIdx.x; e < ROWS * DMAX; e += blockDim.x) {
        const int r = e / DMAX, d = e % DMAX;
        tile[r * pitch + d] = r < count && d < head_dim ? to_float(source[r * stride + d]) : 0.0f;
    }
}

// vector[0, DMAX) = source[0, D), zero beyond.
template <int DMAX, class Act>
__device__ __forceinline__ void load_vector(float (&vector)[DMAX], const Act* source, int head_dim)
{
#pragma unroll
    for (int d = 0; d < DMAX; ++d) vector[d] = d < head_dim ? to_float(source[d]) : 0.0f;
}

// destination[0, D) = factor · vector[0, D). Unrolled over DMAX: indexing the array with a loop variable would move
// it from registers to local memory.
template <int DMAX, class Out>
__device__ __forceinline__ void store_vector(Out* destination, const float (&vector)[DMAX], float factor, int head_dim)
{
#pragma unroll
    for (int d = 0; d < DMAX; ++d)
        if (d < head_dim) destination[d] = from_float<Out>(vector[d] * factor);
}

// The score padded token columns get in batch row b: -inf, or 0 when the row has nothing to attend to (P = 0, every
// token padded), which makes its weights uniform. Every thread of the block must call it (it may hold a barrier).
__device__ __forceinline__ float padded_score(const int* mask_row, int seq, int prefix_len)
{
    if (prefix_len > 0) return negative_infinity();
    int any = 0;
    for (int t = threadIdx.x; t < seq; t += blockDim.x) any |= mask_row[t] != 0;
    return __syncthreads_or(any) ? negative_infinity() : 0.0f;
}

// The state of the `count` key columns of a tile starting at column `start` (prefix columns first, then tokens).
__device__ __forceinline__ void load_column_states(int* states, int start, int count, int prefix_len, const int* mask_row)
{
    for (int c = threadIdx.x; c < count; c += blockDim.x)
        states[c] = start + c < prefix_len || mask_row[start + c - prefix_len] != 0 ? Attended : Padded;
}

// Loads the keys and values of the key tile at `start` (count keys, never straddling prefix and tokens).
template <int KEYS, int DMAX, class Act>
__device__ __forceinline__ void load_key_tile(float* keys, float* values, const Geometry& g, const Act* qkv, const float* bank,
                                              int adapter, int b, int h, int start, int count)
{
    if (start < g.prefix_len) {
        const long long rows = static_cast<long long>(start) * g.head_dim;
        load_tile<KEYS, DMAX>(keys, DMAX, bank + g.bank_offset(adapter, 0, h) + rows, g.head_dim, count, g.head_dim);
        load_tile<KEYS, DMAX>(values, DMAX, bank + g.bank_offset(adapter, 1, h) + rows, g.head_dim, count, g.head_dim);
    } else {
        const int j = start - g.prefix_len;
        load_tile<KEYS, DMAX>(keys, DMAX, qkv + g.qkv_offset(b, j, 1, h), g.qkv_stride(), count, g.head_dim);
        load_tile<KEYS, DMAX>(values, DMAX, qkv + g.qkv_offset(b, j, 2, h), g.qkv_stride(), count, g.head_dim);
    }
}

// Keys in the tile at `start`: tiles end where the prefix ends, so none holds both prefix and token keys.
template <int KEYS>
__device__ __forceinline__ int key_tile_count(const Geometry& g, int start)
{
    return start < g.prefix_len ? min(KEYS, g.prefix_len - start) : min(KEYS, g.columns() - start);
}

// What a thread of the query-row kernels (forward, dq) works on: batch row b, head h, query i (active when i < T).
struct QueryRow {
    int b, h, i, adapter;
    bool active;
    const int* mask_row;
    float scale, padded;      // 1/√D; the score of padded columns (padded_score)
    Dropout dropout;
    long long dropout_row;    // dropout element of column 0
    long long stat;           // index of lse and delta
};

// Every thread of the block must call it (padded_score may hold a barrier). Grid (B·H, ⌈T / RowsPerBlock⌉).
__device__ __forceinline__ QueryRow query_row(const Geometry& g, const int* row_adapter, const int* mask, float dropout_p,
                                              const int* seeds, int seed_index)
{
    QueryRow row;
    row.b = blockIdx.x / g.heads;
    row.h = blockIdx.x % g.heads;
    row.i = blockIdx.y * blockDim.x + threadIdx.x;
    row.active = row.i < g.seq;
    row.adapter = g.prefix_len > 0 ? row_adapter[row.b] : 0;
    row.mask_row = mask + static_cast<long long>(row.b) * g.seq;
    row.scale = 1.0f / sqrtf(static_cast<float>(g.head_dim));
    row.padded = padded_score(row.mask_row, g.seq, g.prefix_len);
    row.dropout = make_dropout(dropout_p, seeds, seed_index);
    row.dropout_row = g.dropout_row(row.b, row.h, row.active ? row.i : 0);
    row.stat = g.stat(row.b, row.h, row.i);
    return row;
}

// Walks the key tiles of the row's (b, h) — the prefix tiles, then the token tiles — loading each into keys, values
// and states, and calls visit(start, count) for active rows between the barriers. Every thread of the block calls it.
template <int KEYS, int DMAX, class Act, class Visit>
__device__ __forceinline__ void for_each_key_tile(const Geometry& g, const QueryRow& row, const Act* qkv, const float* bank,
                                                  float* keys, float* values, int* states, Visit visit)
{
    for (int start = 0; start < g.columns();) {
        const int count = key_tile_count<KEYS>(g, start);
        load_key_tile<KEYS, DMAX>(keys, values, g, qkv, bank, row.adapter, row.b, row.h, start, count);
        load_column_states(states, start, count, g.prefix_len, row.mask_row);
        __syncthreads();
        if (row.active) visit(start, count);
        __syncthreads();
        start += count;
    }
}

// ---- forward ----

// context (B·T, H·D), lse (B·H·T) from qkv and the prefix. Grid (B·H, ⌈T / 64⌉), 64 threads: one query row each.
template <class Act, int DMAX>
__device__ void attention_forward(const Act* qkv, const float* bank, const int* row_adapter, const int* mask, Act* context,
                                  float* lse, Geometry g, float dropout_p, const int* seeds, int seed_index)
{
    constexpr int KEYS = Tiles<DMAX>::Keys;
    __shared__ float keys[KEYS * DMAX], values[KEYS * DMAX], scores[KEYS * RowsPerBlock];
    __shared__ int states[KEYS];
    float* s = scores + threadIdx.x;   // this thread's scores, then weights, of the tile: key c at s[c · RowsPerBlock]
    const QueryRow row = query_row(g, row_adapter, mask, dropout_p, seeds, seed_index);

    float q[DMAX], o[DMAX];
    if (row.active) load_vector(q, qkv + g.qkv_offset(row.b, row.i, 0, row.h), g.head_dim);
#pragma unroll
    for (int d = 0; d < DMAX; ++d) o[d] = 0.0f;
    float m = negative_infinity(), l = 0.0f;   // running max and sum of exp(score - m)

    for_each_key_tile<KEYS, DMAX>(g, row, qkv, bank, keys, values, states, [&](int start, int count) {
        dot_tile<DMAX>(s, RowsPerBlock, q, keys, count);
        float tile_max = negative_infinity();
        for (int c = 0; c < count; ++c) {
            const float score = states[c] == Attended ? s[c * RowsPerBlock] * row.scale : row.padded;
            s[c * RowsPerBlock] = score;
            tile_max = fmaxf(tile_max, score);
        }
        const float m_new = fmaxf(m, tile_max);
        const float base = m_new == negative_infinity() ? 0.0f : m_new;   // nothing attended yet: keep exps at 0, not NaN
        const float rescale = expf(m - base);
        l *= rescale;
#pragma unroll
        for (int d = 0; d < DMAX; ++d) o[d] *= rescale;
        for (int c = 0; c < count; ++c) {
            const float p = expf(s[c * RowsPerBlock] - base);
            l += p;
            s[c * RowsPerBlock] = row.dropout.keeps(row.dropout_row + start + c) ? p : 0.0f;
        }
        accumulate_tile<DMAX>(o, s, RowsPerBlock, values, count);
        m = m_new;
    });
    if (!row.active) return;
    store_vector(context + g.context_offset(row.b, row.i, row.h), o, row.dropout.scale / l, g.head_dim);
    lse[row.stat] = m + logf(l);
}

// ---- forward on tensor cores (bf16) ----

// acc (16 rows × DMAX, C fragments of the DMAX / 8 column tiles) += W · tile in fp32 on CUDA cores, W (16 rows × 16
// columns) held as the C fragments of two 8-column tiles, tile (16 × DMAX, fp32, row-major): each lane gathers its two
// rows' 16 weights from the 4 lanes of its group. For products with the fp32 prefix bank.
template <int DMAX>
__device__ __forceinline__ void accumulate_fp32(MmaC (&acc)[DMAX / 8], const MmaC (&w)[2], const float* tile)
{
    const int lane = threadIdx.x % 32, group = lane / 4, t = lane % 4;
#pragma unroll
    for (int c = 0; c < 16; ++c) {
        const int owner = group * 4 + (c % 8) / 2;
        const float w0 = __shfl_sync(FULL_MASK, w[c / 8].v[c % 2], owner);
        const float w1 = __shfl_sync(FULL_MASK, w[c / 8].v[2 + c % 2], owner);
        const float* row = tile + c * DMAX + 2 * t;
#pragma unroll
        for (int n = 0; n < DMAX / 8; ++n) {
            acc[n].v[0] += w0 * row[n * 8];
            acc[n].v[1] += w0 * row[n * 8 + 1];
            acc[n].v[2] += w1 * row[n * 8];
            acc[n].v[3] += w1 * row[n * 8 + 1];
        }
    }
}

// out (16 × 16, the C fragments of two 8-column tiles) = A · tileᵀ on tensor cores: A (16 × DMAX) as DMAX / 16
// fragments, tile (16 × DMAX, bf16, row-major) — scores against 16 keys, or dO against 16 values.
template <int DMAX>
__device__ __forceinline__ void product_16x16(MmaC (&out)[2], const MmaA (&a)[DMAX / 16], const bf16* tile)
{
#pragma unroll
    for (int n = 0; n < 2; ++n) {
        out[n].v[0] = out[n].v[1] = out[n].v[2] = out[n].v[3] = 0.0f;
#pragma unroll
        for (int ks = 0; ks < DMAX / 16; ++ks) mma_16x8x16(out[n], a[ks], mma_load_b(tile + n * 8 * DMAX + ks * 16, DMAX));
    }
}

// The same product in fp32 on CUDA cores against an fp32 tile (the prefix bank): each lane gathers its two rows of A,
// pair of columns by pair of columns, from the lane of its group that holds them.
template <int DMAX>
__device__ __forceinline__ void product_16x16_fp32(MmaC (&out)[2], const MmaA (&a)[DMAX / 16], const float* tile)
{
    const int lane = threadIdx.x % 32, group = lane / 4, t = lane % 4;
#pragma unroll
    for (int n = 0; n < 2; ++n) out[n].v[0] = out[n].v[1] = out[n].v[2] = out[n].v[3] = 0.0f;
    for (int ks = 0; ks < DMAX / 16; ++ks)
#pragma unroll
        for (int pair = 0; pair < 8; ++pair) {   // columns ks·16 + 2·pair, + 1: in lane group·4 + pair % 4, reg 0/1 or 2/3
            const int owner = group * 4 + pair % 4, d = ks * 16 + 2 * pair;
            const unsigned row0 = __shfl_sync(FULL_MASK, a[ks].reg[pair < 4 ? 0 : 2], owner);   // row group
            const unsigned row8 = __shfl_sync(FULL_MASK, a[ks].reg[pair < 4 ? 1 : 3], owner);   // row group + 8
#pragma unroll
            for (int n = 0; n < 2; ++n)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const unsigned x = e < 2 ? row0 : row8;
                    const float* y = tile + (n * 8 + 2 * t + e % 2) * DMAX + d;
                    out[n].v[e] += low_bf16(x) * y[0] + high_bf16(x) * y[1];
                }
        }
}

// The A fragment of 16 token rows (i0 .. i0 + 15 of batch row b; row i at source + (b·T + i)·stride) and 16 columns
// from k0, zero beyond T and D: a warp's queries or output gradients, straight from global memory.
__device__ __forceinline__ MmaA load_a_rows(const bf16* source, long long stride, const Geometry& g, int b, int i0, int k0)
{
    const int lane = threadIdx.x % 32, group = lane / 4, t = lane % 4;
    const bf16 zero = {0};
    auto at = [&](int r, int k) {
        const int i = i0 + r;
        return i < g.seq && k < g.head_dim ? source[(static_cast<long long>(b) * g.seq + i) * stride + k] : zero;
    };
    MmaA a;
    a.reg[0] = pack_bf16x2(at(group, k0 + 2 * t), at(group, k0 + 2 * t + 1));
    a.reg[1] = pack_bf16x2(at(group + 8, k0 + 2 * t), at(group + 8, k0 + 2 * t + 1));
    a.reg[2] = pack_bf16x2(at(group, k0 + 2 * t + 8), at(group, k0 + 2 * t + 9));
    a.reg[3] = pack_bf16x2(at(group + 8, k0 + 2 * t + 8), at(group + 8, k0 + 2 * t + 9));
    return a;
}

// The key tile at `start` (count keys) for the tensor-core kernels, zero beyond count and D: prefix keys and values
// fp32 as the bank holds them, token keys and values bf16. Every thread of the block takes part.
template <int KEYS, int DMAX>
__device__ __forceinline__ void load_key_tile_tc(float* prefix_keys, float* prefix_values, bf16* keys, bf16* values, const Geometry& g,
                                                 const bf16* qkv, const float* bank, int adapter, int b, int h, int start, int count)
{
    const bf16 zero = {0};
    for (int e = threadIdx.x; e < KEYS * DMAX; e += blockDim.x) {
        const int r = e / DMAX, d = e % DMAX;
        const bool inside = r < count && d < g.head_dim;
        if (start < g.prefix_len) {
            const long long at = static_cast<long long>(start + r) * g.head_dim + d;
            prefix_keys[e] = inside ? bank[g.bank_offset(adapter, 0, h) + at] : 0.0f;
            prefix_values[e] = inside ? bank[g.bank_offset(adapter, 1, h) + at] : 0.0f;
        } else {
            const int j = start - g.prefix_len + r;
            keys[e] = inside ? qkv[g.qkv_offset(b, j, 1, h) + d] : zero;
            values[e] = inside ? qkv[g.qkv_offset(b, j, 2, h) + d] : zero;
        }
    }
}

// acc += W · B with W split into two bf16 parts (mma_c_as_split_a), B (16 × DMAX, bf16, row-major) — the tensor-core
// counterpart of accumulate_fp32.
template <int DMAX>
__device__ __forceinline__ void accumulate_split(MmaC (&acc)[DMAX / 8], const MmaC (&w)[2], const bf16* tile)
{
    MmaA high, low;
    mma_c_as_split_a(w, high, low);
#pragma unroll
    for (int n = 0; n < DMAX / 8; ++n) {
        const MmaB b = mma_load_b_rows(tile + n * 8, DMAX);
        mma_16x8x16(acc[n], high, b);
        mma_16x8x16(acc[n], low, b);
    }
}

// The forward's numerics with its two tile products on tensor cores (mma.cuh): a warp owns 16 query rows, a key tile
// is 16 keys; S = Q·Kᵀ and O += P̃·V are m16n8k16 products with fp32 accumulation, the probabilities P̃ enter the
// second product rounded to bf16 (as FlashAttention-2 does). Scores against the prefix keys are fp32 dot products on
// CUDA cores instead (the bank is fp32, and the backward recomputes the probabilities from fp32 prefix keys and lse:
// bf16-rounded prefix keys here would make lse disagree with them); the prefix is short. Lane (g, t) of a warp holds rows g and g + 8 of the
// warp's queries and, of each 8-wide output tile, columns 2t and 2t + 1: the running max is shared by the 4 lanes of a
// row (a shuffle), each lane sums its own columns of exp and the 4 parts are added at the end. lse and context as the
// CUDA-core forward; the backward (CUDA cores) recomputes the probabilities from lse. Grid (B·H, ⌈T / 64⌉), 128
// threads: 4 warps of 16 query rows.
template <int DMAX>
__device__ void attention_forward_tc(const bf16* qkv, const float* bank, const int* row_adapter, const int* mask, bf16* context,
                                     float* lse, Geometry g, float dropout_p, const int* seeds, int seed_index)
{
    constexpr int KEYS = 16, ROWS = 64, KSTEPS = DMAX / 16, NTILES = DMAX / 8;
    __shared__ bf16 k_tile[KEYS * DMAX], v_tile[KEYS * DMAX];
    __shared__ float prefix_keys[KEYS * DMAX], prefix_values[KEYS * DMAX];
    __shared__ int states[KEYS];
    const int b = blockIdx.x / g.heads, h = blockIdx.x % g.heads, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int group = lane / 4, t = lane % 4;
    const int i0 = blockIdx.y * ROWS + warp * 16;   // the warp's first query
    const int adapter = g.prefix_len > 0 ? row_adapter[b] : 0;
    const int* mask_row = mask + static_cast<long long>(b) * g.seq;
    const float scale = 1.0f / sqrtf(static_cast<float>(g.head_dim));
    const float padded = padded_score(mask_row, g.seq, g.prefix_len);
    const Dropout dropout = make_dropout(dropout_p, seeds, seed_index);

    MmaA q[KSTEPS];
#pragma unroll
    for (int ks = 0; ks < KSTEPS; ++ks) q[ks] = load_a_rows(qkv + g.qkv_offset(0, 0, 0, h), g.qkv_stride(), g, b, i0, ks * 16);

    MmaC o[NTILES];
#pragma unroll
    for (int n = 0; n < NTILES; ++n) o[n].v[0] = o[n].v[1] = o[n].v[2] = o[n].v[3] = 0.0f;
    float m[2] = {negative_infinity(), negative_infinity()}, l[2] = {0.0f, 0.0f};   // rows group, group + 8
    long long dropout_rows[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) dropout_rows[r] = g.dropout_row(b, h, min(i0 + group + 8 * r, g.seq - 1));

    for (int start = 0; start < g.columns();) {
        const int count = key_tile_count<KEYS>(g, start);
        load_key_tile_tc<KEYS, DMAX>(prefix_keys, prefix_values, k_tile, v_tile, g, qkv, bank, adapter, b, h, start, count);
        load_column_states(states, start, count, g.prefix_len, mask_row);
        __syncthreads();

        MmaC s[2];   // keys 0-7 and 8-15 of the tile, laid out as mma's C fragments
        if (start < g.prefix_len) product_16x16_fp32<DMAX>(s, q, prefix_keys);   // fp32 against the bank's keys
        else product_16x16<DMAX>(s, q, k_tile);
        float tile_max[2] = {negative_infinity(), negative_infinity()};
#pragma unroll
        for (int n = 0; n < 2; ++n)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int c = n * 8 + 2 * t + e % 2;
                const float score = c >= count ? negative_infinity() : states[c] == Attended ? s[n].v[e] * scale : padded;
                s[n].v[e] = score;
                tile_max[e / 2] = fmaxf(tile_max[e / 2], score);
            }
        float base[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(FULL_MASK, tile_max[r], 1));
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(FULL_MASK, tile_max[r], 2));
            const float m_new = fmaxf(m[r], tile_max[r]);
            base[r] = m_new == negative_infinity() ? 0.0f : m_new;   // nothing attended yet: keep exps at 0, not NaN
            const float rescale = expf(m[r] - base[r]);
            l[r] *= rescale;
#pragma unroll
            for (int n = 0; n < NTILES; ++n) { o[n].v[2 * r] *= rescale; o[n].v[2 * r + 1] *= rescale; }
            m[r] = m_new;
        }
#pragma unroll
        for (int n = 0; n < 2; ++n)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int r = e / 2, c = n * 8 + 2 * t + e % 2;
                const float p = expf(s[n].v[e] - base[r]);
                l[r] += p;
                s[n].v[e] = dropout.keeps(dropout_rows[r] + start + c) ? p : 0.0f;   // P̃, in the C fragments' layout
            }
        // O += P̃ · V: in fp32 against the prefix, on tensor cores with P̃ split in two bf16 parts against the tokens
        if (start < g.prefix_len) accumulate_fp32<DMAX>(o, s, prefix_values);
        else accumulate_split<DMAX>(o, s, v_tile);
        __syncthreads();
        start += count;
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l[r] += __shfl_xor_sync(FULL_MASK, l[r], 1);
        l[r] += __shfl_xor_sync(FULL_MASK, l[r], 2);
        const int i = i0 + group + 8 * r;
        if (i >= g.seq) continue;
        const float factor = dropout.scale / l[r];
        bf16* out = context + g.context_offset(b, i, h);
#pragma unroll
        for (int n = 0; n < NTILES; ++n) {
            const int d = n * 8 + 2 * t;
            if (d < g.head_dim) out[d] = to_bf16(o[n].v[2 * r] * factor);
            if (d + 1 < g.head_dim) out[d + 1] = to_bf16(o[n].v[2 * r + 1] * factor);
        }
        if (t == 0) lse[g.stat(b, h, i)] = m[r] + logf(l[r]);
    }
}

// ---- backward ----

// The query-row half: dq into dQkv's q columns (overwritten) and delta = rowsum(dO ∘ O) (B·H·T) for the column half.
// Grid (B·H, ⌈T / 64⌉), 64 threads: one query row each.
template <class Act, int DMAX>
__device__ void attention_backward_dq(const Act* qkv, const float* bank, const int* row_adapter, const int* mask,
                                      const Act* context, const float* lse, const Act* dcontext, Act* dqkv, float* delta,
                                      Geometry g, float dropout_p, const int* seeds, int seed_index)
{
    constexpr int KEYS = Tiles<DMAX>::Keys;
    __shared__ float keys[KEYS * DMAX], values[KEYS * DMAX], scores[KEYS * RowsPerBlock], value_grads[KEYS * RowsPerBlock];
    __shared__ int states[KEYS];
    float* s = scores + threadIdx.x;        // this thread's q·k, then dScore, of key c at [c · RowsPerBlock]
    float* dp = value_grads + threadIdx.x;  // and its dO·v
    const QueryRow row = query_row(g, row_adapter, mask, dropout_p, seeds, seed_index);

    float q[DMAX], dout[DMAX], dq[DMAX];
    float row_lse = 0.0f, row_delta = 0.0f;
    if (row.active) {
        load_vector(q, qkv + g.qkv_offset(row.b, row.i, 0, row.h), g.head_dim);
        load_vector(dout, dcontext + g.context_offset(row.b, row.i, row.h), g.head_dim);
        const Act* o = context + g.context_offset(row.b, row.i, row.h);
#pragma unroll
        for (int d = 0; d < DMAX; ++d)
            if (d < g.head_dim) row_delta += dout[d] * to_float(o[d]);
        delta[row.stat] = row_delta;
        row_lse = lse[row.stat];
    }
#pragma unroll
    for (int d = 0; d < DMAX; ++d) dq[d] = 0.0f;

    for_each_key_tile<KEYS, DMAX>(g, row, qkv, bank, keys, values, states, [&](int start, int count) {
        dot_tile<DMAX>(s, RowsPerBlock, q, keys, count);
        dot_tile<DMAX>(dp, RowsPerBlock, dout, values, count);
        for (int c = 0; c < count; ++c) {
            const bool attended = states[c] == Attended;
            const float p = expf((attended ? s[c * RowsPerBlock] * row.scale : row.padded) - row_lse);
            // dScore = p (dP − delta) / √D, dP taken through the dropout mask; padded columns carry no gradient
            const float dp_kept = row.dropout.apply(dp[c * RowsPerBlock], row.dropout_row + start + c);
            s[c * RowsPerBlock] = attended ? p * (dp_kept - row_delta) * row.scale : 0.0f;
        }
        accumulate_tile<DMAX>(dq, s, RowsPerBlock, keys, count);
    });
    if (!row.active) return;
    store_vector(dqkv + g.qkv_offset(row.b, row.i, 0, row.h), dq, 1.0f, g.head_dim);
}

// The key-column half: dk, dv of token columns into dQkv's k and v columns (overwritten); of prefix columns (when
// prefix_tiles > 0) into `partial` (B, 2, H, P, D), batch row b's share of the prefix gradient. Grid (B·H,
// prefix_tiles + ⌈T / 32⌉), 32 threads: one key column each, over every query row.
template <class Act, int DMAX>
__device__ void attention_backward_dkv(const Act* qkv, const float* bank, const int* row_adapter, const int* mask,
                                       const float* lse, const Act* dcontext, Act* dqkv, const float* delta, float* partial,
                                       int prefix_tiles, Geometry g, float dropout_p, const int* seeds, int seed_index)
{
    constexpr int QUERIES = Tiles<DMAX>::Queries, PITCH = DMAX + 1;   // +1: each thread reads its own row, bank-conflict free
    __shared__ float own_keys[ColumnsPerBlock * PITCH], own_values[ColumnsPerBlock * PITCH];
    __shared__ float queries[QUERIES * DMAX], grads[QUERIES * DMAX], row_lse[QUERIES], row_delta[QUERIES];
    __shared__ float scores[QUERIES * ColumnsPerBlock], value_grads[QUERIES * ColumnsPerBlock];
    float* s = scores + threadIdx.x;        // this thread's k·q, then the kept probability, of query r at [r · ColumnsPerBlock]
    float* dp = value_grads + threadIdx.x;  // its v·dO, then dScore
    const int b = blockIdx.x / g.heads, h = blockIdx.x % g.heads;
    const int tile = blockIdx.y;
    const bool prefix = tile < prefix_tiles;
    const int first = (prefix ? tile : tile - prefix_tiles) * ColumnsPerBlock;   // first prefix position or token of the tile
    const int count = min(ColumnsPerBlock, (prefix ? g.prefix_len : g.seq) - first);
    const int column = threadIdx.x;
    const bool active = column < count;
    const int* mask_row = mask + static_cast<long long>(b) * g.seq;
    const float scale = 1.0f / sqrtf(static_cast<float>(g.head_dim));
    const float padded = padded_score(mask_row, g.seq, g.prefix_len);
    const Dropout dropout = make_dropout(dropout_p, seeds, seed_index);
    const int key = (prefix ? 0 : g.prefix_len) + first + column;   // this thread's key column among the P + T

    if (prefix) {
        const long long rows = static_cast<long long>(first) * g.head_dim;
        load_tile<ColumnsPerBlock, DMAX>(own_keys, PITCH, bank + g.bank_offset(row_adapter[b], 0, h) + rows, g.head_dim, count, g.head_dim);
        load_tile<ColumnsPerBlock, DMAX>(own_values, PITCH, bank + g.bank_offset(row_adapter[b], 1, h) + rows, g.head_dim, count, g.head_dim);
    } else {
        load_tile<ColumnsPerBlock, DMAX>(own_keys, PITCH, qkv + g.qkv_offset(b, first, 1, h), g.qkv_stride(), count, g.head_dim);
        load_tile<ColumnsPerBlock, DMAX>(own_values, PITCH, qkv + g.qkv_offset(b, first, 2, h), g.qkv_stride(), count, g.head_dim);
    }
    const bool attended = prefix || (active && mask_row[first + column] != 0);
    const float* k = own_keys + column * PITCH;
    const float* v = own_values + column * PITCH;
    float dk[DMAX], dv[DMAX];
#pragma unroll
    for (int d = 0; d < DMAX; ++d) dk[d] = dv[d] = 0.0f;

    for (int i0 = 0; i0 < g.seq; i0 += QUERIES) {
        const int rows = min(QUERIES, g.seq - i0);
        load_tile<QUERIES, DMAX>(queries, DMAX, qkv + g.qkv_offset(b, i0, 0, h), g.qkv_stride(), rows, g.head_dim);
        load_tile<QUERIES, DMAX>(grads, DMAX, dcontext + g.context_offset(b, i0, h), g.context_stride(), rows, g.head_dim);
        for (int r = threadIdx.x; r < QUERIES; r += blockDim.x) {
            const long long stat = g.stat(b, h, i0 + r);
            row_lse[r] = r < rows ? lse[stat] : 0.0f;
            row_delta[r] = r < rows ? delta[stat] : 0.0f;
        }
        __syncthreads();
        if (active) {
            dot_tile<DMAX>(s, ColumnsPerBlock, k, queries, rows);
            dot_tile<DMAX>(dp, ColumnsPerBlock, v, grads, rows);
            for (int r = 0; r < rows; ++r) {
                const float p = expf((attended ? s[r * ColumnsPerBlock] * scale : padded) - row_lse[r]);
                const long long element = g.dropout_row(b, h, i0 + r) + key;
                s[r * ColumnsPerBlock] = dropout.apply(p, element);   // the weight the forward gave v
                const float dp_kept = dropout.apply(dp[r * ColumnsPerBlock], element);
                dp[r * ColumnsPerBlock] = attended ? p * (dp_kept - row_delta[r]) * scale : 0.0f;
            }
            accumulate_tile<DMAX>(dv, s, ColumnsPerBlock, grads, rows);
            accumulate_tile<DMAX>(dk, dp, ColumnsPerBlock, queries, rows);
        }
        __syncthreads();
    }
    if (!active) return;
    if (prefix) {
        float* row = partial + static_cast<long long>(b) * g.prefix_block() + static_cast<long long>(first + column) * g.head_dim;
        store_vector(row + g.prefix_part(0, h), dk, 1.0f, g.head_dim);
        store_vector(row + g.prefix_part(1, h), dv, 1.0f, g.head_dim);
        return;
    }
    store_vector(dqkv + g.qkv_offset(b, first + column, 1, h), dk, 1.0f, g.head_dim);
    store_vector(dqkv + g.qkv_offset(b, first + column, 2, h), dv, 1.0f, g.head_dim);
}

// The query-row half on tensor cores (bf16): delta and dq as attention_backward_dq computes them. A warp owns 16 query
// rows; per key tile S = Q·Kᵀ and dP = dO·Vᵀ, then dQ += dS·K with dS split into two bf16 parts; against the prefix
// (fp32 bank) the three products run on CUDA cores in fp32, as in the tensor-core forward. Grid (B·H, ⌈T / 64⌉),
// 128 threads: 4 warps of 16 query rows.
template <int DMAX>
__device__ void attention_backward_dq_tc(const bf16* qkv, const float* bank, const int* row_adapter, const int* mask,
                                         const bf16* context, const float* lse, const bf16* dcontext, bf16* dqkv, float* delta,
                                         Geometry g, float dropout_p, const int* seeds, int seed_index)
{
    constexpr int KEYS = 16, ROWS = 64, KSTEPS = DMAX / 16, NTILES = DMAX / 8;
    __shared__ bf16 k_tile[KEYS * DMAX], v_tile[KEYS * DMAX];
    __shared__ float prefix_keys[KEYS * DMAX], prefix_values[KEYS * DMAX], block_lse[ROWS], block_delta[ROWS];
    __shared__ int states[KEYS];
    const int b = blockIdx.x / g.heads, h = blockIdx.x % g.heads, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int group = lane / 4, t = lane % 4;
    const int first = blockIdx.y * ROWS, i0 = first + warp * 16;
    const int adapter = g.prefix_len > 0 ? row_adapter[b] : 0;
    const int* mask_row = mask + static_cast<long long>(b) * g.seq;
    const float scale = 1.0f / sqrtf(static_cast<float>(g.head_dim));
    const Dropout dropout = make_dropout(dropout_p, seeds, seed_index);

    // delta = rowsum(dO ∘ O) and lse of the block's rows
    if (threadIdx.x < ROWS) {
        const int i = first + threadIdx.x;
        float row_delta = 0.0f, row_lse = 0.0f;
        if (i < g.seq) {
            const bf16* o = context + g.context_offset(b, i, h);
            const bf16* dout = dcontext + g.context_offset(b, i, h);
            for (int d = 0; d < g.head_dim; ++d) row_delta += to_float(dout[d]) * to_float(o[d]);
            const long long stat = g.stat(b, h, i);
            delta[stat] = row_delta;
            row_lse = lse[stat];
        }
        block_delta[threadIdx.x] = row_delta;
        block_lse[threadIdx.x] = row_lse;
    }
    // The warp's q and dO as A fragments.
    MmaA q[KSTEPS], dout[KSTEPS];
#pragma unroll
    for (int ks = 0; ks < KSTEPS; ++ks) {
        q[ks] = load_a_rows(qkv + g.qkv_offset(0, 0, 0, h), g.qkv_stride(), g, b, i0, ks * 16);
        dout[ks] = load_a_rows(dcontext + g.context_offset(0, 0, h), g.context_stride(), g, b, i0, ks * 16);
    }
    __syncthreads();
    float row_lse[2], row_delta[2];
    long long dropout_rows[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        row_lse[r] = block_lse[warp * 16 + group + 8 * r];
        row_delta[r] = block_delta[warp * 16 + group + 8 * r];
        dropout_rows[r] = g.dropout_row(b, h, min(i0 + group + 8 * r, g.seq - 1));
    }
    MmaC dq[NTILES];
#pragma unroll
    for (int n = 0; n < NTILES; ++n) dq[n].v[0] = dq[n].v[1] = dq[n].v[2] = dq[n].v[3] = 0.0f;

    for (int start = 0; start < g.columns();) {
        const int count = key_tile_count<KEYS>(g, start);
        const bool prefix = start < g.prefix_len;
        load_key_tile_tc<KEYS, DMAX>(prefix_keys, prefix_values, k_tile, v_tile, g, qkv, bank, adapter, b, h, start, count);
        load_column_states(states, start, count, g.prefix_len, mask_row);
        __syncthreads();

        MmaC s[2], dp[2];   // S and dP: the warp's rows × keys 0-7 and 8-15, C fragments
        if (prefix) {   // fp32 against the bank's keys and values
            product_16x16_fp32<DMAX>(s, q, prefix_keys);
            product_16x16_fp32<DMAX>(dp, dout, prefix_values);
        } else {
            product_16x16<DMAX>(s, q, k_tile);
            product_16x16<DMAX>(dp, dout, v_tile);
        }
        // dScore = p (dP − delta) / √D, dP taken through the dropout mask; padded columns carry no gradient
#pragma unroll
        for (int n = 0; n < 2; ++n)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int r = e / 2, c = n * 8 + 2 * t + e % 2;
                float dscore = 0.0f;
                if (c < count && states[c] == Attended) {
                    const float p = expf(s[n].v[e] * scale - row_lse[r]);
                    dscore = p * (dropout.apply(dp[n].v[e], dropout_rows[r] + start + c) - row_delta[r]) * scale;
                }
                s[n].v[e] = dscore;
            }
        // dQ += dS · K: in fp32 against the prefix, on tensor cores against the tokens
        if (prefix) accumulate_fp32<DMAX>(dq, s, prefix_keys);
        else accumulate_split<DMAX>(dq, s, k_tile);
        __syncthreads();
        start += count;
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int i = i0 + group + 8 * r;
        if (i >= g.seq) continue;
        bf16* out = dqkv + g.qkv_offset(b, i, 0, h);
#pragma unroll
        for (int n = 0; n < NTILES; ++n)
#pragma unroll
            for (int j = 0; j < 2; ++j)
                if (n * 8 + 2 * t + j < g.head_dim) out[n * 8 + 2 * t + j] = to_bf16(dq[n].v[2 * r + j]);
    }
}

// The key-column half on tensor cores (bf16), for token columns only (prefix columns keep the CUDA-core kernel above:
// the bank is fp32). A warp owns 16 key columns and walks the queries 16 at a time: Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ, then
// dV += P̃ᵀ·dO and dK += dSᵀ·Q, the weights entering as two bf16 parts each (mma.cuh, as the tensor-core forward).
// Lane (g, t) holds key columns g and g + 8 of its warp's 16 and queries 2t, 2t + 1 (+ 8) of each score tile.
// Grid (B·H, ⌈T / 64⌉), 128 threads: 4 warps of 16 key columns.
template <int DMAX>
__device__ void attention_backward_dkv_tc(const bf16* qkv, const int* mask, const float* lse, const bf16* dcontext, bf16* dqkv,
                                          const float* delta, Geometry g, float dropout_p, const int* seeds, int seed_index)
{
    constexpr int COLUMNS = 64, QUERIES = 16, KSTEPS = DMAX / 16, NTILES = DMAX / 8;
    __shared__ bf16 queries[QUERIES * DMAX], grads[QUERIES * DMAX];
    __shared__ float row_lse[QUERIES], row_delta[QUERIES];
    const int b = blockIdx.x / g.heads, h = blockIdx.x % g.heads, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int group = lane / 4, t = lane % 4;
    const int first = blockIdx.y * COLUMNS;   // the block's first token column
    const int* mask_row = mask + static_cast<long long>(b) * g.seq;
    const float scale = 1.0f / sqrtf(static_cast<float>(g.head_dim));
    const float padded = padded_score(mask_row, g.seq, g.prefix_len);
    const Dropout dropout = make_dropout(dropout_p, seeds, seed_index);
    const bf16 zero = {0};

    // The warp's 16 keys and values as A fragments.
    MmaA k[KSTEPS], v[KSTEPS];
#pragma unroll
    for (int ks = 0; ks < KSTEPS; ++ks) {
        k[ks] = load_a_rows(qkv + g.qkv_offset(0, 0, 1, h), g.qkv_stride(), g, b, first + warp * 16, ks * 16);
        v[ks] = load_a_rows(qkv + g.qkv_offset(0, 0, 2, h), g.qkv_stride(), g, b, first + warp * 16, ks * 16);
    }
    // This lane's two key columns: token j = first + warp·16 + group (+ 8); key index among the P + T is P + j.
    int column[2];
    bool attended[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        column[r] = first + warp * 16 + group + 8 * r;
        attended[r] = column[r] < g.seq && mask_row[column[r]] != 0;
    }
    MmaC dk[NTILES], dv[NTILES];
#pragma unroll
    for (int n = 0; n < NTILES; ++n)
        dk[n].v[0] = dk[n].v[1] = dk[n].v[2] = dk[n].v[3] = dv[n].v[0] = dv[n].v[1] = dv[n].v[2] = dv[n].v[3] = 0.0f;

    for (int i0 = 0; i0 < g.seq; i0 += QUERIES) {
        const int rows = min(QUERIES, g.seq - i0);
        for (int e = threadIdx.x; e < QUERIES * DMAX; e += blockDim.x) {
            const int r = e / DMAX, d = e % DMAX;
            const bool inside = r < rows && d < g.head_dim;
            queries[e] = inside ? qkv[g.qkv_offset(b, i0 + r, 0, h) + d] : zero;
            grads[e] = inside ? dcontext[g.context_offset(b, i0 + r, h) + d] : zero;
        }
        for (int r = threadIdx.x; r < QUERIES; r += blockDim.x) {
            const long long stat = g.stat(b, h, i0 + r);
            row_lse[r] = r < rows ? lse[stat] : 0.0f;
            row_delta[r] = r < rows ? delta[stat] : 0.0f;
        }
        __syncthreads();

        MmaC st[2], dpt[2];   // Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ: key columns × queries 0-7 and 8-15, C fragments
        product_16x16<DMAX>(st, k, queries);
        product_16x16<DMAX>(dpt, v, grads);
#pragma unroll
        for (int n = 0; n < 2; ++n)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int r = e / 2, q = n * 8 + 2 * t + e % 2;   // key column r of the lane, query q of the tile
                float weight = 0.0f, dscore = 0.0f;
                if (q < rows && column[r] < g.seq) {
                    const float p = expf((attended[r] ? st[n].v[e] * scale : padded) - row_lse[q]);
                    const long long element = g.dropout_row(b, h, i0 + q) + g.prefix_len + column[r];
                    weight = dropout.apply(p, element);   // the weight the forward gave v
                    dscore = attended[r] ? p * (dropout.apply(dpt[n].v[e], element) - row_delta[q]) * scale : 0.0f;
                }
                st[n].v[e] = weight;
                dpt[n].v[e] = dscore;
            }
        // dV += P̃ᵀ · dO and dK += dSᵀ · Q (16 key columns × 16 queries, split in two bf16 parts)
        accumulate_split<DMAX>(dv, st, grads);
        accumulate_split<DMAX>(dk, dpt, queries);
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        if (column[r] >= g.seq) continue;
        bf16* k_out = dqkv + g.qkv_offset(b, column[r], 1, h);
        bf16* v_out = dqkv + g.qkv_offset(b, column[r], 2, h);
#pragma unroll
        for (int n = 0; n < NTILES; ++n)
#pragma unroll
            for (int j = 0; j < 2; ++j) {
                const int d = n * 8 + 2 * t + j;
                if (d < g.head_dim) {
                    k_out[d] = to_bf16(dk[n].v[2 * r + j]);
                    v_out[d] = to_bf16(dv[n].v[2 * r + j]);
                }
            }
    }
}

} // namespace

// ---- entry points: one per precision and DMAX (the launcher picks the smallest DMAX ≥ D) ----

#define ATTENTION_FORWARD_PARAMS(Act)                                                                              \
    const Act *qkv, const float *bank, const int *row_adapter, const int *mask, Act *context, float *lse, int batch, \
        int seq, int heads, int head_dim, int prefix_len, int prefix_layers, int prefix_slot, float dropout,        \
        const int *seeds, int seed_index
#define ATTENTION_FORWARD_ARGS                                                                                      \
    qkv, bank, row_adapter, mask, context, lse, Geometry{batch, seq, heads, head_dim, prefix_len, prefix_layers, prefix_slot}, \
        dropout, seeds, seed_index

// qkv (B·T, 3·H·D), bank (A, Lp, 2, H, P, D) -> context (B·T, H·D), lse (B·H·T)
extern "C" __global__ void __launch_bounds__(64) attention_forward_f32_d32(ATTENTION_FORWARD_PARAMS(float)) { attention_forward<float, 32>(ATTENTION_FORWARD_ARGS); }
extern "C" __global__ void __launch_bounds__(64) attention_forward_f32_d64(ATTENTION_FORWARD_PARAMS(float)) { attention_forward<float, 64>(ATTENTION_FORWARD_ARGS); }
extern "C" __global__ void __launch_bounds__(64) attention_forward_f32_d128(ATTENTION_FORWARD_PARAMS(float)) { attention_forward<float, 128>(ATTENTION_FORWARD_ARGS); }
extern "C" __global__ void __launch_bounds__(64) attention_forward_bf16_d32(ATTENTION_FORWARD_PARAMS(bf16)) { attention_forward<bf16, 32>(ATTENTION_FORWARD_ARGS); }
extern "C" __global__ void __launch_bounds__(64) attention_forward_bf16_d64(ATTENTION_FORWARD_PARAMS(bf16)) { attention_forward<bf16, 64>(ATTENTION_FORWARD_ARGS); }
extern "C" __global__ void __launch_bounds__(64) attention_forward_bf16_d128(ATTENTION_FORWARD_PARAMS(bf16)) { attention_forward<bf16, 128>(ATTENTION_FORWARD_ARGS); }
// the same on tensor cores (bf16 only)
extern "C" __global__ void __launch_bounds__(128) attention_forward_tc_bf16_d32(ATTENTION_FORWARD_PARAMS(bf16)) { attention_forward_tc<32>(ATTENTION_FORWARD_ARGS); }
extern "C" __global__ void __launch_bounds__(128) attention_forward_tc_bf16_d64(ATTENTION_FORWARD_PARAMS(bf16)) { attention_forward_tc<64>(ATTENTION_FORWARD_ARGS); }
extern "C" __global__ void __launch_bounds__(128) attention_forward_tc_bf16_d128(ATTENTION_FORWARD_PARAMS(bf16)) { attention_forward_tc<128>(ATTENTION_FORWARD_ARGS); }

#define ATTENTION_DQ_PARAMS(Act)                                                                                   \
    const Act *qkv, const float *bank, const int *row_adapter, const int *mask, const Act *context, const float *lse, \
        const Act *dcontext, Act *dqkv, float *delta, int batch, int seq, int heads, int head_dim, int prefix_len,    \
        int prefix_layers, int prefix_slot, float dropout, const int *seeds, int seed_index
#define ATTENTION_DQ_ARGS                                                                                           \
    qkv, bank, row_adapter, mask, context, lse, dcontext, dqkv, delta,                                              \
        Geometry{batch, seq, heads, head_dim, prefix_len, prefix_layers, prefix_slot}, dropout, seeds, seed_index

// qkv, bank, context, lse, dContext (B·T, H·D) -> dQkv q columns (overwritten), delta (B·H·T)
extern "C" __global__ void __launch_bounds__(64) attention_backward_dq_f32_d32(ATTENTION_DQ_PARAMS(float)) { attention_backward_dq<float, 32>(ATTENTION_DQ_ARGS); }
extern "C" __global__ void __launch_bounds__(64) attention_backward_dq_f32_d64(ATTENTION_DQ_PARAMS(float)) { attention_backward_dq<float, 64>(ATTENTION_DQ_ARGS); }
extern "C" __global__ void __launch_bounds__(64) attention_backward_dq_f32_d128(ATTENTION_DQ_PARAMS(float)) { attention_backward_dq<float, 128>(ATTENTION_DQ_ARGS); }
extern "C" __global__ void __launch_bounds__(64) attention_backward_dq_bf16_d32(ATTENTION_DQ_PARAMS(bf16)) { attention_backward_dq<bf16, 32>(ATTENTION_DQ_ARGS); }
extern "C" __global__ void __launch_bounds__(64) attention_backward_dq_bf16_d64(ATTENTION_DQ_PARAMS(bf16)) { attention_backward_dq<bf16, 64>(ATTENTION_DQ_ARGS); }
extern "C" __global__ void __launch_bounds__(64) attention_backward_dq_bf16_d128(ATTENTION_DQ_PARAMS(bf16)) { attention_backward_dq<bf16, 128>(ATTENTION_DQ_ARGS); }
// the same on tensor cores (bf16 only)
extern "C" __global__ void __launch_bounds__(128) attention_backward_dq_tc_bf16_d32(ATTENTION_DQ_PARAMS(bf16)) { attention_backward_dq_tc<32>(ATTENTION_DQ_ARGS); }
extern "C" __global__ void __launch_bounds__(128) attention_backward_dq_tc_bf16_d64(ATTENTION_DQ_PARAMS(bf16)) { attention_backward_dq_tc<64>(ATTENTION_DQ_ARGS); }
extern "C" __global__ void __launch_bounds__(128) attention_backward_dq_tc_bf16_d128(ATTENTION_DQ_PARAMS(bf16)) { attention_backward_dq_tc<128>(ATTENTION_DQ_ARGS); }

#define ATTENTION_DKV_PARAMS(Act)                                                                                  \
    const Act *qkv, const float *bank, const int *row_adapter, const int *mask, const float *lse, const Act *dcontext, \
        Act *dqkv, const float *delta, float *partial, int prefix_tiles, int batch, int seq, int heads, int head_dim,  \
        int prefix_len, int prefix_layers, int prefix_slot, float dropout, const int *seeds, int seed_index
#define ATTENTION_DKV_ARGS                                                                                          \
    qkv, bank, row_adapter, mask, lse, dcontext, dqkv, delta, partial, prefix_tiles,                                \
        Geometry{batch, seq, heads, head_dim, prefix_len, prefix_layers, prefix_slot}, dropout, seeds, seed_index

// qkv, bank, lse, dContext, delta -> dQkv k and v columns (overwritten), per-row prefix gradients partial (B, 2, H, P, D)
extern "C" __global__ void __launch_bounds__(32) attention_backward_dkv_f32_d32(ATTENTION_DKV_PARAMS(float)) { attention_backward_dkv<float, 32>(ATTENTION_DKV_ARGS); }
extern "C" __global__ void __launch_bounds__(32) attention_backward_dkv_f32_d64(ATTENTION_DKV_PARAMS(float)) { attention_backward_dkv<float, 64>(ATTENTION_DKV_ARGS); }
extern "C" __global__ void __launch_bounds__(32) attention_backward_dkv_f32_d128(ATTENTION_DKV_PARAMS(float)) { attention_backward_dkv<float, 128>(ATTENTION_DKV_ARGS); }
extern "C" __global__ void __launch_bounds__(32) attention_backward_dkv_bf16_d32(ATTENTION_DKV_PARAMS(bf16)) { attention_backward_dkv<bf16, 32>(ATTENTION_DKV_ARGS); }
extern "C" __global__ void __launch_bounds__(32) attention_backward_dkv_bf16_d64(ATTENTION_DKV_PARAMS(bf16)) { attention_backward_dkv<bf16, 64>(ATTENTION_DKV_ARGS); }
extern "C" __global__ void __launch_bounds__(32) attention_backward_dkv_bf16_d128(ATTENTION_DKV_PARAMS(bf16)) { attention_backward_dkv<bf16, 128>(ATTENTION_DKV_ARGS); }

// dk, dv of the token columns on tensor cores (bf16 only): qkv, mask, lse, dcontext, delta -> dqkv's k and v columns
#define ATTENTION_DKV_TC_PARAMS                                                                                      \
    const bf16 *qkv, const int *mask, const float *lse, const bf16 *dcontext, bf16 *dqkv, const float *delta, int batch, \
        int seq, int heads, int head_dim, int prefix_len, int prefix_layers, int prefix_slot, float dropout,          \
        const int *seeds, int seed_index
#define ATTENTION_DKV_TC_ARGS                                                                                        \
    qkv, mask, lse, dcontext, dqkv, delta, Geometry{batch, seq, heads, head_dim, prefix_len, prefix_layers, prefix_slot}, \
        dropout, seeds, seed_index
extern "C" __global__ void __launch_bounds__(128) attention_backward_dkv_tc_bf16_d32(ATTENTION_DKV_TC_PARAMS) { attention_backward_dkv_tc<32>(ATTENTION_DKV_TC_ARGS); }
extern "C" __global__ void __launch_bounds__(128) attention_backward_dkv_tc_bf16_d64(ATTENTION_DKV_TC_PARAMS) { attention_backward_dkv_tc<64>(ATTENTION_DKV_TC_ARGS); }
extern "C" __global__ void __launch_bounds__(128) attention_backward_dkv_tc_bf16_d128(ATTENTION_DKV_TC_PARAMS) { attention_backward_dkv_tc<128>(ATTENTION_DKV_TC_ARGS); }

// partial (B, 2·H·P·D) -> dBank (A, Lp, 2, H, P, D) at slot `prefix_slot` of each row's adapter, += in batch-row order:
// the thread of element e handles every adapter, each at the first batch row that uses it. Grid-stride, capped grid.
extern "C" __global__ void attention_prefix_grad_reduce(float* dbank, const float* partial, const int* row_adapter, int batch,
                                                        int prefix_layers, int prefix_slot, long long per_row)
{
    for (long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; e < per_row;
         e += static_cast<long long>(gridDim.x) * blockDim.x) {
        for (int b = 0; b < batch; ++b) {
            const int adapter = row_adapter[b];
            bool first = true;
            for (int earlier = 0; earlier < b && first; ++earlier) first = row_adapter[earlier] != adapter;
            if (!first) continue;
            float* target = dbank + (static_cast<long long>(adapter) * prefix_layers + prefix_slot) * per_row + e;
            float sum = *target;
            for (int later = b; later < batch; ++later)
                if (row_adapter[later] == adapter) sum += partial[static_cast<long long>(later) * per_row + e];
            *target = sum;
        }
    }
}
