/* Internal helpers shared by the plugrad_c_cpu kernels. */
#ifndef PG_H
#define PG_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <math.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "api.h"
#include "half.h"

#define PG_MAXD 32
#define PG_GRAIN 32768

/* dtype codes (the Python side's order): the first four are the original ones */
enum {
    DT_F32 = 0, DT_F64 = 1, DT_I64 = 2, DT_BOOL = 3, DT_I8 = 4, DT_I16 = 5, DT_I32 = 6,
    DT_U8 = 7, DT_F16 = 8, DT_BF16 = 9, DT_COUNT = 10
};

/* The integer dtypes: X(suffix, code, stored type, unsigned twin (wrapping arithmetic), bits) */
#define PG_INT_TYPES(X, ...)                                    \
    X(i64, DT_I64, int64_t, uint64_t, 64, __VA_ARGS__)          \
    X(i8, DT_I8, int8_t, uint8_t, 8, __VA_ARGS__)               \
    X(i16, DT_I16, int16_t, uint16_t, 16, __VA_ARGS__)          \
    X(i32, DT_I32, int32_t, uint32_t, 32, __VA_ARGS__)          \
    X(u8, DT_U8, uint8_t, uint8_t, 8, __VA_ARGS__)

/* Every dtype, in code order: X(suffix, code, stored type, kind). The kind names how a value
   is loaded (PG_LOAD_kind) and stored (PG_STORE_kind), so casts come from one definition. */
#define PG_DTYPES(X, ...)                                       \
    X(f32, DT_F32, float, FLT, __VA_ARGS__)                     \
    X(f64, DT_F64, double, DBL, __VA_ARGS__)                    \
    X(i64, DT_I64, int64_t, INT, __VA_ARGS__)                   \
    X(bool, DT_BOOL, uint8_t, BOOL, __VA_ARGS__)                \
    X(i8, DT_I8, int8_t, INT, __VA_ARGS__)                      \
    X(i16, DT_I16, int16_t, INT, __VA_ARGS__)                   \
    X(i32, DT_I32, int32_t, INT, __VA_ARGS__)                   \
    X(u8, DT_U8, uint8_t, INT, __VA_ARGS__)                     \
    X(f16, DT_F16, uint16_t, F16, __VA_ARGS__)                  \
    X(bf16, DT_BF16, uint16_t, BF16, __VA_ARGS__)
/* the same list, for expanding inside an expansion of PG_DTYPES (a macro cannot nest itself) */
#define PG_DTYPES_INNER(X, ...)                                 \
    X(f32, DT_F32, float, FLT, __VA_ARGS__)                     \
    X(f64, DT_F64, double, DBL, __VA_ARGS__)                    \
    X(i64, DT_I64, int64_t, INT, __VA_ARGS__)                   \
    X(bool, DT_BOOL, uint8_t, BOOL, __VA_ARGS__)                \
    X(i8, DT_I8, int8_t, INT, __VA_ARGS__)                      \
    X(i16, DT_I16, int16_t, INT, __VA_ARGS__)                   \
    X(i32, DT_I32, int32_t, INT, __VA_ARGS__)                   \
    X(u8, DT_U8, uint8_t, INT, __VA_ARGS__)                     \
    X(f16, DT_F16, uint16_t, F16, __VA_ARGS__)                  \
    X(bf16, DT_BF16, uint16_t, BF16, __VA_ARGS__)

/* Item sizes by code. */
extern const int pg_itemsize[DT_COUNT];

enum {
    U_NEG, U_ABS, U_EXP, U_LOG, U_SQRT, U_TANH, U_SIGMOID, U_RELU, U_SIGN, U_SIN, U_COS,
    U_ERF, U_FLOOR, U_CEIL, U_NOT, U_BNOT
};
enum {
    B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_AND, B_OR,
    B_BAND, B_BOR, B_BXOR, B_SHL, B_SHR, /* bitwise: integers and bool (shifts: integers) */
    B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE
};
enum { R_SUM, R_MAX, R_MIN, R_PROD };

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(PG_NO_CLONES)
#define PG_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PG_CLONES
#endif

extern int pg_nthreads;
/* Set once a parallel region may have started libgomp's thread pool, which a forked child
   cannot use (see pg_after_fork_child). */
extern int pg_pool_started;

/* Threads to use for `work` element-operations. */
static inline int pg_threads_for(int64_t work) {
    if (work < PG_GRAIN || pg_nthreads <= 1) return 1;
    int64_t t = work / PG_GRAIN;
    if (!pg_pool_started) __atomic_store_n(&pg_pool_started, 1, __ATOMIC_RELAXED);
    return t < pg_nthreads ? (int)t : pg_nthreads;
}

/* The calling thread's share [r[0], r[1]) of n items: all of them outside a parallel region. */
static inline void pg_my_share(int64_t n, int64_t r[2]) {
#ifdef _OPENMP
    int t = omp_get_thread_num(), T = omp_get_num_threads();
#else
    int t = 0, T = 1;
#endif
    r[0] = n * t / T;
    r[1] = n * (t + 1) / T;
}

/* sigmoid without overflow: exp of -|v| only */
static inline double pg_sigmoid(double v) {
    double e = exp(-fabs(v));
    double r = 1.0 / (1.0 + e);
    return v >= 0 ? r : e * r;
}

/* a * b for non-negative a and b, saturated at INT64_MAX: for work estimates, never bounds. */
static inline int64_t pg_sat_mul(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

/* The element count of shape[0..nd), or -1 when a size is negative or the count overflows
   int64. Every entry point checks its counts with it before it divides or loops, whatever
   the Python side already checked. */
static inline int64_t pg_count(int64_t nd, const int64_t *shape) {
    int64_t total = 1;
    int overflow = 0;
    for (int64_t d = 0; d < nd; d++) {
        if (shape[d] < 0) return -1;
        overflow |= __builtin_mul_overflow(total, shape[d], &total);
    }
    for (int64_t d = 0; d < nd; d++) /* a 0-sized dim makes the count 0, not an overflow */
        if (shape[d] == 0) return 0;
    return overflow ? -1 : total;
}

/* 1 when every product a[0] * a[1] * ... * a[n-1] fits int64 (all non-negative). */
static inline int pg_fits(int n, const int64_t *a) {
    int64_t r = 1;
    for (int i = 0; i < n; i++)
        if (a[i] < 0 || __builtin_mul_overflow(r, a[i], &r)) return 0;
    return 1;
}

/* An n-d iteration over up to 4 operands. */
typedef struct {
    int nd;
    int nops;
    int64_t shape[PG_MAXD];
    int64_t st[4][PG_MAXD];
} pg_iter;

/* Read meta into it; returns -1 on bad ndim. */
int pg_iter_load(pg_iter *it, int nops, const int64_t *meta);
/* Drop size-1 dims, sort by operand 0's |stride| (descending), merge contiguous dims.
   Returns the element count (0 when empty). Leaves at least one dim. */
int64_t pg_iter_simplify(pg_iter *it);

/* The inner loop of an iteration: n elements, p[k] operand k's first element, s[k] its stride
   in elements. */
typedef void (*pg_inner)(const void *ctx, int64_t n, char **p, const int64_t *s);
/* Run f over a simplified iteration, split across threads when total * cost passes the grain.
   isz[k] is operand k's item size in bytes. */
void pg_run(const pg_iter *it, int64_t total, char **base, const int *isz, pg_inner f,
            const void *ctx, int64_t cost);

/* numpy-like (x86) double -> int64: out of range and NaN give INT64_MIN. */
static inline int64_t pg_d2i(double v) {
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) return INT64_MIN;
    return (int64_t)v;
}
static inline int64_t pg_i2i(int64_t v) { return v; }
/* double -> int32 as x86's cvttsd2si: out of range and NaN give INT32_MIN. NumPy (and C on x86)
   converts to int32, int16, int8 and uint8 through it, truncating to the narrower ones. */
static inline int32_t pg_d2i32(double v) {
    if (!(v > -2147483649.0 && v < 2147483648.0)) return INT32_MIN;
    return (int32_t)v;
}
/* double -> integer type T as NumPy on x86 */
#define PG_D2I(T, x) ((T)(sizeof(T) == 8 ? pg_d2i(x) : (int64_t)pg_d2i32(x)))

/* A value of each kind loaded into the type it computes in (16-bit floats: float32) ... */
#define PG_LOAD_FLT(v) (v)
#define PG_LOAD_DBL(v) (v)
#define PG_LOAD_INT(v) (v)
#define PG_LOAD_BOOL(v) (v)
#define PG_LOAD_F16(v) pg_f16_to_f32(v)
#define PG_LOAD_BF16(v) pg_bf16_to_f32(v)
/* ... and any loaded value x stored as stored type T of each kind: floating to integer through
   int64 or int32 (truncating to narrower integers, as NumPy on x86), float64 to 16 bits rounding once. */
#define PG_STORE_FLT(T, x) ((float)(x))
#define PG_STORE_DBL(T, x) ((double)(x))
#define PG_STORE_INT(T, x) \
    _Generic((x), float: PG_D2I(T, (double)(x)), double: PG_D2I(T, (double)(x)), default: (T)(x))
#define PG_STORE_BOOL(T, x) ((uint8_t)((x) != 0))
#define PG_STORE_F16(T, x) _Generic((x), float: pg_f32_to_f16, default: pg_f64_to_f16)(x)
#define PG_STORE_BF16(T, x) _Generic((x), float: pg_f32_to_bf16, default: pg_f64_to_bf16)(x)

/* float32 exp / log / tanh / sigmoid / erf (op U_EXP, U_LOG, U_TANH, U_SIGMOID or U_ERF) over n
   elements with strides so and sx, vectorised for the CPU's SIMD level (vmath.c). */
void pg_vmath_f32(int op, float *o, int64_t so, const float *x, int64_t sx, int64_t n);

void *pg_scratch_alloc(size_t nbytes);
void pg_scratch_free(void *p);

#endif
