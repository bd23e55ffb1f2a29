// optimizer.cu — the global gradient norm (with the clip coefficient) and the AdamW update.
//
// Conventions: parameters, gradients and moments are fp32. The norm is a fixed-order two-stage reduction in double
// (no atomics): each tensor's blocks write partial sums of squares into a workspace, then one block sums them all,
// so the result never depends on timing. The values that change every step (learning rate, bias corrections, the
// clip coefficient) are read from device memory, so a captured step replays with each step's own values.
#include "ops.cuh"

// g (n) -> partial[blockIdx.x] = Σ g² over the block's share of the grid-stride loop, in double.
extern "C" __global__ void grad_norm_partial(double* partial, const float* g, long long n) {
    double sum = 0;
    for (long long i = grid_thread(); i < n; i += grid_threads()) sum += static_cast<double>(g[i]) * g[i];
    sum = block_sum(sum);
    if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

// partial (count) -> out[0] = √Σ (the global norm), out[1] = min(1, max_norm / (norm + 1e-6)), or 1 when
// max_norm ≤ 0 or the norm is not finite. One block.
extern "C" __global__ void grad_norm_finish(float* out, const double* partial, int count, float max_norm) {
    double sum = 0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) sum += partial[i];
    sum = block_sum(sum);
    if (threadIdx.x == 0) {
        const double norm = sqrt(sum);
        out[0] = static_cast<float>(norm);
        out[1] = max_norm > 0 && is_finite(norm) ? static_cast<float>(fmin(1.0, max_norm / (norm + 1e-6))) : 1.0f;
    }
}

// param, grad, m, v (n); scalars = (lr, step size = lr / (1 − β1^t), 1 / √(1 − β2^t)); clip (one float):
// g = grad · clip; m = β1 m + (1 − β1) g; v = β2 v + (1 − β2) g²; param = param · (1 − lr · decay) − step size · m / (√v / √(1 − β2^t) + eps).
extern "C" __global__ void adamw(float* param, const float* grad, float* m, float* v, long long n, const float* scalars, const float* clip,
                                 float beta1, float beta2, float eps, float weight_decay) {
    const float lr = scalars[0], step_size = scalars[1], inv_sqrt_bc2 = scalars[2], c = clip[0];
    const float decay = 1.0f - lr * weight_decay;
    for (long long i = grid_thread(); i < n; i += grid_threads()) {
        const float g = grad[i] * c;
        const float mi = beta1 * m[i] + (1 - beta1) * g;
        const float vi = beta2 * v[i] + (1 - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] * decay - step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}
