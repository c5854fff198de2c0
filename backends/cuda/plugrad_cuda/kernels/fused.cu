/* The optional fused kernels (plugrad.backend.protocol.FusedKernels): relu_backward and axpy
   over strided layouts, softmax cross-entropy by rows (a warp a row, or a block for long
   rows, as in reduce.cu) with its backward, and softmax / log_softmax over the last axis of
   compact rows (the same warp or block a row) with their backwards, and the LSTM cell's gates
   (a thread per hidden unit of a row: its four gates, c and h). Targets are checked by
   pg_check_index (index.cu) first, so the host raises IndexError before anything is
   written. */
#include "pg_common.cuh"

namespace pg {

template <class T>
__device__ void relu_backward(T *out, const T *grad, const T *y, const Layout<3> &L, pg_i64 n) {
    for (pg_i64 e = global_thread(); e < n; e += grid_threads()) {
        pg_i64 off[3];
        offsets(L, e, off);
        out[off[0]] = y[off[2]] <= T(0) ? T(0) : grad[off[1]]; /* NaN in y passes grad */
    }
}

template <class T>
__device__ void axpy(T *out, const T *x, double alpha, const Layout<2> &L, pg_i64 n) {
    const T a = (T)alpha;
    for (pg_i64 e = global_thread(); e < n; e += grid_threads()) {
        pg_i64 off[2];
        offsets(L, e, off);
        out[off[0]] = out[off[0]] + a * x[off[1]];
    }
}

struct MaxOp {
    template <class A> __device__ __forceinline__ A operator()(A a, A b) const {
        return maximum(a, b);
    }
};
struct SumOp {
    template <class A> __device__ __forceinline__ A operator()(A a, A b) const { return a + b; }
};

/* log_probs (compact) and row_loss[i] = -log_probs[i, target[i]] for each row of logits */
template <class T>
__device__ void cross_entropy(const T *logits, pg_i64 s0, pg_i64 s1, const pg_i64 *target,
                              pg_i64 ts, pg_i64 rows, pg_i64 classes, T *log_probs, T *row_loss,
                              int per_block) {
    typedef typename Acc<T>::type A;
    int lanes = per_block == 1 ? blockDim.x : 32;
    int lane = per_block == 1 ? threadIdx.x : (threadIdx.x & 31);
    int slot = per_block == 1 ? 0 : (threadIdx.x >> 5);
    pg_i64 rounds = (rows + (pg_i64)gridDim.x * per_block - 1) / ((pg_i64)gridDim.x * per_block);
    for (pg_i64 r = 0; r < rounds; r++) {
        pg_i64 row = ((pg_i64)r * gridDim.x + blockIdx.x) * per_block + slot;
        bool live = row < rows;
        const T *x = logits + (live ? row * s0 : 0);
        A m = lowest<A>();
        if (live)
            for (pg_i64 j = lane; j < classes; j += lanes) m = maximum(m, convert<A>(x[j * s1]));
        m = per_block == 1 ? block_reduce(m, MaxOp(), lowest<A>()) : warp_reduce(m, MaxOp());
        A sum = A(0);
        if (live)
            for (pg_i64 j = lane; j < classes; j += lanes) sum += exp_(convert<A>(x[j * s1]) - m);
        sum = per_block == 1 ? block_reduce(sum, SumOp(), A(0)) : warp_reduce(sum, SumOp());
        if (!live) continue;
        A log_sum = log_(sum); /* log_probs = (x - max) - log_sum keeps precision */
        T *lp = log_probs + row * classes;
        for (pg_i64 j = lane; j < classes; j += lanes)
            lp[j] = convert<T>((convert<A>(x[j * s1]) - m) - log_sum);
        if (lane == 0) {
            A picked = convert<A>(x[target[row * ts] * s1]) - m;
            row_loss[row] = convert<T>(log_sum - picked);
        }
    }
}

/* out[0] = scale * sum(v[0..n)) by one block (a fixed order: the same bits every run) */
template <class T> __device__ void sum_scale(const T *v, pg_i64 n, double scale, T *out) {
    typedef typename Acc<T>::type A;
    A acc = A(0);
    for (pg_i64 i = threadIdx.x; i < n; i += blockDim.x) acc += convert<A>(v[i]);
    acc = block_reduce(acc, SumOp(), A(0));
    if (threadIdx.x == 0) out[0] = convert<T>(acc * (A)scale);
}

/* out = grad * scale * (exp(log_probs) - one_hot(target)), all (rows, classes) compact */
template <class T>
__device__ void cross_entropy_backward(const T *log_probs, const pg_i64 *target, pg_i64 ts,
                                       const T *grad, double scale, pg_i64 rows, pg_i64 classes,
                                       T *out) {
    typedef typename Acc<T>::type A;
    const A g = convert<A>(grad[0]) * (A)scale;
    const pg_i64 n = rows * classes;
    for (pg_i64 e = global_thread(); e < n; e += grid_threads()) {
        pg_i64 row = e / classes, col = e % classes;
        A hot = col == target[row * ts] ? A(1) : A(0);
        out[e] = convert<T>(g * (exp_(convert<A>(log_probs[e])) - hot));
    }
}

/* Which row and lane this thread works on in softmax_rows / softmax_backward_rows: a warp a
   row (per_block = blockDim.x / 32) or the whole block a row (per_block = 1). */
struct RowSplit {
    int lanes, lane, slot, per_block;
    __device__ RowSplit(int per_block_) : per_block(per_block_) {
        lanes = per_block == 1 ? blockDim.x : 32;
        lane = per_block == 1 ? threadIdx.x : (threadIdx.x & 31);
        slot = per_block == 1 ? 0 : (threadIdx.x >> 5);
    }
    __device__ pg_i64 rounds(pg_i64 rows) const {
        pg_i64 step = (pg_i64)gridDim.x * per_block;
        return (rows + step - 1) / step;
    }
    __device__ pg_i64 row(pg_i64 r) const {
        return ((pg_i64)r * gridDim.x + blockIdx.x) * per_block + slot;
    }
    template <class A, class Op> __device__ A reduce(A v, Op op, A identity) const {
        return per_block == 1 ? block_reduce(v, op, identity) : warp_reduce(v, op);
    }
};

/* out = softmax (is_log 0) or log_softmax (is_log 1) of each row of x, both (rows, classes)
   compact. Every thread of a row's warp (or block) runs every round, live row or not, so the
   shuffles and barriers of the reductions see all their threads. */
template <class T>
__device__ void softmax_rows(const T *x, pg_i64 rows, pg_i64 classes, T *out, int per_block,
                             int is_log) {
    typedef typename Acc<T>::type A;
    const RowSplit split(per_block);
    const pg_i64 rounds = split.rounds(rows);
    for (pg_i64 r = 0; r < rounds; r++) {
        pg_i64 row = split.row(r);
        bool live = row < rows;
        const T *xr = x + (live ? row * classes : 0);
        T *o = out + (live ? row * classes : 0);
        A m = lowest<A>();
        if (live)
            for (pg_i64 j = split.lane; j < classes; j += split.lanes)
                m = maximum(m, convert<A>(xr[j]));
        m = split.reduce(m, MaxOp(), lowest<A>());
        A sum = A(0);
        if (live)
            for (pg_i64 j = split.lane; j < classes; j += split.lanes) {
                A e = exp_(convert<A>(xr[j]) - m);
                if (!is_log) o[j] = convert<T>(e); /* scaled below by this same thread */
                sum += e;
            }
        sum = split.reduce(sum, SumOp(), A(0));
        if (!live) continue;
        if (is_log) {
            A log_sum = log_(sum);
            for (pg_i64 j = split.lane; j < classes; j += split.lanes)
                o[j] = convert<T>((convert<A>(xr[j]) - m) - log_sum);
        } else {
            A inv = A(1) / sum;
            for (pg_i64 j = split.lane; j < classes; j += split.lanes)
                o[j] = convert<T>(convert<A>(o[j]) * inv);
        }
    }
}

/* The gradients by rows, all operands (rows, classes) compact: softmax's
   out = y * (g - sum(g * y)), log_softmax's out = g - exp(y) * sum(g). */
template <class T>
__device__ void softmax_backward_rows(const T *y, const T *g, pg_i64 rows, pg_i64 classes,
                                      T *out, int per_block, int is_log) {
    typedef typename Acc<T>::type A;
    const RowSplit split(per_block);
    const pg_i64 rounds = split.rounds(rows);
    for (pg_i64 r = 0; r < rounds; r++) {
        pg_i64 row = split.row(r);
        bool live = row < rows;
        pg_i64 base = live ? row * classes : 0;
        A s = A(0);
        if (live)
            for (pg_i64 j = split.lane; j < classes; j += split.lanes) {
                A gj = convert<A>(g[base + j]);
                s += is_log ? gj : gj * convert<A>(y[base + j]);
            }
        s = split.reduce(s, SumOp(), A(0));
        if (!live) continue;
        for (pg_i64 j = split.lane; j < classes; j += split.lanes) {
            A gj = convert<A>(g[base + j]), yj = convert<A>(y[base + j]);
            out[base + j] = convert<T>(is_log ? gj - exp_(yj) * s : yj * (gj - s));
        }
    }
}

/* rows[k]: operand k's row stride (rows have unit stride); gates (i, f, g, o) blocks of H */
template <class T>
__device__ void lstm_gates(const T *p, const T *r, const T *cp, T *g, T *c, T *h,
                           const pg_i64 *rows, pg_i64 n, pg_i64 H) {
    for (pg_i64 e = global_thread(); e < n * H; e += grid_threads()) {
        pg_i64 i = e / H, j = e % H;
        const T *pi = p + i * rows[0] + j, *ri = r + i * rows[1] + j;
        T *gi = g + i * rows[3] + j;
        T in = sigmoid(pi[0] + ri[0]), f = sigmoid(pi[H] + ri[H]);
        T gg = tanh_(pi[2 * H] + ri[2 * H]), o = sigmoid(pi[3 * H] + ri[3 * H]);
        gi[0] = in;
        gi[H] = f;
        gi[2 * H] = gg;
        gi[3 * H] = o;
        T cell = f * cp[i * rows[2] + j] + in * gg;
        c[i * rows[4] + j] = cell;
        h[i * rows[5] + j] = o * tanh_(cell);
    }
}

template <class T>
__device__ void lstm_gates_backward(const T *dh, const T *dc, const T *g, const T *c,
                                    const T *cp, T *d, T *dcp, const pg_i64 *rows, pg_i64 n,
                                    pg_i64 H) {
    for (pg_i64 e = global_thread(); e < n * H; e += grid_threads()) {
        pg_i64 i = e / H, j = e % H;
        const T *gi = g + i * rows[2] + j;
        T in = gi[0], f = gi[H], gg = gi[2 * H], o = gi[3 * H];
        T t = tanh_(c[i * rows[3] + j]), dhj = dh[i * rows[0] + j];
        T total = dc[i * rows[1] + j] + dhj * o * (T(1) - t * t);
        T *di = d + i * rows[5] + j;
        di[0] = total * gg * (in * (T(1) - in));
        di[H] = total * cp[i * rows[4] + j] * (f * (T(1) - f));
        di[2 * H] = total * in * (T(1) - gg * gg);
        di[3 * H] = dhj * t * (o * (T(1) - o));
        dcp[i * rows[6] + j] = total * f;
    }
}

/* the row strides, passed by value (a kernel parameter is one struct) */
struct GateRows {
    pg_i64 s[7];
};

}  // namespace pg

#define PG_FUSED_KERNELS(name, T)                                                          \
    extern "C" __global__ void pg_relu_backward_##name(T *out, const T *grad, const T *y,  \
                                                       pg::Layout<3> L, pg_i64 n) {        \
        pg::relu_backward(out, grad, y, L, n);                                             \
    }                                                                                      \
    PG_REGISTER_KERNEL_NO_SYNC(pg_relu_backward_##name)                                     \
    extern "C" __global__ void pg_axpy_##name(T *out, const T *x, double alpha,            \
                                              pg::Layout<2> L, pg_i64 n) {                 \
        pg::axpy(out, x, alpha, L, n);                                                     \
    }                                                                                      \
    PG_REGISTER_KERNEL_NO_SYNC(pg_axpy_##name)                                              \
    extern "C" __global__ void pg_cross_entropy_##name(                                    \
        const T *logits, pg_i64 s0, pg_i64 s1, const pg_i64 *target, pg_i64 ts,            \
        pg_i64 rows, pg_i64 classes, T *log_probs, T *row_loss, pg_i64 per_block) {        \
        pg::cross_entropy(logits, s0, s1, target, ts, rows, classes, log_probs, row_loss,  \
                          (int)per_block);                                                 \
    }                                                                                      \
    PG_REGISTER_KERNEL(pg_cross_entropy_##name)                                            \
    extern "C" __global__ void pg_sum_scale_##name(const T *v, pg_i64 n, double scale,     \
                                                   T *out) {                               \
        pg::sum_scale(v, n, scale, out);                                                   \
    }                                                                                      \
    PG_REGISTER_KERNEL(pg_sum_scale_##name)                                                \
    extern "C" __global__ void pg_cross_entropy_backward_##name(                           \
        const T *log_probs, const pg_i64 *target, pg_i64 ts, const T *grad, double scale,  \
        pg_i64 rows, pg_i64 classes, T *out) {                                             \
        pg::cross_entropy_backward(log_probs, target, ts, grad, scale, rows, classes, out); \
    }                                                                                      \
    PG_REGISTER_KERNEL_NO_SYNC(pg_cross_entropy_backward_##name)                            \
    extern "C" __global__ void pg_softmax_##name(const T *x, pg_i64 rows, pg_i64 classes,  \
                                                 T *out, pg_i64 per_block, pg_i64 is_log) { \
        pg::softmax_rows(x, rows, classes, out, (int)per_block, (int)is_log);              \
    }                                                                                      \
    PG_REGISTER_KERNEL(pg_softmax_##name)                                                  \
    extern "C" __global__ void pg_softmax_backward_##name(                                 \
        const T *y, const T *grad, pg_i64 rows, pg_i64 classes, T *out, pg_i64 per_block,  \
        pg_i64 is_log) {                                                                   \
        pg::softmax_backward_rows(y, grad, rows, classes, out, (int)per_block, (int)is_log); \
    }                                                                                      \
    PG_REGISTER_KERNEL(pg_softmax_backward_##name)                                         \
    extern "C" __global__ void pg_lstm_gates_##name(const T *p, const T *r, const T *cp,   \
                                                    T *g, T *c, T *h, pg::GateRows rows,   \
                                                    pg_i64 n, pg_i64 H) {                  \
        pg::lstm_gates(p, r, cp, g, c, h, rows.s, n, H);                                   \
    }                                                                                      \
    PG_REGISTER_KERNEL_NO_SYNC(pg_lstm_gates_##name)                                        \
    extern "C" __global__ void pg_lstm_gates_backward_##name(                              \
        const T *dh, const T *dc, const T *g, const T *c, const T *cp, T *d, T *dcp,       \
        pg::GateRows rows, pg_i64 n, pg_i64 H) {                                           \
        pg::lstm_gates_backward(dh, dc, g, c, cp, d, dcp, rows.s, n, H);                   \
    }                                                                                      \
    PG_REGISTER_KERNEL_NO_SYNC(pg_lstm_gates_backward_##name)
PG_FLOAT_DTYPES(PG_FUSED_KERNELS)
