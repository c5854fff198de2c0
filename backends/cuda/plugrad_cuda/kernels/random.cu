/* Counter-based random numbers, bit for bit the stream of every plugrad backend: Philox4x32-10
   keyed by the seed, counter = the element's row-major index; a uniform from 53 bits, a normal
   by Box-Muller, bernoulli as uniform < p. The arithmetic uses the _rn intrinsics so no
   multiply-add is contracted into an FMA (which would change the last bit). */
#include "pg_common.cuh"

namespace pg {

enum RandomKind { RANDOM_UNIFORM, RANDOM_NORMAL, RANDOM_BERNOULLI };

__device__ __forceinline__ void philox(pg_u64 ctr, pg_u64 key, pg_u32 r[4]) {
    pg_u32 c0 = (pg_u32)ctr, c1 = (pg_u32)(ctr >> 32), c2 = 0, c3 = 0;
    pg_u32 k0 = (pg_u32)key, k1 = (pg_u32)(key >> 32);
    for (int i = 0; i < 10; i++) {
        pg_u64 p0 = (pg_u64)0xD2511F53u * c0, p1 = (pg_u64)0xCD9E8D57u * c2;
        pg_u32 n0 = (pg_u32)(p1 >> 32) ^ c1 ^ k0, n2 = (pg_u32)(p0 >> 32) ^ c3 ^ k1;
        c1 = (pg_u32)p1;
        c3 = (pg_u32)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    r[0] = c0;
    r[1] = c1;
    r[2] = c2;
    r[3] = c3;
}

__device__ __forceinline__ double u53(pg_u32 hi, pg_u32 lo) {
    return (double)((((pg_u64)hi << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}

/* The largest value of T below x (a uniform draw that rounds up to `high` becomes it, so the
   interval stays half-open); integer dtypes never draw uniforms (the core refuses them). */
__device__ __forceinline__ float below(float x) { return nextafterf(x, -3.4028234663852886e38f); }
__device__ __forceinline__ double below(double x) {
    return nextafter(x, -1.7976931348623157e308);
}
/* 16-bit floats: the bits order magnitudes */
template <class H> __device__ __forceinline__ H half_below(H x) {
    H r;
    r.bits = (x.bits & 0x7fffu) == 0 ? (unsigned short)0x8001u
             : (x.bits & 0x8000u)   ? (unsigned short)(x.bits + 1)
                                    : (unsigned short)(x.bits - 1);
    return r;
}
__device__ __forceinline__ f16 below(f16 x) { return half_below(x); }
__device__ __forceinline__ bf16 below(bf16 x) { return half_below(x); }
template <class T>
__device__ __forceinline__ T below(T x) { return x; }

/* The float64 value of element e before rounding (plugrad/random_stream.py): every operation
   rounded on its own (the _rn intrinsics keep the compiler from contracting an FMA). */
__device__ __forceinline__ double value_of(int kind, pg_u64 e, pg_u64 key, double a, double b) {
    pg_u32 r[4];
    philox(e, key, r);
    if (kind == RANDOM_UNIFORM) return __dadd_rn(a, __dmul_rn(b - a, u53(r[0], r[1])));
    if (kind == RANDOM_NORMAL) {
        double radius = sqrt(__dmul_rn(-2.0, log(1.0 - u53(r[0], r[1]))));
        double z = __dmul_rn(radius, cos(__dmul_rn(6.283185307179586, u53(r[2], r[3]))));
        return __dadd_rn(a, __dmul_rn(b, z));
    }
    return u53(r[0], r[1]) < a ? 1.0 : 0.0;
}

template <class T>
__device__ void random(int kind, T *out, const Layout<1> &L, double a, double b, pg_u64 seed,
                       pg_i64 n) {
    const pg_u64 key = seed * 0x9E3779B97F4A7C15ull ^ 0x5851F42D4C957F2Dull;
    const T high = convert<T>(b), high_below = below(high);
    const bool clamp = kind == RANDOM_UNIFORM && high > convert<T>(a);
    for (pg_i64 e = global_thread(); e < n; e += grid_threads()) {
        pg_i64 off[1];
        offsets(L, e, off);
        T v = convert<T>(value_of(kind, (pg_u64)e, key, a, b));
        if (clamp && v >= high) v = high_below;
        out[off[0]] = v;
    }
}

}  // namespace pg

#define PG_RANDOM_KERNEL(name, T)                                                          \
    extern "C" __global__ void pg_random_##name(pg_i64 kind, T *out, pg::Layout<1> L,      \
                                                double a, double b, pg_u64 seed,           \
                                                pg_i64 n) {                                \
        pg::random((int)kind, out, L, a, b, seed, n);                                      \
    }                                                                                      \
    PG_REGISTER_KERNEL_NO_SYNC(pg_random_##name)
PG_ALL_DTYPES(PG_RANDOM_KERNEL)
