// layernorm.cu — LayerNorm at the two places the encoder needs it: embeddings + LayerNorm (+ dropout), and the end
// of an attention or feed-forward block, sum = dropout(branch + bias) + residual -> LayerNorm(sum), with its backward.
//
// Conventions: one warp per row (grid-stride over rows); T is the activation type (float or bf16), statistics are
// fp32 with the biased variance, computed two-pass (mean, then the mean square of x − mean) like the CPU reference.
// The backbone is frozen: no gamma/beta gradients. The backward writes the residual gradient and the branch
// gradient in one pass, both overwritten (=). Dropout element indices are row · cols + column.
#include "ops.cuh"
#include "dropout.cuh"

// Normalised output of one element: (x − mean) · rstd · gamma + beta.
template <class T> __device__ __forceinline__ float normalize(float x, float mean, float rstd, const T* gamma, const T* beta, int c) {
    return fmaf((x - mean) * rstd, to_float(gamma[c]), to_float(beta[c]));
}

// ids, positions, types (rows) int; word, position, type tables (·, cols); gamma, beta (cols) -> out (rows, cols):
// out = dropout(LayerNorm(word[id] + position[pos] + type[type])). The gathered sum is recomputed in each of the
// three passes (mean, variance, output) instead of being kept: any width works, and the tables stay in cache.
template <class T>
__device__ void embed_layernorm(T* out, const int* ids, const int* positions, const int* types, const T* word, const T* position,
                                const T* type, const T* gamma, const T* beta, int rows, int cols, float eps,
                                float p, const int* seeds, int seed_index) {
    const int lane = lane_id();
    const Dropout drop = make_dropout(p, seeds, seed_index);
    for (long long r = grid_warp(); r < rows; r += grid_warps()) {
        const T* w = word + static_cast<long long>(ids[r]) * cols;
        const T* p = position + static_cast<long long>(positions[r]) * cols;
        const T* t = type + static_cast<long long>(types[r]) * cols;
        float sum = 0;
        for (int c = lane; c < cols; c += 32) sum += to_float(w[c]) + to_float(p[c]) + to_float(t[c]);
        const float mean = warp_reduce(sum, SumOp()) / cols;
        float square = 0;
        for (int c = lane; c < cols; c += 32) {
            const float d = to_float(w[c]) + to_float(p[c]) + to_float(t[c]) - mean;
            square += d * d;
        }
        const float rstd = 1.0f / sqrtf(warp_reduce(square, SumOp()) / cols + eps);
        T* o = out + r * cols;
        for (int c = lane; c < cols; c += 32) {
            float y = normalize(to_float(w[c]) + to_float(p[c]) + to_float(t[c]), mean, rstd, gamma, beta, c);
            y = drop.apply(y, r * cols + c);
            o[c] = from_float<T>(y);
        }
    }
}
extern "C" __global__ void embed_layernorm_f32(float* out, const int* ids, const int* positions, const int* types, const float* word,
                                               const float* position, const float* type, const float* gamma, const float* beta,
                                               int rows, int cols, float eps, float p, const int* seeds, int seed_index) {
    embed_layernorm(out, ids, positions, types, word, position, type, gamma, beta, rows, cols, eps, p, seeds, seed_index);
}
extern "C" __global__ void embed_layernorm_bf16(bf16* out, const int* ids, const int* positions, const int* types, const bf16* word,
                                                const bf16* position, const bf16* type, const bf16* gamma, const bf16* beta,
                                                int rows, int cols, float eps, float p, const int* seeds, int seed_index) {
    embed_layernorm(out, ids, positions, types, word, position, type, gamma, beta, rows, cols, eps, p, seeds, seed_index);
}

// branch, residual (rows, cols), bias, gamma, beta (cols) -> sum, out (rows, cols); mean, rstd (rows) fp32:
// sum = dropout(branch + bias) + residual is stored for the backward; the statistics and the output are computed from
// the fp32 sum before it is rounded to T (recomputed in each pass, like the embeddings), so a bf16 output is rounded
// once. out must not alias the inputs.
template <class T>
__device__ __forceinline__ float residual_sum(const T* branch, const T* bias, const T* residual, const Dropout& drop, long long at, int c) {
    return drop.apply(to_float(branch[at + c]) + to_float(bias[c]), at + c) + to_float(residual[at + c]);
}

template <class T>
__device__ void residual_layernorm(T* sum, T* out, float* mean_out, float* rstd_out, const T* branch, const T* bias, const T* residual,
                                   const T* gamma, const T* beta, int rows, int cols, float eps,
                                   float p, const int* seeds, int seed_index) {
    const int lane = lane_id();
    const Dropout drop = make_dropout(p, seeds, seed_index);
    for (long long r = grid_warp(); r < rows; r += grid_warps()) {
        const long long at = r * cols;
        float total = 0;
        for (int c = lane; c < cols; c += 32) {
            const float x = residual_sum(branch, bias, residual, drop, at, c);
            sum[at + c] = from_float<T>(x);
            total += x;
        }
        const float mean = warp_reduce(total, SumOp()) / cols;
        float square = 0;
        for (int c = lane; c < cols; c += 32) {
            const float d = residual_sum(branch, bias, residual, drop, at, c) - mean;
            square += d * d;
        }
        const float rstd = 1.0f / sqrtf(warp_reduce(square, SumOp()) / cols + eps);
        for (int c = lane; c < cols; c += 32)
            out[at + c] = from_float<T>(normalize(residual_sum(branch, bias, residual, drop, at, c), mean, rstd, gamma, beta, c));
        if (lane == 0) {
            mean_out[r] = mean;
            rstd_out[r] = rstd;
        }
    }
}
extern "C" __global__ void residual_layernorm_f32(float* sum, float* out, float* mean, float* rstd, const float* branch, const float* bias,
                                                  const float* residual, const float* gamma, const float* beta, int rows, int cols, float eps,
                                                  float p, const int* seeds, int seed_index) {
    residual_layernorm(sum, out, mean, rstd, branch, bias, residual, gamma, beta, rows, cols, eps, p, seeds, seed_index);
}
extern "C" __global__ void residual_layernorm_bf16(bf16* sum, bf16* out, float* mean, float* rstd, const bf16* branch, const bf16* bias,
                                                   const bf16* residual, const bf16* gamma, const bf16* beta, int rows, int cols, float eps,
                                                   float p, const int* seeds, int seed_index) {
    residual_layernorm(sum, out, mean, rstd, branch, bias, residual, gamma, beta, rows, cols, eps, p, seeds, seed_index);
}

// d_out, sum (rows, cols), gamma (cols), mean, rstd (rows) -> d_residual (rows, cols; may be null), d_branch (rows, cols):
// d_sum = rstd · (g − mean(g) − x̂ · mean(g · x̂)) with g = d_out · gamma, x̂ = (sum − mean) · rstd;
// d_residual = d_sum, d_branch = d_sum · the forward's dropout mask.
template <class T>
__device__ void residual_layernorm_backward(T* d_residual, T* d_branch, const T* d_out, const T* sum, const T* gamma, const float* mean,
                                            const float* rstd, int rows, int cols, float p, const int* seeds, int seed_index) {
    const int lane = lane_id();
    const Dropout drop = make_dropout(p, seeds, seed_index);
    for (long long r = grid_warp(); r < rows; r += grid_warps()) {
        const long long at = r * cols;
        const float m = mean[r], rs = rstd[r];
        float g_sum = 0, gx_sum = 0;
        for (int c = lane; c < cols; c += 32) {
            const float g = to_float(d_out[at + c]) * to_float(gamma[c]);
            g_sum += g;
            gx_sum += g * ((to_float(sum[at + c]) - m) * rs);
        }
        const float mean_g = warp_reduce(g_sum, SumOp()) / cols, mean_gx = warp_reduce(gx_sum, SumOp()) / cols;
        for (int c = lane; c < cols; c += 32) {
            const float g = to_float(d_out[at + c]) * to_float(gamma[c]);
            const float x_hat = (to_float(sum[at + c]) - m) * rs;
            const float d = rs * (g - mean_g - x_hat * mean_gx);
            if (d_residual) d_residual[at + c] = from_float<T>(d);
            d_branch[at + c] = from_float<T>(drop.apply(d, at + c));
        }
    }
}
extern "C" __global__ void residual_layernorm_backward_f32(float* d_residual, float* d_branch, const float* d_out, const float* sum,
                                                           const float* gamma, const float* mean, const float* rstd, int rows, int cols,
                                                           float p, const int* seeds, int seed_index) {
    residual_layernorm_backward(d_residual, d_branch, d_out, sum, gamma, mean, rstd, rows, cols, p, seeds, seed_index);
}
extern "C" __global__ void residual_layernorm_backward_bf16(bf16* d_residual, bf16* d_branch, const bf16* d_out, const bf16* sum,
                                                            const bf16* gamma, const float* mean, const float* rstd, int rows, int cols,
                                                            float p, const int* seeds, int seed_index) {
    residual_layernorm_backward(d_residual, d_branch, d_out, sum, gamma, mean, rstd, rows, cols, p, seeds, seed_index);
}
