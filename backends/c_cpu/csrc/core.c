/* Buffers, threads, the n-d iterator and the elementwise kernels. */
#include "pg.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <pthread.h>

int pg_nthreads = 1;
int pg_pool_started = 0;
static int pg_forked_after_pool = 0;
static int64_t pg_allocated = 0;

/* Guards the block cache (below). Held across fork, so a child never inherits it locked. */
static pthread_mutex_t pg_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void pg_before_fork(void) { pthread_mutex_lock(&pg_cache_lock); }

static void pg_after_fork_parent(void) { pthread_mutex_unlock(&pg_cache_lock); }

static void pg_after_fork_child(void) {
    pthread_mutex_init(&pg_cache_lock, NULL);
    /* libgomp's thread pool does not survive fork: in a child of a process whose pool may
       have started, a parallel region of more than one thread waits forever for threads that
       no longer exist. Such a child (a data-loader worker) runs on the calling thread alone,
       whatever it asks for later; one forked before any pool started keeps its threads. */
    if (pg_pool_started) {
        pg_forked_after_pool = 1;
        pg_nthreads = 1;
    }
}

__attribute__((constructor)) static void pg_init(void) {
#ifdef _OPENMP
    pg_nthreads = omp_get_max_threads();
#endif
    const char *env = getenv("PLUGRAD_NUM_THREADS");
    if (env != NULL) {
        int v = atoi(env);
        if (v > 0) pg_nthreads = v;
    }
    if (pg_nthreads < 1) pg_nthreads = 1;
    pthread_atfork(pg_before_fork, pg_after_fork_parent, pg_after_fork_child);
}

void pg_set_num_threads(int n) { pg_nthreads = (n < 1 || pg_forked_after_pool) ? 1 : n; }
int pg_threads_usable(void) { return !pg_forked_after_pool; }
int pg_get_num_threads(void) { return pg_nthreads; }

int pg_simd_level(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
#endif
    return 0;
}

/* A 64-byte header in front of each block records its size (for the byte count) and its
   capacity. Freed blocks from PG_CACHE_MIN up are kept for reuse: a fresh block of that size
   comes from mmap, and the kernel then zeroes it page by page on first touch, which costs as
   much as a matrix product of that size (GEMM's packing buffers at 256 x 256 took about 100
   page faults a call). Large buffers are also 2 MiB aligned and advised as huge pages (as NumPy
   does). The cache is bounded (PG_CACHE_SLOTS blocks, PG_CACHE_BYTES in all) and
   pg_empty_cache() returns it. Buffers and kernel scratch space share it. */
#if defined(__SANITIZE_ADDRESS__)
#define PG_CACHE_MIN INT64_MAX /* AddressSanitizer sees every block freed (and any misuse) */
#else
#define PG_CACHE_MIN ((int64_t)64 << 10)
#endif
#define PG_HUGE_THRESHOLD ((int64_t)4 << 20)
#define PG_HUGE_ALIGN ((size_t)2 << 20)
#define PG_CACHE_SLOTS 32
#define PG_CACHE_BYTES ((int64_t)512 << 20)

static void *pg_cache[PG_CACHE_SLOTS];
static int64_t pg_cache_total;

static void *pg_cache_take(int64_t nbytes) {
    void *found = NULL;
    pthread_mutex_lock(&pg_cache_lock);
    for (int i = 0; i < PG_CACHE_SLOTS; i++) {
        int64_t cap = pg_cache[i] ? ((int64_t *)pg_cache[i])[1] : -1;
        if (cap >= nbytes && cap - nbytes <= cap / 4) { /* at most a quarter wasted */
            found = pg_cache[i];
            pg_cache[i] = NULL;
            pg_cache_total -= cap;
            break;
        }
    }
    pthread_mutex_unlock(&pg_cache_lock);
    return found;
}

static int pg_cache_put(void *base) {
    int64_t cap = ((int64_t *)base)[1];
    int kept = 0;
    pthread_mutex_lock(&pg_cache_lock);
    if (pg_cache_total + cap <= PG_CACHE_BYTES) {
        for (int i = 0; i < PG_CACHE_SLOTS; i++) {
            if (pg_cache[i] == NULL) {
                pg_cache[i] = base;
                pg_cache_total += cap;
                kept = 1;
                break;
            }
        }
    }
    pthread_mutex_unlock(&pg_cache_lock);
    return kept;
}

void pg_empty_cache(void) {
    pthread_mutex_lock(&pg_cache_lock);
    for (int i = 0; i < PG_CACHE_SLOTS; i++) {
        free(pg_cache[i]);
        pg_cache[i] = NULL;
    }
    pg_cache_total = 0;
    pthread_mutex_unlock(&pg_cache_lock);
}

int64_t pg_cached_bytes(void) {
    pthread_mutex_lock(&pg_cache_lock);
    int64_t total = pg_cache_total;
    pthread_mutex_unlock(&pg_cache_lock);
    return total;
}

/* A block of nbytes after its 64-byte header (the header's address is returned). */
static void *block_alloc(int64_t nbytes) {
    if (nbytes < 0) return NULL;
    int huge = nbytes >= PG_HUGE_THRESHOLD;
    void *p = nbytes >= PG_CACHE_MIN ? pg_cache_take(nbytes) : NULL;
    if (p == NULL) {
        size_t align = huge ? PG_HUGE_ALIGN : 64;
        if (posix_memalign(&p, align, (size_t)nbytes + 64) != 0) {
            pg_empty_cache(); /* give cached blocks back, then try once more */
            if (posix_memalign(&p, align, (size_t)nbytes + 64) != 0) return NULL;
        }
#ifdef MADV_HUGEPAGE
        if (huge) madvise(p, (size_t)nbytes + 64, MADV_HUGEPAGE);
#endif
        ((int64_t *)p)[1] = nbytes; /* capacity */
    }
    ((int64_t *)p)[0] = nbytes;
    return p;
}

static void block_free(void *base) {
    if (((int64_t *)base)[1] >= PG_CACHE_MIN && pg_cache_put(base)) return;
    free(base);
}

char *pg_alloc(int64_t nbytes) {
    char *base = block_alloc(nbytes);
    if (base == NULL) return NULL;
    __atomic_fetch_add(&pg_allocated, nbytes, __ATOMIC_RELAXED);
    return base + 64;
}

void pg_free(void *p) {
    if (p == NULL) return;
    char *base = (char *)p - 64;
    __atomic_fetch_sub(&pg_allocated, ((int64_t *)base)[0], __ATOMIC_RELAXED);
    block_free(base);
}

int64_t pg_allocated_bytes(void) { return __atomic_load_n(&pg_allocated, __ATOMIC_RELAXED); }

/* Kernel scratch space: like a buffer (64-byte aligned, cached) but not counted. */
void *pg_scratch_alloc(size_t nbytes) {
    char *base = block_alloc((int64_t)(nbytes ? nbytes : 64));
    return base == NULL ? NULL : base + 64;
}

void pg_scratch_free(void *p) {
    if (p != NULL) block_free((char *)p - 64);
}

/* ---------------------------------------------------------------- iteration -------- */

int pg_iter_load(pg_iter *it, int nops, const int64_t *meta) {
    int64_t nd = meta[0];
    if (nd < 0 || nd > PG_MAXD || nops > 4 || pg_count(nd, meta + 1) < 0) return -1;
    it->nd = (int)nd;
    it->nops = nops;
    for (int d = 0; d < nd; d++) it->shape[d] = meta[1 + d];
    for (int k = 0; k < nops; k++)
        for (int d = 0; d < nd; d++) it->st[k][d] = meta[1 + nd * (k + 1) + d];
    return 0;
}

static int64_t iabs64(int64_t v) { return v < 0 ? -v : v; }

enum { SHORT_RUN = 8 };

int64_t pg_iter_simplify(pg_iter *it) {
    int nd = 0, nops = it->nops;
    int64_t total = 1;
    for (int d = 0; d < it->nd; d++) {
        if (it->shape[d] == 0) total = 0;
        if (it->shape[d] == 1) continue;
        it->shape[nd] = it->shape[d];
        for (int k = 0; k < nops; k++) it->st[k][nd] = it->st[k][d];
        nd++;
        total *= it->shape[d];
    }
    if (total == 0) {
        it->nd = 1;
        it->shape[0] = 0;
        return 0;
    }
    /* stable insertion sort: largest |stride of operand 0| first (ties: next operands) */
    for (int i = 1; i < nd; i++) {
        int64_t sh = it->shape[i], st[4];
        for (int k = 0; k < nops; k++) st[k] = it->st[k][i];
        int j = i - 1;
        while (j >= 0) {
            int less = 0;
            for (int k = 0; k < nops; k++) {
                int64_t a = iabs64(it->st[k][j]), b = iabs64(st[k]);
                if (a != b) { less = a < b; break; }
            }
            if (!less) break;
            it->shape[j + 1] = it->shape[j];
            for (int k = 0; k < nops; k++) it->st[k][j + 1] = it->st[k][j];
            j--;
        }
        it->shape[j + 1] = sh;
        for (int k = 0; k < nops; k++) it->st[k][j + 1] = st[k];
    }
    /* merge dim d into d+1 when every operand is contiguous across them */
    int m = 0;
    for (int d = 1; d < nd; d++) {
        int ok = 1;
        for (int k = 0; k < nops; k++)
            if (it->st[k][m] != it->st[k][d] * it->shape[d]) { ok = 0; break; }
        if (ok) {
            it->shape[m] *= it->shape[d];
            for (int k = 0; k < nops; k++) it->st[k][m] = it->st[k][d];
        } else {
            m++;
            it->shape[m] = it->shape[d];
            for (int k = 0; k < nops; k++) it->st[k][m] = it->st[k][d];
        }
    }
    if (nd == 0) {
        it->shape[0] = 1;
        for (int k = 0; k < nops; k++) it->st[k][0] = 0;
        it->nd = 1;
    } else {
        it->nd = m + 1;
    }
    /* a short innermost run (a pooling window's taps, a narrow view) costs a kernel call per
       few elements: the longest dimension goes innermost instead (elementwise results do not
       depend on the order) */
    nd = it->nd;
    if (nd >= 2 && it->shape[nd - 1] < SHORT_RUN) {
        int longest = nd - 1;
        for (int d = 0; d < nd - 1; d++)
            if (it->shape[d] > it->shape[longest]) longest = d;
        if (it->shape[longest] >= 4 * it->shape[nd - 1]) {
            int64_t sh = it->shape[longest];
            it->shape[longest] = it->shape[nd - 1];
            it->shape[nd - 1] = sh;
            for (int k = 0; k < nops; k++) {
                int64_t st = it->st[k][longest];
                it->st[k][longest] = it->st[k][nd - 1];
                it->st[k][nd - 1] = st;
            }
        }
    }
    return total;
}

static void run_range(const pg_iter *it, char **base, const int *isz, int64_t start,
                      int64_t end, pg_inner f, const void *ctx) {
    int nd = it->nd, nops = it->nops;
    int64_t idx[PG_MAXD];
    char *p[4];
    int64_t s_in[4];
    int64_t rem = start;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rem % it->shape[d];
        rem /= it->shape[d];
    }
    for (int k = 0; k < nops; k++) {
        p[k] = base[k];
        for (int d = 0; d < nd; d++) p[k] += idx[d] * it->st[k][d] * isz[k];
        s_in[k] = it->st[k][nd - 1];
    }
    int64_t n_in = it->shape[nd - 1];
    int64_t pos = start;
    while (pos < end) {
        int64_t len = n_in - idx[nd - 1];
        if (len > end - pos) len = end - pos;
        f(ctx, len, p, s_in);
        pos += len;
        if (pos >= end) break;
        idx[nd - 1] += len;
        for (int k = 0; k < nops; k++) p[k] += len * s_in[k] * isz[k];
        if (idx[nd - 1] < n_in) continue;
        idx[nd - 1] = 0;
        for (int k = 0; k < nops; k++) p[k] -= n_in * s_in[k] * isz[k];
        for (int d = nd - 2; d >= 0; d--) {
            idx[d]++;
            for (int k = 0; k < nops; k++) p[k] += it->st[k][d] * isz[k];
            if (idx[d] < it->shape[d]) break;
            idx[d] = 0;
            for (int k = 0; k < nops; k++) p[k] -= it->shape[d] * it->st[k][d] * isz[k];
        }
    }
}

void pg_run(const pg_iter *it, int64_t total, char **base, const int *isz, pg_inner f,
                   const void *ctx, int64_t cost) {
    int nt = pg_threads_for(pg_sat_mul(total, cost));
    if (nt <= 1) {
        run_range(it, base, isz, 0, total, f, ctx);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
        int t = omp_get_thread_num(), T = omp_get_num_threads();
#else
        int t = 0, T = 1;
#endif
        int64_t s = t == 0 ? 0 : (total / T * t) & ~(int64_t)15;
        int64_t e = t == T - 1 ? total : (total / T * (t + 1)) & ~(int64_t)15;
        if (e > s) run_range(it, base, isz, s, e, f, ctx);
    }
}

const int pg_itemsize[DT_COUNT] = {4, 8, 8, 1, 1, 2, 4, 1, 2, 2};


/* ---------------------------------------------------------------- unary ------------ */

typedef struct {
    int op;
} op_ctx;

#define UN_LOOP(T, EXPR)                                                           \
    {                                                                              \
        T *o = (T *)p[0];                                                          \
        const T *xx = (const T *)p[1];                                             \
        int64_t so = s[0], sx = s[1];                                              \
        if (so == 1 && sx == 1) {                                                  \
            for (int64_t i = 0; i < n; i++) { T v = xx[i]; o[i] = (EXPR); }        \
        } else {                                                                   \
            for (int64_t i = 0; i < n; i++) { T v = xx[i * sx]; o[i * so] = (EXPR); } \
        }                                                                          \
    }                                                                              \
    break;

PG_CLONES static void un_f32(const void *ctx, int64_t n, char **p, const int64_t *s) {
    switch (((const op_ctx *)ctx)->op) {
    case U_NEG: UN_LOOP(float, -v)
    case U_ABS: UN_LOOP(float, fabsf(v))
    case U_EXP:
    case U_LOG:
    case U_TANH:
    case U_SIGMOID:
    case U_ERF:
        pg_vmath_f32(((const op_ctx *)ctx)->op, (float *)p[0], s[0], (const float *)p[1], s[1], n);
        break;
    case U_SQRT: UN_LOOP(float, sqrtf(v))
    case U_RELU: UN_LOOP(float, (v > 0 || v != v) ? v : 0.0f)
    case U_SIGN: UN_LOOP(float, v > 0 ? 1.0f : (v < 0 ? -1.0f : v * 0.0f))
    case U_SIN: UN_LOOP(float, sinf(v))
    case U_COS: UN_LOOP(float, cosf(v))
    case U_FLOOR: UN_LOOP(float, floorf(v))
    case U_CEIL: UN_LOOP(float, ceilf(v))
    case U_NOT: UN_LOOP(float, v == 0 ? 1.0f : 0.0f)
    }
}

static inline double un_scalar_f64(int op, double v) {
    switch (op) {
    case U_NEG: return -v;
    case U_ABS: return fabs(v);
    case U_EXP: return exp(v);
    case U_LOG: return log(v);
    case U_SQRT: return sqrt(v);
    case U_TANH: return tanh(v);
    case U_SIGMOID: return pg_sigmoid(v);
    case U_RELU: return (v > 0 || v != v) ? v : 0.0;
    case U_SIGN: return v > 0 ? 1.0 : (v < 0 ? -1.0 : v * 0.0);
    case U_SIN: return sin(v);
    case U_COS: return cos(v);
    case U_ERF: return erf(v);
    case U_FLOOR: return floor(v);
    case U_CEIL: return ceil(v);
    default: return v == 0 ? 1.0 : 0.0;
    }
}

PG_CLONES static void un_f64(const void *ctx, int64_t n, char **p, const int64_t *s) {
    switch (((const op_ctx *)ctx)->op) {
    case U_NEG: UN_LOOP(double, -v)
    case U_ABS: UN_LOOP(double, fabs(v))
    case U_EXP: UN_LOOP(double, exp(v))
    case U_LOG: UN_LOOP(double, log(v))
    case U_SQRT: UN_LOOP(double, sqrt(v))
    case U_TANH: UN_LOOP(double, tanh(v))
    case U_SIGMOID: UN_LOOP(double, pg_sigmoid(v))
    case U_RELU: UN_LOOP(double, (v > 0 || v != v) ? v : 0.0)
    case U_SIGN: UN_LOOP(double, v > 0 ? 1.0 : (v < 0 ? -1.0 : v * 0.0))
    case U_SIN: UN_LOOP(double, sin(v))
    case U_COS: UN_LOOP(double, cos(v))
    case U_ERF: UN_LOOP(double, erf(v))
    case U_FLOOR: UN_LOOP(double, floor(v))
    case U_CEIL: UN_LOOP(double, ceil(v))
    case U_NOT: UN_LOOP(double, v == 0 ? 1.0 : 0.0)
    }
}

/* One definition for every integer dtype (PG_INT_TYPES); arithmetic wraps, as torch's. */
#define INT_UNARY(SUF, CODE, T, TU, BITS, ...)                                               \
    PG_CLONES static void un_##SUF(const void *ctx, int64_t n, char **p, const int64_t *s) { \
        int op = ((const op_ctx *)ctx)->op;                                                   \
        switch (op) {                                                                         \
        case U_NEG: UN_LOOP(T, (T)(0 - (uint64_t)v))                                          \
        case U_ABS: UN_LOOP(T, v < 0 ? (T)(0 - (uint64_t)v) : v)                              \
        case U_RELU: UN_LOOP(T, v > 0 ? v : 0)                                                \
        case U_SIGN: UN_LOOP(T, (T)((v > 0) - (v < 0)))                                       \
        case U_FLOOR: UN_LOOP(T, v)                                                           \
        case U_CEIL: UN_LOOP(T, v)                                                            \
        case U_NOT: UN_LOOP(T, v == 0)                                                        \
        case U_BNOT: UN_LOOP(T, (T)~v)                                                        \
        default: UN_LOOP(T, PG_STORE_INT(T, un_scalar_f64(op, (double)v)))                    \
        }                                                                                     \
    }
PG_INT_TYPES(INT_UNARY)

static void un_bool(const void *ctx, int64_t n, char **p, const int64_t *s) {
    int op = ((const op_ctx *)ctx)->op;
    switch (op) {
    case U_NOT:
    case U_BNOT: UN_LOOP(uint8_t, v == 0)
    default: UN_LOOP(uint8_t, un_scalar_f64(op, (double)v) != 0)
    }
}

/* A float32 inner loop run over 16-bit floats: each operand's run is widened to float32 in
   chunks on the stack, computed, and the output rounded back (or written directly when it is
   a comparison's bool). Operands in f32_mask (bit k) are float32 already: a scalar operand is
   rounded to float32, not to 16 bits, as torch and the NumPy reference compute it. */
#define PG_CHUNK 512
typedef struct {
    pg_inner f32;
    const void *ctx;
    int dt, nops, out_bool, f32_mask;
} half_ctx;

static void half_inner(const void *vctx, int64_t n, char **p, const int64_t *s) {
    const half_ctx *h = (const half_ctx *)vctx;
    float buf[4][PG_CHUNK];
    for (int64_t i0 = 0; i0 < n; i0 += PG_CHUNK) {
        int64_t m = n - i0 < PG_CHUNK ? n - i0 : PG_CHUNK;
        char *q[4];
        int64_t qs[4];
        for (int k = 1; k < h->nops; k++) {
            qs[k] = s[k] == 0 ? 0 : 1;
            q[k] = (char *)buf[k];
            if ((h->f32_mask >> k) & 1) {
                q[k] = p[k] + i0 * s[k] * 4;
                qs[k] = s[k];
            } else {
                pg_widen(h->dt, (const uint16_t *)p[k] + i0 * s[k], s[k], buf[k], s[k] ? m : 1);
            }
        }
        if (h->out_bool) {
            q[0] = p[0] + i0 * s[0];
            qs[0] = s[0];
        } else {
            q[0] = (char *)buf[0];
            qs[0] = 1;
        }
        h->f32(h->ctx, m, q, qs);
        if (!h->out_bool) pg_narrow(h->dt, buf[0], (uint16_t *)p[0] + i0 * s[0], s[0], m);
    }
}

static int is_half(int dt) { return dt == DT_F16 || dt == DT_BF16; }

int pg_unary(int op, int dt, char *out, char *x, const int64_t *meta) {
    pg_iter it;
    if (dt < 0 || dt >= DT_COUNT || op < 0 || op > U_BNOT || pg_iter_load(&it, 2, meta))
        return -1;
    int64_t total = pg_iter_simplify(&it);
    if (total == 0) return 0;
    op_ctx ctx = {op};
    char *base[2] = {out, x};
    int isz[2] = {pg_itemsize[dt], pg_itemsize[dt]};
    static const pg_inner fns[DT_COUNT] = {un_f32, un_f64, un_i64, un_bool, un_i8,
                                           un_i16, un_i32, un_u8, un_f32, un_f32};
    half_ctx hc = {un_f32, &ctx, dt, 2, 0, 0};
    int cheap = op == U_NEG || op == U_ABS || op == U_RELU || op == U_NOT || op == U_SIGN ||
                op == U_FLOOR || op == U_CEIL || op == U_BNOT;
    if (is_half(dt))
        pg_run(&it, total, base, isz, half_inner, &hc, cheap ? 2 : 8);
    else
        pg_run(&it, total, base, isz, fns[dt], &ctx, cheap ? 1 : 8);
    return 0;
}

/* ---------------------------------------------------------------- binary ----------- */

#define BIN_LOOP(TI, TO, EXPR)                                                       \
    {                                                                                \
        TO *o = (TO *)p[0];                                                          \
        const TI *A = (const TI *)p[1];                                              \
        const TI *B = (const TI *)p[2];                                              \
        int64_t so = s[0], sa = s[1], sb = s[2];                                     \
        if (so == 1 && sa == 1 && sb == 1) {                                         \
            for (int64_t i = 0; i < n; i++) { TI a = A[i], b = B[i]; o[i] = (EXPR); } \
        } else if (so == 1 && sa == 1 && sb == 0) {                                  \
            const TI b = B[0];                                                       \
            for (int64_t i = 0; i < n; i++) { TI a = A[i]; o[i] = (EXPR); }          \
        } else if (so == 1 && sa == 0 && sb == 1) {                                  \
            const TI a = A[0];                                                       \
            for (int64_t i = 0; i < n; i++) { TI b = B[i]; o[i] = (EXPR); }          \
        } else {                                                                     \
            for (int64_t i = 0; i < n; i++) {                                        \
                TI a = A[i * sa], b = B[i * sb];                                     \
                o[i * so] = (EXPR);                                                  \
            }                                                                        \
        }                                                                            \
    }                                                                                \
    break;

#define BIN_CMP_CASES(TI)                         \
    case B_EQ: BIN_LOOP(TI, uint8_t, a == b)      \
    case B_NE: BIN_LOOP(TI, uint8_t, a != b)      \
    case B_LT: BIN_LOOP(TI, uint8_t, a < b)       \
    case B_LE: BIN_LOOP(TI, uint8_t, a <= b)      \
    case B_GT: BIN_LOOP(TI, uint8_t, a > b)       \
    case B_GE: BIN_LOOP(TI, uint8_t, a >= b)

/* Bitwise and/or/xor of integers and bool (bool bytes are 0 or 1, so they stay 0 or 1). */
#define BIN_BITWISE_CASES(TI)                     \
    case B_BAND: BIN_LOOP(TI, TI, a & b)          \
    case B_BOR: BIN_LOOP(TI, TI, a | b)           \
    case B_BXOR: BIN_LOOP(TI, TI, a ^ b)

/* torch's shifts of an integer type TI of BITS bits: a count outside [0, BITS) gives 0 to the
   left and the sign (0 or -1) to the right; a left shift wraps. */
#define BIN_SHIFT_CASES(TI, BITS)                                                        \
    case B_SHL: BIN_LOOP(TI, TI, (b < 0 || b >= (BITS)) ? (TI)0 : (TI)((uint64_t)a << b)) \
    case B_SHR: BIN_LOOP(TI, TI, (b < 0 || b >= (BITS)) ? (TI)(a < 0 ? -1 : 0) : (TI)(a >> b))

PG_CLONES static void bin_f32(const void *ctx, int64_t n, char **p, const int64_t *s) {
    switch (((const op_ctx *)ctx)->op) {
    case B_ADD: BIN_LOOP(float, float, a + b)
    case B_SUB: BIN_LOOP(float, float, a - b)
    case B_MUL: BIN_LOOP(float, float, a * b)
    case B_DIV: BIN_LOOP(float, float, a / b)
    case B_POW: BIN_LOOP(float, float, powf(a, b))
    case B_MAX: BIN_LOOP(float, float, (a > b || a != a) ? a : b)
    case B_MIN: BIN_LOOP(float, float, (a < b || a != a) ? a : b)
    case B_AND: BIN_LOOP(float, float, (a != 0 && b != 0) ? 1.0f : 0.0f)
    case B_OR: BIN_LOOP(float, float, (a != 0 || b != 0) ? 1.0f : 0.0f)
    BIN_CMP_CASES(float)
    }
}

PG_CLONES static void bin_f64(const void *ctx, int64_t n, char **p, const int64_t *s) {
    switch (((const op_ctx *)ctx)->op) {
    case B_ADD: BIN_LOOP(double, double, a + b)
    case B_SUB: BIN_LOOP(double, double, a - b)
    case B_MUL: BIN_LOOP(double, double, a * b)
    case B_DIV: BIN_LOOP(double, double, a / b)
    case B_POW: BIN_LOOP(double, double, pow(a, b))
    case B_MAX: BIN_LOOP(double, double, (a > b || a != a) ? a : b)
    case B_MIN: BIN_LOOP(double, double, (a < b || a != a) ? a : b)
    case B_AND: BIN_LOOP(double, double, (a != 0 && b != 0) ? 1.0 : 0.0)
    case B_OR: BIN_LOOP(double, double, (a != 0 || b != 0) ? 1.0 : 0.0)
    BIN_CMP_CASES(double)
    }
}

static inline int64_t ipow64(int64_t a, int64_t b) {
    if (b < 0) {
        if (a == 1) return 1;
        if (a == -1) return (b & 1) ? -1 : 1;
        return 0;
    }
    uint64_t r = 1, base = (uint64_t)a;
    while (b) {
        if (b & 1) r *= base;
        base *= base;
        b >>= 1;
    }
    return (int64_t)r;
}

/* One definition for every integer dtype (PG_INT_TYPES): +, -, * wrap (through uint64);
   shifts as torch's (BIN_SHIFT_CASES). */
#define INT_BINARY(SUF, CODE, T, TU, BITS, ...)                                               \
    PG_CLONES static void bin_##SUF(const void *ctx, int64_t n, char **p, const int64_t *s) { \
        switch (((const op_ctx *)ctx)->op) {                                                   \
        case B_ADD: BIN_LOOP(T, T, (T)((uint64_t)a + (uint64_t)b))                             \
        case B_SUB: BIN_LOOP(T, T, (T)((uint64_t)a - (uint64_t)b))                             \
        case B_MUL: BIN_LOOP(T, T, (T)((uint64_t)a * (uint64_t)b))                             \
        case B_DIV: BIN_LOOP(T, T, PG_STORE_INT(T, (double)a / (double)b))                     \
        case B_POW: BIN_LOOP(T, T, (T)ipow64(a, b))                                            \
        case B_MAX: BIN_LOOP(T, T, a > b ? a : b)                                              \
        case B_MIN: BIN_LOOP(T, T, a < b ? a : b)                                              \
        case B_AND: BIN_LOOP(T, T, a != 0 && b != 0)                                           \
        case B_OR: BIN_LOOP(T, T, a != 0 || b != 0)                                            \
        BIN_BITWISE_CASES(T)                                                                   \
        BIN_SHIFT_CASES(T, BITS)                                                               \
        BIN_CMP_CASES(T)                                                                       \
        }                                                                                      \
    }
PG_INT_TYPES(INT_BINARY)

PG_CLONES static void bin_bool(const void *ctx, int64_t n, char **p, const int64_t *s) {
    switch (((const op_ctx *)ctx)->op) {
    case B_ADD: BIN_LOOP(uint8_t, uint8_t, (a | b) != 0)
    case B_SUB: BIN_LOOP(uint8_t, uint8_t, (a != 0) ^ (b != 0))
    case B_MUL: BIN_LOOP(uint8_t, uint8_t, (a & b) != 0)
    case B_DIV: BIN_LOOP(uint8_t, uint8_t, a != 0 || b == 0)
    case B_POW: BIN_LOOP(uint8_t, uint8_t, a != 0 || b == 0)
    case B_MAX: BIN_LOOP(uint8_t, uint8_t, (a | b) != 0)
    case B_MIN: BIN_LOOP(uint8_t, uint8_t, (a & b) != 0)
    case B_AND: BIN_LOOP(uint8_t, uint8_t, (a & b) != 0)
    case B_OR: BIN_LOOP(uint8_t, uint8_t, (a | b) != 0)
    BIN_BITWISE_CASES(uint8_t)
    BIN_CMP_CASES(uint8_t)
    }
}

int pg_binary_ex(int op, int dt, char *out, char *a, char *b, const int64_t *meta,
                 int f32_operand) {
    pg_iter it;
    if (dt < 0 || dt >= DT_COUNT || op < 0 || op > B_GE || f32_operand < 0 || f32_operand > 2 ||
        (f32_operand && !is_half(dt)) || pg_iter_load(&it, 3, meta))
        return -1;
    int64_t total = pg_iter_simplify(&it);
    if (total == 0) return 0;
    op_ctx ctx = {op};
    char *base[3] = {out, a, b};
    int sz = pg_itemsize[dt];
    int isz[3] = {op >= B_EQ ? 1 : sz, f32_operand == 1 ? 4 : sz, f32_operand == 2 ? 4 : sz};
    static const pg_inner fns[DT_COUNT] = {bin_f32, bin_f64, bin_i64, bin_bool, bin_i8,
                                           bin_i16, bin_i32, bin_u8, bin_f32, bin_f32};
    half_ctx hc = {bin_f32, &ctx, dt, 3, op >= B_EQ, f32_operand ? 1 << f32_operand : 0};
    if (is_half(dt))
        pg_run(&it, total, base, isz, half_inner, &hc, op == B_POW ? 8 : 2);
    else
        pg_run(&it, total, base, isz, fns[dt], &ctx, op == B_POW ? 8 : 1);
    return 0;
}

int pg_binary(int op, int dt, char *out, char *a, char *b, const int64_t *meta) {
    return pg_binary_ex(op, dt, out, a, b, meta, 0);
}

/* ---------------------------------------------------------------- where, cast, copy - */

#define WHERE_LOOP(T)                                                                    \
    {                                                                                    \
        T *o = (T *)p[0];                                                                \
        const uint8_t *c = (const uint8_t *)p[1];                                        \
        const T *A = (const T *)p[2], *B = (const T *)p[3];                              \
        if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1) {                          \
            for (int64_t i = 0; i < n; i++) o[i] = c[i] ? A[i] : B[i];                   \
        } else {                                                                         \
            for (int64_t i = 0; i < n; i++)                                              \
                o[i * s[0]] = c[i * s[1]] ? A[i * s[2]] : B[i * s[3]];                   \
        }                                                                                \
    }                                                                                    \
    break;

PG_CLONES static void where_inner(const void *ctx, int64_t n, char **p, const int64_t *s) {
    switch (((const op_ctx *)ctx)->op) {
    case 1: WHERE_LOOP(uint8_t)
    case 2: WHERE_LOOP(uint16_t)
    case 4: WHERE_LOOP(uint32_t)
    default: WHERE_LOOP(uint64_t)
    }
}

int pg_where(int dt, char *out, char *cond, char *a, char *b, const int64_t *meta) {
    pg_iter it;
    if (dt < 0 || dt >= DT_COUNT || pg_iter_load(&it, 4, meta)) return -1;
    int64_t total = pg_iter_simplify(&it);
    if (total == 0) return 0;
    int sz = pg_itemsize[dt];
    op_ctx ctx = {sz};
    char *base[4] = {out, cond, a, b};
    int isz[4] = {sz, 1, sz, sz};
    pg_run(&it, total, base, isz, where_inner, &ctx, 1);
    return 0;
}

#define CAST_LOOP(TI, TO, EXPR)                                                        \
    {                                                                                  \
        TO *o = (TO *)p[0];                                                            \
        const TI *xx = (const TI *)p[1];                                               \
        if (s[0] == 1 && s[1] == 1) {                                                  \
            for (int64_t i = 0; i < n; i++) { TI v = xx[i]; o[i] = (EXPR); }           \
        } else {                                                                       \
            for (int64_t i = 0; i < n; i++) { TI v = xx[i * s[1]]; o[i * s[0]] = (EXPR); } \
        }                                                                              \
    }                                                                                  \
    break;

/* cast_<from>_<to> for every pair of dtypes, from one definition: load as the source kind
   computes, store as the target kind stores (pg.h's PG_LOAD_ / PG_STORE_). */
#define CAST_FN(SB, CB, TB, KB, SA, CA, TA, KA)                                             \
    static void cast_##SA##_##SB(const void *ctx, int64_t n, char **p, const int64_t *s) { \
        (void)ctx;                                                                          \
        TB *o = (TB *)p[0];                                                                 \
        const TA *xx = (const TA *)p[1];                                                    \
        if (s[0] == 1 && s[1] == 1)                                                         \
            for (int64_t i = 0; i < n; i++) o[i] = PG_STORE_##KB(TB, PG_LOAD_##KA(xx[i]));  \
        else                                                                                \
            for (int64_t i = 0; i < n; i++)                                                 \
                o[i * s[0]] = PG_STORE_##KB(TB, PG_LOAD_##KA(xx[i * s[1]]));                \
    }
#define CAST_FROM(SA, CA, TA, KA, ...) PG_DTYPES_INNER(CAST_FN, SA, CA, TA, KA)
#define CAST_ENTRY(SB, CB, TB, KB, SA) cast_##SA##_##SB,
#define CAST_ROW(SA, CA, TA, KA, ...) {PG_DTYPES_INNER(CAST_ENTRY, SA)},
PG_DTYPES(CAST_FROM)
static const pg_inner cast_table[DT_COUNT][DT_COUNT] = {PG_DTYPES(CAST_ROW)};

/* float32 <-> 16-bit floats, the casts autocast makes: the bulk conversions of half.c */
static void cast_f32_to_half(const void *ctx, int64_t n, char **p, const int64_t *s) {
    int dt = ((const op_ctx *)ctx)->op;
    if (s[1] == 1)
        pg_narrow(dt, (const float *)p[1], (uint16_t *)p[0], s[0], n);
    else
        cast_table[DT_F32][dt](ctx, n, p, s);
}

static void cast_half_to_f32(const void *ctx, int64_t n, char **p, const int64_t *s) {
    int dt = ((const op_ctx *)ctx)->op;
    if (s[0] == 1)
        pg_widen(dt, (const uint16_t *)p[1], s[1], (float *)p[0], n);
    else
        cast_table[dt][DT_F32](ctx, n, p, s);
}

#define FILL_LOOP(T)                                                                   \
    {                                                                                  \
        T *o = (T *)p[0];                                                              \
        const T v = *(const T *)p[1];                                                  \
        for (int64_t i = 0; i < n; i++) o[i] = v;                                      \
    }                                                                                  \
    return;

static void copy_inner(const void *ctx, int64_t n, char **p, const int64_t *s) {
    int sz = ((const op_ctx *)ctx)->op;
    if (s[0] == 1 && s[1] == 1) {
        memmove(p[0], p[1], (size_t)(n * sz));
        return;
    }
    if (s[0] == 1 && s[1] == 0) { /* fill: one value broadcast over a contiguous run */
        switch (sz) {
        case 1: memset(p[0], *(const uint8_t *)p[1], (size_t)n); return;
        case 2: FILL_LOOP(uint16_t)
        case 4: FILL_LOOP(uint32_t)
        default: FILL_LOOP(uint64_t)
        }
    }
    switch (sz) {
    case 1: CAST_LOOP(uint8_t, uint8_t, v)
    case 2: CAST_LOOP(uint16_t, uint16_t, v)
    case 4: CAST_LOOP(uint32_t, uint32_t, v)
    default: CAST_LOOP(uint64_t, uint64_t, v)
    }
}

int pg_copy(int itemsize, char *out, char *x, const int64_t *meta) {
    pg_iter it;
    if ((itemsize != 1 && itemsize != 2 && itemsize != 4 && itemsize != 8) || pg_iter_load(&it, 2, meta)) return -1;
    int64_t total = pg_iter_simplify(&it);
    if (total == 0) return 0;
    op_ctx ctx = {itemsize};
    char *base[2] = {out, x};
    int isz[2] = {itemsize, itemsize};
    pg_run(&it, total, base, isz, copy_inner, &ctx, 1);
    return 0;
}

int pg_cast(int dt_in, int dt_out, char *out, char *x, const int64_t *meta) {
    if (dt_in < 0 || dt_in >= DT_COUNT || dt_out < 0 || dt_out >= DT_COUNT) return -1;
    if (dt_in == dt_out) return pg_copy(pg_itemsize[dt_in], out, x, meta);
    pg_iter it;
    if (pg_iter_load(&it, 2, meta)) return -1;
    int64_t total = pg_iter_simplify(&it);
    if (total == 0) return 0;
    op_ctx ctx = {0};
    pg_inner fn = cast_table[dt_in][dt_out];
    if (dt_in == DT_F32 && is_half(dt_out)) {
        fn = cast_f32_to_half;
        ctx.op = dt_out;
    } else if (is_half(dt_in) && dt_out == DT_F32) {
        fn = cast_half_to_f32;
        ctx.op = dt_in;
    }
    char *base[2] = {out, x};
    int isz[2] = {pg_itemsize[dt_out], pg_itemsize[dt_in]};
    pg_run(&it, total, base, isz, fn, &ctx, 1);
    return 0;
}
