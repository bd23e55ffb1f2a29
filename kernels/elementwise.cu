// elementwise.cu — the backend's elementwise ops: add, copy into a ring slot, bias + activation and its backward,
// dropout (forward and backward are the same mask multiply), column sums in double, the prefix layout permutation.
//
// Conventions: outputs overwrite (=); T is the element type (float, or bf16 for activations in bf16 mode),
// arithmetic is fp32 and each stored value is rounded once. Every kernel is a grid-stride loop (ops.cuh), so
// launchers choose the grid freely. Activations: 0 none, 1 GELU (exact erf form), 2 tanh (Backends.Activation).
#include "ops.cuh"
#include "dropout.cuh"

#define ACTIVATION_NONE 0
#define ACTIVATION_GELU 1
#define ACTIVATION_TANH 2

__device__ __forceinline__ float activate(float x, int activation) {
    if (activation == ACTIVATION_GELU) return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    if (activation == ACTIVATION_TANH) return tanhf(x);
    return x;
}

// a, b, out (n); out may alias a or b
template <class T> __device__ void add(T* out, const T* a, const T* b, long long n) {
    for (long long i = grid_thread(); i < n; i += grid_threads()) out[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
}
extern "C" __global__ void add_f32(float* out, const float* a, const float* b, long long n) { add(out, a, b, n); }
extern "C" __global__ void add_bf16(bf16* out, const bf16* a, const bf16* b, long long n) { add(out, a, b, n); }

// src (count) -> dst[slot[0] · count ..] (count): a step records its results into the ring row staged with it
extern "C" __global__ void copy_to_slot_f32(float* dst, const float* src, const int* slot, int count) {
    const long long start = static_cast<long long>(slot[0]) * count;
    for (long long i = grid_thread(); i < count; i += grid_threads()) dst[start + i] = src[i];
}

// x (rows, cols) += bias (cols), kept as the pre-activation; y (rows, cols) = act(x). y may be x.
// The activation takes the fp32 sum, before x is rounded to T: a bf16 output is rounded once.
template <class T>
__device__ void bias_activation(T* x, const T* bias, T* y, long long rows, int cols, int activation) {
    const long long n = rows * cols;
    for (long long i = grid_thread(); i < n; i += grid_threads()) {
        const float pre = to_float(x[i]) + to_float(bias[i % cols]);
        x[i] = from_float<T>(pre);
        if (activation != ACTIVATION_NONE || y != x) y[i] = from_float<T>(activate(pre, activation));
    }
}
extern "C" __global__ void bias_activation_f32(float* x, const float* bias, float* y, long long rows, int cols, int activation) {
    bias_activation(x, bias, y, rows, cols, activation);
}
extern "C" __global__ void bias_activation_bf16(bf16* x, const bf16* bias, bf16* y, long long rows, int cols, int activation) {
    bias_activation(x, bias, y, rows, cols, activation);
}

// dy, saved, dx (n): dx = dy · act'. GELU reads the pre-activation x (Φ(x) + x φ(x)), tanh its output y (1 − y²).
// dx may alias dy.
template <class T>
__device__ void activation_backward(const T* dy, const T* saved, T* dx, long long n, int activation) {
    for (long long i = grid_thread(); i < n; i += grid_threads()) {
        const float g = to_float(dy[i]), s = to_float(saved[i]);
        float d = g;
        if (activation == ACTIVATION_GELU) {
            const float cdf = 0.5f * (1.0f + erff(s * 0.70710678118654752f));
            const float pdf = 0.39894228040143267794f * expf(-0.5f * s * s);
            d = g * (cdf + s * pdf);
        } else if (activation == ACTIVATION_TANH) {
            d = g * (1.0f - s * s);
        }
        dx[i] = from_float<T>(d);
    }
}
extern "C" __global__ void activation_backward_f32(const float* dy, const float* saved, float* dx, long long n, int activation) {
    activation_backward(dy, saved, dx, n, activation);
}
extern "C" __global__ void activation_backward_bf16(const bf16* dy, const bf16* saved, bf16* dx, long long n, int activation) {
    activation_backward(dy, saved, dx, n, activation);
}

// x, y (n): y = dropout(x) with probability p, element indices 0..n-1 (dropout.cuh). y may alias x. The backward is
// this kernel on the gradient with the same seed.
template <class T>
__device__ void dropout(const T* x, T* y, long long n, float p, const int* seeds, int seed_index) {
    const Dropout drop = make_dropout(p, seeds, seed_index);
    for (long long i = grid_thread(); i < n; i += grid_threads()) y[i] = from_float<T>(drop.apply(to_float(x[i]), i));
}
extern "C" __global__ void dropout_f32(const float* x, float* y, long long n, float p, const int* seeds, int seed_index) {
    dropout(x, y, n, p, seeds, seed_index);
}
extern "C" __global__ void dropout_bf16(const bf16* x, bf16* y, long long n, float p, const int* seeds, int seed_index) {
    dropout(x, y, n, p, seeds, seed_index);
}

// dy (rows, cols) -> db (cols): db (+)= column sums, each summed in double over the rows in order (one thread per
// column: deterministic, and the CPU reference's order), then rounded once.
extern "C" __global__ void column_sums_f32(float* db, const float* dy, int rows, int cols, int accumulate) {
    for (long long c = grid_thread(); c < cols; c += grid_threads()) {
        double sum = 0;
        for (int r = 0; r < rows; ++r) sum += dy[static_cast<long long>(r) * cols + c];
        db[c] = static_cast<float>((accumulate ? static_cast<double>(db[c]) : 0.0) + sum);
    }
}

// Prefix layouts: peft (P, lanes, D) <-> bank (lanes, P, D), lanes = layers · 2 · heads (key/value, head).
// to_peft: src is the bank, dst the PEFT layout; else the other way round.
extern "C" __global__ void permute_prefix_f32(float* dst, const float* src, int prefix_len, int lanes, int head_dim, int to_peft) {
    const long long n = static_cast<long long>(prefix_len) * lanes * head_dim;
    for (long long i = grid_thread(); i < n; i += grid_threads()) {
        const long long d = i % head_dim, row = i / head_dim;   // row of the bank layout: lane · P + p
        const long long lane = row / prefix_len, p = row % prefix_len;
        const long long peft = (p * lanes + lane) * head_dim + d;
        if (to_peft) dst[peft] = src[i];
        else dst[i] = src[peft];
    }
}
