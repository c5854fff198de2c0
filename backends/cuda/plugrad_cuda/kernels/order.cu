/* Stable sort with indices and inclusive scans, along one axis (the protocol's `sort` and
   `scan`). The host side (plugrad_cuda/order.py) passes the other dimensions as `outer`
   (compact output strides, x strides): one row per output position, rows independent.

   Sort is a bitonic network over (value, position) pairs, so ties are broken by position and
   the network's result is the stable order. A row of up to SORT_BLOCK_MAX elements is sorted
   by one block in shared memory (one launch); a longer row is padded to a power of two in a
   global scratch and sorted by one launch per network stage. Scans run one block per row:
   warp shuffles scan 32 elements, a shared-memory stage the warps' totals, and a carry joins
   consecutive chunks of blockDim.x elements. */
#include "pg_common.cuh"

namespace pg {

/* Does (av, ai) come before (bv, bi)? Positions >= n are padding, after every element. NaN
   is the largest value; equal values keep their positions' order, descending too. */
template <class T>
__device__ __forceinline__ bool before(T av, pg_i64 ai, T bv, pg_i64 bi, pg_i64 n, bool desc) {
    bool a_pad = ai >= n, b_pad = bi >= n;
    if (a_pad || b_pad) return a_pad && b_pad ? ai < bi : b_pad;
    bool a_nan = is_nan(av), b_nan = is_nan(bv);
    if (a_nan || b_nan) {
        if (a_nan && b_nan) return ai < bi;
        return desc ? a_nan : b_nan;
    }
    if (av != bv) return desc ? av > bv : av < bv;
    return ai < bi;
}

/* One compare-exchange of the bitonic network: pair (i, i ^ j) of the stage (k, j). */
template <class T>
__device__ __forceinline__ void exchange(T *v, pg_i64 *at, pg_i64 i, pg_i64 l, pg_i64 k,
                                         pg_i64 n, bool desc) {
    bool up = (i & k) == 0;
    bool swap = up ? before(v[l], at[l], v[i], at[i], n, desc)
                   : before(v[i], at[i], v[l], at[l], n, desc);
    if (swap) {
        T tv = v[i];
        v[i] = v[l];
        v[l] = tv;
        pg_i64 ta = at[i];
        at[i] = at[l];
        at[l] = ta;
    }
}

/* Rows of n <= p elements (p a power of two), one block a row, the whole network in dynamic
   shared memory: p positions then p values. */
template <class T>
__device__ void sort_rows(T *values_out, pg_i64 *indices_out, const T *x, const Layout<2> &outer,
                          pg_i64 n_rows, pg_i64 n, pg_i64 x_stride, pg_i64 out_stride, pg_i64 p,
                          bool desc) {
    pg_i64 *at = dynamic_shared<pg_i64>();
    T *v = reinterpret_cast<T *>(at + p);
    pg_i64 rounds = (n_rows + gridDim.x - 1) / gridDim.x;
    for (pg_i64 r = 0; r < rounds; r++) {
        pg_i64 row = r * gridDim.x + blockIdx.x;
        bool active = row < n_rows;
        pg_i64 base[2] = {0, 0};
        if (active) offsets(outer, row, base);
        for (pg_i64 i = threadIdx.x; i < p; i += blockDim.x) {
            at[i] = i;
            v[i] = active && i < n ? x[base[1] + i * x_stride] : T(0);
        }
        __syncthreads();
        for (pg_i64 k = 2; k <= p; k <<= 1) {
            for (pg_i64 j = k >> 1; j > 0; j >>= 1) {
                for (pg_i64 q = threadIdx.x; q < p / 2; q += blockDim.x) {
                    pg_i64 i = (q / j) * 2 * j + q % j;
                    exchange(v, at, i, i + j, k, n, desc);
                }
                __syncthreads();
            }
        }
        if (active) {
            for (pg_i64 i = threadIdx.x; i < n; i += blockDim.x) {
                values_out[base[0] + i * out_stride] = v[i];
                indices_out[base[0] + i * out_stride] = at[i];
            }
        }
        __syncthreads(); /* the next row reuses the shared arrays */
    }
}

/* Long rows: (n_rows, p) scratch of values and positions, loaded, then one launch per
   network stage (k, j), then stored. */
template <class T>
__device__ void sort_load(T *v, pg_i64 *at, const T *x, const Layout<2> &outer, pg_i64 n_rows,
                          pg_i64 n, pg_i64 x_stride, pg_i64 p) {
    for (pg_i64 t = global_thread(); t < n_rows * p; t += grid_threads()) {
        pg_i64 row = t / p, i = t - row * p, base[2];
        offsets(outer, row, base);
        at[t] = i;
        v[t] = i < n ? x[base[1] + i * x_stride] : T(0);
    }
}

template <class T>
__device__ void sort_stage(T *v, pg_i64 *at, pg_i64 n_rows, pg_i64 n, pg_i64 p, pg_i64 k,
                           pg_i64 j, bool desc) {
    pg_i64 half = p / 2;
    for (pg_i64 t = global_thread(); t < n_rows * half; t += grid_threads()) {
        pg_i64 row = t / half, q = t - row * half;
        pg_i64 i = (q / j) * 2 * j + q % j;
        exchange(v + row * p, at + row * p, i, i + j, k, n, desc);
    }
}

template <class T>
__device__ void sort_store(T *values_out, pg_i64 *indices_out, const T *v, const pg_i64 *at,
                           const Layout<2> &outer, pg_i64 n_rows, pg_i64 n, pg_i64 out_stride,
                           pg_i64 p) {
    for (pg_i64 t = global_thread(); t < n_rows * n; t += grid_threads()) {
        pg_i64 row = t / n, i = t - row * n, base[2];
        offsets(outer, row, base);
        values_out[base[0] + i * out_stride] = v[row * p + i];
        indices_out[base[0] + i * out_stride] = at[row * p + i];
    }
}

/* ---------------------------------------------------------------------------- scans ---- */
enum ScanOp { S_SUM, S_PROD, S_MAX, S_MIN, S_LOGADDEXP };

/* The type a scan runs in: float32 and the 16-bit floats accumulate in float64 (rounded once
   an element), every integer type in int64 (wrapping, truncated to the dtype), bool as int
   (sum and prod arrive as max and min: logical or and and). */
template <class T> struct ScanAcc { typedef typename Acc<T>::type type; };
template <> struct ScanAcc<float> { typedef double type; };
#define PG_SCAN_IN(name, T, A) \
    template <> struct ScanAcc<T> { typedef A type; };
#define PG_SCAN_IN_INT64(name, T) PG_SCAN_IN(name, T, long long)
#define PG_SCAN_IN_DOUBLE(name, T) PG_SCAN_IN(name, T, double)
PG_INT_DTYPES(PG_SCAN_IN_INT64)
PG_HALF_DTYPES(PG_SCAN_IN_DOUBLE)
#undef PG_SCAN_IN_DOUBLE
#undef PG_SCAN_IN_INT64
#undef PG_SCAN_IN
template <> struct ScanAcc<bool> { typedef int type; };

template <class A> __device__ __forceinline__ A plus(A a, A b) { return a + b; }
template <> __device__ __forceinline__ long long plus(long long a, long long b) {
    return (long long)((pg_u64)a + (pg_u64)b); /* int64 wraps */
}
template <class A> __device__ __forceinline__ A times(A a, A b) { return a * b; }
template <> __device__ __forceinline__ long long times(long long a, long long b) {
    return (long long)((pg_u64)a * (pg_u64)b);
}

/* log(exp(a) + exp(b)) without overflow; two -inf give -inf, NaN stays */
__device__ __forceinline__ double log_add_exp(double a, double b) {
    if (a != a || b != b) return a + b;
    double m = a > b ? a : b;
    if (m == lowest<double>() || m == highest<double>()) return m;
    return m + log1p(exp(-fabs(a - b)));
}

/* A running value and, for max and min, where it was last attained. */
template <class A> struct Item {
    A v;
    pg_i64 at;
};

/* The running value after the element(s) `right` that follow `left`. Associative, so the
   block may fold in any grouping. max and min take the later of equal values and stay on
   the latest NaN, as the sequential scan does. */
template <class A>
__device__ __forceinline__ Item<A> combine(int op, Item<A> left, Item<A> right) {
    switch (op) {
    case S_SUM: return {plus(left.v, right.v), right.at};
    case S_PROD: return {times(left.v, right.v), right.at};
    case S_LOGADDEXP: return {(A)log_add_exp((double)left.v, (double)right.v), right.at};
    default: {
        if (is_nan(right.v)) return right;
        if (is_nan(left.v)) return left;
        bool later = op == S_MAX ? right.v >= left.v : right.v <= left.v;
        return later ? right : left;
    }
    }
}

template <class A> __device__ __forceinline__ Item<A> shuffle_up(Item<A> it, int delta) {
    return {__shfl_up_sync(0xffffffffu, it.v, delta), __shfl_up_sync(0xffffffffu, it.at, delta)};
}

/* Inclusive scan over a full warp: lane l gets lanes 0..l folded. */
template <class A> __device__ __forceinline__ Item<A> warp_scan(int op, Item<A> it) {
    int lane = threadIdx.x & 31;
    for (int delta = 1; delta < 32; delta <<= 1) {
        Item<A> lower = shuffle_up(it, delta);
        if (lane >= delta) it = combine(op, lower, it);
    }
    return it;
}

template <class T>
__device__ void scan(int op, T *out, pg_i64 *indices_out, const T *x, const Layout<2> &outer,
                     pg_i64 n_rows, pg_i64 n, pg_i64 x_stride, pg_i64 out_stride) {
    typedef typename ScanAcc<T>::type A;
    __shared__ A warp_v[32];
    __shared__ pg_i64 warp_at[32];
    __shared__ A carry_v;
    __shared__ pg_i64 carry_at;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    /* uniform trip counts: every thread reaches every barrier */
    pg_i64 rounds = (n_rows + gridDim.x - 1) / gridDim.x;
    for (pg_i64 r = 0; r < rounds; r++) {
        pg_i64 row = r * gridDim.x + blockIdx.x;
        bool active = row < n_rows;
        pg_i64 base[2] = {0, 0};
        if (active) offsets(outer, row, base);
        for (pg_i64 start = 0; start < n; start += blockDim.x) {
            pg_i64 i = start + threadIdx.x;
            bool valid = active && i < n;
            /* lanes past the row's end hold anything: they only feed higher lanes */
            Item<A> it = {valid ? convert<A>(x[base[1] + i * x_stride]) : A(0), i};
            it = warp_scan(op, it);
            if (lane == 31) {
                warp_v[warp] = it.v;
                warp_at[warp] = it.at;
            }
            __syncthreads();
            if (warp == 0) {
                Item<A> total = {lane < warps ? warp_v[lane] : A(0),
                                 lane < warps ? warp_at[lane] : 0};
                total = warp_scan(op, total);
                if (lane < warps) {
                    warp_v[lane] = total.v;
                    warp_at[lane] = total.at;
                }
            }
            __syncthreads();
            if (warp > 0) it = combine(op, Item<A>{warp_v[warp - 1], warp_at[warp - 1]}, it);
            if (start > 0) it = combine(op, Item<A>{carry_v, carry_at}, it);
            if (valid) {
                out[base[0] + i * out_stride] = convert<T>(it.v);
                if (indices_out != nullptr) indices_out[base[0] + i * out_stride] = it.at;
            }
            __syncthreads(); /* every thread has read the carry and the warps' totals */
            pg_i64 last = (start + (pg_i64)blockDim.x < n ? start + (pg_i64)blockDim.x : n) - 1;
            if (i == last) {
                carry_v = it.v;
                carry_at = it.at;
            }
            __syncthreads();
        }
    }
}

}  // namespace pg

#define PG_ORDER_KERNELS(name, T)                                                           \
    extern "C" __global__ void pg_sort_rows_##name(T *values_out, pg_i64 *indices_out,     \
                                                   const T *x, pg::Layout<2> outer,        \
                                                   pg_i64 n_rows, pg_i64 n, pg_i64 x_stride, \
                                                   pg_i64 out_stride, pg_i64 p,            \
                                                   pg_i64 desc) {                          \
        pg::sort_rows(values_out, indices_out, x, outer, n_rows, n, x_stride, out_stride, p, \
                      desc != 0);                                                          \
    }                                                                                      \
    PG_REGISTER_KERNEL(pg_sort_rows_##name)                                                \
    extern "C" __global__ void pg_sort_load_##name(T *v, pg_i64 *at, const T *x,           \
                                                   pg::Layout<2> outer, pg_i64 n_rows,     \
                                                   pg_i64 n, pg_i64 x_stride, pg_i64 p) {  \
        pg::sort_load(v, at, x, outer, n_rows, n, x_stride, p);                            \
    }                                                                                      \
    PG_REGISTER_KERNEL_NO_SYNC(pg_sort_load_##name)                                        \
    extern "C" __global__ void pg_sort_stage_##name(T *v, pg_i64 *at, pg_i64 n_rows,       \
                                                    pg_i64 n, pg_i64 p, pg_i64 k,          \
                                                    pg_i64 j, pg_i64 desc) {               \
        pg::sort_stage(v, at, n_rows, n, p, k, j, desc != 0);                              \
    }                                                                                      \
    PG_REGISTER_KERNEL_NO_SYNC(pg_sort_stage_##name)                                       \
    extern "C" __global__ void pg_sort_store_##name(T *values_out, pg_i64 *indices_out,    \
                                                    const T *v, const pg_i64 *at,          \
                                                    pg::Layout<2> outer, pg_i64 n_rows,    \
                                                    pg_i64 n, pg_i64 out_stride,           \
                                                    pg_i64 p) {                            \
        pg::sort_store(values_out, indices_out, v, at, outer, n_rows, n, out_stride, p);   \
    }                                                                                      \
    PG_REGISTER_KERNEL_NO_SYNC(pg_sort_store_##name)                                       \
    extern "C" __global__ void pg_scan_##name(pg_i64 op, T *out, pg_i64 *indices_out,      \
                                              const T *x, pg::Layout<2> outer,             \
                                              pg_i64 n_rows, pg_i64 n, pg_i64 x_stride,    \
                                              pg_i64 out_stride) {                         \
        pg::scan((int)op, out, indices_out, x, outer, n_rows, n, x_stride, out_stride);    \
    }                                                                                      \
    PG_REGISTER_KERNEL(pg_scan_##name)
PG_ALL_DTYPES(PG_ORDER_KERNELS)
