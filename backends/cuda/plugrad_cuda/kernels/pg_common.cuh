/* Shared by every kernel source: the dtype table, strided layouts, grid loops, warp and block
   reductions. NVRTC compiles it for the GPU; the emulated runtime compiles the same text with
   the host C++ compiler after emulator/shim.h (which defines PG_EMULATED). */
#pragma once

typedef long long pg_i64;
typedef unsigned long long pg_u64;
typedef unsigned int pg_u32;

/* The dtype table, X(name, storage type), in dtype-code order (plugrad_cuda/dtypes.py mirrors
   it). A kernel family is instantiated over one of these lists, so a new dtype is one entry
   here and one in dtypes.py; types whose arithmetic runs in another type (float16, bfloat16
   in float32) say so in pg::Acc below. */
#define PG_FLOAT_DTYPES(X) X(float32, float) X(float64, double)
#define PG_INT_DTYPES(X) X(int64, long long)
#define PG_NUMERIC_DTYPES(X) PG_FLOAT_DTYPES(X) PG_INT_DTYPES(X)
#define PG_ALL_DTYPES(X) PG_NUMERIC_DTYPES(X) X(bool, bool)
/* Copies and fills move bits: one kernel per element size. */
#define PG_ELEMENT_SIZES(X) X(1, unsigned char) X(2, unsigned short) X(4, unsigned int) \
    X(8, unsigned long long)

/* The emulator's shim lists kernels (NVRTC needs nothing): PG_REGISTER_KERNEL for kernels
   that may synchronise, PG_REGISTER_KERNEL_NO_SYNC for kernels that never call __syncthreads
   or a warp intrinsic, whose threads the emulator runs as a plain loop. */
#ifndef PG_REGISTER_KERNEL
#define PG_REGISTER_KERNEL(fn)
#define PG_REGISTER_KERNEL_NO_SYNC(fn)
#endif

/* Dimensions of a strided layout after merging (plugrad_cuda/layout.py merges first). */
#define PG_MAXD 12
#define PG_BLOCK 256

namespace pg {

#define PG_DTYPE_CODE(name, T) DT_##name,
enum DtypeCode { PG_ALL_DTYPES(PG_DTYPE_CODE) DT_COUNT };
#undef PG_DTYPE_CODE

template <class A, class B> struct is_same { static const bool value = false; };
template <class A> struct is_same<A, A> { static const bool value = true; };
template <class T> struct is_floating { static const bool value = false; };
template <> struct is_floating<float> { static const bool value = true; };
template <> struct is_floating<double> { static const bool value = true; };

/* The type arithmetic on T runs in. */
template <class T> struct Acc { typedef T type; };

/* N operands over one shape: shape and per-operand strides in elements, by value. */
template <int N> struct Layout {
    pg_i64 nd;
    pg_i64 shape[PG_MAXD];
    pg_i64 strides[N][PG_MAXD];
};

/* Element offsets of the i-th element (row-major over the shape) in each operand. */
template <int N>
__device__ __forceinline__ void offsets(const Layout<N> &L, pg_i64 i, pg_i64 (&off)[N]) {
    for (int k = 0; k < N; k++) off[k] = 0;
    for (int d = (int)L.nd - 1; d >= 0; d--) {
        pg_i64 extent = L.shape[d];
        pg_i64 q = i / extent, r = i - q * extent;
        i = q;
        for (int k = 0; k < N; k++) off[k] += r * L.strides[k][d];
    }
}

/* True when every operand is one contiguous run (merged to one dimension of stride 1). */
template <int N> __device__ __forceinline__ bool contiguous(const Layout<N> &L) {
    if (L.nd != 1) return false;
    for (int k = 0; k < N; k++)
        if (L.strides[k][0] != 1) return false;
    return true;
}

__device__ __forceinline__ pg_i64 global_thread() {
    return (pg_i64)blockIdx.x * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ pg_i64 grid_threads() { return (pg_i64)blockDim.x * gridDim.x; }

/* numpy-like (x86) double -> int64: NaN and out of range give INT64_MIN. */
__device__ __forceinline__ pg_i64 d2i(double v) {
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
        return (pg_i64)0x8000000000000000ull;
    return (pg_i64)v;
}

/* Conversion between element types with the protocol's rules (float -> int truncates, NaN and
   out of range to INT64_MIN; anything -> bool is != 0). */
template <class D, class S> __device__ __forceinline__ D convert(S v) {
    if constexpr (is_same<D, bool>::value) {
        return v != S(0);
    } else if constexpr (is_same<S, bool>::value) {
        return v ? D(1) : D(0);
    } else if constexpr (is_floating<S>::value && !is_floating<D>::value) {
        return (D)d2i((double)v);
    } else {
        return (D)v;
    }
}

/* Overloads so templates call one name for float and double. */
__device__ __forceinline__ float exp_(float x) { return expf(x); }
__device__ __forceinline__ double exp_(double x) { return exp(x); }
__device__ __forceinline__ float log_(float x) { return logf(x); }
__device__ __forceinline__ double log_(double x) { return log(x); }
__device__ __forceinline__ float sqrt_(float x) { return sqrtf(x); }
__device__ __forceinline__ double sqrt_(double x) { return sqrt(x); }
__device__ __forceinline__ float tanh_(float x) { return tanhf(x); }
__device__ __forceinline__ double tanh_(double x) { return tanh(x); }
__device__ __forceinline__ float sin_(float x) { return sinf(x); }
__device__ __forceinline__ double sin_(double x) { return sin(x); }
__device__ __forceinline__ float cos_(float x) { return cosf(x); }
__device__ __forceinline__ double cos_(double x) { return cos(x); }
__device__ __forceinline__ float erf_(float x) { return erff(x); }
__device__ __forceinline__ double erf_(double x) { return erf(x); }
__device__ __forceinline__ float floor_(float x) { return floorf(x); }
__device__ __forceinline__ double floor_(double x) { return floor(x); }
__device__ __forceinline__ float ceil_(float x) { return ceilf(x); }
__device__ __forceinline__ double ceil_(double x) { return ceil(x); }
__device__ __forceinline__ float fabs_(float x) { return fabsf(x); }
__device__ __forceinline__ double fabs_(double x) { return fabs(x); }
__device__ __forceinline__ float pow_(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double pow_(double x, double y) { return pow(x, y); }

template <class T> __device__ __forceinline__ bool is_nan(T v) { return v != v; }

/* Largest / smallest values, the identities of max / min. */
template <class T> __device__ __forceinline__ T lowest();
template <> __device__ __forceinline__ float lowest<float>() { return -__int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double lowest<double>() {
    return -__longlong_as_double(0x7ff0000000000000ll);
}
template <> __device__ __forceinline__ long long lowest<long long>() {
    return (long long)0x8000000000000000ull;
}
template <> __device__ __forceinline__ int lowest<int>() { return (int)0x80000000u; }
template <class T> __device__ __forceinline__ T highest();
template <> __device__ __forceinline__ float highest<float>() { return __int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double highest<double>() {
    return __longlong_as_double(0x7ff0000000000000ll);
}
template <> __device__ __forceinline__ long long highest<long long>() {
    return 0x7fffffffffffffffll;
}
template <> __device__ __forceinline__ int highest<int>() { return 0x7fffffff; }

/* max / min that propagate NaN (NumPy, torch). */
template <class T> __device__ __forceinline__ T maximum(T a, T b) {
    return (a > b || is_nan(a)) ? a : b;
}
template <class T> __device__ __forceinline__ T minimum(T a, T b) {
    return (a < b || is_nan(a)) ? a : b;
}

/* Reduce `v` over the 32 lanes of a full warp with `op`; every lane gets the result. */
template <class T, class Op> __device__ __forceinline__ T warp_reduce(T v, Op op) {
    for (int delta = 16; delta > 0; delta >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, delta));
    return v;
}

/* Reduce `v` over a block of whole warps (at most 1024 threads): warp shuffles, then the warps'
   partial results through shared memory. Every thread gets the result. */
template <class T, class Op> __device__ T block_reduce(T v, Op op, T identity) {
    __shared__ T partial[32];
    __shared__ T result;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_reduce(v, op);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + 31) >> 5;
        T w = lane < warps ? partial[lane] : identity;
        w = warp_reduce(w, op);
        if (lane == 0) result = w;
    }
    __syncthreads();
    T out = result;
    __syncthreads(); /* partial and result may be reused by the next call */
    return out;
}

/* v[0..4) = p[0..4), one 16-byte load on the GPU (p must be 16-byte aligned) for float and
   two for double; element by element otherwise and in the emulator. */
template <class T> __device__ __forceinline__ void load4(const T *p, T *v) {
#ifndef PG_EMULATED
    if constexpr (is_same<T, float>::value) {
        float4 q = *reinterpret_cast<const float4 *>(p);
        v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
    } else if constexpr (is_same<T, double>::value) {
        double2 lo = reinterpret_cast<const double2 *>(p)[0];
        double2 hi = reinterpret_cast<const double2 *>(p)[1];
        v[0] = lo.x; v[1] = lo.y; v[2] = hi.x; v[3] = hi.y;
    } else
#endif
    {
        for (int i = 0; i < 4; i++) v[i] = p[i];
    }
}

/* Dynamic shared memory (the launch's sharedMemBytes), as T. */
template <class T> __device__ __forceinline__ T *dynamic_shared() {
#ifdef PG_EMULATED
    return reinterpret_cast<T *>(pg_emu::dynamic_shared);
#else
    extern __shared__ __align__(16) unsigned char pg_dynamic_shared[];
    return reinterpret_cast<T *>(pg_dynamic_shared);
#endif
}

}  // namespace pg
