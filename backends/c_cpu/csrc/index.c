/* gather and scatter_add. */
#include "pg.h"

/* meta = [nd, shape, out strides, index strides, x strides (0 on axis)] */
int pg_gather(int dt, char *out, char *x, char *index, const int64_t *meta, int64_t axis_size,
              int64_t axis_stride) {
    int64_t nd = meta[0];
    if (dt < 0 || dt >= DT_COUNT || nd < 0 || nd > PG_MAXD || axis_size < 0) return -1;
    const int64_t *shape = meta + 1, *os = meta + 1 + nd, *is = meta + 1 + 2 * nd,
                  *xs = meta + 1 + 3 * nd;
    int64_t total = pg_count(nd, shape);
    if (total < 0) return -1;
    if (total == 0) return 0;
    int sz = pg_itemsize[dt];
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
    if (dt < 0 || dt >= DT_COUNT || nd < 1 || nd > PG_MAXD || axis < 0 || axis >= nd || axis_size < 0)
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
            case DT_I32: SCATTER_CASE(uint32_t, (uint32_t)(*o + v))
            case DT_I16: SCATTER_CASE(uint16_t, (uint16_t)(*o + v))
            case DT_I8:
            case DT_U8: SCATTER_CASE(uint8_t, (uint8_t)(*o + v))
            /* 16-bit floats: each addition rounded, as NumPy's add.at */
            case DT_F16: SCATTER_CASE(uint16_t, pg_f32_to_f16(pg_f16_to_f32(*o) + pg_f16_to_f32(v)))
            case DT_BF16:
                SCATTER_CASE(uint16_t, pg_f32_to_bf16(pg_bf16_to_f32(*o) + pg_bf16_to_f32(v)))
            default: SCATTER_CASE(uint8_t, (*o | v) != 0)
            }
        }
    }
    return bad ? -3 : 0;
}
