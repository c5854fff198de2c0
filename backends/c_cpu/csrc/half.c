/* Bulk float16 / bfloat16 conversions (half.h): F16C's vcvtph2ps / vcvtps2ph for contiguous
   float16 runs where the CPU has them, the portable bit code otherwise. */
#include "pg.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PG_HAVE_F16C_PATH 1

__attribute__((target("avx,f16c"))) static void widen_f16c(const uint16_t *x, float *o,
                                                            int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(o + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) o[i] = pg_f16_to_f32(x[i]);
}

__attribute__((target("avx,f16c"))) static void narrow_f16c(const float *x, uint16_t *o,
                                                             int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(o + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) o[i] = pg_f32_to_f16(x[i]);
}

static int have_f16c(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
    }
    return known;
}
#endif

PG_CLONES void pg_widen(int dt, const uint16_t *x, int64_t sx, float *o, int64_t n) {
    if (dt == DT_BF16) {
        if (sx == 1) /* the contiguous loop apart, so it vectorises */
            for (int64_t i = 0; i < n; i++) o[i] = pg_bf16_to_f32(x[i]);
        else
            for (int64_t i = 0; i < n; i++) o[i] = pg_bf16_to_f32(x[i * sx]);
        return;
    }
#ifdef PG_HAVE_F16C_PATH
    if (sx == 1 && have_f16c()) {
        widen_f16c(x, o, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) o[i] = pg_f16_to_f32(x[i * sx]);
}

PG_CLONES void pg_narrow(int dt, const float *x, uint16_t *o, int64_t so, int64_t n) {
    if (dt == DT_BF16) {
        if (so == 1)
            for (int64_t i = 0; i < n; i++) o[i] = pg_f32_to_bf16(x[i]);
        else
            for (int64_t i = 0; i < n; i++) o[i * so] = pg_f32_to_bf16(x[i]);
        return;
    }
#ifdef PG_HAVE_F16C_PATH
    if (so == 1 && have_f16c()) {
        narrow_f16c(x, o, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) o[i * so] = pg_f32_to_f16(x[i]);
}
