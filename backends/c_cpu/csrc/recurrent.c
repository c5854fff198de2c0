/* The LSTM cell's gates, forward and backward, one pass over each row: what the core would
   otherwise compose from about a dozen elementwise calls per time step (ops/recurrent.py).
   Operands are 2-D (n rows) with unit stride along the row; rows[k] is operand k's row stride.
   A gates row holds four blocks of H: i, f, g, o (torch's order). float32 activations are the
   vectorised ones of vmath.c (the same values as pg_unary's); float64 uses libm. */
#include "pg.h"

/* x[0..n) = sigmoid or tanh of itself */
static void act_f32(int op, float *x, int64_t n) { pg_vmath_f32(op, x, 1, x, 1, n); }

static void act_f64(int op, double *x, int64_t n) {
    if (op == U_TANH)
        for (int64_t j = 0; j < n; j++) x[j] = tanh(x[j]);
    else
        for (int64_t j = 0; j < n; j++) x[j] = pg_sigmoid(x[j]);
}

/* one row: g = activations of p + r; c = f * cp + i * g; h = o * tanh(c) */
#define DEFINE_GATES_ROW(T, SFX)                                                           \
    PG_CLONES static void gates_row_##SFX(int64_t H, const T *p, const T *r, const T *cp,  \
                                          T *g, T *c, T *h) {                              \
        for (int64_t j = 0; j < 4 * H; j++) g[j] = p[j] + r[j];                            \
        act_##SFX(U_SIGMOID, g, 2 * H);                                                    \
        act_##SFX(U_TANH, g + 2 * H, H);                                                   \
        act_##SFX(U_SIGMOID, g + 3 * H, H);                                                \
        for (int64_t j = 0; j < H; j++) {                                                  \
            c[j] = g[H + j] * cp[j] + g[j] * g[2 * H + j];                                 \
            h[j] = c[j];                                                                   \
        }                                                                                  \
        act_##SFX(U_TANH, h, H);                                                           \
        for (int64_t j = 0; j < H; j++) h[j] = g[3 * H + j] * h[j];                        \
    }

/* one row of the backward: tanh(c) goes through dcp (dc_prev's row) before dc_prev itself */
#define DEFINE_GATES_BWD_ROW(T, SFX)                                                       \
    PG_CLONES static void gates_bwd_row_##SFX(int64_t H, const T *dh, const T *dc,         \
                                              const T *g, const T *c, const T *cp, T *d,   \
                                              T *dcp) {                                    \
        for (int64_t j = 0; j < H; j++) dcp[j] = c[j];                                     \
        act_##SFX(U_TANH, dcp, H);                                                         \
        for (int64_t j = 0; j < H; j++) {                                                  \
            T t = dcp[j], i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];     \
            T total = dc[j] + dh[j] * o * (1 - t * t);                                     \
            d[j] = total * gg * (i * (1 - i));                                             \
            d[H + j] = total * cp[j] * (f * (1 - f));                                      \
            d[2 * H + j] = total * i * (1 - gg * gg);                                      \
            d[3 * H + j] = dh[j] * t * (o * (1 - o));                                      \
            dcp[j] = total * f;                                                            \
        }                                                                                  \
    }

DEFINE_GATES_ROW(float, f32)
DEFINE_GATES_ROW(double, f64)
DEFINE_GATES_BWD_ROW(float, f32)
DEFINE_GATES_BWD_ROW(double, f64)

/* rows ptr[k] + i * rows[k] * isz of every operand k < count, for row i */
#define ROW(k, T) ((T *)(ptr[k] + i * rows[k] * isz))

static void gates_rows(int dt, int64_t H, char **ptr, const int64_t *rows, int64_t r0,
                       int64_t r1) {
    int64_t isz = dt == DT_F32 ? 4 : 8;
    for (int64_t i = r0; i < r1; i++) {
        if (dt == DT_F32)
            gates_row_f32(H, ROW(0, float), ROW(1, float), ROW(2, float), ROW(3, float),
                          ROW(4, float), ROW(5, float));
        else
            gates_row_f64(H, ROW(0, double), ROW(1, double), ROW(2, double), ROW(3, double),
                          ROW(4, double), ROW(5, double));
    }
}

static void gates_bwd_rows(int dt, int64_t H, char **ptr, const int64_t *rows, int64_t r0,
                           int64_t r1) {
    int64_t isz = dt == DT_F32 ? 4 : 8;
    for (int64_t i = r0; i < r1; i++) {
        if (dt == DT_F32)
            gates_bwd_row_f32(H, ROW(0, float), ROW(1, float), ROW(2, float), ROW(3, float),
                              ROW(4, float), ROW(5, float), ROW(6, float));
        else
            gates_bwd_row_f64(H, ROW(0, double), ROW(1, double), ROW(2, double),
                              ROW(3, double), ROW(4, double), ROW(5, double), ROW(6, double));
    }
}

typedef void (*rows_fn)(int dt, int64_t H, char **ptr, const int64_t *rows, int64_t r0,
                        int64_t r1);

/* rows split over threads when there is enough work (a transcendental costs about 8 ops) */
static int run_rows(rows_fn fn, int dt, int64_t n, int64_t H, char **ptr, const int64_t *rows) {
    const int64_t sizes[3] = {n, 4 * H, 8};
    if ((dt != DT_F32 && dt != DT_F64) || n < 0 || H < 0 || !pg_fits(3, sizes)) return -1;
    if (n == 0 || H == 0) return 0;
    int nt = pg_threads_for(pg_sat_mul(n * H, 4 * 8));
    if (nt > (int)n) nt = (int)n;
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
            int64_t share[2];
            pg_my_share(n, share);
            fn(dt, H, ptr, rows, share[0], share[1]);
        }
    } else {
        fn(dt, H, ptr, rows, 0, n);
    }
    return 0;
}

int pg_lstm_gates(int dt, int64_t n, int64_t hidden, char *projected, char *recurrent,
                  char *c_prev, char *gates, char *c, char *h, const int64_t *rows) {
    char *ptr[6] = {projected, recurrent, c_prev, gates, c, h};
    return run_rows(gates_rows, dt, n, hidden, ptr, rows);
}

int pg_lstm_gates_backward(int dt, int64_t n, int64_t hidden, char *dh, char *dc, char *gates,
                           char *c, char *c_prev, char *d_pre, char *dc_prev,
                           const int64_t *rows) {
    char *ptr[7] = {dh, dc, gates, c, c_prev, d_pre, dc_prev};
    return run_rows(gates_bwd_rows, dt, n, hidden, ptr, rows);
}
