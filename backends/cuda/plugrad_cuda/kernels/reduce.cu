/* Reductions (sum, max, min, prod) over any set of axes and arg reductions (argmax, argmin)
   over one axis. The host side orders x's dimensions into kept ("outer", one per output) and
   reduced ("inner") ones. A warp reduces one output (rows up to a few thousand elements) or a
   whole block does (long rows): each thread folds a strided share of the row, then warp
   shuffles and a shared-memory stage combine the threads' partial results. */
#include "pg_common.cuh"

namespace pg {

enum ReduceOp { R_SUM, R_MAX, R_MIN, R_PROD };
enum ArgOp { A_MAX, A_MIN };

/* The type a reduction accumulates in: 16-bit floats in float32 (rounded once at the end),
   every integer type in int64 (wrapping: truncated to the dtype at the end, its sum and
   product wrap in the dtype, as NumPy's), bool as int (max = any, min = all). */
template <class T> struct ReduceAcc {
    typedef typename Acc<T>::type type;
};
#define PG_REDUCE_IN_INT64(name, T) \
    template <> struct ReduceAcc<T> { typedef long long type; };
PG_INT_DTYPES(PG_REDUCE_IN_INT64)
#undef PG_REDUCE_IN_INT64
template <> struct ReduceAcc<bool> { typedef int type; };

template <class A> struct Fold {
    int op;
    __device__ __forceinline__ A operator()(A a, A b) const {
        switch (op) {
        case R_SUM: return a + b;
        case R_MAX: return maximum(a, b);
        case R_MIN: return minimum(a, b);
        default: return a * b;
        }
    }
    __device__ __forceinline__ A identity() const {
        switch (op) {
        case R_SUM: return A(0);
        case R_MAX: return lowest<A>();
        case R_MIN: return highest<A>();
        default: return A(1);
        }
    }
};
/* Integer sums and products wrap (two's complement), as in NumPy. */
template <> __device__ __forceinline__ long long Fold<long long>::operator()(long long a,
                                                                           long long b) const {
    switch (op) {
    case R_SUM: return (long long)((pg_u64)a + (pg_u64)b);
    case R_MAX: return a > b ? a : b;
    case R_MIN: return a < b ? a : b;
    default: return (long long)((pg_u64)a * (pg_u64)b);
    }
}
template <> __device__ __forceinline__ int Fold<int>::identity() const {
    return op == R_MIN || op == R_PROD ? 1 : 0;
}

/* outer: (out strides, x strides) over the kept dims; inner: x strides over the reduced ones.
   `per_block` outputs share a block: 1 (the block reduces one row) or blockDim.x / 32 (a warp
   a row). The grid strides over outputs. With split > 1 each row is cut into `split` parts
   whose partial results go to the compact out[row * split + part] (a second pass folds them),
   so a few long rows still fill the device. */
template <class T>
__device__ void reduce(int op, T *out, const T *x, const Layout<2> &outer, const Layout<1> &inner,
                       pg_i64 n_out, pg_i64 n_red, int per_block, pg_i64 split) {
    typedef typename ReduceAcc<T>::type A;
    Fold<A> fold{op};
    int lanes = per_block == 1 ? blockDim.x : 32;
    int lane = per_block == 1 ? threadIdx.x : (threadIdx.x & 31);
    int slot = per_block == 1 ? 0 : (threadIdx.x >> 5);
    /* every thread runs the same number of iterations, so the barriers below are uniform */
    pg_i64 n_parts = n_out * split, part_len = (n_red + split - 1) / split;
    pg_i64 rounds =
        (n_parts + (pg_i64)gridDim.x * per_block - 1) / ((pg_i64)gridDim.x * per_block);
    for (pg_i64 r = 0; r < rounds; r++) {
        pg_i64 o = ((pg_i64)r * gridDim.x + blockIdx.x) * per_block + slot;
        A acc = fold.identity();
        pg_i64 base[2] = {0, 0};
        if (o < n_parts) {
            pg_i64 part = o % split;
            offsets(outer, o / split, base);
            if (split > 1) base[0] = o;
            const T *row = x + base[1];
            pg_i64 begin = part * part_len + lane;
            pg_i64 end = (part + 1) * part_len < n_red ? (part + 1) * part_len : n_red;
            if (inner.nd == 1) {
                pg_i64 s = inner.strides[0][0];
                for (pg_i64 i = begin; i < end; i += lanes) acc = fold(acc, convert<A>(row[i * s]));
            } else {
                for (pg_i64 i = begin; i < end; i += lanes) {
                    pg_i64 off[1];
                    offsets(inner, i, off);
                    acc = fold(acc, convert<A>(row[off[0]]));
                }
            }
        }
        if (per_block == 1) {
            acc = block_reduce(acc, fold, fold.identity());
        } else {
            acc = warp_reduce(acc, fold);
        }
        if (o < n_parts && lane == 0) out[base[0]] = convert<T>(acc);
    }
}

/* ------------------------------------------------------------------ arg reductions ---- */
/* Is (v, i) a better pick than (bv, bi)? The first index of the extreme value wins; NaN is the
   extreme of everything (NumPy). An index of -1 means "nothing yet". */
template <class A>
__device__ __forceinline__ bool better(int op, A v, pg_i64 i, A bv, pg_i64 bi) {
    if (i < 0) return false;
    if (bi < 0) return true;
    if (is_nan(bv)) return is_nan(v) && i < bi;
    if (is_nan(v)) return true;
    if (v == bv) return i < bi;
    return op == A_MAX ? v > bv : v < bv;
}

template <class A>
__device__ __forceinline__ void warp_pick(int op, A &v, pg_i64 &i) {
    for (int delta = 16; delta > 0; delta >>= 1) {
        A ov = __shfl_xor_sync(0xffffffffu, v, delta);
        pg_i64 oi = __shfl_xor_sync(0xffffffffu, i, delta);
        if (better(op, ov, oi, v, i)) {
            v = ov;
            i = oi;
        }
    }
}

template <class T>
__device__ void arg_reduce(int op, pg_i64 *out, const T *x, const Layout<2> &outer, pg_i64 n_out,
                           pg_i64 n, pg_i64 stride, int per_block) {
    typedef typename ReduceAcc<T>::type A;
    __shared__ A best_v[32];
    __shared__ pg_i64 best_i[32];
    int lanes = per_block == 1 ? blockDim.x : 32;
    int lane = per_block == 1 ? threadIdx.x : (threadIdx.x & 31);
    int slot = per_block == 1 ? 0 : (threadIdx.x >> 5);
    pg_i64 rounds = (n_out + (pg_i64)gridDim.x * per_block - 1) / ((pg_i64)gridDim.x * per_block);
    for (pg_i64 r = 0; r < rounds; r++) {
        pg_i64 o = ((pg_i64)r * gridDim.x + blockIdx.x) * per_block + slot;
        A bv = A(0);
        pg_i64 bi = -1;
        pg_i64 base[2] = {0, 0};
        if (o < n_out) {
            offsets(outer, o, base);
            const T *row = x + base[1];
            for (pg_i64 i = lane; i < n; i += lanes) {
                A v = convert<A>(row[i * stride]);
                if (better(op, v, i, bv, bi)) {
                    bv = v;
                    bi = i;
                }
            }
        }
        warp_pick(op, bv, bi);
        if (per_block == 1) {
            int warp = threadIdx.x >> 5;
            if ((threadIdx.x & 31) == 0) {
                best_v[warp] = bv;
                best_i[warp] = bi;
            }
            __syncthreads();
            if (warp == 0) {
                int warps = (blockDim.x + 31) >> 5;
                bv = lane < warps ? best_v[lane] : A(0);
                bi = lane < warps ? best_i[lane] : -1;
                warp_pick(op, bv, bi);
            }
            __syncthreads();
        }
        if (o < n_out && lane == 0) out[base[0]] = bi;
    }
}

}  // namespace pg

#define PG_REDUCE_KERNELS(name, T)                                                          \
    extern "C" __global__ void pg_reduce_##name(pg_i64 op, T *out, const T *x,             \
                                                pg::Layout<2> outer, pg::Layout<1> inner,  \
                                                pg_i64 n_out, pg_i64 n_red,                \
                                                pg_i64 per_block, pg_i64 split) {          \
        pg::reduce((int)op, out, x, outer, inner, n_out, n_red, (int)per_block, split);    \
    }                                                                                      \
    PG_REGISTER_KERNEL(pg_reduce_##name)                                                   \
    extern "C" __global__ void pg_arg_reduce_##name(pg_i64 op, pg_i64 *out, const T *x,    \
                                                    pg::Layout<2> outer, pg_i64 n_out,     \
                                                    pg_i64 n, pg_i64 stride,               \
                                                    pg_i64 per_block) {                    \
        pg::arg_reduce((int)op, out, x, outer, n_out, n, stride, (int)per_block);          \
    }                                                                                      \
    PG_REGISTER_KERNEL(pg_arg_reduce_##name)
PG_ALL_DTYPES(PG_REDUCE_KERNELS)
