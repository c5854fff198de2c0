/* Elementwise kernels over strided layouts: copy and fill (by element size), unary, binary
   and scalar ops, where, cast. Every kernel walks its n elements with a grid-stride loop; when
   all operands are one contiguous run it indexes them directly. Op codes follow the enums
   below, mirrored in plugrad_cuda/ops.py. */
#include "pg_common.cuh"

namespace pg {

enum UnaryOp {
    U_NEG, U_ABS, U_EXP, U_LOG, U_SQRT, U_TANH, U_SIGMOID, U_RELU, U_SIGN, U_SIN, U_COS,
    U_ERF, U_FLOOR, U_CEIL, U_NOT, U_BNOT
};
enum BinaryOp {
    B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_AND, B_OR,
    B_BAND, B_BOR, B_BXOR, B_SHL, B_SHR, /* bitwise: integers and bool (shifts: integers) */
    B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE
};
/* How `binary` reads its operands: both arrays, or one replaced by the scalar parameter. */
enum ScalarSide { SCALAR_NONE, SCALAR_RIGHT, SCALAR_LEFT };

/* ---------------------------------------------------------------- copy and fill ---- */
template <class T> __device__ void copy(T *out, const T *x, const Layout<2> &L, pg_i64 n) {
    if (contiguous(L)) {
        for (pg_i64 i = global_thread(); i < n; i += grid_threads()) out[i] = x[i];
        return;
    }
    for (pg_i64 i = global_thread(); i < n; i += grid_threads()) {
        pg_i64 off[2];
        offsets(L, i, off);
        out[off[0]] = x[off[1]];
    }
}

template <class T> __device__ void fill(T *out, T value, const Layout<1> &L, pg_i64 n) {
    if (contiguous(L)) {
        for (pg_i64 i = global_thread(); i < n; i += grid_threads()) out[i] = value;
        return;
    }
    for (pg_i64 i = global_thread(); i < n; i += grid_threads()) {
        pg_i64 off[1];
        offsets(L, i, off);
        out[off[0]] = value;
    }
}

/* ---------------------------------------------------------------------- unary ---- */
template <class T> __device__ __forceinline__ T unary_float(int op, T v) {
    switch (op) {
    case U_NEG: return -v;
    case U_ABS: return fabs_(v);
    case U_EXP: return exp_(v);
    case U_LOG: return log_(v);
    case U_SQRT: return sqrt_(v);
    case U_TANH: return tanh_(v);
    case U_SIGMOID: return sigmoid(v);
    case U_RELU: return (v > T(0) || is_nan(v)) ? v : T(0);
    case U_SIGN: return v > T(0) ? T(1) : (v < T(0) ? T(-1) : v * T(0));
    case U_SIN: return sin_(v);
    case U_COS: return cos_(v);
    case U_ERF: return erf_(v);
    case U_FLOOR: return floor_(v);
    case U_CEIL: return ceil_(v);
    default: return v == T(0) ? T(1) : T(0);
    }
}

template <class T> __device__ __forceinline__ T unary_op(int op, T v) {
    if constexpr (is_floating<typename Acc<T>::type>::value) {
        typedef typename Acc<T>::type A;
        return convert<T>(unary_float<A>(op, convert<A>(v)));
    } else if constexpr (is_same<T, bool>::value) {
        return (op == U_NOT || op == U_BNOT) ? !v : unary_float<double>(op, v ? 1.0 : 0.0) != 0.0;
    } else {
        pg_u64 u = (pg_u64)v;
        switch (op) {
        case U_NEG: return (T)(0 - u);
        case U_ABS: return v < 0 ? (T)(0 - u) : v;
        case U_RELU: return v > 0 ? v : T(0);
        case U_SIGN: return (T)(v > 0) - (T)(v < 0);
        case U_FLOOR:
        case U_CEIL: return v;
        case U_NOT: return v == 0;
        case U_BNOT: return ~v;
        default: return d2int<T>(unary_float<double>(op, (double)v));
        }
    }
}

template <class T>
__device__ void unary(int op, T *out, const T *x, const Layout<2> &L, pg_i64 n) {
    if (contiguous(L)) {
        for (pg_i64 i = global_thread(); i < n; i += grid_threads()) out[i] = unary_op(op, x[i]);
        return;
    }
    for (pg_i64 i = global_thread(); i < n; i += grid_threads()) {
        pg_i64 off[2];
        offsets(L, i, off);
        out[off[0]] = unary_op(op, x[off[1]]);
    }
}

/* --------------------------------------------------------------------- binary ---- */
__device__ __forceinline__ pg_i64 ipow(pg_i64 a, pg_i64 b) {
    if (b < 0) {
        if (a == 1) return 1;
        if (a == -1) return (b & 1) ? -1 : 1;
        return 0;
    }
    pg_u64 r = 1, base = (pg_u64)a;
    while (b) {
        if (b & 1) r *= base;
        base *= base;
        b >>= 1;
    }
    return (pg_i64)r;
}

/* torch's shifts of an integer: a count outside [0, bits) gives 0 to the left and the sign
   (0 or -1; 0 for uint8) to the right; a left shift wraps (shifted as unsigned). */
template <class T> __device__ __forceinline__ T shift_left(T a, T b) {
    const T bits = (T)(sizeof(T) * 8);
    return (b < 0 || b >= bits) ? T(0) : (T)((pg_u64)a << b);
}

template <class T> __device__ __forceinline__ T shift_right(T a, T b) {
    const T bits = (T)(sizeof(T) * 8);
    return (b < 0 || b >= bits) ? (T)(a < 0 ? -1 : 0) : (T)(a >> b);
}

/* Arithmetic ops: a op b in T, a type arithmetic runs in (Acc<T>: 16-bit floats arrive as
   float32). Comparisons are separate (they write bool). */
template <class T> __device__ __forceinline__ T arith(int op, T a, T b) {
    if constexpr (is_floating<T>::value) {
        typedef T A;
        A x = a, y = b, r;
        switch (op) {
        case B_ADD: r = x + y; break;
        case B_SUB: r = x - y; break;
        case B_MUL: r = x * y; break;
        case B_DIV: r = x / y; break;
        case B_POW: r = pow_(x, y); break;
        case B_MAX: r = maximum(x, y); break;
        case B_MIN: r = minimum(x, y); break;
        case B_AND: r = (x != A(0) && y != A(0)) ? A(1) : A(0); break;
        default: r = (x != A(0) || y != A(0)) ? A(1) : A(0); break;
        }
        return r;
    } else if constexpr (is_same<T, bool>::value) {
        switch (op) {
        case B_SUB: return a != b;
        case B_MUL:
        case B_MIN:
        case B_AND:
        case B_BAND: return a && b;
        case B_DIV:
        case B_POW: return a || !b;
        case B_BXOR: return a != b;
        default: return a || b; /* add, maximum, logical_or, bitwise_or */
        }
    } else {
        pg_u64 x = (pg_u64)a, y = (pg_u64)b;
        switch (op) {
        case B_ADD: return (T)(x + y);
        case B_SUB: return (T)(x - y);
        case B_MUL: return (T)(x * y);
        case B_DIV: return d2int<T>((double)a / (double)b);
        case B_POW: return (T)ipow(a, b);
        case B_MAX: return a > b ? a : b;
        case B_MIN: return a < b ? a : b;
        case B_AND: return a != 0 && b != 0;
        case B_BAND: return a & b;
        case B_BOR: return a | b;
        case B_BXOR: return a ^ b;
        case B_SHL: return shift_left(a, b);
        case B_SHR: return shift_right(a, b);
        default: return a != 0 || b != 0;
        }
    }
}

template <class T> __device__ __forceinline__ bool compare(int op, T x, T y) {
    switch (op) {
    case B_EQ: return x == y;
    case B_NE: return x != y;
    case B_LT: return x < y;
    case B_LE: return x <= y;
    case B_GT: return x > y;
    default: return x >= y;
    }
}

/* Operands are loaded as A = Acc<T> (a scalar operand arrives as A: float32 for 16-bit
   floats, as torch and the NumPy reference compute it), computed in A, stored as T. */
template <class T, class O, bool CMP>
__device__ void binary_loop(int op, O *out, const T *a, const T *b, typename Acc<T>::type scalar,
                            int side, const Layout<3> &L, pg_i64 n) {
    typedef typename Acc<T>::type A;
    for (pg_i64 i = global_thread(); i < n; i += grid_threads()) {
        pg_i64 off[3];
        if (contiguous(L)) {
            off[0] = off[1] = off[2] = i;
        } else {
            offsets(L, i, off);
        }
        A x = side == SCALAR_LEFT ? scalar : convert<A>(a[off[1]]);
        A y = side == SCALAR_RIGHT ? scalar : convert<A>(b[off[2]]);
        if constexpr (CMP) {
            out[off[0]] = compare(op, x, y);
        } else {
            out[off[0]] = convert<T>(arith(op, x, y));
        }
    }
}

/* The contiguous array-array case, four elements a thread in flight (memory-bound ops). */
template <class T>
__device__ void binary_contiguous(int op, T *out, const T *a, const T *b, pg_i64 n) {
    typedef typename Acc<T>::type A;
    const int U = 4;
    pg_i64 step = grid_threads() * U;
    for (pg_i64 base = (pg_i64)blockIdx.x * blockDim.x * U + threadIdx.x; base < n; base += step) {
        T x[U], y[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            pg_i64 i = base + (pg_i64)u * blockDim.x;
            if (i < n) {
                x[u] = a[i];
                y[u] = b[i];
            }
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            pg_i64 i = base + (pg_i64)u * blockDim.x;
            if (i < n) out[i] = convert<T>(arith(op, convert<A>(x[u]), convert<A>(y[u])));
        }
    }
}

template <class T>
__device__ void binary(int op, void *out, const T *a, const T *b, typename Acc<T>::type scalar,
                       int side, const Layout<3> &L, pg_i64 n) {
    if (op >= B_EQ) {
        binary_loop<T, bool, true>(op, (bool *)out, a, b, scalar, side, L, n);
    } else if (side == SCALAR_NONE && contiguous(L)) {
        binary_contiguous<T>(op, (T *)out, a, b, n);
    } else {
        binary_loop<T, T, false>(op, (T *)out, a, b, scalar, side, L, n);
    }
}

/* ---------------------------------------------------------------- where, cast ---- */
template <class T>
__device__ void where(T *out, const bool *cond, const T *a, const T *b, const Layout<4> &L,
                      pg_i64 n) {
    for (pg_i64 i = global_thread(); i < n; i += grid_threads()) {
        pg_i64 off[4];
        offsets(L, i, off);
        out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
    }
}

template <class D, class S>
__device__ void cast_loop(D *out, const S *x, const Layout<2> &L, pg_i64 n) {
    for (pg_i64 i = global_thread(); i < n; i += grid_threads()) {
        pg_i64 off[2];
        if (contiguous(L)) {
            off[0] = off[1] = i;
        } else {
            offsets(L, i, off);
        }
        out[off[0]] = convert<D>(x[off[1]]);
    }
}

template <class S>
__device__ void cast(int dst, void *out, const S *x, const Layout<2> &L, pg_i64 n) {
    switch (dst) {
#define PG_CAST_CASE(name, D) \
    case DT_##name: cast_loop<D, S>((D *)out, x, L, n); break;
        PG_ALL_DTYPES(PG_CAST_CASE)
#undef PG_CAST_CASE
    }
}

}  // namespace pg

/* ------------------------------------------------------------ kernel instances ---- */
#define PG_SIZED_KERNELS(size, T)                                                           \
    extern "C" __global__ void pg_copy_##size(T *out, const T *x, pg::Layout<2> L,          \
                                              pg_i64 n) {                                   \
        pg::copy(out, x, L, n);                                                             \
    }                                                                                       \
    PG_REGISTER_KERNEL_NO_SYNC(pg_copy_##size)                                              \
    extern "C" __global__ void pg_fill_##size(T *out, T value, pg::Layout<1> L, pg_i64 n) { \
        pg::fill(out, value, L, n);                                                         \
    }                                                                                       \
    PG_REGISTER_KERNEL_NO_SYNC(pg_fill_##size)
PG_ELEMENT_SIZES(PG_SIZED_KERNELS)

#define PG_ELEMENTWISE_KERNELS(name, T)                                                     \
    extern "C" __global__ void pg_unary_##name(pg_i64 op, T *out, const T *x,               \
                                               pg::Layout<2> L, pg_i64 n) {                 \
        pg::unary((int)op, out, x, L, n);                                                   \
    }                                                                                       \
    PG_REGISTER_KERNEL_NO_SYNC(pg_unary_##name)                                             \
    extern "C" __global__ void pg_binary_##name(pg_i64 op, void *out, const T *a,           \
                                                const T *b, pg::Acc<T>::type scalar,        \
                                                pg_i64 side,                                \
                                                pg::Layout<3> L, pg_i64 n) {                \
        pg::binary((int)op, out, a, b, scalar, (int)side, L, n);                            \
    }                                                                                       \
    PG_REGISTER_KERNEL_NO_SYNC(pg_binary_##name)                                            \
    extern "C" __global__ void pg_where_##name(T *out, const bool *cond, const T *a,        \
                                               const T *b, pg::Layout<4> L, pg_i64 n) {     \
        pg::where(out, cond, a, b, L, n);                                                   \
    }                                                                                       \
    PG_REGISTER_KERNEL_NO_SYNC(pg_where_##name)                                             \
    extern "C" __global__ void pg_cast_##name(pg_i64 dst, void *out, const T *x,            \
                                              pg::Layout<2> L, pg_i64 n) {                  \
        pg::cast((int)dst, out, x, L, n);                                                   \
    }                                                                                       \
    PG_REGISTER_KERNEL_NO_SYNC(pg_cast_##name)
PG_ALL_DTYPES(PG_ELEMENTWISE_KERNELS)
