/* Stable sort along one axis: each row is copied into (key, position) scratch, merge sorted
   and written to the compact outputs. Rows are independent and split between threads, each
   with scratch of its own.

   One definition per order (DEFINE_SORT), instantiated for each element type by the X-macro
   SORT_TYPES: adding a dtype is one line there and one entry in pg_sort's tables. A type
   stored in a form that does not compare as itself (float16, bfloat16 bits) names a key type
   K it loads into and stores back from exactly (LOAD / STORE). */
#include "pg.h"

#ifndef _OPENMP
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
#endif

#define FNAN(v) ((v) != (v))
#define NONAN(v) 0
/* a strictly before b; NaN is the largest value (last ascending, first descending) */
#define BEFORE_ASC(ISNAN, a, b) (ISNAN(b) ? !ISNAN(a) : (a) < (b))
#define BEFORE_DESC(ISNAN, a, b) (ISNAN(a) ? !ISNAN(b) : (a) > (b))
#define RUN 16 /* rows are insertion sorted in runs of this length, then merged */

#define SAME(v) (v)

/* (suffix, stored type, key type, load, store, NaN test of a key), in dtype code order */
#define SORT_TYPES(X)                                   \
    X(f32, float, float, SAME, SAME, FNAN)              \
    X(f64, double, double, SAME, SAME, FNAN)            \
    X(i64, int64_t, int64_t, SAME, SAME, NONAN)         \
    X(bool, uint8_t, uint8_t, SAME, SAME, NONAN)        \
    X(i8, int8_t, int8_t, SAME, SAME, NONAN)            \
    X(i16, int16_t, int16_t, SAME, SAME, NONAN)         \
    X(i32, int32_t, int32_t, SAME, SAME, NONAN)         \
    X(u8, uint8_t, uint8_t, SAME, SAME, NONAN)          \
    X(f16, uint16_t, float, pg_f16_to_f32, pg_f32_to_f16, FNAN) \
    X(bf16, uint16_t, float, pg_bf16_to_f32, pg_f32_to_bf16, FNAN)

typedef struct {
    int nk; /* the dims other than the axis */
    int64_t kshape[PG_MAXD], kxs[PG_MAXD], kos[PG_MAXD];
    int64_t n, xa, oa; /* the axis: length, x stride, out stride */
} rows_t;

/* Sorts k[0..n) with its positions ix, stably; tk and tix are scratch of n elements. Returns
   1 when the result lies in the scratch arrays, 0 when in k and ix. */
#define DEFINE_SORT_ROW(NAME, T, ISNAN, BEFORE)                                             \
    static int NAME(T *k, int64_t *ix, T *tk, int64_t *tix, int64_t n) {                    \
        for (int64_t lo = 0; lo < n; lo += RUN) {                                           \
            int64_t hi = n - lo < RUN ? n : lo + RUN;                                       \
            for (int64_t i = lo + 1; i < hi; i++) {                                         \
                T v = k[i];                                                                 \
                int64_t vi = ix[i], j = i;                                                  \
                for (; j > lo && BEFORE(ISNAN, v, k[j - 1]); j--) {                         \
                    k[j] = k[j - 1];                                                        \
                    ix[j] = ix[j - 1];                                                      \
                }                                                                           \
                k[j] = v;                                                                   \
                ix[j] = vi;                                                                 \
            }                                                                               \
        }                                                                                   \
        T *sk = k, *dk = tk;                                                                \
        int64_t *si = ix, *di = tix;                                                        \
        int swapped = 0;                                                                    \
        for (int64_t w = RUN; w < n; w *= 2) {                                              \
            for (int64_t lo = 0; lo < n; lo += 2 * w) {                                     \
                int64_t mid = n - lo < w ? n : lo + w;                                      \
                int64_t hi = n - mid < w ? n : mid + w;                                     \
                int64_t a = lo, b = mid, o = lo;                                            \
                if (mid < hi && BEFORE(ISNAN, sk[mid], sk[mid - 1])) {                      \
                    while (a < mid && b < hi) {                                             \
                        if (BEFORE(ISNAN, sk[b], sk[a])) {                                  \
                            dk[o] = sk[b];                                                  \
                            di[o++] = si[b++];                                              \
                        } else {                                                            \
                            dk[o] = sk[a];                                                  \
                            di[o++] = si[a++];                                              \
                        }                                                                   \
                    }                                                                       \
                }                                                                           \
                memcpy(dk + o, sk + a, (size_t)(mid - a) * sizeof(T));                      \
                memcpy(di + o, si + a, (size_t)(mid - a) * sizeof(int64_t));                \
                o += mid - a;                                                               \
                memcpy(dk + o, sk + b, (size_t)(hi - b) * sizeof(T));                       \
                memcpy(di + o, si + b, (size_t)(hi - b) * sizeof(int64_t));                 \
            }                                                                               \
            T *t = sk;                                                                      \
            sk = dk;                                                                        \
            dk = t;                                                                         \
            int64_t *u = si;                                                                \
            si = di;                                                                        \
            di = u;                                                                         \
            swapped = !swapped;                                                             \
        }                                                                                   \
        return swapped;                                                                     \
    }

/* Sorts rows [r0, r1) of x into values and indices, with scratch for 2n keys and positions. */
#define DEFINE_SORT(SUF, TS, T, LOAD, STORE, ISNAN)                                         \
    DEFINE_SORT_ROW(sort_row_asc_##SUF, T, ISNAN, BEFORE_ASC)                               \
    DEFINE_SORT_ROW(sort_row_desc_##SUF, T, ISNAN, BEFORE_DESC)                             \
    static void sort_rows_##SUF(const rows_t *r, const char *xb, char *vb, int64_t *ib,     \
                                int desc, char *scratch, int64_t r0, int64_t r1) {          \
        const TS *x = (const TS *)xb;                                                       \
        TS *values = (TS *)vb;                                                              \
        int64_t n = r->n;                                                                   \
        T *k = (T *)scratch, *tk = k + n;                                                   \
        int64_t *ix = (int64_t *)(scratch + ((2 * (size_t)n * sizeof(T) + 7) & ~(size_t)7)); \
        int64_t *tix = ix + n;                                                              \
        for (int64_t row = r0; row < r1; row++) {                                           \
            int64_t xo = 0, oo = 0, rem = row;                                              \
            for (int d = r->nk - 1; d >= 0; d--) {                                          \
                int64_t i = rem % r->kshape[d];                                             \
                rem /= r->kshape[d];                                                        \
                xo += i * r->kxs[d];                                                        \
                oo += i * r->kos[d];                                                        \
            }                                                                               \
            for (int64_t i = 0; i < n; i++) {                                               \
                k[i] = LOAD(x[xo + i * r->xa]);                                             \
                ix[i] = i;                                                                  \
            }                                                                               \
            int in_scratch = desc ? sort_row_desc_##SUF(k, ix, tk, tix, n)                  \
                                  : sort_row_asc_##SUF(k, ix, tk, tix, n);                  \
            const T *sk = in_scratch ? tk : k;                                              \
            const int64_t *si = in_scratch ? tix : ix;                                      \
            for (int64_t i = 0; i < n; i++) {                                               \
                values[oo + i * r->oa] = STORE(sk[i]);                                      \
                ib[oo + i * r->oa] = si[i];                                                 \
            }                                                                               \
        }                                                                                   \
    }

SORT_TYPES(DEFINE_SORT)

typedef void (*sort_fn)(const rows_t *, const char *, char *, int64_t *, int, char *, int64_t,
                        int64_t);
#define SORT_FUNCTION(SUF, TS, T, LOAD, STORE, ISNAN) sort_rows_##SUF,
#define SORT_KEY_SIZE(SUF, TS, T, LOAD, STORE, ISNAN) sizeof(T),

/* The rows of meta = [nd, shape, x strides, out strides] along `axis`; -1 if malformed. */
static int load_rows(rows_t *r, const int64_t *meta, int64_t axis, int64_t *nrows) {
    int64_t nd = meta[0];
    if (nd < 1 || nd > PG_MAXD || axis < 0 || axis >= nd) return -1;
    const int64_t *shape = meta + 1, *xs = meta + 1 + nd, *os = meta + 1 + 2 * nd;
    if (pg_count(nd, shape) < 0) return -1;
    r->nk = 0;
    *nrows = 1;
    for (int d = 0; d < nd; d++) {
        if (d == axis) continue;
        r->kshape[r->nk] = shape[d];
        r->kxs[r->nk] = xs[d];
        r->kos[r->nk++] = os[d];
        *nrows *= shape[d];
    }
    r->n = shape[axis];
    r->xa = xs[axis];
    r->oa = os[axis];
    return 0;
}

int pg_sort(int dt, int descending, char *values, char *indices, char *x, const int64_t *meta,
            int64_t axis) {
    /* indexed by dtype code: SORT_TYPES lists the types in code order */
    static const sort_fn table[] = {SORT_TYPES(SORT_FUNCTION)};
    static const size_t item[] = {SORT_TYPES(SORT_KEY_SIZE)};
    rows_t r;
    int64_t nrows;
    if (dt < 0 || dt >= (int)(sizeof(table) / sizeof(table[0]))) return -1;
    if (load_rows(&r, meta, axis, &nrows)) return -1;
    if (nrows == 0 || r.n == 0) return 0;
    size_t bytes;
    if (__builtin_mul_overflow((size_t)r.n, 2 * (item[dt] + sizeof(int64_t)), &bytes))
        return -2;
    bytes += 64; /* the positions start 8-aligned after 2n keys of any size */
    sort_fn fn = table[dt];
    int64_t logn = 1;
    while ((int64_t)1 << logn < r.n && logn < 62) logn++;
    int nt = pg_threads_for(pg_sat_mul(pg_sat_mul(nrows, r.n), logn));
    if (nt > nrows) nt = (int)nrows;
    int failed = 0;
    if (nt <= 1) {
        char *scratch = (char *)pg_scratch_alloc(bytes);
        if (scratch == NULL) return -2;
        fn(&r, x, values, (int64_t *)indices, descending, scratch, 0, nrows);
        pg_scratch_free(scratch);
        return 0;
    }
#pragma omp parallel num_threads(nt) reduction(| : failed)
    {
        char *scratch = (char *)pg_scratch_alloc(bytes);
        int t = omp_get_thread_num(), used = omp_get_num_threads();
        int64_t r0 = nrows / used * t, r1 = t == used - 1 ? nrows : nrows / used * (t + 1);
        if (scratch == NULL)
            failed = 1;
        else
            fn(&r, x, values, (int64_t *)indices, descending, scratch, r0, r1);
        pg_scratch_free(scratch);
    }
    return failed ? -2 : 0;
}
