/* The optional fused kernels: softmax cross-entropy forward and backward, ReLU's backward and
   axpy. Each does in one pass what the core would otherwise compose from several elementwise
   and reduction calls, each with its own output buffer. */
#include "pg.h"

/* ---------------------------------------------------------------- relu_backward ------ */

#define RELU_BWD_LOOP(T)                                                                   \
    {                                                                                      \
        T *o = (T *)p[0];                                                                  \
        const T *g = (const T *)p[1], *y = (const T *)p[2];                                \
        if (s[0] == 1 && s[1] == 1 && s[2] == 1) {                                         \
            for (int64_t i = 0; i < n; i++) o[i] = y[i] <= 0 ? (T)0 : g[i];                \
        } else {                                                                           \
            for (int64_t i = 0; i < n; i++) o[i * s[0]] = y[i * s[2]] <= 0 ? (T)0 : g[i * s[1]]; \
        }                                                                                  \
    }

PG_CLONES static void relu_bwd_f32(const void *ctx, int64_t n, char **p, const int64_t *s) {
    (void)ctx;
    RELU_BWD_LOOP(float)
}

PG_CLONES static void relu_bwd_f64(const void *ctx, int64_t n, char **p, const int64_t *s) {
    (void)ctx;
    RELU_BWD_LOOP(double)
}

int pg_relu_backward(int dt, char *out, char *grad, char *y, const int64_t *meta) {
    pg_iter it;
    if ((dt != DT_F32 && dt != DT_F64) || pg_iter_load(&it, 3, meta)) return -1;
    int64_t total = pg_iter_simplify(&it);
    if (total == 0) return 0;
    char *base[3] = {out, grad, y};
    int sz = dt == DT_F32 ? 4 : 8;
    int isz[3] = {sz, sz, sz};
    pg_run(&it, total, base, isz, dt == DT_F32 ? relu_bwd_f32 : relu_bwd_f64, NULL, 1);
    return 0;
}

/* ---------------------------------------------------------------- axpy --------------- */

typedef struct {
    double alpha;
} axpy_ctx;

#define AXPY_LOOP(T)                                                                       \
    {                                                                                      \
        const T a = (T)((const axpy_ctx *)ctx)->alpha;                                     \
        T *o = (T *)p[0];                                                                  \
        const T *x = (const T *)p[1];                                                      \
        if (s[0] == 1 && s[1] == 1) {                                                      \
            for (int64_t i = 0; i < n; i++) o[i] = o[i] + a * x[i];                        \
        } else {                                                                           \
            for (int64_t i = 0; i < n; i++) o[i * s[0]] = o[i * s[0]] + a * x[i * s[1]];   \
        }                                                                                  \
    }

PG_CLONES static void axpy_f32(const void *ctx, int64_t n, char **p, const int64_t *s) {
    AXPY_LOOP(float)
}

PG_CLONES static void axpy_f64(const void *ctx, int64_t n, char **p, const int64_t *s) {
    AXPY_LOOP(double)
}

int pg_axpy(int dt, char *out, char *x, double alpha, const int64_t *meta) {
    pg_iter it;
    if ((dt != DT_F32 && dt != DT_F64) || pg_iter_load(&it, 2, meta)) return -1;
    int64_t total = pg_iter_simplify(&it);
    if (total == 0) return 0;
    char *base[2] = {out, x};
    int sz = dt == DT_F32 ? 4 : 8;
    int isz[2] = {sz, sz};
    axpy_ctx ctx = {alpha};
    pg_run(&it, total, base, isz, dt == DT_F32 ? axpy_f32 : axpy_f64, &ctx, 1);
    return 0;
}

/* ---------------------------------------------------------------- cross-entropy ------ */

static int targets_in_range(const int64_t *target, int64_t st, int64_t n, int64_t c) {
    for (int64_t i = 0; i < n; i++) {
        int64_t t = target[i * st];
        if (t < 0 || t >= c) return 0;
    }
    return 1;
}

/* The float32 kernels work on blocks of whole rows, so one vectorised exp (and log) call
   covers many short rows: per-row calls would spend their time on the vector tails. */
enum { CE_BLOCK = 2048 };

/* One row of c elements (stride sx) minus its maximum, into the compact o: the first step of
   log_softmax, so that exp never overflows. */
static void shift_row_f32(const float *x, int64_t sx, int64_t c, float *o) {
    float m = x[0];
    for (int64_t j = 1; j < c; j++) {
        float v = x[j * sx];
        if (v > m || v != v) m = v;
    }
    for (int64_t j = 0; j < c; j++) o[j] = x[j * sx] - m;
}

/* Rows [r0, r1) of the float32 forward; returns their sum of -log_probs[i, target_i]. */
static double ce_rows_f32(const float *x, int64_t s0, int64_t s1, int64_t c, float *o,
                          const int64_t *tg, int64_t st, int64_t r0, int64_t r1) {
    float e[CE_BLOCK], sums[CE_BLOCK], lse[CE_BLOCK];
    double loss = 0.0;
    int64_t per = c <= CE_BLOCK ? CE_BLOCK / c : 1;
    for (int64_t b0 = r0; b0 < r1; b0 += per) {
        int64_t nr = r1 - b0 < per ? r1 - b0 : per;
        for (int64_t i = 0; i < nr; i++) {
            float *row = o + (b0 + i) * c;
            shift_row_f32(x + (b0 + i) * s0, s1, c, row);
            if (c > CE_BLOCK) { /* a long row: its exp in chunks */
                float total = 0.0f;
                for (int64_t j0 = 0; j0 < c; j0 += CE_BLOCK) {
                    int64_t len = c - j0 < CE_BLOCK ? c - j0 : CE_BLOCK;
                    pg_vmath_f32(U_EXP, e, 1, row + j0, 1, len);
                    for (int64_t j = 0; j < len; j++) total += e[j];
                }
                sums[i] = total;
            }
        }
        if (c <= CE_BLOCK) {
            pg_vmath_f32(U_EXP, e, 1, o + b0 * c, 1, nr * c);
            for (int64_t i = 0; i < nr; i++) {
                float total = 0.0f;
                for (int64_t j = 0; j < c; j++) total += e[i * c + j];
                sums[i] = total;
            }
        }
        pg_vmath_f32(U_LOG, lse, 1, sums, 1, nr);
        for (int64_t i = 0; i < nr; i++) {
            float *row = o + (b0 + i) * c;
            for (int64_t j = 0; j < c; j++) row[j] -= lse[i];
            loss -= (double)row[tg[(b0 + i) * st]];
        }
    }
    return loss;
}

static double ce_rows_f64(const double *x, int64_t s0, int64_t s1, int64_t c, double *o,
                          const int64_t *tg, int64_t st, int64_t r0, int64_t r1) {
    double loss = 0.0;
    for (int64_t i = r0; i < r1; i++) {
        const double *xr = x + i * s0;
        double *row = o + i * c;
        double m = xr[0];
        for (int64_t j = 1; j < c; j++) {
            double v = xr[j * s1];
            if (v > m || v != v) m = v;
        }
        double total = 0.0;
        for (int64_t j = 0; j < c; j++) {
            row[j] = xr[j * s1] - m;
            total += exp(row[j]);
        }
        double lse = log(total);
        for (int64_t j = 0; j < c; j++) row[j] -= lse;
        loss -= row[tg[i * st]];
    }
    return loss;
}

/* Threads for n rows of c classes (exp and log cost about 8 additions each). */
static int ce_threads(int64_t n, int64_t c) { return pg_threads_for(pg_sat_mul(n * c, 8)); }


static double ce_forward_rows(int dt, const char *logits, int64_t n, int64_t c, int64_t s0,
                              int64_t s1, const int64_t *tg, int64_t st, char *log_probs) {
    int64_t r[2];
    pg_my_share(n, r);
    if (dt == DT_F32)
        return ce_rows_f32((const float *)logits, s0, s1, c, (float *)log_probs, tg, st, r[0],
                           r[1]);
    return ce_rows_f64((const double *)logits, s0, s1, c, (double *)log_probs, tg, st, r[0],
                       r[1]);
}

int pg_cross_entropy(int dt, char *logits, int64_t n, int64_t c, int64_t s0, int64_t s1,
                     char *target, int64_t st, double scale, char *log_probs, char *loss) {
    const int64_t sizes[3] = {n, c, 8};
    if ((dt != DT_F32 && dt != DT_F64) || n < 1 || c < 1 || !pg_fits(3, sizes)) return -1;
    const int64_t *tg = (const int64_t *)target;
    if (!targets_in_range(tg, st, n, c)) return -3;
    int nt = ce_threads(n, c);
    double sum = 0.0;
    if (nt > 1) { /* (an if(0) parallel region would still cost about a microsecond) */
#pragma omp parallel num_threads(nt) reduction(+ : sum)
        sum += ce_forward_rows(dt, logits, n, c, s0, s1, tg, st, log_probs);
    } else {
        sum = ce_forward_rows(dt, logits, n, c, s0, s1, tg, st, log_probs);
    }
    if (dt == DT_F32)
        *(float *)loss = (float)(sum * scale);
    else
        *(double *)loss = sum * scale;
    return 0;
}

static void ce_backward_rows(int dt, const char *log_probs, int64_t n, int64_t c,
                             const int64_t *tg, int64_t st, const char *grad, double scale,
                             char *out) {
    int64_t r[2];
    pg_my_share(n, r);
    int64_t r0 = r[0], len = (r[1] - r[0]) * c;
    if (dt == DT_F32) {
        const float *lp = (const float *)log_probs + r0 * c;
        float *o = (float *)out + r0 * c;
        const float g = *(const float *)grad * (float)scale;
        pg_vmath_f32(U_EXP, o, 1, lp, 1, len);
        for (int64_t i = r0; i < r[1]; i++) o[(i - r0) * c + tg[i * st]] -= 1.0f;
        for (int64_t j = 0; j < len; j++) o[j] *= g;
    } else {
        const double *lp = (const double *)log_probs + r0 * c;
        double *o = (double *)out + r0 * c;
        const double g = *(const double *)grad * scale;
        for (int64_t j = 0; j < len; j++) o[j] = exp(lp[j]);
        for (int64_t i = r0; i < r[1]; i++) o[(i - r0) * c + tg[i * st]] -= 1.0;
        for (int64_t j = 0; j < len; j++) o[j] *= g;
    }
}

/* out = grad * scale * (exp(log_probs) - one_hot(target)), every operand compact but target */
int pg_cross_entropy_backward(int dt, char *log_probs, int64_t n, int64_t c, char *target,
                              int64_t st, char *grad, double scale, char *out) {
    const int64_t sizes[3] = {n, c, 8};
    if ((dt != DT_F32 && dt != DT_F64) || n < 0 || c < 1 || !pg_fits(3, sizes)) return -1;
    const int64_t *tg = (const int64_t *)target;
    if (!targets_in_range(tg, st, n, c)) return -3;
    int nt = ce_threads(n, c);
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        ce_backward_rows(dt, log_probs, n, c, tg, st, grad, scale, out);
    } else {
        ce_backward_rows(dt, log_probs, n, c, tg, st, grad, scale, out);
    }
    return 0;
}

/* ---------------------------------------------------------------- softmax ------------ */

/* softmax / log_softmax over the last axis and their backwards, by rows of c elements, every
   operand compact. Threads take whole rows. float32 rows are gathered in blocks of about
   SM_BLOCK elements so that one vectorised exp call covers many short rows; sums accumulate
   in double. A row whose max is +inf or NaN, or which holds only -inf, gives NaN (x - max is
   NaN somewhere, or everywhere), as in torch. */
enum { SM_BLOCK = 2048 };

/* The max of n floats (NaN wins), with 8 independent lanes the compiler can vectorise. */
static float max_f32(const float *x, int64_t n) {
    float m[8];
    int64_t j = 0;
    for (int k = 0; k < 8; k++) m[k] = -INFINITY;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) {
            float v = x[j + k];
            m[k] = (v > m[k] || v != v) ? v : m[k];
        }
    float r = -INFINITY;
    for (; j < n; j++) r = (x[j] > r || x[j] != x[j]) ? x[j] : r;
    for (int k = 0; k < 8; k++) r = (m[k] > r || m[k] != m[k]) ? m[k] : r;
    return r;
}

static double sum_f32(const float *x, int64_t n) {
    double acc[8] = {0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) acc[k] += (double)x[j + k];
    double r = 0.0;
    for (; j < n; j++) r += (double)x[j];
    for (int k = 0; k < 8; k++) r += acc[k];
    return r;
}

static double dot_f32(const float *x, const float *y, int64_t n) {
    double acc[8] = {0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) acc[k] += (double)x[j + k] * (double)y[j + k];
    double r = 0.0;
    for (; j < n; j++) r += (double)x[j] * (double)y[j];
    for (int k = 0; k < 8; k++) r += acc[k];
    return r;
}

/* Rows [r0, r1) of float32 softmax (log 0) or log_softmax (log 1), x and o compact (c). */
PG_CLONES static void sm_rows_f32(const float *x, int64_t c, float *o, int lg, int64_t r0,
                                  int64_t r1) {
    float e[SM_BLOCK];
    if (c > SM_BLOCK) { /* long rows, one at a time, their exp in chunks */
        for (int64_t i = r0; i < r1; i++) {
            const float *xr = x + i * c;
            float *row = o + i * c;
            float m = max_f32(xr, c);
            for (int64_t j = 0; j < c; j++) row[j] = xr[j] - m;
            double total = 0.0;
            for (int64_t j0 = 0; j0 < c; j0 += SM_BLOCK) {
                int64_t len = c - j0 < SM_BLOCK ? c - j0 : SM_BLOCK;
                float *dst = lg ? e : row + j0;
                pg_vmath_f32(U_EXP, dst, 1, row + j0, 1, len);
                total += sum_f32(dst, len);
            }
            if (lg) {
                float lse = (float)log(total);
                for (int64_t j = 0; j < c; j++) row[j] -= lse;
            } else {
                float inv = (float)(1.0 / total);
                for (int64_t j = 0; j < c; j++) row[j] *= inv;
            }
        }
        return;
    }
    int64_t per = SM_BLOCK / c;
    for (int64_t b0 = r0; b0 < r1; b0 += per) {
        int64_t nr = r1 - b0 < per ? r1 - b0 : per;
        float *block = o + b0 * c;
        for (int64_t i = 0; i < nr; i++) {
            const float *xr = x + (b0 + i) * c;
            float *row = block + i * c;
            float m = max_f32(xr, c);
            for (int64_t j = 0; j < c; j++) row[j] = xr[j] - m;
        }
        float *dst = lg ? e : block;
        pg_vmath_f32(U_EXP, dst, 1, block, 1, nr * c);
        for (int64_t i = 0; i < nr; i++) {
            float *row = block + i * c;
            double total = sum_f32(dst + i * c, c);
            if (lg) {
                float lse = (float)log(total);
                for (int64_t j = 0; j < c; j++) row[j] -= lse;
            } else {
                float inv = (float)(1.0 / total);
                for (int64_t j = 0; j < c; j++) row[j] *= inv;
            }
        }
    }
}

PG_CLONES static void sm_rows_f64(const double *x, int64_t c, double *o, int lg, int64_t r0,
                                  int64_t r1) {
    for (int64_t i = r0; i < r1; i++) {
        const double *xr = x + i * c;
        double *row = o + i * c;
        double m = xr[0];
        for (int64_t j = 1; j < c; j++) m = (xr[j] > m || xr[j] != xr[j]) ? xr[j] : m;
        double total = 0.0;
        if (lg) {
            for (int64_t j = 0; j < c; j++) {
                row[j] = xr[j] - m;
                total += exp(row[j]);
            }
            double lse = log(total);
            for (int64_t j = 0; j < c; j++) row[j] -= lse;
        } else {
            for (int64_t j = 0; j < c; j++) {
                row[j] = exp(xr[j] - m);
                total += row[j];
            }
            double inv = 1.0 / total;
            for (int64_t j = 0; j < c; j++) row[j] *= inv;
        }
    }
}

/* Rows [r0, r1) of the backward: softmax's out = y * (g - sum(g * y)); log_softmax's
   out = g - exp(y) * sum(g). */
PG_CLONES static void sm_bwd_rows_f32(const float *y, const float *g, int64_t c, float *o,
                                      int lg, int64_t r0, int64_t r1) {
    if (lg) { /* exp(y) of the whole share at once, into o */
        pg_vmath_f32(U_EXP, o + r0 * c, 1, y + r0 * c, 1, (r1 - r0) * c);
        for (int64_t i = r0; i < r1; i++) {
            const float *gr = g + i * c;
            float *row = o + i * c;
            float s = (float)sum_f32(gr, c);
            for (int64_t j = 0; j < c; j++) row[j] = gr[j] - row[j] * s;
        }
        return;
    }
    for (int64_t i = r0; i < r1; i++) {
        const float *yr = y + i * c, *gr = g + i * c;
        float *row = o + i * c;
        float s = (float)dot_f32(gr, yr, c);
        for (int64_t j = 0; j < c; j++) row[j] = yr[j] * (gr[j] - s);
    }
}

PG_CLONES static void sm_bwd_rows_f64(const double *y, const double *g, int64_t c, double *o,
                                      int lg, int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; i++) {
        const double *yr = y + i * c, *gr = g + i * c;
        double *row = o + i * c;
        double s = 0.0;
        if (lg) {
            for (int64_t j = 0; j < c; j++) s += gr[j];
            for (int64_t j = 0; j < c; j++) row[j] = gr[j] - exp(yr[j]) * s;
        } else {
            for (int64_t j = 0; j < c; j++) s += gr[j] * yr[j];
            for (int64_t j = 0; j < c; j++) row[j] = yr[j] * (gr[j] - s);
        }
    }
}

static void sm_share(int dt, int lg, const char *x, int64_t n, int64_t c, char *out) {
    int64_t r[2];
    pg_my_share(n, r);
    if (dt == DT_F32)
        sm_rows_f32((const float *)x, c, (float *)out, lg, r[0], r[1]);
    else
        sm_rows_f64((const double *)x, c, (double *)out, lg, r[0], r[1]);
}

static void sm_bwd_share(int dt, int lg, const char *y, const char *g, int64_t n, int64_t c,
                         char *out) {
    int64_t r[2];
    pg_my_share(n, r);
    if (dt == DT_F32)
        sm_bwd_rows_f32((const float *)y, (const float *)g, c, (float *)out, lg, r[0], r[1]);
    else
        sm_bwd_rows_f64((const double *)y, (const double *)g, c, (double *)out, lg, r[0],
                        r[1]);
}

int pg_softmax(int dt, int lg, char *x, int64_t n, int64_t c, char *out) {
    const int64_t sizes[3] = {n, c, 8};
    if ((dt != DT_F32 && dt != DT_F64) || n < 0 || c < 0 || !pg_fits(3, sizes)) return -1;
    if (n == 0 || c == 0) return 0;
    int nt = ce_threads(n, c);
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        sm_share(dt, lg != 0, x, n, c, out);
    } else {
        sm_share(dt, lg != 0, x, n, c, out);
    }
    return 0;
}

int pg_softmax_backward(int dt, int lg, char *y, char *grad, int64_t n, int64_t c, char *out) {
    const int64_t sizes[3] = {n, c, 8};
    if ((dt != DT_F32 && dt != DT_F64) || n < 0 || c < 0 || !pg_fits(3, sizes)) return -1;
    if (n == 0 || c == 0) return 0;
    int nt = ce_threads(n, c);
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        sm_bwd_share(dt, lg != 0, y, grad, n, c, out);
    } else {
        sm_bwd_share(dt, lg != 0, y, grad, n, c, out);
    }
    return 0;
}
