/* float16 and bfloat16: stored as 16 bits, computed in float32, rounded to nearest even.

   Scalar conversions here (portable bit code, the same results as NumPy's float16 and
   ml_dtypes' bfloat16); bulk ones over strided runs in half.c (F16C where the CPU has it). */
#ifndef PG_HALF_H
#define PG_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t pg_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float pg_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float pg_bf16_to_f32(uint16_t h) { return pg_bits_f32((uint32_t)h << 16); }

/* Branch-free, so loops of it vectorise: NaN keeps its top bits, made quiet. */
static inline uint16_t pg_f32_to_bf16(float f) {
    uint32_t u = pg_f32_bits(f);
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1)) >> 16, quiet = (u >> 16) | 0x40;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? quiet : rounded);
}

static inline float pg_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, em = h & 0x7fffu, bits;
    if (em >= 0x7c00u)
        bits = 0x7f800000u | ((em & 0x3ffu) << 13); /* inf, NaN */
    else if (em >= 0x400u)
        bits = (em << 13) + ((uint32_t)(127 - 15) << 23); /* normal */
    else
        bits = pg_f32_bits((float)em * 5.9604644775390625e-08f); /* subnormal: em * 2^-24 */
    return pg_bits_f32(bits | sign);
}

static inline uint16_t pg_f32_to_f16(float f) {
    uint32_t u = pg_f32_bits(f), sign = (u >> 16) & 0x8000u, ax = u & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* 65520 and up round to inf */
    if (ax < 0x38800000u) { /* below 2^-14: a subnormal; the FPU rounds at 2^-24 */
        uint32_t r = pg_f32_bits(pg_bits_f32(ax) + 0.5f);
        return (uint16_t)(sign | (r - 0x3f000000u));
    }
    ax += ((uint32_t)(15 - 127) << 23) + 0xfffu + ((ax >> 13) & 1);
    return (uint16_t)(sign | (ax >> 13));
}

/* d rounded to float32 "to odd" (toward zero, last bit set when inexact): rounding that to a
   format at least two bits narrower equals rounding d directly, so float64 -> float16 and
   bfloat16 round once, as NumPy and the core's random stream do, never twice. */
static inline float pg_f64_to_f32_odd(double d) {
    float f = (float)d;
    if ((double)f != d && f == f) {
        uint32_t u = pg_f32_bits(f);
        if ((f < 0 ? -(double)f : (double)f) > (d < 0 ? -d : d)) u -= 1;
        f = pg_bits_f32(u | 1);
    }
    return f;
}

static inline uint16_t pg_f64_to_f16(double d) { return pg_f32_to_f16(pg_f64_to_f32_odd(d)); }
static inline uint16_t pg_f64_to_bf16(double d) { return pg_f32_to_bf16(pg_f64_to_f32_odd(d)); }

/* n 16-bit floats (dt DT_F16 or DT_BF16) at x, stride sx, widened to float32 o[0..n) */
void pg_widen(int dt, const uint16_t *x, int64_t sx, float *o, int64_t n);
/* float32 x[0..n) rounded to 16-bit floats at o, stride so */
void pg_narrow(int dt, const float *x, uint16_t *o, int64_t so, int64_t n);

#endif
