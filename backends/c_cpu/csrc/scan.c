/* Inclusive scans along one axis: cumulative sum, product, max / min (with the position of
   each running extreme) and log-sum-exp. Each row is walked once along the axis; up to LANES
   neighbouring rows go together when another dim lies closer in memory than the axis (a scan
   along dim 0 of a matrix reads and writes whole cache lines). Work items (a block of rows)
   are split between threads.

   One definition per kind of scan (DEFINE_SCAN, DEFINE_SCAN_EXTREME), instantiated for each
   element type by the X-macros below: adding a dtype is one line there and one entry in the
   table of pg_scan. A type stored in a form that does not compute as itself (float16,
   bfloat16 bits) names the type it loads into and stores back from (LOAD / STORE). */
#include "pg.h"

#define LANES 64
#define FNAN(v) ((v) != (v))
#define NONAN(v) 0
#define PLUS(a, v) ((a) + (v))
#define TIMES(a, v) ((a) * (v))

/* log(exp(a) + exp(b)) without overflow; two -inf give -inf, +inf gives +inf, NaN stays */
static inline double logaddexp(double a, double b) {
    if (a != a || b != b) return a + b;
    double m = a > b ? a : b;
    if (m == -INFINITY || m == INFINITY) return m;
    return m + log1p(exp(-fabs(a - b)));
}
#define LOGADDEXP(a, v) logaddexp((a), (v))

typedef struct {
    int nk; /* dims other than the axis and the lane dim */
    int64_t kshape[PG_MAXD], kxs[PG_MAXD], kos[PG_MAXD];
    int64_t n, xa, oa;        /* the axis: length, x stride, out stride */
    int64_t lanes, xl, ol;    /* the lane dim (1 lane when there is none) */
    int64_t nblocks;          /* lane blocks per outer row */
} scan_t;

static void block_start(const scan_t *p, int64_t w, int64_t *xo, int64_t *oo, int64_t *len) {
    int64_t outer = w / p->nblocks, l0 = (w % p->nblocks) * LANES, a = 0, b = 0;
    for (int d = p->nk - 1; d >= 0; d--) {
        int64_t i = outer % p->kshape[d];
        outer /= p->kshape[d];
        a += i * p->kxs[d];
        b += i * p->kos[d];
    }
    *xo = a + l0 * p->xl;
    *oo = b + l0 * p->ol;
    *len = p->lanes - l0 < LANES ? p->lanes - l0 : LANES;
}

/* sums, products and log-sum-exps: acc = STEP(acc, x) in ACC, from INIT */
#define DEFINE_SCAN(NAME, T, ACC, LOAD, STORE, INIT, STEP)                                  \
    PG_CLONES static void NAME(const scan_t *p, const char *xb, char *ob, int64_t *ib,      \
                               int64_t w0, int64_t w1) {                                    \
        (void)ib;                                                                           \
        const T *x = (const T *)xb;                                                         \
        T *out = (T *)ob;                                                                   \
        int64_t xl = p->xl, ol = p->ol;                                                     \
        for (int64_t w = w0; w < w1; w++) {                                                 \
            int64_t xo, oo, len;                                                            \
            block_start(p, w, &xo, &oo, &len);                                              \
            ACC acc[LANES];                                                                 \
            for (int64_t l = 0; l < len; l++) acc[l] = INIT;                                \
            for (int64_t i = 0; i < p->n; i++) {                                            \
                const T *xp = x + xo + i * p->xa;                                           \
                T *op = out + oo + i * p->oa;                                               \
                for (int64_t l = 0; l < len; l++) {                                         \
                    acc[l] = STEP(acc[l], (ACC)LOAD(xp[l * xl]));                           \
                    op[l * ol] = STORE(acc[l]);                                             \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }

/* running max (CMP >=) or min (CMP <=) in K: the last of equal values and the latest NaN win */
#define DEFINE_SCAN_EXTREME(NAME, T, K, LOAD, STORE, ISNAN, CMP)                            \
    static void NAME(const scan_t *p, const char *xb, char *ob, int64_t *ib, int64_t w0,    \
                     int64_t w1) {                                                          \
        const T *x = (const T *)xb;                                                         \
        T *out = (T *)ob;                                                                   \
        int64_t xl = p->xl, ol = p->ol;                                                     \
        for (int64_t w = w0; w < w1; w++) {                                                 \
            int64_t xo, oo, len;                                                            \
            block_start(p, w, &xo, &oo, &len);                                              \
            K best[LANES];                                                                  \
            int64_t at[LANES];                                                              \
            for (int64_t l = 0; l < len; l++) {                                             \
                best[l] = LOAD(x[xo + l * xl]);                                             \
                at[l] = 0;                                                                  \
            }                                                                               \
            for (int64_t i = 0; i < p->n; i++) {                                            \
                const T *xp = x + xo + i * p->xa;                                           \
                T *op = out + oo + i * p->oa;                                               \
                for (int64_t l = 0; l < len; l++) {                                         \
                    K v = LOAD(xp[l * xl]);                                                 \
                    if (ISNAN(v) || v CMP best[l]) {                                        \
                        best[l] = v;                                                        \
                        at[l] = i;                                                          \
                    }                                                                       \
                    op[l * ol] = STORE(best[l]);                                            \
                }                                                                           \
                if (ib != NULL)                                                             \
                    for (int64_t l = 0; l < len; l++) ib[oo + i * p->oa + l * ol] = at[l];  \
            }                                                                               \
        }                                                                                   \
    }

#define SAME(v) (v)
#define TO_F32(v) ((float)(v))

/* (suffix, stored type, accumulator, load, store): sums and products; integers wrap
   (computed unsigned, the same bits); 16-bit floats accumulate in double, as float32 does */
#define SCAN_ARITH_TYPES(X)                                 \
    X(f32, float, double, SAME, TO_F32)                     \
    X(f64, double, double, SAME, SAME)                      \
    X(i64, uint64_t, uint64_t, SAME, SAME)                  \
    X(i8, uint8_t, uint64_t, SAME, SAME)                    \
    X(i16, uint16_t, uint64_t, SAME, SAME)                  \
    X(i32, uint32_t, uint64_t, SAME, SAME)                  \
    X(u8, uint8_t, uint64_t, SAME, SAME)                    \
    X(f16, uint16_t, double, pg_f16_to_f32, pg_f64_to_f16)  \
    X(bf16, uint16_t, double, pg_bf16_to_f32, pg_f64_to_bf16)
/* (suffix, stored type, compared type, load, store, NaN test): extremes; on bool, sum is max
   (or) and prod min (and) */
#define SCAN_EXTREME_TYPES(X)                                       \
    X(f32, float, float, SAME, SAME, FNAN)                          \
    X(f64, double, double, SAME, SAME, FNAN)                        \
    X(i64, int64_t, int64_t, SAME, SAME, NONAN)                     \
    X(i8, int8_t, int8_t, SAME, SAME, NONAN)                        \
    X(i16, int16_t, int16_t, SAME, SAME, NONAN)                     \
    X(i32, int32_t, int32_t, SAME, SAME, NONAN)                     \
    X(u8, uint8_t, uint8_t, SAME, SAME, NONAN)                      \
    X(f16, uint16_t, float, pg_f16_to_f32, pg_f32_to_f16, FNAN)     \
    X(bf16, uint16_t, float, pg_bf16_to_f32, pg_f32_to_bf16, FNAN)
/* (suffix, stored type, load, store): log-sum-exp (in double), floating types */
#define SCAN_LSE_TYPES(X)                                   \
    X(f32, float, SAME, TO_F32)                             \
    X(f64, double, SAME, SAME)                              \
    X(f16, uint16_t, pg_f16_to_f32, pg_f64_to_f16)          \
    X(bf16, uint16_t, pg_bf16_to_f32, pg_f64_to_bf16)

#define ARITH(SUF, T, ACC, LOAD, STORE)                                     \
    DEFINE_SCAN(cumsum_##SUF, T, ACC, LOAD, STORE, (ACC)0, PLUS)            \
    DEFINE_SCAN(cumprod_##SUF, T, ACC, LOAD, STORE, (ACC)1, TIMES)
#define EXTREME(SUF, T, K, LOAD, STORE, ISNAN)                              \
    DEFINE_SCAN_EXTREME(cummax_##SUF, T, K, LOAD, STORE, ISNAN, >=)         \
    DEFINE_SCAN_EXTREME(cummin_##SUF, T, K, LOAD, STORE, ISNAN, <=)
#define LSE(SUF, T, LOAD, STORE) \
    DEFINE_SCAN(cumlse_##SUF, T, double, LOAD, STORE, -INFINITY, LOGADDEXP)
SCAN_ARITH_TYPES(ARITH)
SCAN_EXTREME_TYPES(EXTREME)
SCAN_LSE_TYPES(LSE)

typedef void (*scan_fn)(const scan_t *, const char *, char *, int64_t *, int64_t, int64_t);

/* meta = [nd, shape, x strides, out strides] along `axis`; the lane dim is the other dim
   nearest in out's memory, when it is nearer than the axis. -1 if malformed. */
static int load_scan(scan_t *p, const int64_t *meta, int64_t axis, int64_t *items) {
    int64_t nd = meta[0];
    if (nd < 1 || nd > PG_MAXD || axis < 0 || axis >= nd) return -1;
    const int64_t *shape = meta + 1, *xs = meta + 1 + nd, *os = meta + 1 + 2 * nd;
    if (pg_count(nd, shape) < 0) return -1;
    int lane = -1;
    int64_t nearest = os[axis] < 0 ? -os[axis] : os[axis];
    for (int d = 0; d < nd; d++) {
        int64_t s = os[d] < 0 ? -os[d] : os[d];
        if (d != axis && shape[d] > 1 && s < nearest) {
            nearest = s;
            lane = d;
        }
    }
    p->nk = 0;
    int64_t outer = 1;
    for (int d = 0; d < nd; d++) {
        if (d == axis || d == lane) continue;
        p->kshape[p->nk] = shape[d];
        p->kxs[p->nk] = xs[d];
        p->kos[p->nk++] = os[d];
        outer *= shape[d];
    }
    p->n = shape[axis];
    p->xa = xs[axis];
    p->oa = os[axis];
    p->lanes = lane < 0 ? 1 : shape[lane];
    p->xl = lane < 0 ? 0 : xs[lane];
    p->ol = lane < 0 ? 0 : os[lane];
    p->nblocks = (p->lanes + LANES - 1) / LANES;
    *items = p->lanes == 0 ? 0 : outer * p->nblocks;
    return 0;
}

int pg_scan(int op, int dt, char *out, char *indices, char *x, const int64_t *meta,
            int64_t axis) {
    /* [op][dt]: sum, prod, max, min, logaddexp (floating only) */
#define SCAN_COLUMN(SUF) {cumsum_##SUF, cumprod_##SUF, cummax_##SUF, cummin_##SUF, NULL}
    static const scan_fn table[DT_COUNT][5] = {
        [DT_F32] = {cumsum_f32, cumprod_f32, cummax_f32, cummin_f32, cumlse_f32},
        [DT_F64] = {cumsum_f64, cumprod_f64, cummax_f64, cummin_f64, cumlse_f64},
        [DT_F16] = {cumsum_f16, cumprod_f16, cummax_f16, cummin_f16, cumlse_f16},
        [DT_BF16] = {cumsum_bf16, cumprod_bf16, cummax_bf16, cummin_bf16, cumlse_bf16},
        [DT_BOOL] = {cummax_u8, cummin_u8, cummax_u8, cummin_u8, NULL}, /* or, and */
        [DT_I64] = SCAN_COLUMN(i64),
        [DT_I8] = SCAN_COLUMN(i8),
        [DT_I16] = SCAN_COLUMN(i16),
        [DT_I32] = SCAN_COLUMN(i32),
        [DT_U8] = SCAN_COLUMN(u8),
    };
    scan_t p;
    int64_t items;
    if (op < 0 || op > 4 || dt < 0 || dt >= DT_COUNT || table[dt][op] == NULL) return -1;
    if (indices != NULL && op != 2 && op != 3) return -1;
    if (load_scan(&p, meta, axis, &items)) return -1;
    if (items == 0 || p.n == 0) return 0;
    scan_fn fn = table[dt][op];
    int64_t per_item = pg_sat_mul(p.n, p.lanes < LANES ? p.lanes : LANES);
    int nt = pg_threads_for(pg_sat_mul(pg_sat_mul(items, per_item), op == 4 ? 8 : 1));
    if (nt > items) nt = (int)items;
    if (nt <= 1) {
        fn(&p, x, out, (int64_t *)indices, 0, items);
        return 0;
    }
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int t = 0; t < nt; t++) {
        int64_t w0 = items / nt * t, w1 = t == nt - 1 ? items : items / nt * (t + 1);
        fn(&p, x, out, (int64_t *)indices, w0, w1);
    }
    return 0;
}
