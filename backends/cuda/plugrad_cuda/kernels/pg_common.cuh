/* Shared by every kernel source: the dtype table, strided layouts, grid loops, warp and block
   reductions. NVRTC compiles it for the GPU; the emulated runtime compiles the same text with
   the host C++ compiler after emulator/shim.h (which defines PG_EMULATED). */
#pragma once

typedef long long pg_i64;
typedef unsigned long long pg_u64;
typedef unsigned int pg_u32;

/* The dtype table, X(name, storage type), in dtype-code order (plugrad_cuda/dtypes.py mirrors
   it; the codes are c_cpu's). A kernel family is instantiated over one of these lists, so a new
   dtype is one entry here and one in dtypes.py; types whose arithmetic runs in another type
   (float16, bfloat16 in float32) say so in pg::Acc below. float16 and bfloat16 are stored as
   their 16 bits (pg::f16, pg::bf16) and converted with portable bit code, the same on the GPU
   and in the emulator, and bit for bit c_cpu's (backends/c_cpu/csrc/half.h). */
#define PG_HALF_DTYPES(X) X(float16, pg::f16) X(bfloat16, pg::bf16)
/* floating types with kernels of their own everywhere (GEMM, convolution, fused) */
#define PG_FLOAT_DTYPES(X) X(float32, float) X(float64, double)
#define PG_INT_DTYPES(X) X(int64, long long) X(int8, signed char) X(int16, short) X(int32, int) X(uint8, unsigned char)
/* every dtype, in code order (one line each: tests/backends/cuda/test_nvrtc.py reads them) */
#define PG_ALL_DTYPES(X) PG_FLOAT_DTYPES(X) X(int64, long long) X(bool, bool) X(int8, signed char) X(int16, short) X(int32, int) X(uint8, unsigned char) PG_HALF_DTYPES(X)
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

/* ------------------------------------------------ float16 and bfloat16, as 16 bits ---- */
__device__ __forceinline__ pg_u32 f32_bits(float f) { return (pg_u32)__float_as_int(f); }
__device__ __forceinline__ float bits_f32(pg_u32 u) { return __int_as_float((int)u); }

__device__ __forceinline__ float f16_to_f32(unsigned short h) {
    pg_u32 sign = (pg_u32)(h & 0x8000u) << 16, em = h & 0x7fffu, bits;
    if (em >= 0x7c00u)
        bits = 0x7f800000u | ((em & 0x3ffu) << 13); /* inf, NaN */
    else if (em >= 0x400u)
        bits = (em << 13) + ((pg_u32)(127 - 15) << 23); /* normal */
    else
        bits = f32_bits((float)em * 5.9604644775390625e-08f); /* subnormal: em * 2^-24 */
    return bits_f32(bits | sign);
}

/* float32 -> float16, nearest even */
__device__ __forceinline__ unsigned short f32_to_f16(float f) {
    pg_u32 u = f32_bits(f), sign = (u >> 16) & 0x8000u, ax = u & 0x7fffffffu;
    if (ax > 0x7f800000u) return (unsigned short)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u); /* 65520 and up: inf */
    if (ax < 0x38800000u) { /* below 2^-14: a subnormal; the FPU rounds at 2^-24 */
        pg_u32 r = f32_bits(bits_f32(ax) + 0.5f);
        return (unsigned short)(sign | (r - 0x3f000000u));
    }
    ax += ((pg_u32)(15 - 127) << 23) + 0xfffu + ((ax >> 13) & 1);
    return (unsigned short)(sign | (ax >> 13));
}

__device__ __forceinline__ float bf16_to_f32(unsigned short h) { return bits_f32((pg_u32)h << 16); }

/* float32 -> bfloat16, nearest even */
__device__ __forceinline__ unsigned short f32_to_bf16(float f) {
    pg_u32 u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40); /* qNaN */
    u += 0x7fffu + ((u >> 16) & 1);
    return (unsigned short)(u >> 16);
}

/* d rounded to float32 "to odd" (toward zero, last bit set when inexact): rounding that to a
   format at least two bits narrower equals rounding d directly, so float64 -> 16 bits rounds
   once, as NumPy does. */
__device__ __forceinline__ float f64_to_f32_odd(double d) {
    float f = (float)d;
    if ((double)f != d && f == f) {
        pg_u32 u = f32_bits(f);
        if ((f < 0 ? -(double)f : (double)f) > (d < 0 ? -d : d)) u -= 1;
        f = bits_f32(u | 1);
    }
    return f;
}

/* The 16-bit floats: their bits, a float32 view for arithmetic. Trivial (no constructor runs
   for __shared__ arrays), so they pass to kernels by value as 2 bytes. */
struct f16 {
    unsigned short bits;
    f16() = default;
    __device__ __forceinline__ explicit f16(float f) : bits(f32_to_f16(f)) {}
    __device__ __forceinline__ explicit f16(double d) : bits(f32_to_f16(f64_to_f32_odd(d))) {}
    __device__ __forceinline__ explicit f16(int i) : f16((double)i) {}
    __device__ __forceinline__ operator float() const { return f16_to_f32(bits); }
};
struct bf16 {
    unsigned short bits;
    bf16() = default;
    __device__ __forceinline__ explicit bf16(float f) : bits(f32_to_bf16(f)) {}
    __device__ __forceinline__ explicit bf16(double d) : bits(f32_to_bf16(f64_to_f32_odd(d))) {}
    __device__ __forceinline__ explicit bf16(int i) : bf16((double)i) {}
    __device__ __forceinline__ operator float() const { return bf16_to_f32(bits); }
};
template <class T> struct is_half { static const bool value = false; };
template <> struct is_half<f16> { static const bool value = true; };
template <> struct is_half<bf16> { static const bool value = true; };

/* The type arithmetic on T runs in: 16-bit floats in float32. */
template <class T> struct Acc { typedef T type; };
template <> struct Acc<f16> { typedef float type; };
template <> struct Acc<bf16> { typedef float type; };

/* The signed integer types (the unsigned uint8 is not) */
template <class T> struct is_integer {
    static const bool value = is_same<T, long long>::value || is_same<T, int>::value ||
                              is_same<T, short>::value || is_same<T, signed char>::value ||
                              is_same<T, unsigned char>::value;
};

/* Layouts and loops --------------------------------------------------------------------- */
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
/* double -> int32 as x86's cvttsd2si: NaN and out of range give INT32_MIN. */
__device__ __forceinline__ int d2i32(double v) {
    if (!(v > -2147483649.0 && v < 2147483648.0)) return (int)0x80000000u;
    return (int)v;
}
/* double -> integer type D as NumPy on x86: int64 directly, narrower ones through int32
   (truncated to their bits). */
template <class D> __device__ __forceinline__ D d2int(double v) {
    if constexpr (sizeof(D) == 8) {
        return (D)d2i(v);
    } else {
        return (D)(pg_u32)d2i32(v);
    }
}

/* Conversion between element types with the protocol's rules (float -> int truncates, NaN and
   out of range as NumPy on x86; anything -> bool is != 0; float64 and integers -> 16 bits
   round once, from double; 16-bit floats convert as their float32 value). */
template <class D, class S> __device__ __forceinline__ D convert(S v) {
    if constexpr (is_same<D, S>::value) {
        return v;
    } else if constexpr (is_half<S>::value) {
        return convert<D>((float)v);
    } else if constexpr (is_same<D, bool>::value) {
        return v != S(0);
    } else if constexpr (is_half<D>::value) {
        if constexpr (is_same<S, float>::value) {
            return D(v);
        } else if constexpr (is_same<S, bool>::value) {
            return D(v ? 1.0f : 0.0f);
        } else {
            return D((double)v);
        }
    } else if constexpr (is_same<S, bool>::value) {
        return v ? D(1) : D(0);
    } else if constexpr (is_floating<S>::value && !is_floating<D>::value) {
        return d2int<D>((double)v);
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
template <class T> __device__ __forceinline__ T sigmoid(T v) {
    /* split by sign so exp never overflows */
    T e = exp_(-fabs_(v));
    T r = T(1) / (T(1) + e);
    return v >= T(0) ? r : e * r;
}
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
template <> __device__ __forceinline__ short lowest<short>() { return (short)-32768; }
template <> __device__ __forceinline__ signed char lowest<signed char>() { return (signed char)-128; }
template <> __device__ __forceinline__ unsigned char lowest<unsigned char>() { return 0; }
template <class T> __device__ __forceinline__ T highest();
template <> __device__ __forceinline__ float highest<float>() { return __int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double highest<double>() {
    return __longlong_as_double(0x7ff0000000000000ll);
}
template <> __device__ __forceinline__ long long highest<long long>() {
    return 0x7fffffffffffffffll;
}
template <> __device__ __forceinline__ int highest<int>() { return 0x7fffffff; }
template <> __device__ __forceinline__ short highest<short>() { return 32767; }
template <> __device__ __forceinline__ signed char highest<signed char>() { return 127; }
template <> __device__ __forceinline__ unsigned char highest<unsigned char>() { return 255; }

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
