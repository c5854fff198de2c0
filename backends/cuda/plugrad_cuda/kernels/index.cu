/* gather and scatter_add (torch semantics) over strided views. The host lays index, out and
   the source over the index's shape, with a stride of 0 on `axis` for the operand the index
   points into; the index value times that operand's axis stride is added. Values outside
   [0, axis_size) are never dereferenced: pg_check_index runs first and the host raises
   IndexError before anything is written. */
#include "pg_common.cuh"

namespace pg {

template <class T>
__device__ void gather(T *out, const T *x, const pg_i64 *index, const Layout<3> &L,
                       pg_i64 axis_size, pg_i64 axis_stride, pg_i64 n) {
    for (pg_i64 e = global_thread(); e < n; e += grid_threads()) {
        pg_i64 off[3];
        offsets(L, e, off);
        pg_i64 j = index[off[1]];
        if (j >= 0 && j < axis_size) out[off[0]] = x[off[2] + j * axis_stride];
    }
}

/* The bits of a 1- or 2-byte element, and back. */
template <class T> __device__ __forceinline__ pg_u32 bits_of(T v) {
    if constexpr (is_half<T>::value) {
        return v.bits;
    } else if constexpr (sizeof(T) == 1) {
        return (unsigned char)v;
    } else {
        return (unsigned short)v;
    }
}
template <class T> __device__ __forceinline__ T of_bits(pg_u32 u) {
    if constexpr (is_half<T>::value) {
        T r;
        r.bits = (unsigned short)u;
        return r;
    } else {
        return (T)u; /* truncated to the type's bits */
    }
}

/* *p += v for an element narrower than 32 bits: a compare-and-swap loop on the aligned word
   that holds it (integers wrap; 16-bit floats add in float32 and round once, as c_cpu). */
template <class T> __device__ __forceinline__ void add_narrow(T *p, T v) {
    const pg_u64 address = (pg_u64)p;
    unsigned int *word = (unsigned int *)(address & ~(pg_u64)3);
    const unsigned shift = (unsigned)(address & 3) * 8;
    const unsigned mask = (sizeof(T) == 1 ? 0xffu : 0xffffu) << shift;
    unsigned old = *word, assumed;
    do {
        assumed = old;
        T cur = of_bits<T>((assumed & mask) >> shift), sum;
        if constexpr (is_half<T>::value) {
            sum = T((float)cur + (float)v);
        } else {
            sum = (T)((pg_u32)cur + (pg_u32)v);
        }
        unsigned desired = (assumed & ~mask) | ((bits_of(sum) << shift) & mask);
        old = atomicCAS(word, assumed, desired);
    } while (old != assumed);
}

template <class T> __device__ __forceinline__ void add_to(T *p, T v) {
    if constexpr (is_same<T, bool>::value) {
        if (v) *p = true; /* OR: every writer writes the same value */
    } else if constexpr (is_same<T, long long>::value) {
        atomicAdd((unsigned long long *)p, (unsigned long long)v);
    } else if constexpr (sizeof(T) < 4) {
        add_narrow(p, v);
    } else {
        atomicAdd(p, v);
    }
}

/* L: (out strides with 0 on axis, index strides, src strides) over the index's shape */
template <class T>
__device__ void scatter_add(T *out, const pg_i64 *index, const T *src, const Layout<3> &L,
                            pg_i64 axis_size, pg_i64 axis_stride, pg_i64 n) {
    for (pg_i64 e = global_thread(); e < n; e += grid_threads()) {
        pg_i64 off[3];
        offsets(L, e, off);
        pg_i64 j = index[off[1]];
        if (j >= 0 && j < axis_size) add_to(out + off[0] + j * axis_stride, src[off[2]]);
    }
}

}  // namespace pg

/* bad[0] becomes 1 when an index value (a strided view of n elements) lies outside
   [0, bound): gather, scatter_add and the cross-entropy targets. */
extern "C" __global__ void pg_check_index(const pg_i64 *index, pg::Layout<1> L, pg_i64 n,
                                          pg_i64 bound, pg_i64 *bad) {
    for (pg_i64 e = pg::global_thread(); e < n; e += pg::grid_threads()) {
        pg_i64 off[1];
        pg::offsets(L, e, off);
        pg_i64 j = index[off[0]];
        if (j < 0 || j >= bound) *bad = 1; /* every writer writes the same value */
    }
}
PG_REGISTER_KERNEL_NO_SYNC(pg_check_index)

#define PG_INDEX_KERNELS(name, T)                                                          \
    extern "C" __global__ void pg_gather_##name(T *out, const T *x, const pg_i64 *index,   \
                                                pg::Layout<3> L, pg_i64 axis_size,         \
                                                pg_i64 axis_stride, pg_i64 n) {            \
        pg::gather(out, x, index, L, axis_size, axis_stride, n);                           \
    }                                                                                      \
    PG_REGISTER_KERNEL_NO_SYNC(pg_gather_##name)                                            \
    extern "C" __global__ void pg_scatter_add_##name(T *out, const pg_i64 *index,          \
                                                     const T *src, pg::Layout<3> L,        \
                                                     pg_i64 axis_size, pg_i64 axis_stride, \
                                                     pg_i64 n) {                           \
        pg::scatter_add(out, index, src, L, axis_size, axis_stride, n);                    \
    }                                                                                      \
    PG_REGISTER_KERNEL_NO_SYNC(pg_scatter_add_##name)
PG_ALL_DTYPES(PG_INDEX_KERNELS)
