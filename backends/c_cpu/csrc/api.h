/* The C entry points of plugrad_c_cpu. This file is read by cffi's cdef: plain declarations
   only. Strides and offsets are in elements; pointers already include the view's offset.
   dtype codes: 0 float32, 1 float64, 2 int64, 3 bool (uint8), 4 int8, 5 int16, 6 int32,
   7 uint8, 8 float16, 9 bfloat16 (16-bit floats: stored as 16 bits, computed in float32).
   Return codes: 0 ok, -1 bad arguments, -2 out of memory, -3 index out of range. */

char *pg_alloc(int64_t nbytes);
void pg_free(void *p);
int64_t pg_allocated_bytes(void);
void pg_empty_cache(void);
int64_t pg_cached_bytes(void);
void pg_set_num_threads(int n);
/* 0 in a forked child of a process whose OpenMP pool may have started: it runs on one thread
   (pg_set_num_threads keeps 1), since libgomp cannot start threads there. */
int pg_threads_usable(void);
int pg_get_num_threads(void);
int pg_simd_level(void);

/* meta = [ndim, shape[ndim], strides of operand 0[ndim], strides of operand 1, ...] */
int pg_unary(int op, int dt, char *out, char *x, const int64_t *meta);
int pg_binary(int op, int dt, char *out, char *a, char *b, const int64_t *meta);
/* pg_binary where operand f32_operand (1 for a, 2 for b; 0 none) of a 16-bit float op is a
   float32 value instead (a scalar, rounded to float32 as the op computes, not to 16 bits) */
int pg_binary_ex(int op, int dt, char *out, char *a, char *b, const int64_t *meta,
                 int f32_operand);
int pg_where(int dt, char *out, char *cond, char *a, char *b, const int64_t *meta);
int pg_cast(int dt_in, int dt_out, char *out, char *x, const int64_t *meta);
int pg_copy(int itemsize, char *out, char *x, const int64_t *meta);

/* meta = [ndim, shape, x strides, out strides (0 on reduced axes)]; not 16-bit floats (the
   Python side reduces float32 copies), -1 for them */
int pg_reduce(int op, int dt, char *out, char *x, const int64_t *meta);
/* meta = [ndim, shape (without axis), x strides, out strides], then axis length, x axis stride */
int pg_arg_reduce(int op, int dt, char *out, char *x, const int64_t *meta, int64_t n,
                  int64_t stride);

/* meta = [ndim, shape, x strides, out strides] (values and indices share the out strides).
   Stable sort along axis: NaN largest; descending 0 or 1. -2 when scratch runs out. */
int pg_sort(int dt, int descending, char *values, char *indices, char *x, const int64_t *meta,
            int64_t axis);
/* meta as pg_sort's. op 0 sum, 1 prod, 2 max, 3 min, 4 logaddexp (floating only); indices
   (int64, the out strides) is NULL or, for max and min, the running extreme's position. */
int pg_scan(int op, int dt, char *out, char *indices, char *x, const int64_t *meta,
            int64_t axis);

int pg_matmul(int dt, int64_t batch, int64_t m, int64_t n, int64_t k,
              char *a, int64_t sab, int64_t sam, int64_t sak,
              char *b, int64_t sbb, int64_t sbk, int64_t sbn, char *c);

/* geometry = [N, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, groups] */
int pg_conv2d(int dt, char *x, char *w, char *out, const int64_t *geometry);
int pg_conv2d_backward_input(int dt, char *grad_out, char *w, char *grad_x,
                             const int64_t *geometry);
int pg_conv2d_backward_weight(int dt, char *x, char *grad_out, char *grad_w,
                              const int64_t *geometry);

/* meta = [ndim, shape (index's), out strides, index strides, x/src strides]; the strides of
   x (gather) or out (scatter_add) are 0 on the axis, whose stride is passed apart */
int pg_gather(int dt, char *out, char *x, char *index, const int64_t *meta, int64_t axis_size,
              int64_t axis_stride);
int pg_scatter_add(int dt, char *out, char *index, char *src, const int64_t *meta,
                   int64_t axis_size, int64_t axis_stride, int64_t axis);

/* meta = [ndim, shape, out strides]; kind 0 uniform(a, b), 1 normal(a, b), 2 bernoulli(a).
   The stream is the core's plugrad/random_stream.py, to the bit (random.c). uniform and normal
   write floating dtypes only (-1 otherwise). */
int pg_random(int kind, int dt, char *out, const int64_t *meta, double a, double b,
              uint64_t seed);

/* GEMM micro-kernel selection: 0 portable, 2 AVX2+FMA, 3 AVX-512. Clamped to what the CPU
   supports; returns the level now in use. A negative level picks the best one. */
int pg_set_simd_level(int level);

/* Optional fused kernels (fused.c), floating dtypes only. meta as for pg_binary / pg_unary. */
/* out = y <= 0 ? 0 : grad */
int pg_relu_backward(int dt, char *out, char *grad, char *y, const int64_t *meta);
/* out += alpha * x, in place */
int pg_axpy(int dt, char *out, char *x, double alpha, const int64_t *meta);
/* log_probs (n, c, compact) = log_softmax(logits) by rows, logits strided (s0, s1); loss (one
   element) = scale * sum_i -log_probs[i, target[i * st]]. -3 when a target is outside [0, c). */
int pg_cross_entropy(int dt, char *logits, int64_t n, int64_t c, int64_t s0, int64_t s1,
                     char *target, int64_t st, double scale, char *log_probs, char *loss);
/* out (n, c, compact) = grad[0] * scale * (exp(log_probs) - one_hot(target)) */
int pg_cross_entropy_backward(int dt, char *log_probs, int64_t n, int64_t c, char *target,
                              int64_t st, char *grad, double scale, char *out);
/* softmax (is_log 0) or log_softmax (is_log 1) over the last axis: out (n, c) from x (n, c), both
   compact */
int pg_softmax(int dt, int is_log, char *x, int64_t n, int64_t c, char *out);
/* their gradient from the output y and its gradient grad, all (n, c) compact:
   softmax: out = y * (grad - sum(grad * y)); log_softmax: out = grad - exp(y) * sum(grad) */
int pg_softmax_backward(int dt, int is_log, char *y, char *grad, int64_t n, int64_t c, char *out);

/* One LSTM step (recurrent.c), float32 or float64: every operand (n, 4H) or (n, H) with unit
   stride along its rows, rows[k] operand k's row stride in elements (the order of the
   arguments). gates = [sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)] of projected + recurrent,
   c = f * c_prev + i * g, h = o * tanh(c). */
int pg_lstm_gates(int dt, int64_t n, int64_t hidden, char *projected, char *recurrent,
                  char *c_prev, char *gates, char *c, char *h, const int64_t *rows);
/* its gradients: d_pre (n, 4H) and dc_prev (n, H) from dh, dc (n, H), gates, c and c_prev */
int pg_lstm_gates_backward(int dt, int64_t n, int64_t hidden, char *dh, char *dc, char *gates,
                           char *c, char *c_prev, char *d_pre, char *dc_prev,
                           const int64_t *rows);
