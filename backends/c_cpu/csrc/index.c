/* gather, scatter_add and counter-based random numbers. */
#include "pg.h"

static const int isz_of[4] = {4, 8, 8, 1};

/* meta = [nd, shape, out strides, index strides, x strides (0 on axis)] */
int pg_gather(int dt, char *out, char *x, char *index, const int64_t *meta, int64_t axis_size,
              int64_t axis_stride) {
    int64_t nd = meta[0];
    if (dt < 0 || dt > 3 || nd < 0 || nd > PG_MAXD || axis_size < 0) return -1;
    const int64_t *shape = meta + 1, *os = meta + 1 + nd, *is = meta + 1 + 2 * nd,
                  *xs = meta + 1 + 3 * nd;
    int64_t total = pg_count(nd, shape);
    if (total < 0) return -1;
    if (total == 0) return 0;
    int sz = isz_of[dt];
    int nt = pg_threads_for(total);
    int bad = 0;
#pragma omp parallel for schedule(static) num_threads(nt) if(nt > 1) reduction(| : bad)
    for (int64_t e = 0; e < total; e++) {
        int64_t rem = e, oo = 0, io = 0, xo = 0;
        for (int d = (int)nd - 1; d >= 0; d--) {
            int64_t i = rem % shape[d];
            rem /= shape[d];
            oo += i * os[d];
            io += i * is[d];
            xo += i * xs[d];
        }
        int64_t j = ((const int64_t *)index)[io];
        if (j < 0 || j >= axis_size) {
            bad = 1;
            continue;
        }
        xo += j * axis_stride;
        memcpy(out + oo * sz, x + xo * sz, (size_t)sz);
    }
    return bad ? -3 : 0;
}

#define SCATTER_CASE(T, EXPR)                                  \
    {                                                          \
        T *o = (T *)out + oo;                                  \
        T v = ((const T *)src)[so];                            \
        *o = (EXPR);                                           \
    }                                                          \
    break;

/* meta = [nd, shape (index's), out strides (0 on axis), index strides, src strides]. The
   axis is iterated innermost by one thread, so no two threads touch one element of out. */
int pg_scatter_add(int dt, char *out, char *index, char *src, const int64_t *meta,
                   int64_t axis_size, int64_t axis_stride, int64_t axis) {
    int64_t nd = meta[0];
    if (dt < 0 || dt > 3 || nd < 1 || nd > PG_MAXD || axis < 0 || axis >= nd || axis_size < 0)
        return -1;
    const int64_t *shape = meta + 1, *os = meta + 1 + nd, *is = meta + 1 + 2 * nd,
                  *ss = meta + 1 + 3 * nd;
    int64_t total = pg_count(nd, shape);
    if (total < 0) return -1;
    if (total == 0) return 0;
    int64_t na = shape[axis], outer = total / na;
    int serial = 0;
    for (int d = 0; d < nd; d++)
        if (d != axis && shape[d] > 1 && os[d] == 0) serial = 1;
    int nt = serial ? 1 : pg_threads_for(total);
    int bad = 0;
#pragma omp parallel for schedule(static) num_threads(nt) if(nt > 1) reduction(| : bad)
    for (int64_t e = 0; e < outer; e++) {
        int64_t rem = e, ob = 0, ib = 0, sb = 0;
        for (int d = (int)nd - 1; d >= 0; d--) {
            if (d == axis) continue;
            int64_t i = rem % shape[d];
            rem /= shape[d];
            ob += i * os[d];
            ib += i * is[d];
            sb += i * ss[d];
        }
        for (int64_t a = 0; a < na; a++) {
            int64_t j = ((const int64_t *)index)[ib + a * is[axis]];
            if (j < 0 || j >= axis_size) {
                bad = 1;
                continue;
            }
            int64_t oo = ob + j * axis_stride, so = sb + a * ss[axis];
            switch (dt) {
            case DT_F32: SCATTER_CASE(float, *o + v)
            case DT_F64: SCATTER_CASE(double, *o + v)
            case DT_I64: SCATTER_CASE(uint64_t, *o + v)
            default: SCATTER_CASE(uint8_t, (*o | v) != 0)
            }
        }
    }
    return bad ? -3 : 0;
}

/* ---------------------------------------------------------------- Philox4x32-10 ---- */

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

static inline double u53(uint32_t hi, uint32_t lo) {
    return (double)((((uint64_t)hi << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}

/* meta = [nd, shape, out strides]; element e (row-major in shape) draws from counter e */
int pg_random(int kind, int dt, char *out, const int64_t *meta, double a, double b,
              uint64_t seed) {
    int64_t nd = meta[0];
    if (dt < 0 || dt > 3 || kind < 0 || kind > 2 || nd < 0 || nd > PG_MAXD) return -1;
    const int64_t *shape = meta + 1, *os = meta + 1 + nd;
    int64_t total = 1;
    for (int d = 0; d < nd; d++) total *= shape[d];
    if (total == 0) return 0;
    int nt = pg_threads_for(total * 8);
    uint64_t key = seed * 0x9E3779B97F4A7C15ull ^ 0x5851F42D4C957F2Dull;
#pragma omp parallel for schedule(static) num_threads(nt) if(nt > 1)
    for (int64_t e = 0; e < total; e++) {
        int64_t rem = e, oo = 0;
        for (int d = (int)nd - 1; d >= 0; d--) {
            oo += (rem % shape[d]) * os[d];
            rem /= shape[d];
        }
        uint32_t r[4];
        philox((uint64_t)e, key, r);
        double v;
        if (kind == 0) {
            v = a + (b - a) * u53(r[0], r[1]);
        } else if (kind == 1) {
            double u1 = 1.0 - u53(r[0], r[1]); /* (0, 1] */
            double u2 = u53(r[2], r[3]);
            v = a + b * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        } else {
            v = u53(r[0], r[1]) < a ? 1.0 : 0.0;
        }
        switch (dt) {
        case DT_F32: ((float *)out)[oo] = (float)v; break;
        case DT_F64: ((double *)out)[oo] = v; break;
        case DT_I64: ((int64_t *)out)[oo] = pg_d2i(v); break;
        default: ((uint8_t *)out)[oo] = v != 0; break;
        }
    }
    return 0;
}
