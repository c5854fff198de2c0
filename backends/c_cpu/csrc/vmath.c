/* Vectorised float32 exp, log, tanh, sigmoid and erf (see vmath_impl.h), one copy per SIMD target,
   picked at run time. */
#include "pg.h"

#pragma GCC diagnostic ignored "-Wpsabi" /* vector helpers are always inlined */

#define PG_VARRAY(OPNAME)                                                                    \
    PG_VTARGET static void PG_F(OPNAME##_arr)(float *o, int64_t so, const float *x,          \
                                              int64_t sx, int64_t n) {                       \
        int64_t i = 0;                                                                       \
        if (so == 1 && sx == 1) {                                                            \
            for (; i + PG_VW <= n; i += PG_VW) {                                             \
                PG_T(f) v;                                                                   \
                memcpy(&v, x + i, sizeof v);                                                 \
                v = PG_F(OPNAME)(v);                                                         \
                memcpy(o + i, &v, sizeof v);                                                 \
            }                                                                                \
        } else {                                                                             \
            for (; i + PG_VW <= n; i += PG_VW) {                                             \
                PG_T(f) v;                                                                   \
                for (int j = 0; j < PG_VW; j++) v[j] = x[(i + j) * sx];                      \
                v = PG_F(OPNAME)(v);                                                         \
                for (int j = 0; j < PG_VW; j++) o[(i + j) * so] = v[j];                      \
            }                                                                                \
        }                                                                                    \
        if (i < n) {                                                                         \
            PG_T(f) v = {0};                                                                 \
            for (int j = 0; j < n - i; j++) v[j] = x[(i + j) * sx];                          \
            v = PG_F(OPNAME)(v);                                                             \
            for (int j = 0; j < n - i; j++) o[(i + j) * so] = v[j];                          \
        }                                                                                    \
    }

#define PG_VDISPATCH                                                                         \
    PG_VTARGET static void PG_F(run)(int op, float *o, int64_t so, const float *x,           \
                                     int64_t sx, int64_t n) {                                \
        switch (op) {                                                                        \
        case U_EXP: PG_F(pg_vexpf_arr)(o, so, x, sx, n); break;                              \
        case U_LOG: PG_F(pg_vlogf_arr)(o, so, x, sx, n); break;                              \
        case U_TANH: PG_F(pg_vtanhf_arr)(o, so, x, sx, n); break;                            \
        case U_ERF: PG_F(pg_verff_arr)(o, so, x, sx, n); break;                              \
        default: PG_F(pg_vsigmoidf_arr)(o, so, x, sx, n); break;                             \
        }                                                                                    \
    }

#define PG_VINSTANTIATE                                                                      \
    PG_VARRAY(pg_vexpf) PG_VARRAY(pg_vlogf) PG_VARRAY(pg_vtanhf) PG_VARRAY(pg_vsigmoidf)      \
    PG_VARRAY(pg_verff) PG_VDISPATCH

#if defined(__x86_64__) && defined(__GNUC__)
#define PG_VSFX avx512
#define PG_VW 8
#define PG_VTARGET __attribute__((target("avx512f,avx2,fma")))
#define PG_VD_(c) ((PG_T(d)){(c), (c), (c), (c), (c), (c), (c), (c)})
#define PG_VF_(c) ((PG_T(f)){(c), (c), (c), (c), (c), (c), (c), (c)})
#include "vmath_impl.h"
PG_VINSTANTIATE
#undef PG_VSFX
#undef PG_VW
#undef PG_VTARGET
#undef PG_VD_
#undef PG_VF_

#define PG_VSFX avx2
#define PG_VW 4
#define PG_VTARGET __attribute__((target("avx2,fma")))
#define PG_VD_(c) ((PG_T(d)){(c), (c), (c), (c)})
#define PG_VF_(c) ((PG_T(f)){(c), (c), (c), (c)})
#include "vmath_impl.h"
PG_VINSTANTIATE
#undef PG_VSFX
#undef PG_VW
#undef PG_VTARGET
#undef PG_VD_
#undef PG_VF_
#define PG_VHAVE_X86 1
#endif

#define PG_VSFX gen
#define PG_VW 2
#define PG_VTARGET
#define PG_VD_(c) ((PG_T(d)){(c), (c)})
#define PG_VF_(c) ((PG_T(f)){(c), (c)})
#include "vmath_impl.h"
PG_VINSTANTIATE

void pg_vmath_f32(int op, float *o, int64_t so, const float *x, int64_t sx, int64_t n) {
    static int level = -1;
    if (level < 0) level = pg_simd_level();
#ifdef PG_VHAVE_X86
    if (level == 3) { run_avx512(op, o, so, x, sx, n); return; }
    if (level == 2) { run_avx2(op, o, so, x, sx, n); return; }
#endif
    run_gen(op, o, so, x, sx, n);
}
