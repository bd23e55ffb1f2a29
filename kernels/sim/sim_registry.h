// sim_registry.h — how the simulator finds a kernel by name and calls it with cuLaunchKernel's arguments.
//
// SimLibraryBuilder compiles each kernel file as `#include "file.cu"` followed by FP_SIM_KERNEL(name) for
// every `extern "C" __global__` function in it. The registrar deduces the parameter types from the
// function itself, records their sizes (checked against the launcher's arguments before every launch),
// and builds a trampoline that unpacks the same void** array cuLaunchKernel takes.
#pragma once

#include <utility>
#include <vector>

namespace fp_sim {

using Invoke = void (*)(void* function, void** args);

struct KernelInfo {
    const char* name;
    void* function;
    Invoke invoke;
    int param_count;
    const int* param_sizes;
};

std::vector<KernelInfo>& registry();

template <class... A, size_t... I>
inline void invoke_unpacked(void* function, void** args, std::index_sequence<I...>) {
    reinterpret_cast<void (*)(A...)>(function)(*static_cast<std::remove_cv_t<A>*>(args[I])...);
}

template <class... A> inline void invoke(void* function, void** args) {
    invoke_unpacked<A...>(function, args, std::index_sequence_for<A...>{});
}

struct Registrar {
    template <class... A> Registrar(const char* name, void (*function)(A...)) {
        static const int sizes[sizeof...(A) + 1] = {static_cast<int>(sizeof(A))..., 0};
        registry().push_back({name, reinterpret_cast<void*>(function), &invoke<A...>,
                              static_cast<int>(sizeof...(A)), sizes});
    }
};

} // namespace fp_sim

#define FP_SIM_KERNEL(name) static ::fp_sim::Registrar fp_sim_registrar_##name(#name, &name);
