/* The CUDA shim of the emulated runtime: force-included (g++ -include shim.h) before every
   kernel source, so the same .cu files NVRTC compiles for the GPU build for the host.

   A block's threads run as fibers on one OS thread (scheduler.cpp): `threadIdx` reads the
   running fiber's index, `__syncthreads` and the warp intrinsics park the fiber until every
   thread they wait for has arrived, and `__shared__` variables are `static`, which is shared
   by the threads of a block because blocks run one after another. */
#ifndef PG_EMU_SHIM_H
#define PG_EMU_SHIM_H

#define PG_EMULATED 1

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cmath>
#include <type_traits>
#include <utility>

/* --- execution-space and memory qualifiers ------------------------------------------- */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __shared__ static
#define __constant__
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
};

namespace pg_emu {

/* What the scheduler exposes to kernels (scheduler.cpp). */
struct ThreadState {
    uint3 thread_idx;
    int linear;  /* linear thread index within the block */
};
extern ThreadState *current;
extern uint3 block_idx;
extern dim3 block_dim, grid_dim;
extern unsigned char *dynamic_shared;

void syncthreads(const char *site);
void syncwarp(unsigned mask);
/* Deposit 8 bytes for this lane, wait for the lanes of `mask`, read lane `src`'s deposit. */
uint64_t exchange(unsigned mask, uint64_t value, int src);
/* Each lane's predicate, gathered over the lanes of `mask`. */
unsigned ballot(unsigned mask, int predicate);
[[noreturn]] void fail(const char *message);

/* Kernel registration: every `extern "C" __global__` kernel of a source file is listed with
   PG_REGISTER_KERNEL, which records its name and an invoker that unpacks a cuLaunchKernel-style
   `void *args[]` (one pointer per parameter) into a call with the right types. */
typedef void (*Invoker)(void (*fn)(), void **args);
/* `synchronizes`: false for a kernel that never calls __syncthreads or a warp intrinsic; its
   threads then run as a plain loop (and such a call is reported as an error). */
void register_kernel(const char *name, void (*fn)(), Invoker invoke, bool synchronizes);

template <class F>
struct Invoke;
template <class... A>
struct Invoke<void (*)(A...)> {
    template <size_t... I>
    static void call_with(void (*fn)(), void **args, std::index_sequence<I...>) {
        auto typed = reinterpret_cast<void (*)(A...)>(fn);
        typed(*static_cast<std::remove_reference_t<A> *>(args[I])...);
    }
    static void call(void (*fn)(), void **args) {
        call_with(fn, args, std::index_sequence_for<A...>{});
    }
};

struct Registrar {
    template <class F>
    Registrar(const char *name, F fn, bool synchronizes) {
        register_kernel(name, reinterpret_cast<void (*)()>(fn), &Invoke<F>::call, synchronizes);
    }
};

template <class T>
inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8, "warp exchange of more than 8 bytes");
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof(T));
    return bits;
}
template <class T>
inline T from_bits(uint64_t bits) {
    T v;
    memcpy(&v, &bits, sizeof(T));
    return v;
}

}  // namespace pg_emu

#define PG_REGISTER_KERNEL(fn) static pg_emu::Registrar pg_emu_registrar_##fn(#fn, &fn, true);
#define PG_REGISTER_KERNEL_NO_SYNC(fn) \
    static pg_emu::Registrar pg_emu_registrar_##fn(#fn, &fn, false);

#define threadIdx (pg_emu::current->thread_idx)
#define blockIdx (pg_emu::block_idx)
#define blockDim (pg_emu::block_dim)
#define gridDim (pg_emu::grid_dim)
static const int warpSize = 32;

/* The call site identifies a barrier, so threads parked at two different __syncthreads
   (divergent code) are reported instead of released together. */
#define PG_EMU_STR2(x) #x
#define PG_EMU_STR(x) PG_EMU_STR2(x)
#define __syncthreads() pg_emu::syncthreads(__FILE__ ":" PG_EMU_STR(__LINE__))

inline void __syncwarp(unsigned mask = 0xffffffffu) { pg_emu::syncwarp(mask); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
[[noreturn]] inline void __trap() { pg_emu::fail("__trap() called"); }

/* --- warp shuffles (CUDA semantics, widths that divide 32) --------------------------- */
namespace pg_emu {
inline int lane_id() { return current->linear & 31; }
inline void check_width(int width) {
    if (width <= 0 || width > 32 || (width & (width - 1)))
        fail("__shfl_*_sync width must be a power of two in 1..32");
}
}  // namespace pg_emu

template <class T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32) {
    pg_emu::check_width(width);
    int lane = pg_emu::lane_id();
    int src = (lane & ~(width - 1)) + (src_lane & (width - 1));
    return pg_emu::from_bits<T>(pg_emu::exchange(mask, pg_emu::to_bits(var), src));
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32) {
    pg_emu::check_width(width);
    int lane = pg_emu::lane_id();
    int src = (lane & (width - 1)) >= (int)delta ? lane - (int)delta : lane;
    return pg_emu::from_bits<T>(pg_emu::exchange(mask, pg_emu::to_bits(var), src));
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32) {
    pg_emu::check_width(width);
    int lane = pg_emu::lane_id();
    int src = (lane & (width - 1)) + (int)delta < width ? lane + (int)delta : lane;
    return pg_emu::from_bits<T>(pg_emu::exchange(mask, pg_emu::to_bits(var), src));
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32) {
    pg_emu::check_width(width);
    int lane = pg_emu::lane_id();
    int src = lane ^ lane_mask;
    if (src >= ((lane / width) + 1) * width) src = lane;
    return pg_emu::from_bits<T>(pg_emu::exchange(mask, pg_emu::to_bits(var), src));
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
    return pg_emu::ballot(mask, predicate);
}
inline int __any_sync(unsigned mask, int predicate) {
    return pg_emu::ballot(mask, predicate) != 0;
}
inline int __all_sync(unsigned mask, int predicate) {
    return (pg_emu::ballot(mask, predicate) & mask) == (pg_emu::ballot(mask, 1) & mask);
}

/* --- atomics (GCC builtins; blocks run on one OS thread, but keep them atomic anyway) -- */
template <class T>
inline T pg_emu_atomic_add(T *address, T value) {
    if constexpr (std::is_integral<T>::value) {
        return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
    } else {
        T old = *address, desired;
        do {
            desired = old + value;
        } while (!__atomic_compare_exchange(address, &old, &desired, false, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED));
        return old;
    }
}
inline float atomicAdd(float *a, float v) { return pg_emu_atomic_add(a, v); }
inline double atomicAdd(double *a, double v) { return pg_emu_atomic_add(a, v); }
inline int atomicAdd(int *a, int v) { return pg_emu_atomic_add(a, v); }
inline unsigned atomicAdd(unsigned *a, unsigned v) { return pg_emu_atomic_add(a, v); }
inline unsigned long long atomicAdd(unsigned long long *a, unsigned long long v) {
    return pg_emu_atomic_add(a, v);
}
inline int atomicOr(int *a, int v) { return __atomic_fetch_or(a, v, __ATOMIC_RELAXED); }
inline unsigned atomicOr(unsigned *a, unsigned v) {
    return __atomic_fetch_or(a, v, __ATOMIC_RELAXED);
}
inline int atomicMax(int *a, int v) {
    int old = *a;
    while (old < v && !__atomic_compare_exchange_n(a, &old, v, false, __ATOMIC_RELAXED,
                                                   __ATOMIC_RELAXED)) {
    }
    return old;
}
inline int atomicCAS(int *a, int compare, int value) {
    __atomic_compare_exchange_n(a, &compare, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return compare;
}
inline unsigned atomicCAS(unsigned *a, unsigned compare, unsigned value) {
    __atomic_compare_exchange_n(a, &compare, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return compare;
}
inline unsigned long long atomicCAS(unsigned long long *a, unsigned long long compare,
                                    unsigned long long value) {
    __atomic_compare_exchange_n(a, &compare, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return compare;
}

/* --- device intrinsics the kernels use, with their IEEE meaning ---------------------- */
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline unsigned __umulhi(unsigned a, unsigned b) {
    return (unsigned)(((unsigned long long)a * b) >> 32);
}
template <class T>
inline T __ldg(const T *p) {
    return *p;
}
inline float __int_as_float(int i) { return pg_emu::from_bits<float>((uint32_t)i); }
inline int __float_as_int(float f) { return (int)(uint32_t)pg_emu::to_bits(f); }
inline double __longlong_as_double(long long i) { return pg_emu::from_bits<double>((uint64_t)i); }
inline long long __double_as_longlong(double d) { return (long long)pg_emu::to_bits(d); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }

#endif
