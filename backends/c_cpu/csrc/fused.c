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

/* log_softmax of one row of c elements (stride sx) into the compact row o; returns
   -o[t], the row's loss. The row's maximum is subtracted first, so exp never overflows. */
static double log_softmax_row_f32(const float *x, int64_t sx, int64_t c, float *o, int64_t t) {
    float m = x[0];
    for (int64_t j = 1; j < c; j++) {
        float v = x[j * sx];
        if (v > m || v != v) m = v;
    }
    for (int64_t j = 0; j < c; j++) o[j] = x[j * sx] - m;
    enum { CHUNK = 256 };
    float e[CHUNK];
    float total = 0.0f;
    for (int64_t j0 = 0; j0 < c; j0 += CHUNK) {
        int64_t len = c - j0 < CHUNK ? c - j0 : CHUNK;
        pg_vmath_f32(U_EXP, e, 1, o + j0, 1, len);
        for (int64_t j = 0; j < len; j++) total += e[j];
    }
    float lse;
    pg_vmath_f32(U_LOG, &lse, 1, &total, 1, 1);
    for (int64_t j = 0; j < c; j++) o[j] -= lse;
    return -(double)o[t];
}

static double log_softmax_row_f64(const double *x, int64_t sx, int64_t c, double *o, int64_t t) {
    double m = x[0];
    for (int64_t j = 1; j < c; j++) {
        double v = x[j * sx];
        if (v > m || v != v) m = v;
    }
    double total = 0.0;
    for (int64_t j = 0; j < c; j++) {
        o[j] = x[j * sx] - m;
        total += exp(o[j]);
    }
    double lse = log(total);
    for (int64_t j = 0; j < c; j++) o[j] -= lse;
    return -o[t];
}

int pg_cross_entropy(int dt, char *logits, int64_t n, int64_t c, int64_t s0, int64_t s1,
                     char *target, int64_t st, double scale, char *log_probs, char *loss) {
    if ((dt != DT_F32 && dt != DT_F64) || n < 1 || c < 1) return -1;
    const int64_t *tg = (const int64_t *)target;
    if (!targets_in_range(tg, st, n, c)) return -3;
    int nt = pg_threads_for(n * c * 8);
    double sum = 0.0;
    if (dt == DT_F32) {
        const float *x = (const float *)logits;
        float *o = (float *)log_probs;
#pragma omp parallel for schedule(static) num_threads(nt) if(nt > 1) reduction(+ : sum)
        for (int64_t i = 0; i < n; i++)
            sum += log_softmax_row_f32(x + i * s0, s1, c, o + i * c, tg[i * st]);
        *(float *)loss = (float)(sum * scale);
    } else {
        const double *x = (const double *)logits;
        double *o = (double *)log_probs;
#pragma omp parallel for schedule(static) num_threads(nt) if(nt > 1) reduction(+ : sum)
        for (int64_t i = 0; i < n; i++)
            sum += log_softmax_row_f64(x + i * s0, s1, c, o + i * c, tg[i * st]);
        *(double *)loss = sum * scale;
    }
    return 0;
}

/* out = grad * scale * (exp(log_probs) - one_hot(target)), every operand compact but target */
int pg_cross_entropy_backward(int dt, char *log_probs, int64_t n, int64_t c, char *target,
                              int64_t st, char *grad, double scale, char *out) {
    if ((dt != DT_F32 && dt != DT_F64) || n < 0 || c < 1) return -1;
    const int64_t *tg = (const int64_t *)target;
    if (!targets_in_range(tg, st, n, c)) return -3;
    int nt = pg_threads_for(n * c * 8);
    if (dt == DT_F32) {
        const float *lp = (const float *)log_probs;
        float *o = (float *)out;
        const float g = *(const float *)grad * (float)scale;
#pragma omp parallel for schedule(static) num_threads(nt) if(nt > 1)
        for (int64_t i = 0; i < n; i++) {
            float *row = o + i * c;
            pg_vmath_f32(U_EXP, row, 1, lp + i * c, 1, c);
            row[tg[i * st]] -= 1.0f;
            for (int64_t j = 0; j < c; j++) row[j] *= g;
        }
    } else {
        const double *lp = (const double *)log_probs;
        double *o = (double *)out;
        const double g = *(const double *)grad * scale;
#pragma omp parallel for schedule(static) num_threads(nt) if(nt > 1)
        for (int64_t i = 0; i < n; i++) {
            double *row = o + i * c;
            for (int64_t j = 0; j < c; j++) row[j] = exp(lp[i * c + j]);
            row[tg[i * st]] -= 1.0;
            for (int64_t j = 0; j < c; j++) row[j] *= g;
        }
    }
    return 0;
}
