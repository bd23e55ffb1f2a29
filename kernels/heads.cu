// heads.cu — task heads and their loss: a banked linear layer (one head per task, a task index per row) forward and
// backward, and the softmax cross entropy that writes the mean loss and the logits' gradient on the device.
//
// Conventions: x and dx are the activation type T (float or bf16); weights, biases, logits, their gradients and the
// loss are fp32. Parameter gradients accumulate (+=) and activation gradients overwrite (=). Nothing here uses
// float atomics: each output element is owned by one thread and summed in a fixed order, so results are
// deterministic; the bias gradient is summed in double in row order, as the CPU reference does, so the loss's
// zero-sum rows cancel exactly where they should.
#include "ops.cuh"

// x (R, C) T, w (tasks, O, C), b (tasks, O), task (R) int -> y (R, O) = x w[task]ᵀ + b[task]; one thread per output.
template <class T>
__device__ void banked_linear(float* y, const T* x, const float* w, const float* b, const int* task, int rows, int cols, int outputs) {
    const long long n = static_cast<long long>(rows) * outputs;
    for (long long i = grid_thread(); i < n; i += grid_threads()) {
        const long long r = i / outputs, o = i % outputs, head = static_cast<long long>(task[r]) * outputs + o;
        const T* xr = x + r * cols;
        const float* wr = w + head * cols;
        float dot = 0;
        for (int c = 0; c < cols; ++c) dot += to_float(xr[c]) * wr[c];
        y[i] = dot + b[head];
    }
}
extern "C" __global__ void banked_linear_f32(float* y, const float* x, const float* w, const float* b, const int* task, int rows, int cols, int outputs) {
    banked_linear(y, x, w, b, task, rows, cols, outputs);
}
extern "C" __global__ void banked_linear_bf16(float* y, const bf16* x, const float* w, const float* b, const int* task, int rows, int cols, int outputs) {
    banked_linear(y, x, w, b, task, rows, cols, outputs);
}

// dy (R, O), w (tasks, O, C), task (R) -> dx (R, C) T = dy w[task] (=); one thread per element of dx.
template <class T>
__device__ void banked_linear_backward_input(T* dx, const float* dy, const float* w, const int* task, int rows, int cols, int outputs) {
    const long long n = static_cast<long long>(rows) * cols;
    for (long long i = grid_thread(); i < n; i += grid_threads()) {
        const long long r = i / cols, c = i % cols;
        const float* wt = w + static_cast<long long>(task[r]) * outputs * cols + c;
        float sum = 0;
        for (int o = 0; o < outputs; ++o) sum += dy[r * outputs + o] * wt[static_cast<long long>(o) * cols];
        dx[i] = from_float<T>(sum);
    }
}
extern "C" __global__ void banked_linear_backward_input_f32(float* dx, const float* dy, const float* w, const int* task, int rows, int cols, int outputs) {
    banked_linear_backward_input(dx, dy, w, task, rows, cols, outputs);
}
extern "C" __global__ void banked_linear_backward_input_bf16(bf16* dx, const float* dy, const float* w, const int* task, int rows, int cols, int outputs) {
    banked_linear_backward_input(dx, dy, w, task, rows, cols, outputs);
}

// dy (R, O), x (R, C) T, task (R) -> dw (tasks, O, C) += Σ over rows of that task of dy[r, o] · x[r, c], rows in
// order; one thread per element of dw (the weights of a head are few, rows many: each thread walks every row).
template <class T>
__device__ void banked_linear_backward_weight(float* dw, const float* dy, const T* x, const int* task, int rows, int cols, int outputs, int tasks) {
    const long long n = static_cast<long long>(tasks) * outputs * cols;
    for (long long i = grid_thread(); i < n; i += grid_threads()) {
        const long long c = i % cols, head = i / cols;
        const int t = static_cast<int>(head / outputs), o = static_cast<int>(head % outputs);
        float acc = dw[i];
        for (int r = 0; r < rows; ++r) {
            if (task[r] != t) continue;
            const float g = dy[static_cast<long long>(r) * outputs + o];
            if (g != 0.0f) acc += g * to_float(x[static_cast<long long>(r) * cols + c]);
        }
        dw[i] = acc;
    }
}
extern "C" __global__ void banked_linear_backward_weight_f32(float* dw, const float* dy, const float* x, const int* task, int rows, int cols,
                                                             int outputs, int tasks) {
    banked_linear_backward_weight(dw, dy, x, task, rows, cols, outputs, tasks);
}
extern "C" __global__ void banked_linear_backward_weight_bf16(float* dw, const float* dy, const bf16* x, const int* task, int rows, int cols,
                                                              int outputs, int tasks) {
    banked_linear_backward_weight(dw, dy, x, task, rows, cols, outputs, tasks);
}

// dy (R, O), task (R) -> db (tasks, O) += Σ over rows of that task of dy, summed in double in row order.
extern "C" __global__ void banked_linear_backward_bias(float* db, const float* dy, const int* task, int rows, int outputs, int tasks) {
    const long long n = static_cast<long long>(tasks) * outputs;
    for (long long i = grid_thread(); i < n; i += grid_threads()) {
        const int t = static_cast<int>(i / outputs), o = static_cast<int>(i % outputs);
        double sum = 0;
        for (int r = 0; r < rows; ++r)
            if (task[r] == t) sum += dy[static_cast<long long>(r) * outputs + o];
        db[i] = static_cast<float>(db[i] + sum);
    }
}

#define IGNORE_INDEX (-100)

// Softmax cross entropy over `rows` rows of `classes` logits, element (r, c) at logits[r · row_stride + c · class_stride]
// (pointers already at the first element), d_logits in the same layout; label (rows) int, -100 ignores a row;
// class_limit (one int, or null): classes at or above it take no part and get gradient 0.
// loss[0], loss[1] (+)= weight · Σ CE / kept as a float pair (high, low); d_logits = weight · (softmax − onehot) / kept,
// rounded as Backends.CrossEntropyGrid does: entries are integers times a step 2^(e − 24), 2^e > 2 · weight / kept,
// rounded from their running sum, the label's entry minus the sum of the others — every row sums to exactly 0.
// One block (its size a multiple of 32): rows are spread over its threads, the loss is summed in double in a fixed
// tree order.
extern "C" __global__ void cross_entropy(float* d_logits, float* loss, const float* logits, long long row_stride, long long class_stride,
                                         int rows, int classes, const int* label, const int* class_limit, float weight, int accumulate) {
    __shared__ int kept_rows;
    const int used = class_limit ? min(classes, class_limit[0]) : classes;
    if (threadIdx.x == 0) kept_rows = 0;
    __syncthreads();
    int mine = 0;
    for (int r = threadIdx.x; r < rows; r += blockDim.x) mine += label[r] != IGNORE_INDEX;
    atomicAdd(&kept_rows, mine);   // an integer count: the same whatever the order
    __syncthreads();
    const int kept = kept_rows;

    // The gradient grid of CrossEntropyGrid.
    const double scale = kept == 0 ? 0.0 : weight / static_cast<double>(kept);
    const int e = scale > 0 ? ilogb(2 * scale) + 1 : 0;
    const double step = ldexp(1.0, e - 24), steps = scale / step;

    double partial = 0;
    for (int r = threadIdx.x; r < rows; r += blockDim.x) {
        const float* x = logits + r * row_stride;
        float* d = d_logits + r * row_stride;
        const int y = label[r];
        for (int c = used; c < classes; ++c) d[c * class_stride] = 0;
        if (y == IGNORE_INDEX) {
            for (int c = 0; c < used; ++c) d[c * class_stride] = 0;
            continue;
        }
        double max = negative_infinity_double();
        for (int c = 0; c < used; ++c) max = fmax(max, static_cast<double>(x[c * class_stride]));
        double z = 0;
        for (int c = 0; c < used; ++c) z += exp(x[c * class_stride] - max);
        const double log_z = max + log(z);
        partial += log_z - x[y * class_stride];
        double running = 0;
        long long rounded = 0;
        for (int c = 0; c < used; ++c) {
            if (c == y) continue;
            running += exp(x[c * class_stride] - log_z) * steps;
            const long long next = static_cast<long long>(rint(running));   // half to even, as Math.Round
            d[c * class_stride] = static_cast<float>((next - rounded) * step);
            rounded = next;
        }
        d[y * class_stride] = static_cast<float>(-rounded * step);
    }
    const double sum = block_sum(partial);
    if (threadIdx.x == 0) {
        double total = kept == 0 ? 0.0 : weight * sum / kept;
        if (accumulate) total += static_cast<double>(loss[0]) + loss[1];
        loss[0] = static_cast<float>(total);
        loss[1] = static_cast<float>(total - static_cast<double>(loss[0]));
    }
}
