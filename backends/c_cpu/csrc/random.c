/* Counter-based random numbers: Philox4x32-10 and the values derived from its words, exactly
   as the core's plugrad/random_stream.py specifies them (its NumPy reference is what the
   conformance kit checks this file against, bit for bit). */
#include "pg.h"

/* The spec rounds every float64 operation on its own. GCC contracts a * b + c into a fused
   multiply-add wherever the target has one (aarch64, -march builds), which changes the last
   bit, so contraction is off for this file. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

enum { RNG_UNIFORM = 0, RNG_NORMAL = 1, RNG_BERNOULLI = 2 };

static inline void philox(uint64_t ctr, uint64_t key, uint32_t r[4]) {
    uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int i = 0; i < 10; i++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    r[0] = c0; r[1] = c1; r[2] = c2; r[3] = c3;
}

/* u(hi, lo) = ((hi << 32 | lo) >> 11) * 2^-53, exact, in [0, 1) */
static inline double unit53(uint32_t hi, uint32_t lo) {
    return (double)((((uint64_t)hi << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}

/* The float64 value x of element e, before rounding to the output dtype. */
static inline double value_of(int kind, uint64_t e, uint64_t key, double a, double b) {
    uint32_t r[4];
    philox(e, key, r);
    if (kind == RNG_UNIFORM) return a + (b - a) * unit53(r[0], r[1]);
    if (kind == RNG_NORMAL) {
        double z = sqrt(-2.0 * log(1.0 - unit53(r[0], r[1]))) *
                   cos(6.283185307179586 * unit53(r[2], r[3]));
        return a + b * z;
    }
    return unit53(r[0], r[1]) < a ? 1.0 : 0.0;
}

/* Round once to T; a uniform draw that rounds up to `high` (hi, when clamp) becomes the
   largest T below it (below), so the interval stays half-open. */
#define STORE_FLOAT(T, hi, below, clamp)                \
    {                                                   \
        T r = (T)v;                                     \
        if ((clamp) && r >= (hi)) r = (below);          \
        ((T *)out)[oo] = r;                             \
    }                                                   \
    break;

/* The same for 16-bit floats, in their bits: TO rounds a double to them, LOAD widens. */
#define STORE_HALF(TO, LOAD, hi, below, clamp)          \
    {                                                   \
        uint16_t r = TO(v);                             \
        if ((clamp) && LOAD(r) >= LOAD(hi)) r = (below); \
        ((uint16_t *)out)[oo] = r;                      \
    }                                                   \
    break;

/* The 16-bit float just below bits h (toward -inf): the bits order magnitudes. */
static uint16_t half_below(uint16_t h) {
    if ((h & 0x7fffu) == 0) return 0x8001u;
    return (h & 0x8000u) ? (uint16_t)(h + 1) : (uint16_t)(h - 1);
}

/* meta = [nd, shape, out strides]; element e (row-major in shape) draws from counter e */
int pg_random(int kind, int dt, char *out, const int64_t *meta, double a, double b,
              uint64_t seed) {
    int64_t nd = meta[0];
    if (dt < 0 || dt >= DT_COUNT || kind < 0 || kind > 2 || nd < 0 || nd > PG_MAXD) return -1;
    int floating = dt == DT_F32 || dt == DT_F64 || dt == DT_F16 || dt == DT_BF16;
    if (kind != RNG_BERNOULLI && !floating) return -1;
    const int64_t *shape = meta + 1, *os = meta + 1 + nd;
    int64_t total = 1;
    for (int d = 0; d < nd; d++) total *= shape[d];
    if (total == 0) return 0;
    uint64_t key = (seed * 0x9E3779B97F4A7C15ull) ^ 0x5851F42D4C957F2Dull;
    int uniform = kind == RNG_UNIFORM;
    float hi32 = (float)b, below32 = nextafterf(hi32, -INFINITY);
    double below64 = nextafter(b, -INFINITY);
    int clamp32 = uniform && hi32 > (float)a, clamp64 = uniform && b > a;
    uint16_t hi16 = pg_f64_to_f16(b), hib = pg_f64_to_bf16(b);
    uint16_t below16 = half_below(hi16), belowb = half_below(hib);
    int clamp16 = uniform && pg_f16_to_f32(hi16) > pg_f16_to_f32(pg_f64_to_f16(a));
    int clampb = uniform && pg_bf16_to_f32(hib) > pg_bf16_to_f32(pg_f64_to_bf16(a));
    int nt = pg_threads_for(total * 8);
#pragma omp parallel for schedule(static) num_threads(nt) if(nt > 1)
    for (int64_t e = 0; e < total; e++) {
        int64_t rem = e, oo = 0;
        for (int d = (int)nd - 1; d >= 0; d--) {
            oo += (rem % shape[d]) * os[d];
            rem /= shape[d];
        }
        double v = value_of(kind, (uint64_t)e, key, a, b);
        switch (dt) {
        case DT_F32: STORE_FLOAT(float, hi32, below32, clamp32)
        case DT_F64: STORE_FLOAT(double, b, below64, clamp64)
        case DT_F16: STORE_HALF(pg_f64_to_f16, pg_f16_to_f32, hi16, below16, clamp16)
        case DT_BF16: STORE_HALF(pg_f64_to_bf16, pg_bf16_to_f32, hib, belowb, clampb)
        case DT_I64: ((int64_t *)out)[oo] = v != 0.0; break;
        case DT_I32: ((int32_t *)out)[oo] = v != 0.0; break;
        case DT_I16: ((int16_t *)out)[oo] = v != 0.0; break;
        default: ((uint8_t *)out)[oo] = v != 0.0; break; /* bool, int8, uint8 */
        }
    }
    return 0;
}
