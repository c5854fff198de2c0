/* Reductions (sum, max, min, prod over any set of axes) and argmax / argmin. */
#include "pg.h"

typedef struct {
    int nk, nr;                 /* kept and reduced dims after simplification */
    int64_t kshape[PG_MAXD], kxs[PG_MAXD], kos[PG_MAXD];
    int64_t rshape[PG_MAXD], rxs[PG_MAXD];
    int64_t nout, nred;
} red_t;

static int64_t iabs64(int64_t v) { return v < 0 ? -v : v; }

/* sort dims by |xs| descending, then merge; shape/xs/os (os may be NULL) */
static int merge_dims(int n, int64_t *shape, int64_t *xs, int64_t *os) {
    for (int i = 1; i < n; i++) {
        int64_t sh = shape[i], a = xs[i], b = os ? os[i] : 0;
        int j = i - 1;
        while (j >= 0 && iabs64(xs[j]) < iabs64(a)) {
            shape[j + 1] = shape[j];
            xs[j + 1] = xs[j];
            if (os) os[j + 1] = os[j];
            j--;
        }
        shape[j + 1] = sh;
        xs[j + 1] = a;
        if (os) os[j + 1] = b;
    }
    if (n == 0) return 0;
    int m = 0;
    for (int d = 1; d < n; d++) {
        if (xs[m] == xs[d] * shape[d] && (!os || os[m] == os[d] * shape[d])) {
            shape[m] *= shape[d];
            xs[m] = xs[d];
            if (os) os[m] = os[d];
        } else {
            m++;
            shape[m] = shape[d];
            xs[m] = xs[d];
            if (os) os[m] = os[d];
        }
    }
    return m + 1;
}

/* meta = [nd, shape, x strides, out strides, reduced flags]; every extent >= 1 */
static int red_load(red_t *r, const int64_t *meta) {
    int64_t nd = meta[0];
    if (nd < 0 || nd > PG_MAXD || pg_count(nd, meta + 1) < 0) return -1;
    const int64_t *shape = meta + 1, *xs = meta + 1 + nd, *os = meta + 1 + 2 * nd,
                  *flag = meta + 1 + 3 * nd;
    r->nk = r->nr = 0;
    r->nout = r->nred = 1;
    for (int d = 0; d < nd; d++) {
        if (shape[d] < 1) return -1;
        if (shape[d] == 1) continue;
        if (flag[d]) {
            r->rshape[r->nr] = shape[d];
            r->rxs[r->nr++] = xs[d];
            r->nred *= shape[d];
        } else {
            r->kshape[r->nk] = shape[d];
            r->kxs[r->nk] = xs[d];
            r->kos[r->nk++] = os[d];
            r->nout *= shape[d];
        }
    }
    r->nk = merge_dims(r->nk, r->kshape, r->kxs, r->kos);
    r->nr = merge_dims(r->nr, r->rshape, r->rxs, NULL);
    if (r->nr == 0) {
        r->nr = 1;
        r->rshape[0] = 1;
        r->rxs[0] = 0;
    }
    return 0;
}

#define NANMAX(a, v) ((((v) > (a)) | ((v) != (v))) ? (v) : (a)) /* | not ||: vectorises */
#define NANMIN(a, v) ((((v) < (a)) | ((v) != (v))) ? (v) : (a))
#define PLUS(a, v) ((a) + (v))
#define TIMES(a, v) ((a) * (v))
#define IMAX(a, v) ((v) > (a) ? (v) : (a))
#define IMIN(a, v) ((v) < (a) ? (v) : (a))
#define JB 4096

#define DEFINE_REDUCE(NAME, T, ACC, INIT, COMB_T, COMB_A)                                     \
    PG_CLONES static ACC NAME##_row(const T *x, int64_t n, int64_t s) {                       \
        ACC acc = INIT;                                                                       \
        int64_t i = 0;                                                                        \
        if (s == 1) {                                                                         \
            while (n - i >= 16) {                                                             \
                int64_t blk = n - i < 4096 ? ((n - i) & ~(int64_t)15) : 4096;                 \
                T lane[16];                                                                   \
                for (int j = 0; j < 16; j++) lane[j] = (T)(INIT);                             \
                for (int64_t k = 0; k < blk; k += 16)                                         \
                    for (int j = 0; j < 16; j++) lane[j] = COMB_T(lane[j], x[i + k + j]);     \
                for (int j = 0; j < 16; j++) acc = COMB_A(acc, (ACC)lane[j]);                 \
                i += blk;                                                                     \
            }                                                                                 \
            for (; i < n; i++) acc = COMB_A(acc, (ACC)x[i]);                                  \
        } else {                                                                              \
            for (; i < n; i++) acc = COMB_A(acc, (ACC)x[i * s]);                              \
        }                                                                                     \
        return acc;                                                                           \
    }                                                                                         \
    /* reduce the flattened reduced-index range [e0, e1) of one output */                     \
    static ACC NAME##_rsub(const red_t *r, const T *x, int64_t e0, int64_t e1) {              \
        ACC acc = INIT;                                                                       \
        int nr = r->nr;                                                                       \
        int64_t n_in = r->rshape[nr - 1], s_in = r->rxs[nr - 1];                              \
        int64_t row = e0 / n_in, col = e0 % n_in;                                             \
        while (e0 < e1) {                                                                     \
            int64_t off = 0, rem = row;                                                       \
            for (int d = nr - 2; d >= 0; d--) {                                               \
                off += (rem % r->rshape[d]) * r->rxs[d];                                      \
                rem /= r->rshape[d];                                                          \
            }                                                                                 \
            int64_t len = n_in - col;                                                         \
            if (len > e1 - e0) len = e1 - e0;                                                 \
            ACC v = NAME##_row(x + off + col * s_in, len, s_in);                              \
            acc = COMB_A(acc, v);                                                             \
            e0 += len;                                                                        \
            row++;                                                                            \
            col = 0;                                                                          \
        }                                                                                     \
        return acc;                                                                           \
    }                                                                                         \
    static void NAME##_offsets(const red_t *r, int64_t o, int64_t *xo, int64_t *oo) {         \
        int64_t a = 0, b = 0, rem = o;                                                        \
        for (int d = r->nk - 1; d >= 0; d--) {                                                \
            int64_t idx = rem % r->kshape[d];                                                 \
            rem /= r->kshape[d];                                                              \
            a += idx * r->kxs[d];                                                             \
            b += idx * r->kos[d];                                                             \
        }                                                                                     \
        *xo = a;                                                                              \
        *oo = b;                                                                              \
    }                                                                                         \
    static void NAME##_case_a(const red_t *r, const T *x, T *out, int nt) {                   \
        if (nt == 1) { /* no OpenMP region: even an if(0) one costs about a microsecond */   \
            for (int64_t o = 0; o < r->nout; o++) {                                           \
                int64_t xo, oo;                                                               \
                NAME##_offsets(r, o, &xo, &oo);                                               \
                out[oo] = (T)NAME##_rsub(r, x + xo, 0, r->nred);                              \
            }                                                                                 \
            return;                                                                           \
        }                                                                                     \
        if (r->nout >= 8 * (int64_t)nt) {                                                     \
            _Pragma("omp parallel for schedule(static) num_threads(nt)")                      \
            for (int64_t o = 0; o < r->nout; o++) {                                           \
                int64_t xo, oo;                                                               \
                NAME##_offsets(r, o, &xo, &oo);                                               \
                out[oo] = (T)NAME##_rsub(r, x + xo, 0, r->nred);                              \
            }                                                                                 \
            return;                                                                           \
        }                                                                                     \
        ACC part[256];                                                                        \
        if (nt > 256) nt = 256;                                                               \
        for (int64_t o = 0; o < r->nout; o++) {                                               \
            int64_t xo, oo;                                                                   \
            NAME##_offsets(r, o, &xo, &oo);                                                   \
            int used = nt;                                                                    \
            _Pragma("omp parallel num_threads(nt)")                                           \
            {                                                                                 \
                int t = omp_get_thread_num(), T_ = omp_get_num_threads();                     \
                if (t == 0) used = T_;                                                        \
                int64_t s0 = r->nred / T_ * t, s1 = t == T_ - 1 ? r->nred : r->nred / T_ * (t + 1); \
                part[t] = NAME##_rsub(r, x + xo, s0, s1);                                     \
            }                                                                                 \
            ACC acc = part[0];                                                                \
            for (int t = 1; t < used; t++) acc = COMB_A(acc, part[t]);                        \
            out[oo] = (T)acc;                                                                 \
        }                                                                                     \
    }                                                                                         \
    /* the smallest-stride dim is kept: accumulate reduced rows [e0, e1) into nj outputs */   \
    PG_CLONES static void NAME##_block(const red_t *r, const T *x, T *out, int64_t nj,        \
                                       int64_t xj, int64_t oj, int64_t e0, int64_t e1) {      \
        T acc[JB];                                                                            \
        for (int64_t j = 0; j < nj; j++) acc[j] = (T)(INIT);                                  \
        int nr = r->nr;                                                                       \
        int64_t idx[PG_MAXD];                                                                 \
        const T *p = x;                                                                       \
        int64_t rem = e0;                                                                     \
        for (int d = nr - 1; d >= 0; d--) {                                                   \
            idx[d] = rem % r->rshape[d];                                                      \
            rem /= r->rshape[d];                                                              \
            p += idx[d] * r->rxs[d];                                                          \
        }                                                                                     \
        for (int64_t e = e0; e < e1; e++) {                                                   \
            if (xj == 1) {                                                                    \
                for (int64_t j = 0; j < nj; j++) acc[j] = COMB_T(acc[j], p[j]);               \
            } else {                                                                          \
                for (int64_t j = 0; j < nj; j++) acc[j] = COMB_T(acc[j], p[j * xj]);          \
            }                                                                                 \
            for (int d = nr - 1; d >= 0; d--) {                                               \
                p += r->rxs[d];                                                               \
                if (++idx[d] < r->rshape[d]) break;                                           \
                idx[d] = 0;                                                                   \
                p -= r->rshape[d] * r->rxs[d];                                                \
            }                                                                                 \
        }                                                                                     \
        for (int64_t j = 0; j < nj; j++) out[j * oj] = acc[j];                                \
    }                                                                                         \
    static void NAME##_case_b(red_t *r, const T *x, T *out, int nt) {                         \
        int nk = r->nk;                                                                       \
        int64_t nj = r->kshape[nk - 1], xj = r->kxs[nk - 1], oj = r->kos[nk - 1];             \
        r->nk = nk - 1;                                                                       \
        int64_t nouter = r->nout / nj, nb = (nj + JB - 1) / JB, items = nouter * nb;          \
        T *part = NULL;                                                                       \
        if (items < nt && nt > 1 && r->nred >= 2 * nt)                                        \
            part = (T *)pg_scratch_alloc(sizeof(T) * (size_t)(nt * JB));                      \
        if (part == NULL && nt == 1) {                                                        \
            for (int64_t w = 0; w < items; w++) {                                             \
                int64_t o = w / nb, b = w % nb, xo, oo;                                       \
                NAME##_offsets(r, o, &xo, &oo);                                               \
                int64_t j0 = b * JB, len = nj - j0 < JB ? nj - j0 : JB;                       \
                NAME##_block(r, x + xo + j0 * xj, out + oo + j0 * oj, len, xj, oj, 0,         \
                             r->nred);                                                        \
            }                                                                                 \
        } else if (part == NULL) {                                                            \
            _Pragma("omp parallel for schedule(static) num_threads(nt)")                      \
            for (int64_t w = 0; w < items; w++) {                                             \
                int64_t o = w / nb, b = w % nb, xo, oo;                                       \
                NAME##_offsets(r, o, &xo, &oo);                                               \
                int64_t j0 = b * JB, len = nj - j0 < JB ? nj - j0 : JB;                       \
                NAME##_block(r, x + xo + j0 * xj, out + oo + j0 * oj, len, xj, oj, 0,         \
                             r->nred);                                                        \
            }                                                                                 \
        } else {                                                                              \
            /* few outputs: split the reduced rows between threads, combine in order */       \
            for (int64_t w = 0; w < items; w++) {                                             \
                int64_t o = w / nb, b = w % nb, xo, oo;                                       \
                NAME##_offsets(r, o, &xo, &oo);                                               \
                int64_t j0 = b * JB, len = nj - j0 < JB ? nj - j0 : JB;                       \
                int used = nt;                                                                \
                _Pragma("omp parallel num_threads(nt)")                                       \
                {                                                                             \
                    int t = omp_get_thread_num(), T_ = omp_get_num_threads();                 \
                    if (t == 0) used = T_;                                                    \
                    int64_t s0 = r->nred / T_ * t;                                            \
                    int64_t s1 = t == T_ - 1 ? r->nred : r->nred / T_ * (t + 1);              \
                    NAME##_block(r, x + xo + j0 * xj, part + t * JB, len, xj, 1, s0, s1);     \
                }                                                                             \
                for (int64_t j = 0; j < len; j++) {                                           \
                    T acc = part[j];                                                          \
                    for (int t = 1; t < used; t++) acc = COMB_T(acc, part[t * JB + j]);       \
                    out[oo + (j0 + j) * oj] = acc;                                            \
                }                                                                             \
            }                                                                                 \
            pg_scratch_free(part);                                                            \
        }                                                                                     \
        r->nk = nk;                                                                           \
    }                                                                                         \
    static void NAME(red_t *r, const char *x, char *out) {                                    \
        int nt = pg_threads_for(r->nout * r->nred);                                           \
        int case_b = 0;                                                                       \
        if (r->nk > 0 && r->kshape[r->nk - 1] >= 16) {                                        \
            int64_t kmin = iabs64(r->kxs[r->nk - 1]), rmin = iabs64(r->rxs[r->nr - 1]);       \
            case_b = r->nred == 1 || kmin < rmin;                                             \
        }                                                                                     \
        if (case_b)                                                                           \
            NAME##_case_b(r, (const T *)x, (T *)out, nt);                                     \
        else                                                                                  \
            NAME##_case_a(r, (const T *)x, (T *)out, nt);                                     \
    }

#ifndef _OPENMP
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
#endif

DEFINE_REDUCE(sum_f32, float, double, 0, PLUS, PLUS)
DEFINE_REDUCE(max_f32, float, float, -INFINITY, NANMAX, NANMAX)
DEFINE_REDUCE(min_f32, float, float, INFINITY, NANMIN, NANMIN)
DEFINE_REDUCE(prod_f32, float, float, 1, TIMES, TIMES)
DEFINE_REDUCE(sum_f64, double, double, 0, PLUS, PLUS)
DEFINE_REDUCE(max_f64, double, double, -INFINITY, NANMAX, NANMAX)
DEFINE_REDUCE(min_f64, double, double, INFINITY, NANMIN, NANMIN)
DEFINE_REDUCE(prod_f64, double, double, 1, TIMES, TIMES)
DEFINE_REDUCE(max_bool, uint8_t, uint8_t, 0, IMAX, IMAX)
DEFINE_REDUCE(min_bool, uint8_t, uint8_t, 1, IMIN, IMIN)

/* The smallest and largest values of integer type T of BITS bits. */
#define TMIN(T, BITS) ((T)((T)-1 < 0 ? (uint64_t)1 << ((BITS)-1) : 0))
#define TMAX(T, BITS) ((T)~TMIN(T, BITS))
/* Integers: sums and products wrap (computed unsigned, the same bits), extremes signed. */
#define INT_REDUCE(SUF, CODE, T, TU, BITS, ...)                       \
    DEFINE_REDUCE(sum_##SUF, TU, uint64_t, 0, PLUS, PLUS)             \
    DEFINE_REDUCE(prod_##SUF, TU, uint64_t, 1, TIMES, TIMES)          \
    DEFINE_REDUCE(max_##SUF, T, T, TMIN(T, BITS), IMAX, IMAX)         \
    DEFINE_REDUCE(min_##SUF, T, T, TMAX(T, BITS), IMIN, IMIN)
PG_INT_TYPES(INT_REDUCE)

typedef void (*red_fn)(red_t *, const char *, char *);
#define INT_REDUCE_ROW(SUF, CODE, T, TU, BITS, ...) \
    [CODE] = {sum_##SUF, max_##SUF, min_##SUF, prod_##SUF},

/* float16 and bfloat16 have none: the Python side reduces them widened to float32. */
static const red_fn reduce_table[DT_COUNT][4] = {
    [DT_F32] = {sum_f32, max_f32, min_f32, prod_f32},
    [DT_F64] = {sum_f64, max_f64, min_f64, prod_f64},
    [DT_BOOL] = {max_bool, max_bool, min_bool, min_bool}, /* bool: sum is any, prod is all */
    PG_INT_TYPES(INT_REDUCE_ROW)
};

int pg_reduce(int op, int dt, char *out, char *x, const int64_t *meta) {
    red_t r;
    if (op < 0 || op > R_PROD || dt < 0 || dt >= DT_COUNT || reduce_table[dt][op] == NULL ||
        red_load(&r, meta))
        return -1;
    reduce_table[dt][op](&r, x, out);
    return 0;
}

/* ---------------------------------------------------------------- arg reduce ------- */

/* Each thread takes a contiguous share of the outputs and walks their positions as an
   odometer (one division a share, not one a dimension an output: outputs are often small,
   e.g. max pooling's argmax over four taps). */
#define DEFINE_ARG(NAME, T, CMP, ISNAN)                                                  \
    static void NAME##_share(int64_t o0, int64_t o1, int nk, const int64_t *shape,        \
                             const int64_t *xs, const int64_t *os, const T *x,            \
                             int64_t *out, int64_t n, int64_t s) {                        \
        int64_t idx[PG_MAXD], xo = 0, oo = 0, rem = o0;                                  \
        for (int d = nk - 1; d >= 0; d--) {                                              \
            idx[d] = rem % shape[d];                                                     \
            rem /= shape[d];                                                             \
            xo += idx[d] * xs[d];                                                        \
            oo += idx[d] * os[d];                                                        \
        }                                                                                \
        for (int64_t o = o0; o < o1; o++) {                                              \
            const T *p = x + xo;                                                         \
            T best = p[0];                                                               \
            int64_t bi = 0;                                                              \
            if (!ISNAN(best)) {                                                          \
                for (int64_t i = 1; i < n; i++) {                                        \
                    T v = p[i * s];                                                      \
                    if (ISNAN(v)) { bi = i; break; }                                     \
                    if (v CMP best) { best = v; bi = i; }                                \
                }                                                                        \
            }                                                                            \
            out[oo] = bi;                                                                \
            for (int d = nk - 1; d >= 0; d--) { /* the next output's position */         \
                xo += xs[d];                                                             \
                oo += os[d];                                                             \
                if (++idx[d] < shape[d]) break;                                          \
                xo -= shape[d] * xs[d];                                                  \
                oo -= shape[d] * os[d];                                                  \
                idx[d] = 0;                                                              \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
    static void NAME(int64_t nout, int nk, const int64_t *shape, const int64_t *xs,      \
                     const int64_t *os, const void *xv, int64_t *out, int64_t n,         \
                     int64_t s, int nt) {                                                \
        const T *x = (const T *)xv;                                                      \
        if (nt > 1) {                                                                    \
            _Pragma("omp parallel num_threads(nt)")                                      \
            {                                                                            \
                int t = omp_get_thread_num(), T_ = omp_get_num_threads();                \
                NAME##_share(nout * t / T_, nout * (t + 1) / T_, nk, shape, xs, os, x,   \
                             out, n, s);                                                 \
            }                                                                            \
        } else {                                                                         \
            NAME##_share(0, nout, nk, shape, xs, os, x, out, n, s);                      \
        }                                                                                \
    }

#define FNAN(v) ((v) != (v))
#define NONAN(v) 0
DEFINE_ARG(argmax_f32, float, >, FNAN)
DEFINE_ARG(argmin_f32, float, <, FNAN)
DEFINE_ARG(argmax_f64, double, >, FNAN)
DEFINE_ARG(argmin_f64, double, <, FNAN)
#define INT_ARG(SUF, CODE, T, TU, BITS, ...)  \
    DEFINE_ARG(argmax_##SUF, T, >, NONAN)     \
    DEFINE_ARG(argmin_##SUF, T, <, NONAN)
PG_INT_TYPES(INT_ARG)

typedef void (*arg_fn)(int64_t, int, const int64_t *, const int64_t *, const int64_t *,
                       const void *, int64_t *, int64_t, int64_t, int);
#define INT_ARG_ROW(SUF, CODE, T, TU, BITS, ...) \
    [CODE] = {argmax_##SUF, argmin_##SUF},
/* float16 and bfloat16 have none: the Python side widens them to float32 */
static const arg_fn arg_table[DT_COUNT][2] = {
    [DT_F32] = {argmax_f32, argmin_f32},
    [DT_F64] = {argmax_f64, argmin_f64},
    [DT_BOOL] = {argmax_u8, argmin_u8},
    PG_INT_TYPES(INT_ARG_ROW)
};

int pg_arg_reduce(int op, int dt, char *out, char *x, const int64_t *meta, int64_t n,
                  int64_t stride) {
    int64_t nd = meta[0];
    if (nd < 0 || nd > PG_MAXD || n < 1 || op < 0 || op > 1 || dt < 0 || dt >= DT_COUNT ||
        arg_table[dt][op] == NULL)
        return -1;
    const int64_t *shape = meta + 1, *xs = meta + 1 + nd, *os = meta + 1 + 2 * nd;
    int64_t nout = pg_count(nd, shape), whole;
    if (nout < 0 || __builtin_mul_overflow(nout, n, &whole)) return -1;
    if (nout == 0) return 0;
    int nt = pg_threads_for(nout * n);
    arg_table[dt][op](nout, (int)nd, shape, xs, os, x, (int64_t *)out, n, stride, nt);
    return 0;
}
