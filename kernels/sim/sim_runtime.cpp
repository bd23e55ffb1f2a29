// sim_runtime.cpp — the simulated GPU: runs a kernel's grid on host threads, one fiber per CUDA thread.
//
// A block runs on one host thread. Its threads are fibers with their own stacks (reused from launch to
// launch); a fiber runs until it reaches a block barrier, a warp primitive or its end, then the scheduler
// runs the next one. Warps run one after another: the scheduler resumes a warp's lanes until none can go
// on, completes the warp primitives whose lanes have all arrived, and repeats; when every live thread of
// the block waits at a barrier, the barrier opens. Fibers switch with a few instructions (no system call,
// unlike swapcontext, which saves the signal mask). Blocks are handed to a small pool of host threads;
// results do not depend on which thread ran a block, only float atomics across blocks reorder (as on a GPU).
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>

#if !defined(__x86_64__) || defined(FP_SIM_UCONTEXT)
#define FP_SIM_USE_UCONTEXT 1
#include <ucontext.h>
#endif

#define FP_EXPORT extern "C" __attribute__((visibility("default")))

namespace fp_sim {

std::vector<KernelInfo>& registry() {
    static std::vector<KernelInfo> kernels;
    return kernels;
}

namespace {

// Fiber stacks: StackBytes (cuda_sim.h) each, aligned to their size, lowest page a guard (an overflow faults
// instead of corrupting memory), the Fiber* in the top 16 bytes. Kernels keep little on the stack; pages are
// touched lazily.
constexpr size_t GuardBytes = 4096;

enum State : unsigned char { Runnable, AtBarrier, AtWarpOp, Done, Failed };

struct Launch;
struct Worker;

struct Fiber : Thread {
    Worker* worker;
    State state;
    int barrier_kind, barrier_predicate, barrier_result;
    char* stack;
    unsigned index;           // position in the worker's pool: staggers the stack tops (see prepare)
#ifdef FP_SIM_USE_UCONTEXT
    ucontext_t context;
#endif
};

struct Launch {
    const KernelInfo* kernel;
    void** args;
    dim3 grid, block;
    unsigned shared_bytes;
    long long total_blocks;
    std::atomic<long long> next_block{0};
    std::atomic<bool> failed{false};
    std::atomic<long long> resumes{0};
    std::mutex error_mutex;
    std::string error;

    void fail(const std::string& message) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!failed.exchange(true)) error = message;
    }
};

// A warp of the block being run: bit masks (bit = lane) of who can run, who waits in a warp primitive, who
// has not exited, who exists; and lane by lane, the primitive each waiting lane is in. Kept together and apart
// from the fibers, so that scheduling and completing a primitive touch a few cache lines.
struct Warp {
    unsigned runnable, arrived, alive, existing;
    unsigned mask[32];
    int kind[32], b[32], c[32];
    unsigned long long value[32], result[32];
};

struct Worker {
    void* scheduler_sp = nullptr;
#ifdef FP_SIM_USE_UCONTEXT
    ucontext_t scheduler_context;
#endif
    std::vector<Fiber*> fibers;       // as many as the largest block seen; stacks are reused
    std::vector<Warp> warps;
    bool fibers_dirty = false;        // a failed block left fibers in the middle of a kernel
    unsigned char* dynamic_shared = nullptr;
    size_t dynamic_capacity = 0;
    Launch* launch = nullptr;
    std::string failure;

    ~Worker() {
        for (Fiber* f : fibers) {
            munmap(f->stack, StackBytes);
            delete f;
        }
        free(dynamic_shared);
    }
};

thread_local std::unique_ptr<Worker> this_thread_worker;

Worker& worker() {
    if (!this_thread_worker) this_thread_worker.reset(new Worker());
    return *this_thread_worker;
}

std::string format(const char* fmt, ...) {
    char buffer[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(buffer, sizeof buffer, fmt, args);
    va_end(args);
    return buffer;
}

const char* warp_op_name(int kind) {
    switch (kind) {
    case ShflIdx: return "__shfl_sync";
    case ShflUp: return "__shfl_up_sync";
    case ShflDown: return "__shfl_down_sync";
    case ShflXor: return "__shfl_xor_sync";
    case Ballot: return "__ballot_sync";
    case Any: return "__any_sync";
    case All: return "__all_sync";
    default: return "__syncwarp";
    }
}

// ---- fiber switching ----
#ifndef FP_SIM_USE_UCONTEXT
extern "C" void fp_sim_switch(void** save_sp, void* next_sp);
extern "C" void fp_sim_fiber_entry();
// Saves the callee-saved registers on the current stack, swaps stack pointers, restores the other side.
// A new fiber's stack is prepared so that the first switch "returns" into fp_sim_fiber_entry with the
// Fiber* in rbx. The SSE and x87 control words are not switched: kernels never change them.
asm(R"(
    .text
    .p2align 4
    .type fp_sim_switch, @function
fp_sim_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size fp_sim_switch, .-fp_sim_switch

    .p2align 4
    .type fp_sim_fiber_entry, @function
fp_sim_fiber_entry:
    movq %rbx, %rdi
    call fp_sim_fiber_main@PLT
    ud2
    .size fp_sim_fiber_entry, .-fp_sim_fiber_entry
)");
#endif

inline void resume(Worker& w, Fiber* f) {
#ifdef FP_SIM_USE_UCONTEXT
    swapcontext(&w.scheduler_context, &f->context);
#else
    fp_sim_switch(&w.scheduler_sp, f->sp);
#endif
}

inline void yield(Fiber* f) {
#ifdef FP_SIM_USE_UCONTEXT
    swapcontext(&f->context, &f->worker->scheduler_context);
#else
    fp_sim_switch(&f->sp, f->worker->scheduler_sp);
#endif
}

Fiber* current() { return static_cast<Fiber*>(current_thread()); }

[[noreturn]] void fail_current(const std::string& message) {
    Fiber* f = current();
    f->worker->failure = message;
    f->state = Failed;
    yield(f);
    __builtin_unreachable();
}

} // namespace
} // namespace fp_sim

using namespace fp_sim;

// The body of every fiber: run the kernel for whichever block the worker hands it, then wait to be reused.
extern "C" __attribute__((used)) void fp_sim_fiber_main(Fiber* f) {
    for (;;) {
        const Launch* launch = f->worker->launch;
        launch->kernel->invoke(launch->kernel->function, launch->args);
        f->state = Done;
        yield(f);
    }
}

#ifdef FP_SIM_USE_UCONTEXT
static void fiber_entry_ucontext(unsigned high, unsigned low) {
    fp_sim_fiber_main(reinterpret_cast<Fiber*>((static_cast<uintptr_t>(high) << 32) | low));
}
#endif

namespace {

void prepare(Fiber* f) {
#ifdef FP_SIM_USE_UCONTEXT
    getcontext(&f->context);
    f->context.uc_stack.ss_sp = f->stack + GuardBytes;
    f->context.uc_stack.ss_size = StackBytes - GuardBytes - 64;
    f->context.uc_link = nullptr;
    uintptr_t p = reinterpret_cast<uintptr_t>(f);
    makecontext(&f->context, reinterpret_cast<void (*)()>(fiber_entry_ucontext), 2,
                static_cast<unsigned>(p >> 32), static_cast<unsigned>(p));
#else
    // Stack (growing down) as fp_sim_switch pops it: r15 r14 r13 r12 rbx rbp, then the return address.
    // The entry's `call` then runs with a 16-byte aligned stack, as the ABI requires. The tops are
    // staggered by 64-byte steps: equally spaced stacks would all map to the same cache sets.
    uintptr_t top = reinterpret_cast<uintptr_t>(f->stack) + StackBytes - 64 - (f->index % 64) * 64;
    uint64_t* s = reinterpret_cast<uint64_t*>(top);
    s[-1] = reinterpret_cast<uint64_t>(&fp_sim_fiber_entry);
    s[-2] = 0;                                   // rbp
    s[-3] = reinterpret_cast<uint64_t>(f);       // rbx: the fiber
    s[-4] = s[-5] = s[-6] = s[-7] = 0;           // r12..r15
    f->sp = &s[-7];
#endif
}

bool ensure_fibers(Worker& w, unsigned count, std::string& error) {
    if (w.fibers_dirty) {
        for (Fiber* f : w.fibers) prepare(f);
        w.fibers_dirty = false;
    }
    while (w.fibers.size() < count) {
        // Map twice the size, keep the aligned half.
        void* raw = mmap(nullptr, 2 * StackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (raw == MAP_FAILED) {
            error = format("cannot map a %zu KiB fiber stack for thread %zu", StackBytes / 1024, w.fibers.size());
            return false;
        }
        char* start = static_cast<char*>(raw);
        char* aligned = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(start) + StackBytes - 1) & ~(StackBytes - 1));
        if (aligned > start) munmap(start, aligned - start);
        if (aligned + StackBytes < start + 2 * StackBytes) munmap(aligned + StackBytes, start + 2 * StackBytes - (aligned + StackBytes));
        mprotect(aligned, GuardBytes, PROT_NONE);
        Fiber* f = new Fiber();
        f->worker = &w;
        f->stack = aligned;
        f->index = static_cast<unsigned>(w.fibers.size());
        *reinterpret_cast<Thread**>(aligned + StackBytes - 16) = f;
        prepare(f);
        w.fibers.push_back(f);
    }
    return true;
}

bool ensure_dynamic_shared(Worker& w, size_t bytes, std::string& error) {
    if (bytes <= w.dynamic_capacity) return true;
    size_t rounded = (bytes + 255) & ~static_cast<size_t>(255);
    void* memory = aligned_alloc(256, rounded);
    if (!memory) {
        error = format("cannot allocate %zu bytes of dynamic shared memory", bytes);
        return false;
    }
    free(w.dynamic_shared);
    w.dynamic_shared = static_cast<unsigned char*>(memory);
    w.dynamic_capacity = rounded;
    return true;
}

std::string where(const Launch& launch, const Fiber* f) {
    return format("kernel %s, block (%u,%u,%u), thread (%u,%u,%u): ", launch.kernel->name, f->block_idx.x,
                  f->block_idx.y, f->block_idx.z, f->thread_idx.x, f->thread_idx.y, f->thread_idx.z);
}

// The value lane `lane` receives from a shuffle, following PTX shfl.sync: c packs the segment mask
// (bits 8..12) and the clamp lane (bits 0..4); a source outside the segment means "keep your own value".
int shuffle_source(int kind, unsigned lane, int b, int c) {
    b &= 0x1f;   // PTX reads the lane operand's low 5 bits, whatever the mode
    unsigned segment_mask = (c >> 8) & 0x1f, clamp = c & 0x1f;
    int max_lane = static_cast<int>((lane & segment_mask) | (clamp & ~segment_mask));
    int min_lane = static_cast<int>(lane & segment_mask);
    int j;
    bool in_range;
    switch (kind) {
    case ShflUp: j = static_cast<int>(lane) - b; in_range = j >= max_lane; break;
    case ShflDown: j = static_cast<int>(lane) + b; in_range = j <= max_lane; break;
    case ShflXor: j = static_cast<int>(lane ^ b); in_range = j <= max_lane; break;
    default: j = min_lane | (b & ~segment_mask); in_range = j <= max_lane; break;
    }
    return in_range ? j : static_cast<int>(lane);
}

// Completes every warp primitive of `warp` (its lanes are fibers from `first`) whose lanes have all arrived.
// Returns how many completed, or -1 after recording an error in the launch.
int complete_warp_ops(Worker& w, Launch& launch, Warp& warp, unsigned first) {
    int completed = 0;
    unsigned pending = warp.arrived;
    while (pending) {
        const unsigned leader = __builtin_ctz(pending);
        const unsigned mask = warp.mask[leader];
        const int kind = warp.kind[leader];
        pending &= ~mask;
        if (mask & ~warp.existing) {
            launch.fail(where(launch, w.fibers[first + leader]) +
                        format("%s: mask 0x%08x names lanes past the block's last thread", warp_op_name(kind), mask));
            return -1;
        }
        if ((warp.arrived & mask) != mask) continue;   // a lane has not arrived; the block reports it if it never does
        for (unsigned bits = mask; bits; bits &= bits - 1) {
            const unsigned m = __builtin_ctz(bits);
            if (warp.mask[m] != mask || warp.kind[m] != kind) {
                launch.fail(where(launch, w.fibers[first + leader]) +
                            format("%s with mask 0x%08x, but lane %u of the mask is in %s with mask 0x%08x",
                                   warp_op_name(kind), mask, m, warp_op_name(warp.kind[m]), warp.mask[m]));
                return -1;
            }
        }
        if (kind <= ShflXor) {
            for (unsigned bits = mask; bits; bits &= bits - 1) {
                const unsigned m = __builtin_ctz(bits);
                const int source = shuffle_source(kind, m, warp.b[m], warp.c[m]);
                if (!(mask >> source & 1)) {
                    launch.fail(where(launch, w.fibers[first + m]) +
                                format("%s reads lane %d, which is not in mask 0x%08x", warp_op_name(kind), source, mask));
                    return -1;
                }
                warp.result[m] = warp.value[source];
            }
        } else {
            unsigned votes = 0;
            for (unsigned bits = mask; bits; bits &= bits - 1) {
                const unsigned m = __builtin_ctz(bits);
                votes |= static_cast<unsigned>(warp.value[m] != 0) << m;
            }
            const unsigned long long result = kind == Ballot ? votes : kind == Any ? votes != 0 : kind == All ? votes == mask : 0;
            for (unsigned bits = mask; bits; bits &= bits - 1) warp.result[__builtin_ctz(bits)] = result;
        }
        warp.arrived &= ~mask;
        warp.runnable |= mask;
        ++completed;
    }
    return completed;
}

std::string describe_stuck(const Launch& launch, Worker& w) {
    for (size_t index = 0; index < w.warps.size(); ++index) {
        const Warp& warp = w.warps[index];
        if (!warp.arrived) continue;
        const unsigned leader = __builtin_ctz(warp.arrived), mask = warp.mask[leader];
        const unsigned missing = __builtin_ctz(mask & ~warp.arrived);
        return where(launch, w.fibers[index * 32 + leader]) +
               format("%s with mask 0x%08x waits for lane %u, which %s", warp_op_name(warp.kind[leader]), mask, missing,
                      warp.alive >> missing & 1 ? "waits at __syncthreads" : "has exited");
    }
    return "a warp primitive never completed";
}

// Opens the block barrier: every thread that has not exited waits at it.
void open_barrier(Worker& w, std::vector<Warp>& warps) {
    int waiting = 0, true_predicates = 0;
    for (size_t warp = 0; warp < warps.size(); ++warp)
        for (unsigned bits = warps[warp].alive; bits; bits &= bits - 1) {
            ++waiting;
            true_predicates += w.fibers[warp * 32 + __builtin_ctz(bits)]->barrier_predicate;
        }
    for (size_t warp = 0; warp < warps.size(); ++warp) {
        for (unsigned bits = warps[warp].alive; bits; bits &= bits - 1) {
            Fiber* f = w.fibers[warp * 32 + __builtin_ctz(bits)];
            switch (f->barrier_kind) {
            case BarrierCount: f->barrier_result = true_predicates; break;
            case BarrierAnd: f->barrier_result = true_predicates == waiting; break;
            case BarrierOr: f->barrier_result = true_predicates > 0; break;
            default: f->barrier_result = 0; break;
            }
            f->state = Runnable;
        }
        warps[warp].runnable = warps[warp].alive;
    }
}

bool run_block(Worker& w, Launch& launch, long long index) {
    const dim3 block = launch.block, grid = launch.grid;
    const unsigned count = block.x * block.y * block.z;
    std::string error;
    if (!ensure_fibers(w, count, error) || !ensure_dynamic_shared(w, launch.shared_bytes, error)) {
        launch.fail(error);
        return false;
    }
    // Dynamic shared memory starts as NaN/-1 bytes, so a kernel that reads it before writing shows it.
    if (launch.shared_bytes) memset(w.dynamic_shared, 0xff, launch.shared_bytes);
    const uint3 block_idx = {static_cast<unsigned>(index % grid.x), static_cast<unsigned>(index / grid.x % grid.y),
                             static_cast<unsigned>(index / (static_cast<long long>(grid.x) * grid.y))};
    for (unsigned i = 0; i < count; ++i) {
        Fiber* f = w.fibers[i];
        f->thread_idx = {i % block.x, i / block.x % block.y, i / (block.x * block.y)};
        f->block_idx = block_idx;
        f->block_dim = block;
        f->grid_dim = grid;
        f->lane = i & 31;
        f->warp = i >> 5;
        f->linear = i;
        f->state = Runnable;
    }
    std::vector<Warp>& warps = w.warps;
    warps.resize((count + 31) / 32);
    for (size_t warp = 0; warp < warps.size(); ++warp) {
        const unsigned lanes = count - warp * 32 >= 32 ? 32 : count - warp * 32;
        const unsigned existing = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
        warps[warp].runnable = warps[warp].alive = warps[warp].existing = existing;
        warps[warp].arrived = 0;
    }
    w.launch = &launch;
    long long resumes = 0;
    for (;;) {
        bool at_barrier = false, stuck = false;
        for (size_t warp = 0; warp < warps.size(); ++warp) {
            Warp& lanes = warps[warp];
            const unsigned first = static_cast<unsigned>(warp * 32);
            for (;;) {
                unsigned run = lanes.runnable;
                lanes.runnable = 0;
                for (; run; run &= run - 1) {
                    const unsigned lane = __builtin_ctz(run);
                    Fiber* f = w.fibers[first + lane];
                    resume(w, f);
                    ++resumes;
                    switch (f->state) {
                    case AtWarpOp: lanes.arrived |= 1u << lane; break;
                    case Done: lanes.alive &= ~(1u << lane); break;
                    case Failed:
                        launch.fail(where(launch, f) + w.failure);
                        w.fibers_dirty = true;
                        return false;
                    default: break;   // at the barrier
                    }
                }
                if (!lanes.arrived) break;
                const int completed = complete_warp_ops(w, launch, lanes, first);
                if (completed < 0) { w.fibers_dirty = true; return false; }
                if (completed == 0) break;
            }
            stuck |= lanes.arrived != 0;
            at_barrier |= (lanes.alive & ~lanes.arrived) != 0;
        }
        if (stuck) {
            launch.fail(describe_stuck(launch, w));
            w.fibers_dirty = true;
            return false;
        }
        if (!at_barrier) break;
        open_barrier(w, warps);
    }
    launch.resumes += resumes;
    return true;
}

void run_blocks(Launch& launch) {
    Worker& w = worker();
    while (!launch.failed.load(std::memory_order_relaxed)) {
        long long index = launch.next_block.fetch_add(1);
        if (index >= launch.total_blocks) break;
        if (!run_block(w, launch, index)) break;
    }
}

// Host threads that help the launching thread run blocks. One launch uses the pool at a time; a launch
// that finds it busy (another device launching from another thread) runs on its own thread alone.
class Pool {
public:
    void run(Launch& launch, int helpers) {
        std::unique_lock<std::mutex> owner(owner_mutex_, std::try_to_lock);
        if (!owner.owns_lock()) helpers = 0;
        if (helpers > 0) {
            std::lock_guard<std::mutex> lock(mutex_);
            while (static_cast<int>(threads_.size()) < helpers) threads_.emplace_back([this] { loop(); });
            job_ = &launch;
            open_ = helpers;
            ++generation_;
            wake_.notify_all();
        }
        run_blocks(launch);
        if (helpers > 0) {
            std::unique_lock<std::mutex> lock(mutex_);
            open_ = 0;
            done_.wait(lock, [this] { return active_ == 0; });
            job_ = nullptr;
        }
    }

private:
    void loop() {
        unsigned long long seen = 0;
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            wake_.wait(lock, [&] { return generation_ != seen && open_ > 0; });
            seen = generation_;
            --open_;
            ++active_;
            Launch* launch = job_;
            lock.unlock();
            run_blocks(*launch);
            lock.lock();
            if (--active_ == 0) done_.notify_all();
        }
    }

    std::mutex owner_mutex_, mutex_;
    std::condition_variable wake_, done_;
    std::vector<std::thread> threads_;
    Launch* job_ = nullptr;
    unsigned long long generation_ = 0;
    int open_ = 0, active_ = 0;
};

Pool& pool() {
    static Pool* instance = new Pool();   // never destroyed: its threads live as long as the process
    return *instance;
}

std::atomic<long long> total_resumes{0};

} // namespace

// ---- what kernels call ----
extern "C" unsigned long long fp_sim_warp_op(int kind, unsigned mask, unsigned long long value, int b, int c) {
    Fiber* f = current();
    if (!(mask >> f->lane & 1))
        fail_current(format("%s: the calling lane %u is not in mask 0x%08x", warp_op_name(kind), f->lane, mask));
    Warp& warp = f->worker->warps[f->warp];
    const unsigned lane = f->lane;
    warp.mask[lane] = mask;
    warp.kind[lane] = kind;
    warp.value[lane] = value;
    warp.b[lane] = b;
    warp.c[lane] = c;
    f->state = AtWarpOp;
    yield(f);
    return warp.result[lane];
}

extern "C" int fp_sim_barrier(int kind, int predicate) {
    Fiber* f = current();
    f->barrier_kind = kind;
    f->barrier_predicate = predicate != 0;
    f->state = AtBarrier;
    yield(f);
    return f->barrier_result;
}

extern "C" void* fp_sim_dynamic_shared() { return current()->worker->dynamic_shared; }

extern "C" void fp_sim_fail(const char* message) { fail_current(message); }

// ---- what the C# SimDevice calls ----
FP_EXPORT int fp_sim_abi_version() { return 1; }

FP_EXPORT int fp_sim_kernel_count() { return static_cast<int>(registry().size()); }

FP_EXPORT const char* fp_sim_kernel_name(int index) { return registry()[index].name; }

FP_EXPORT int fp_sim_kernel_param_sizes(int index, const int** sizes) {
    *sizes = registry()[index].param_sizes;
    return registry()[index].param_count;
}

// dims: grid x, y, z then block x, y, z. Returns 0, or 1 with the reason in `error`.
FP_EXPORT int fp_sim_launch(int kernel, const unsigned* dims, unsigned shared_bytes, void** args, int host_threads,
                            char* error, int error_capacity) {
    try {
        Launch launch;
        launch.kernel = &registry()[kernel];
        launch.args = args;
        launch.grid = dim3(dims[0], dims[1], dims[2]);
        launch.block = dim3(dims[3], dims[4], dims[5]);
        launch.shared_bytes = shared_bytes;
        launch.total_blocks = static_cast<long long>(dims[0]) * dims[1] * dims[2];
        long long helpers = launch.total_blocks - 1;
        if (helpers > host_threads - 1) helpers = host_threads - 1;
        pool().run(launch, static_cast<int>(helpers < 0 ? 0 : helpers));
        total_resumes += launch.resumes.load();
        if (!launch.failed) return 0;
        snprintf(error, error_capacity, "%s", launch.error.c_str());
    } catch (const std::exception& e) {
        snprintf(error, error_capacity, "simulator: %s", e.what());
    }
    return 1;
}

// Fiber resumes since the library was loaded; each is two context switches (in and back out).
FP_EXPORT long long fp_sim_resume_count() { return total_resumes.load(); }
