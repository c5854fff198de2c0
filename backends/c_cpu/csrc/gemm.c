/* Packed, cache-blocked GEMM (GotoBLAS / BLIS structure) with register-tiled SIMD
   micro-kernels chosen at run time, and conv2d (forward and both gradients) on top of it.

   C (m x n, row-major, leading dimension ldc) = A (m x k) @ B (k x n).
   Loops: jc (NC columns of B) > pc (KC of k; B block packed into NR-wide panels) >
   ic (MC rows of A; A block packed into MR-tall panels, per thread) > jr (NR) > ir (MR). */
#include "pg.h"

#ifndef _OPENMP
static inline int omp_get_thread_num(void) { return 0; }
#endif

/* A[i, k] = p[i*rs + (k / kdiv)*cs_hi + (k % kdiv)*cs_lo]; kdiv 0 means A[i, k] = p[i*rs + k*cs_lo] */
typedef struct {
    const char *p;
    int64_t rs, cs_lo, cs_hi, kdiv;
} amat;

typedef struct {
    int64_t C, H, W, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw;
    int64_t xn; /* elements between images of x */
    /* NULL, or for narrow outputs (runs too short to pay their bounds arithmetic) the offset
       in an image of each im2col element, (C KH KW, OH OW) row-major, -1 in the padding */
    const int32_t *table;
} conv_t;

enum { B_STRIDED, B_IM2COL, B_IM2COL_T };

/* B_STRIDED: B[k, j] = p[k*rs + j*cs]
   B_IM2COL:  B[(c, ki, kj), (n, oh, ow)] = x[n, c, oh*sh - ph + ki*dh, ow*sw - pw + kj*dw]
   B_IM2COL_T: B[(n, oh, ow), (c, ki, kj)] = the same element of image n */
typedef struct {
    int kind;
    const char *p;
    int64_t rs, cs;
    const conv_t *cv;
} bmat;

typedef struct {
    int mr, nr;
    int64_t mc, kc, nc;
    /* C[MR x NR] (+)= A panel (kc x MR, packed) @ B panel (kc rows of NR, packed) */
    void (*kernel)(int64_t kc, const void *A, const void *B, void *C, int64_t ldc, int beta);
    /* the same with B's panel rows ldb apart (B read where it lies) */
    void (*kernel_ld)(int64_t kc, const void *A, const void *B, int64_t ldb, void *C,
                      int64_t ldc, int beta);
} gemm_cfg;

/* ------------------------------------------------------------- micro-kernels ------- */

/* NAME reads a packed B panel (rows NR = VL * NV apart, a constant the compiler folds into
   its addressing); NAME##_ld one whose rows are ldb apart (B read in place). */
#define DEFINE_UKERNEL(NAME, T, VL, MR, NV, ATTR)                                          \
    typedef T NAME##_vec __attribute__((vector_size((VL) * sizeof(T)), aligned(sizeof(T)))); \
    ATTR static inline __attribute__((always_inline)) void NAME##_body(                    \
        int64_t kc, const void *Av, const void *Bv, int64_t ldb, void *Cv, int64_t ldc,    \
        int beta) {                                                                        \
        const T *restrict A = (const T *)Av;                                               \
        const T *restrict B = (const T *)Bv;                                               \
        T *restrict C = (T *)Cv;                                                           \
        NAME##_vec acc[MR][NV];                                                            \
        for (int i = 0; i < MR; i++)                                                       \
            for (int v = 0; v < NV; v++) acc[i][v] = (NAME##_vec){0};                      \
        for (int64_t p = 0; p < kc; p++) {                                                 \
            NAME##_vec b[NV];                                                              \
            for (int v = 0; v < NV; v++)                                                   \
                b[v] = *(const NAME##_vec *)(B + p * ldb + v * (VL));                      \
            for (int i = 0; i < MR; i++) {                                                 \
                T a = A[p * (MR) + i];                                                     \
                for (int v = 0; v < NV; v++) acc[i][v] += a * b[v];                        \
            }                                                                              \
        }                                                                                  \
        for (int i = 0; i < MR; i++)                                                       \
            for (int v = 0; v < NV; v++) {                                                 \
                NAME##_vec *c = (NAME##_vec *)(C + i * ldc + v * (VL));                    \
                if (beta) *c += acc[i][v];                                                 \
                else *c = acc[i][v];                                                       \
            }                                                                              \
    }                                                                                      \
    ATTR static void NAME(int64_t kc, const void *A, const void *B, void *C, int64_t ldc,  \
                          int beta) {                                                      \
        NAME##_body(kc, A, B, (VL) * (NV), C, ldc, beta);                                  \
    }                                                                                      \
    ATTR static void NAME##_ld(int64_t kc, const void *A, const void *B, int64_t ldb,      \
                               void *C, int64_t ldc, int beta) {                           \
        NAME##_body(kc, A, B, ldb, C, ldc, beta);                                          \
    }

#if defined(__x86_64__) && defined(__GNUC__)
#define PG_X86 1
#define T_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define T_AVX2 __attribute__((target("avx2,fma")))
DEFINE_UKERNEL(uk_f32_avx512, float, 16, 12, 2, T_AVX512)
DEFINE_UKERNEL(uk_f64_avx512, double, 8, 12, 2, T_AVX512)
DEFINE_UKERNEL(uk_f32_avx2, float, 8, 6, 2, T_AVX2)
DEFINE_UKERNEL(uk_f64_avx2, double, 4, 6, 2, T_AVX2)
#endif
DEFINE_UKERNEL(uk_f32_gen, float, 4, 4, 2, )
DEFINE_UKERNEL(uk_f64_gen, double, 2, 4, 2, )

static gemm_cfg cfg_f32 = {4, 8, 128, 256, 4096, uk_f32_gen, uk_f32_gen_ld};
static gemm_cfg cfg_f64 = {4, 4, 128, 256, 4096, uk_f64_gen, uk_f64_gen_ld};
static int simd_level = -1;

int pg_set_simd_level(int level) {
    int best = pg_simd_level();
    if (level < 0 || level > best) level = best;
    if (level == 1) level = 0;
#ifdef PG_X86
    if (level == 3) {
        gemm_cfg f = {12, 32, 144, 256, 4096, uk_f32_avx512, uk_f32_avx512_ld};
        gemm_cfg d = {12, 16, 144, 256, 4096, uk_f64_avx512, uk_f64_avx512_ld};
        cfg_f32 = f;
        cfg_f64 = d;
    } else if (level == 2) {
        gemm_cfg f = {6, 16, 144, 256, 4096, uk_f32_avx2, uk_f32_avx2_ld};
        gemm_cfg d = {6, 8, 144, 256, 4096, uk_f64_avx2, uk_f64_avx2_ld};
        cfg_f32 = f;
        cfg_f64 = d;
    } else
#endif
    {
        gemm_cfg f = {4, 8, 128, 256, 4096, uk_f32_gen, uk_f32_gen_ld};
        gemm_cfg d = {4, 4, 128, 256, 4096, uk_f64_gen, uk_f64_gen_ld};
        cfg_f32 = f;
        cfg_f64 = d;
        level = 0;
    }
    simd_level = level;
    return level;
}

static void ensure_cfg(void) {
    if (simd_level < 0) pg_set_simd_level(-1);
}

/* ------------------------------------------------------------- packing + driver ---- */

/* the parallel region of gemm_##SFX; with one thread it runs without entering OpenMP (an if(0) parallel region still costs about a microsecond) and without worksharing
   pragmas, which would otherwise bind to an enclosing region (the batched matmul's) */
#define GEMM_FOR_STATIC_1 _Pragma("omp for schedule(static)")
#define GEMM_FOR_DYNAMIC_1 _Pragma("omp for schedule(dynamic, 1)")
#define GEMM_FOR_STATIC_0
#define GEMM_TID_1 omp_get_thread_num()
#define GEMM_TID_0 0
#define GEMM_FOR_DYNAMIC_0
#define GEMM_REGION(T, SFX, PAR)                                                            \
        {                                                                                   \
            T *myap = ap + (size_t)GEMM_TID_##PAR * (size_t)(mcb * kcmax);              \
            T tmp[12 * 32];                                                                 \
            for (int64_t jc = 0; jc < n; jc += NC) {                                        \
                int64_t nc = n - jc < NC ? n - jc : NC;                                     \
                int64_t np = (nc + NR - 1) / NR;                                            \
                for (int64_t pc = 0; pc < k; pc += KC) {                                    \
                    int64_t kc = k - pc < KC ? k - pc : KC;                                 \
                    int beta = pc > 0;                                                      \
                    GEMM_FOR_STATIC_##PAR                                                   \
                    for (int64_t jp = 0; jp < np; jp++)                                     \
                        pack_b_##SFX(B, pc, kc, jc, nc, jp, bp, NR);                        \
                    GEMM_FOR_DYNAMIC_##PAR                                                  \
                    for (int64_t w = 0; w < mb * nsplit; w++) {                             \
                        int64_t ib = w / nsplit, sp = w % nsplit;                           \
                        int64_t ic = ib * mcb;                                              \
                        if (ic >= m) continue;                                              \
                        int64_t mc = m - ic < mcb ? m - ic : mcb;                           \
                        int64_t plo = np * sp / nsplit, phi = np * (sp + 1) / nsplit;       \
                        if (plo >= phi) continue;                                           \
                        pack_a_##SFX(A, ic, mc, pc, kc, myap, MR);                          \
                        for (int64_t jp = plo; jp < phi; jp++) {                            \
                            int64_t jr = jp * NR, nr = nc - jr < NR ? nc - jr : NR;         \
                            const T *bpan = bp + jr * kc;                                   \
                            for (int64_t ir = 0; ir < mc; ir += MR) {                       \
                                int64_t mr = mc - ir < MR ? mc - ir : MR;                   \
                                T *cp = C + (ic + ir) * ldc + jc + jr;                      \
                                if (mr == MR && nr == NR) {                                 \
                                    cfg->kernel(kc, myap + ir * kc, bpan, cp, ldc, beta);   \
                                } else {                                                    \
                                    cfg->kernel(kc, myap + ir * kc, bpan, tmp, NR, 0);      \
                                    store_edge_##SFX(tmp, NR, cp, ldc, mr, nr, beta);       \
                                }                                                           \
                            }                                                               \
                        }                                                                   \
                    }                                                                       \
                }                                                                           \
            }                                                                               \
        }

/* An edge tile: the mr x nr corner of a full tile computed into tmp (rows ld apart) written
   to C, or added to it (beta) */
#define DEFINE_STORE_EDGE(T, SFX)                                                           \
    static void store_edge_##SFX(const T *tmp, int64_t ld, T *cp, int64_t ldc, int64_t mr,  \
                                 int64_t nr, int beta) {                                    \
        for (int64_t i = 0; i < mr; i++)                                                    \
            for (int64_t j = 0; j < nr; j++) {                                              \
                T v = tmp[i * ld + j];                                                      \
                cp[i * ldc + j] = beta ? cp[i * ldc + j] + v : v;                           \
            }                                                                               \
    }
DEFINE_STORE_EDGE(float, f32)
DEFINE_STORE_EDGE(double, f64)

/* Positions [q0, q0 + len) of one image's output, in order, of one (c, ki, kj) row of the
   im2col matrix: dst[t * ds] = x[c, oh * sh - ph + ki * dh, ow * sw - pw + kj * dw] (zero in
   the padding), for (oh, ow) the position q0 + t. xc is the image's channel c. Along an output
   row the reads are one strided run (contiguous at stride 1), so the bounds are worked out
   once a row instead of once an element. */
#define DEFINE_IM2COL_RUN(T, SFX)                                                           \
    static void im2col_run_##SFX(const conv_t *g, const T *xc, int64_t ki, int64_t kj,      \
                                 int64_t q0, int64_t len, T *dst, int64_t ds) {             \
        int64_t oh = q0 / g->OW, ow = q0 % g->OW;                                           \
        for (int64_t j = 0; j < len; oh++, ow = 0) {                                        \
            int64_t run = len - j < g->OW - ow ? len - j : g->OW - ow;                      \
            T *d = dst + j * ds;                                                            \
            j += run;                                                                       \
            int64_t ih = oh * g->sh - g->ph + ki * g->dh;                                   \
            if (ih < 0 || ih >= g->H) {                                                     \
                for (int64_t t = 0; t < run; t++) d[t * ds] = 0;                            \
                continue;                                                                   \
            }                                                                               \
            const T *row = xc + ih * g->W;                                                  \
            int64_t iw0 = ow * g->sw - g->pw + kj * g->dw, sw = g->sw;                      \
            /* t in [lo, hi) reads inside the row: 0 <= iw0 + t * sw < W */                 \
            int64_t lo = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw;                               \
            int64_t hi = iw0 > g->W - 1 ? 0 : (g->W - 1 - iw0) / sw + 1;                    \
            if (lo > run) lo = run;                                                         \
            if (hi > run) hi = run;                                                         \
            if (hi < lo) hi = lo;                                                           \
            for (int64_t t = 0; t < lo; t++) d[t * ds] = 0;                                 \
            if (sw == 1 && ds == 1) {                                                       \
                const T *src = row + iw0;                                                   \
                for (int64_t t = lo; t < hi; t++) d[t] = src[t];                            \
            } else {                                                                        \
                for (int64_t t = lo; t < hi; t++) d[t * ds] = row[iw0 + t * sw];            \
            }                                                                               \
            for (int64_t t = hi; t < run; t++) d[t * ds] = 0;                               \
        }                                                                                   \
    }
/* The same run through conv_t.table (narrow outputs): positions [k0, k0 + len) of the
   images side by side, (n, oh, ow), of one im2col row whose offsets in an image are `offsets`
   (-1 in the padding). */
#define DEFINE_IM2COL_TABLE_RUN(T, SFX)                                                     \
    static void im2col_table_run_##SFX(const conv_t *g, const T *base,                     \
                                       const int32_t *offsets, int64_t k0, int64_t len,    \
                                       T *dst, int64_t ds) {                               \
        int64_t ohw = g->OH * g->OW, q = k0 % ohw;                                          \
        const T *img = base + k0 / ohw * g->xn;                                             \
        for (int64_t t = 0; t < len; t++) {                                                 \
            int32_t off = offsets[q];                                                       \
            dst[t * ds] = off >= 0 ? img[off] : (T)0;                                       \
            if (++q == ohw) {                                                               \
                q = 0;                                                                      \
                img += g->xn;                                                               \
            }                                                                               \
        }                                                                                   \
    }
DEFINE_IM2COL_RUN(float, f32)
DEFINE_IM2COL_RUN(double, f64)
DEFINE_IM2COL_TABLE_RUN(float, f32)
DEFINE_IM2COL_TABLE_RUN(double, f64)

#define DEFINE_GEMM(T, SFX)                                                                 \
    static void pack_a_##SFX(const amat *A, int64_t i0, int64_t mc, int64_t p0, int64_t kc,  \
                             T *dst, int MR) {                                              \
        const T *base = (const T *)A->p;                                                    \
        if (A->kdiv == 0 && A->rs == 1 && A->cs_lo != 1) {                                  \
            /* A transposed: rows of A^T are contiguous, read each once */                  \
            for (int64_t p = 0; p < kc; p++) {                                              \
                const T *s = base + (p0 + p) * A->cs_lo + i0;                               \
                for (int64_t ir = 0; ir < mc; ir += MR) {                                   \
                    int64_t mr = mc - ir < MR ? mc - ir : MR;                               \
                    T *d = dst + ir * kc + p * MR;                                          \
                    for (int64_t i = 0; i < mr; i++) d[i] = s[ir + i];                      \
                    for (int64_t i = mr; i < MR; i++) d[i] = 0;                             \
                }                                                                           \
            }                                                                               \
            return;                                                                         \
        }                                                                                   \
        for (int64_t ir = 0; ir < mc; ir += MR) {                                           \
            int64_t mr = mc - ir < MR ? mc - ir : MR;                                       \
            T *d = dst + ir * kc;                                                           \
            for (int64_t i = 0; i < mr; i++) {                                              \
                const T *s = base + (i0 + ir + i) * A->rs;                                  \
                if (A->kdiv == 0) {                                                         \
                    int64_t cs = A->cs_lo;                                                  \
                    if (cs == 1 && mr == MR && MR <= 16) {                                  \
                        /* rows of A contiguous: walk k across the MR rows at once, so the  \
                           stores are contiguous and each row is one sequential stream */   \
                        const T *rows[16];                                                  \
                        for (int64_t r = 0; r < MR; r++)                                    \
                            rows[r] = base + (i0 + ir + r) * A->rs + p0;                    \
                        for (int64_t p = 0; p < kc; p++)                                    \
                            for (int64_t r = 0; r < MR; r++) d[p * MR + r] = rows[r][p];    \
                        break;                                                              \
                    }                                                                       \
                    if (cs == 1)                                                            \
                        for (int64_t p = 0; p < kc; p++) d[p * MR + i] = s[p0 + p];         \
                    else                                                                    \
                        for (int64_t p = 0; p < kc; p++) d[p * MR + i] = s[(p0 + p) * cs];  \
                } else {                                                                    \
                    int64_t hi = p0 / A->kdiv, lo = p0 % A->kdiv;                           \
                    for (int64_t p = 0; p < kc; p++) {                                      \
                        d[p * MR + i] = s[hi * A->cs_hi + lo * A->cs_lo];                   \
                        if (++lo == A->kdiv) { lo = 0; hi++; }                              \
                    }                                                                       \
                }                                                                           \
            }                                                                               \
            for (int64_t i = mr; i < MR; i++)                                               \
                for (int64_t p = 0; p < kc; p++) d[p * MR + i] = 0;                         \
        }                                                                                   \
    }                                                                                       \
    /* pack panel jp (NR columns starting at j0 + jp*NR) of rows p0..p0+kc */               \
    PG_CLONES static void pack_b_##SFX(const bmat *B, int64_t p0, int64_t kc, int64_t j0, int64_t nc,  \
                             int64_t jp, T *dst, int NR) {                                  \
        int64_t jr = jp * NR, nr = nc - jr < NR ? nc - jr : NR;                             \
        T *d = dst + jr * kc;                                                               \
        const T *base = (const T *)B->p;                                                    \
        if (B->kind == B_STRIDED) {                                                         \
            if (B->cs == 1) {                                                               \
                for (int64_t p = 0; p < kc; p++) {                                          \
                    const T *s = base + (p0 + p) * B->rs + j0 + jr;                         \
                    /* the panel is a column strip, one row apart per p: prefetchers miss   \
                       that stride, so ask for the rows a few steps ahead */                \
                    if (p + 8 < kc) {                                                       \
                        __builtin_prefetch(s + 8 * B->rs);                                  \
                        __builtin_prefetch(s + 8 * B->rs + NR - 1);                         \
                    }                                                                       \
                    for (int64_t j = 0; j < nr; j++) d[p * NR + j] = s[j];                  \
                    for (int64_t j = nr; j < NR; j++) d[p * NR + j] = 0;                    \
                }                                                                           \
            } else if (nr == NR) {                                                          \
                /* transposed B: NR rows at a time, a strided load per row of the panel */  \
                const T *s0 = base + (j0 + jr) * B->cs + p0 * B->rs;                        \
                int64_t cs = B->cs, rs = B->rs;                                             \
                for (int64_t p = 0; p < kc; p++) {                                          \
                    const T *s = s0 + p * rs;                                               \
                    T *dp = d + p * NR;                                                     \
                    for (int64_t j = 0; j < NR; j++) dp[j] = s[j * cs];                     \
                }                                                                           \
            } else {                                                                        \
                for (int64_t j = 0; j < nr; j++) {                                          \
                    const T *s = base + (j0 + jr + j) * B->cs;                              \
                    for (int64_t p = 0; p < kc; p++) d[p * NR + j] = s[(p0 + p) * B->rs];   \
                }                                                                           \
                for (int64_t j = nr; j < NR; j++)                                           \
                    for (int64_t p = 0; p < kc; p++) d[p * NR + j] = 0;                     \
            }                                                                               \
            return;                                                                         \
        }                                                                                   \
        const conv_t *g = B->cv;                                                            \
        int64_t ohw = g->OH * g->OW;                                                        \
        if (B->kind == B_IM2COL && g->table) {                                              \
            for (int64_t p = 0; p < kc; p++) {                                              \
                im2col_table_run_##SFX(g, base, g->table + (p0 + p) * ohw, j0 + jr, nr,     \
                                       d + p * NR, 1);                                      \
                for (int64_t j = nr; j < NR; j++) d[p * NR + j] = 0;                        \
            }                                                                               \
            return;                                                                         \
        }                                                                                   \
        if (B->kind == B_IM2COL) { /* row p of the panel: one (c, ki, kj), NR positions    \
                                      (n, oh, ow), which may span images */                \
            for (int64_t p = 0; p < kc; p++) {                                              \
                int64_t r = p0 + p, kj = r % g->KW, t = r / g->KW;                          \
                int64_t ki = t % g->KH, c = t / g->KH;                                      \
                for (int64_t j = 0; j < nr;) {                                              \
                    int64_t col = j0 + jr + j, n = col / ohw, q = col % ohw;                \
                    int64_t len = nr - j < ohw - q ? nr - j : ohw - q;                      \
                    im2col_run_##SFX(g, base + n * g->xn + c * g->H * g->W, ki, kj, q, len, \
                                     d + p * NR + j, 1);                                    \
                    j += len;                                                               \
                }                                                                           \
                for (int64_t j = nr; j < NR; j++) d[p * NR + j] = 0;                        \
            }                                                                               \
            return;                                                                         \
        }                                                                                   \
        /* B_IM2COL_T: column j of the panel is one (c, ki, kj) over kc positions (n, oh,  \
           ow), which may span images */                                                    \
        for (int64_t j = 0; j < NR; j++) {                                                  \
            if (j >= nr) {                                                                  \
                for (int64_t p = 0; p < kc; p++) d[p * NR + j] = 0;                         \
                continue;                                                                   \
            }                                                                               \
            int64_t col = j0 + jr + j;                                                      \
            if (g->table) {                                                                 \
                im2col_table_run_##SFX(g, base, g->table + col * ohw, p0, kc, d + j, NR);   \
                continue;                                                                   \
            }                                                                               \
            int64_t kj = col % g->KW, t = col / g->KW, ki = t % g->KH, c = t / g->KH;       \
            for (int64_t p = 0; p < kc;) {                                                  \
                int64_t k = p0 + p, n = k / ohw, q = k % ohw;                               \
                int64_t len = kc - p < ohw - q ? kc - p : ohw - q;                          \
                im2col_run_##SFX(g, base + n * g->xn + c * g->H * g->W, ki, kj, q, len,     \
                                 d + p * NR + j, NR);                                       \
                p += len;                                                                   \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    static int gemm_##SFX(const gemm_cfg *cfg, int64_t m, int64_t n, int64_t k,             \
                          const amat *A, const bmat *B, T *C, int64_t ldc, int nt) {        \
        if (m <= 0 || n <= 0) return 0;                                                     \
        if (k <= 0) {                                                                       \
            for (int64_t i = 0; i < m; i++)                                                 \
                for (int64_t j = 0; j < n; j++) C[i * ldc + j] = 0;                         \
            return 0;                                                                       \
        }                                                                                   \
        const int MR = cfg->mr, NR = cfg->nr;                                               \
        int64_t KC = cfg->kc, NC = cfg->nc, mcb = cfg->mc;                                  \
        if (nt < 1) nt = 1;                                                                 \
        int64_t mb = (m + mcb - 1) / mcb;                                                   \
        if (nt > 1) { /* a multiple of nt blocks of about equal rows: an uneven last block  \
                         (1024 = 7 x 144 + 16) leaves one thread waiting on the other */    \
            mb = (mb + nt - 1) / nt * nt;                                                   \
            mcb = ((m + mb - 1) / mb + MR - 1) / MR * MR;                                   \
            mb = (m + mcb - 1) / mcb;                                                       \
        }                                                                                   \
        int64_t nsplit = mb >= nt ? 1 : (nt + mb - 1) / mb;                                 \
        int64_t ncmax = n < NC ? (n + NR - 1) / NR * NR : NC;                               \
        int64_t kcmax = k < KC ? k : KC;                                                    \
        T *bp = (T *)pg_scratch_alloc(sizeof(T) * (size_t)(ncmax * kcmax));                 \
        T *ap = (T *)pg_scratch_alloc(sizeof(T) * (size_t)(mcb * kcmax) * (size_t)nt);      \
        if (!bp || !ap) {                                                                   \
            pg_scratch_free(bp);                                                            \
            pg_scratch_free(ap);                                                            \
            return -2;                                                                      \
        }                                                                                   \
        if (nt > 1) {                                                                       \
            _Pragma("omp parallel num_threads(nt)")                                         \
            GEMM_REGION(T, SFX, 1)                                                          \
        } else {                                                                            \
            GEMM_REGION(T, SFX, 0)                                                          \
        }                                                                                   \
        pg_scratch_free(bp);                                                                \
        pg_scratch_free(ap);                                                                \
        return 0;                                                                           \
    }

/* Few rows of A (m <= SMALL_M): each thread takes a share of B's NR-wide panels for every row
   of A (the threads split n, not the few rows), packs A's k block itself and reads each panel
   of B where it lies when B's rows are contiguous; other panels (B transposed or strided, an
   im2col matrix, or a last panel narrower than NR, so that no read runs past B) it packs for
   itself. Packing all
   of B up front, shared by the threads, would cost about what the products do at so few rows
   (the recurrent nets' per-step h @ W, attention's per-head products), plus a barrier. */
enum { SMALL_M = 64 };

static int few_rows(int64_t m) { return m <= SMALL_M; }

#define DEFINE_GEMM_FEW_ROWS(T, SFX)                                                       \
    static void few_rows_share_##SFX(const gemm_cfg *cfg, int64_t m, int64_t n, int64_t k,   \
                                   const amat *A, const bmat *B, T *C, int64_t ldc,        \
                                   T *ap, T *bp, int64_t p0, int64_t p1) {                 \
        const int MR = cfg->mr, NR = cfg->nr;                                               \
        const T *base = (const T *)B->p;                                                    \
        T tmp[12 * 32];                                                                     \
        for (int64_t pc = 0; pc < k; pc += cfg->kc) {                                       \
            int64_t kc = k - pc < cfg->kc ? k - pc : cfg->kc;                               \
            int beta = pc > 0;                                                              \
            pack_a_##SFX(A, 0, m, pc, kc, ap, MR);                                          \
            for (int64_t jp = p0; jp < p1; jp++) {                                          \
                int64_t jr = jp * NR, nr = n - jr < NR ? n - jr : NR;                       \
                const T *panel = base + pc * B->rs + jr;                                    \
                int64_t ldb = B->rs;                                                        \
                if (nr < NR || B->kind != B_STRIDED || B->cs != 1) {                        \
                    pack_b_##SFX(B, pc, kc, jr, nr, 0, bp, NR);                             \
                    panel = bp;                                                             \
                    ldb = NR;                                                               \
                }                                                                           \
                for (int64_t ir = 0; ir < m; ir += MR) {                                    \
                    int64_t mr = m - ir < MR ? m - ir : MR;                                 \
                    T *cp = C + ir * ldc + jr;                                              \
                    if (mr == MR && nr == NR) {                                             \
                        cfg->kernel_ld(kc, ap + ir * kc, panel, ldb, cp, ldc, beta);        \
                        continue;                                                           \
                    }                                                                       \
                    cfg->kernel_ld(kc, ap + ir * kc, panel, ldb, tmp, NR, 0);               \
                    store_edge_##SFX(tmp, NR, cp, ldc, mr, nr, beta);                       \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    static int gemm_few_rows_##SFX(const gemm_cfg *cfg, int64_t m, int64_t n, int64_t k,     \
                                 const amat *A, const bmat *B, T *C, int64_t ldc, int nt) { \
        const int MR = cfg->mr, NR = cfg->nr;                                               \
        int64_t np = (n + NR - 1) / NR, kcmax = k < cfg->kc ? k : cfg->kc;                  \
        int64_t mpad = (m + MR - 1) / MR * MR;                                              \
        if (nt > np) nt = (int)np;                                                          \
        if (nt < 1) nt = 1;                                                                 \
        size_t per = (size_t)(mpad * kcmax + NR * kcmax);                                   \
        T *scratch = (T *)pg_scratch_alloc(sizeof(T) * per * (size_t)nt);                   \
        if (!scratch) return -2;                                                            \
        if (nt > 1) {                                                                       \
            _Pragma("omp parallel num_threads(nt)")                                         \
            {                                                                               \
                int t = omp_get_thread_num();                                               \
                T *ap = scratch + per * (size_t)t;                                          \
                few_rows_share_##SFX(cfg, m, n, k, A, B, C, ldc, ap, ap + mpad * kcmax,       \
                                   np * t / nt, np * (t + 1) / nt);                         \
            }                                                                               \
        } else {                                                                            \
            few_rows_share_##SFX(cfg, m, n, k, A, B, C, ldc, scratch, scratch + mpad * kcmax, \
                               0, np);                                                      \
        }                                                                                   \
        pg_scratch_free(scratch);                                                           \
        return 0;                                                                           \
    }

DEFINE_GEMM(float, f32)
DEFINE_GEMM(double, f64)
DEFINE_GEMM_FEW_ROWS(float, f32)
DEFINE_GEMM_FEW_ROWS(double, f64)

static int gemm_dt(int dt, int64_t m, int64_t n, int64_t k, const amat *A, const bmat *B,
                   char *C, int64_t ldc, int nt) {
    ensure_cfg();
    if (m > 0 && n > 0 && k > 0) {
        if (dt == DT_F32 && few_rows(m))
            return gemm_few_rows_f32(&cfg_f32, m, n, k, A, B, (float *)C, ldc, nt);
        if (dt == DT_F64 && few_rows(m))
            return gemm_few_rows_f64(&cfg_f64, m, n, k, A, B, (double *)C, ldc, nt);
    }
    if (dt == DT_F32) return gemm_f32(&cfg_f32, m, n, k, A, B, (float *)C, ldc, nt);
    if (dt == DT_F64) return gemm_f64(&cfg_f64, m, n, k, A, B, (double *)C, ldc, nt);
    return -1;
}

int pg_matmul(int dt, int64_t batch, int64_t m, int64_t n, int64_t k,
              char *a, int64_t sab, int64_t sam, int64_t sak,
              char *b, int64_t sbb, int64_t sbk, int64_t sbn, char *c) {
    if ((dt != DT_F32 && dt != DT_F64) || batch < 0 || m < 0 || n < 0 || k < 0) return -1;
    int64_t isz = dt == DT_F32 ? 4 : 8;
    const int64_t sizes[4] = {batch, m, n, isz};
    if (!pg_fits(4, sizes)) return -1; /* the byte offsets of c */
    if (batch == 0 || m == 0 || n == 0) return 0;
    double flops = (double)m * (double)n * (double)(k > 0 ? k : 1);
    int nt = pg_threads_for((int64_t)(flops / 8 > 9e18 ? 9e18 : flops / 8));
    if (batch > 1 && nt > 1 && flops < 4e6) {
        int err = 0;
        int bt = batch < nt ? (int)batch : nt;
#pragma omp parallel for schedule(dynamic, 1) num_threads(bt) reduction(min : err)
        for (int64_t i = 0; i < batch; i++) {
            amat A = {a + i * sab * isz, sam, sak, 0, 0};
            bmat B = {B_STRIDED, b + i * sbb * isz, sbk, sbn, NULL};
            int e = gemm_dt(dt, m, n, k, &A, &B, c + i * m * n * isz, n, 1);
            if (e < err) err = e;
        }
        return err;
    }
    for (int64_t i = 0; i < batch; i++) {
        amat A = {a + i * sab * isz, sam, sak, 0, 0};
        bmat B = {B_STRIDED, b + i * sbb * isz, sbk, sbn, NULL};
        int e = gemm_dt(dt, m, n, k, &A, &B, c + i * m * n * isz, n, nt);
        if (e) return e;
    }
    return 0;
}

/* ------------------------------------------------------------- convolution --------- */

typedef struct {
    int64_t N, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, G;
    int64_t Cg, Og, KK, OHW;
} geom_t;

static int load_geom(geom_t *g, const int64_t *v) {
    g->N = v[0]; g->C = v[1]; g->H = v[2]; g->W = v[3]; g->O = v[4]; g->KH = v[5];
    g->KW = v[6]; g->OH = v[7]; g->OW = v[8]; g->sh = v[9]; g->sw = v[10]; g->ph = v[11];
    g->pw = v[12]; g->dh = v[13]; g->dw = v[14]; g->G = v[15];
    for (int i = 0; i < 16; i++)
        if (v[i] < 0) return -1;
    if (g->G < 1 || g->C % g->G || g->O % g->G || g->sh < 1 || g->sw < 1 || g->dh < 1 ||
        g->dw < 1)
        return -1;
    /* every size and byte offset the kernels form fits int64 (8 bytes an element at most) */
    const int64_t x[5] = {g->N, g->C, g->H, g->W, 8}, w[5] = {g->O, g->C, g->KH, g->KW, 8},
                  out[5] = {g->N, g->O, g->OH, g->OW, 8}, cols[6] = {g->C, g->KH, g->KW,
                                                                      g->OH, g->OW, 8},
                  images[4] = {g->N, g->OH, g->OW, 8};
    if (!pg_fits(5, x) || !pg_fits(5, w) || !pg_fits(5, out) || !pg_fits(6, cols) ||
        !pg_fits(4, images))
        return -1;
    g->Cg = g->C / g->G;
    g->Og = g->O / g->G;
    g->KK = g->Cg * g->KH * g->KW;
    g->OHW = g->OH * g->OW;
    return 0;
}

/* Multiply-adds of a convolution / 8, saturated (a thread-count estimate). */
static int64_t conv_work(const geom_t *g) {
    return pg_sat_mul(pg_sat_mul(pg_sat_mul(g->N, g->O), g->OHW), g->KK ? g->KK : 1) / 8;
}

/* Outputs narrower than NARROW_OW, with at most TABLE_MAX im2col elements an image, pack
   through an offset table (conv_t.table) built once a call. */
enum { NARROW_OW = 16, TABLE_MAX = 1 << 20 };

static conv_t conv_of(const geom_t *g) {
    conv_t c = {g->Cg, g->H, g->W, g->KH, g->KW, g->OH, g->OW,
                g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, g->C * g->H * g->W, NULL};
    return c;
}

/* c's table when its outputs are narrow (the caller frees it); NULL otherwise or when memory
   is short (packing then takes the run path) */
static int32_t *attach_table(const geom_t *g, conv_t *c) {
    if (g->OW >= NARROW_OW || pg_sat_mul(g->KK, g->OHW) > TABLE_MAX || g->Cg * g->H * g->W > INT32_MAX)
        return NULL;
    int32_t *table = (int32_t *)pg_scratch_alloc(sizeof(int32_t) * (size_t)(g->KK * g->OHW));
    if (!table) return NULL;
    int32_t *t = table;
    for (int64_t r = 0; r < g->KK; r++) {
        int64_t kj = r % g->KW, ki = r / g->KW % g->KH, ch = r / (g->KW * g->KH);
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++) {
                int64_t ih = oh * g->sh - g->ph + ki * g->dh, iw = ow * g->sw - g->pw + kj * g->dw;
                *t++ = ih >= 0 && ih < g->H && iw >= 0 && iw < g->W
                           ? (int32_t)((ch * g->H + ih) * g->W + iw) : -1;
            }
    }
    c->table = table;
    return table;
}

/* Threads split the batch when it has enough images (one parallel region per call, which
   matters when cores are shared); otherwise each image's GEMM is threaded. */
static int conv_image_threads(const geom_t *g, int nt) {
    return (nt > 1 && g->N >= nt) ? nt : 1;
}

/* Small images (a GEMM of at most SMALL_IMAGE multiply-adds each): a chunk of images is one
   GEMM a group, over their im2col side by side, into cols (Og, images * OH * OW), then copied
   to out (N, O, OH, OW); one GEMM per image would spend its time in per-call packing. Chunks
   keep cols to about CHUNK_ELEMENTS. */
enum { SMALL_IMAGE = 1 << 20, CHUNK_ELEMENTS = 1 << 20 };

static int small_images(const geom_t *g) {
    return g->N > 1 && g->OHW > 0 && g->KK > 0 &&
           pg_sat_mul(pg_sat_mul(g->Og, g->OHW), g->KK) <= SMALL_IMAGE;
}

static int conv2d_batched(int dt, const geom_t *g, char *x, char *w, char *out, int nt) {
    int64_t isz = dt == DT_F32 ? 4 : 8, per_chunk = CHUNK_ELEMENTS / (g->Og * g->OHW);
    if (per_chunk < 1) per_chunk = 1;
    if (per_chunk > g->N) per_chunk = g->N;
    conv_t cv = conv_of(g);
    int32_t *table = attach_table(g, &cv);
    char *cols = (char *)pg_scratch_alloc((size_t)(g->Og * per_chunk * g->OHW * isz));
    int err = cols ? 0 : -2;
    for (int64_t n0 = 0; n0 < g->N && !err; n0 += per_chunk) {
        int64_t images = g->N - n0 < per_chunk ? g->N - n0 : per_chunk;
        int64_t width = images * g->OHW;
        for (int64_t gi = 0; gi < g->G && !err; gi++) {
            amat A = {w + gi * g->Og * g->KK * isz, g->KK, 1, 0, 0};
            bmat B = {B_IM2COL, x + (n0 * g->C + gi * g->Cg) * g->H * g->W * isz, 0, 0, &cv};
            err = gemm_dt(dt, g->Og, width, g->KK, &A, &B, cols, width, nt);
            size_t row = (size_t)(g->OHW * isz);
            for (int64_t n = 0; n < images && !err; n++)
                for (int64_t o = 0; o < g->Og; o++)
                    memcpy(out + (((n0 + n) * g->O + gi * g->Og + o) * g->OHW) * isz,
                           cols + (o * width + n * g->OHW) * isz, row);
        }
    }
    pg_scratch_free(cols);
    pg_scratch_free(table);
    return err;
}

int pg_conv2d(int dt, char *x, char *w, char *out, const int64_t *geometry) {
    geom_t g;
    if ((dt != DT_F32 && dt != DT_F64) || load_geom(&g, geometry)) return -1;
    int64_t isz = dt == DT_F32 ? 4 : 8;
    conv_t cv = conv_of(&g);
    int nt = pg_threads_for(conv_work(&g));
    if (small_images(&g)) return conv2d_batched(dt, &g, x, w, out, nt);
    int32_t *table = attach_table(&g, &cv);
    int ni = conv_image_threads(&g, nt);
    int inner = ni > 1 ? 1 : nt;
    int err = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ni) if(ni > 1) reduction(min : err)
    for (int64_t n = 0; n < g.N; n++)
        for (int64_t gi = 0; gi < g.G; gi++) {
            amat A = {w + gi * g.Og * g.KK * isz, g.KK, 1, 0, 0};
            bmat B = {B_IM2COL, x + (n * g.C + gi * g.Cg) * g.H * g.W * isz, 0, 0, &cv};
            char *C = out + (n * g.O + gi * g.Og) * g.OHW * isz;
            int e = gemm_dt(dt, g.Og, g.OHW, g.KK, &A, &B, C, g.OHW, inner);
            if (e < err) err = e;
        }
    pg_scratch_free(table);
    return err;
}

int pg_conv2d_backward_weight(int dt, char *x, char *grad_out, char *grad_w,
                              const int64_t *geometry) {
    geom_t g;
    if ((dt != DT_F32 && dt != DT_F64) || load_geom(&g, geometry)) return -1;
    int64_t isz = dt == DT_F32 ? 4 : 8;
    conv_t cv = conv_of(&g);
    int32_t *table = attach_table(&g, &cv);
    int nt = pg_threads_for(conv_work(&g));
    int ni = conv_image_threads(&g, nt);
    int64_t wsize = g.O * g.KK; /* elements of grad_w */
    /* thread t sums images [N*t/ni, N*(t+1)/ni) into its own partial grad_w */
    char *part = NULL;
    if (ni > 1) {
        part = (char *)pg_scratch_alloc((size_t)(wsize * isz * (ni - 1)));
        if (!part) ni = 1;
    }
    int err = 0;
#pragma omp parallel num_threads(ni) if(ni > 1) reduction(min : err)
    {
        int t = omp_get_thread_num();
        int64_t n0 = g.N * t / ni, n1 = g.N * (t + 1) / ni;
        char *dst = t == 0 ? grad_w : part + (t - 1) * wsize * isz;
        int inner = ni > 1 ? 1 : nt;
        for (int64_t gi = 0; gi < g.G; gi++) {
            amat A = {grad_out + (n0 * g.O + gi * g.Og) * g.OHW * isz, g.OHW, 1, g.O * g.OHW,
                      g.OHW > 0 ? g.OHW : 1};
            bmat B = {B_IM2COL_T, x + (n0 * g.C + gi * g.Cg) * g.H * g.W * isz, 0, 0, &cv};
            int e = gemm_dt(dt, g.Og, g.KK, (n1 - n0) * g.OHW, &A, &B,
                            dst + gi * g.Og * g.KK * isz, g.KK, inner);
            if (e < err) err = e;
        }
    }
    if (part) {
        for (int t = 1; t < ni; t++) {
            const char *src = part + (t - 1) * wsize * isz;
            if (dt == DT_F32)
                for (int64_t i = 0; i < wsize; i++) ((float *)grad_w)[i] += ((const float *)src)[i];
            else
                for (int64_t i = 0; i < wsize; i++)
                    ((double *)grad_w)[i] += ((const double *)src)[i];
        }
        pg_scratch_free(part);
    }
    pg_scratch_free(table);
    return err;
}

/* The adjoint of im2col: each (c, ki, kj) row of cols (OH * OW values, rows ld apart) adds
   into its input channel, a strided run an output row, bounds worked out once a row (as
   im2col_run reads them). */
#define DEFINE_COL2IM(T, SFX)                                                             \
    static void col2im_##SFX(const geom_t *g, const T *cols, int64_t ld, T *gx, int nt,   \
                             const int32_t *table) {                                      \
        if (table) { /* narrow outputs: through im2col's offset table, one thread */      \
            for (int64_t i = 0; i < g->Cg * g->H * g->W; i++) gx[i] = 0;                  \
            for (int64_t r = 0; r < g->KK; r++) {                                         \
                const int32_t *offsets = table + r * g->OHW;                              \
                const T *row = cols + r * ld;                                             \
                for (int64_t q = 0; q < g->OHW; q++)                                      \
                    if (offsets[q] >= 0) gx[offsets[q]] += row[q];                        \
            }                                                                             \
            return;                                                                       \
        }                                                                                 \
        _Pragma("omp parallel for schedule(static) num_threads(nt) if(nt > 1)")           \
        for (int64_t c = 0; c < g->Cg; c++) {                                             \
            T *img = gx + c * g->H * g->W;                                                \
            for (int64_t i = 0; i < g->H * g->W; i++) img[i] = 0;                         \
            for (int64_t ki = 0; ki < g->KH; ki++)                                        \
                for (int64_t kj = 0; kj < g->KW; kj++) {                                  \
                    const T *row = cols + ((c * g->KH + ki) * g->KW + kj) * ld;            \
                    int64_t iw0 = kj * g->dw - g->pw, sw = g->sw;                         \
                    /* ow in [lo, hi) lands inside the row: 0 <= iw0 + ow * sw < W */     \
                    int64_t lo = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw;                     \
                    int64_t hi = iw0 > g->W - 1 ? 0 : (g->W - 1 - iw0) / sw + 1;          \
                    if (hi > g->OW) hi = g->OW;                                           \
                    for (int64_t oh = 0; oh < g->OH; oh++) {                              \
                        int64_t ih = oh * g->sh - g->ph + ki * g->dh;                     \
                        if (ih < 0 || ih >= g->H) continue;                               \
                        T *dst = img + ih * g->W + iw0;                                   \
                        const T *src = row + oh * g->OW;                                  \
                        if (sw == 1)                                                      \
                            for (int64_t ow = lo; ow < hi; ow++) dst[ow] += src[ow];      \
                        else                                                              \
                            for (int64_t ow = lo; ow < hi; ow++) dst[ow * sw] += src[ow]; \
                    }                                                                     \
                }                                                                         \
        }                                                                                 \
    }
DEFINE_COL2IM(float, f32)
DEFINE_COL2IM(double, f64)

/* Small images, as conv2d_batched: grad_out's chunk of images side by side (Og, images * OHW)
   in gt, one GEMM a group into cols (KK, images * OHW), then col2im an image (the images split
   between the threads). */
static int backward_input_batched(int dt, const geom_t *g, char *grad_out, char *w,
                                  char *grad_x, int nt) {
    int64_t isz = dt == DT_F32 ? 4 : 8, per_chunk = CHUNK_ELEMENTS / (g->KK * g->OHW);
    if (per_chunk < 1) per_chunk = 1;
    if (per_chunk > g->N) per_chunk = g->N;
    size_t row = (size_t)(g->OHW * isz), chunk = (size_t)(per_chunk * g->OHW * isz);
    char *cols = (char *)pg_scratch_alloc(chunk * (size_t)g->KK);
    char *gt = (char *)pg_scratch_alloc(chunk * (size_t)g->Og);
    conv_t cv = conv_of(g);
    int32_t *table = attach_table(g, &cv);
    int err = cols && gt ? 0 : -2;
    for (int64_t n0 = 0; n0 < g->N && !err; n0 += per_chunk) {
        int64_t images = g->N - n0 < per_chunk ? g->N - n0 : per_chunk;
        int64_t width = images * g->OHW;
        for (int64_t gi = 0; gi < g->G && !err; gi++) {
            for (int64_t o = 0; o < g->Og; o++)
                for (int64_t n = 0; n < images; n++)
                    memcpy(gt + (o * width + n * g->OHW) * isz,
                           grad_out + (((n0 + n) * g->O + gi * g->Og + o) * g->OHW) * isz, row);
            amat A = {w + gi * g->Og * g->KK * isz, 1, g->KK, 0, 0};
            bmat B = {B_STRIDED, gt, width, 1, NULL};
            err = gemm_dt(dt, g->KK, width, g->Og, &A, &B, cols, width, nt);
            if (err) break;
#pragma omp parallel for schedule(static) num_threads(nt) if(nt > 1)
            for (int64_t n = 0; n < images; n++) {
                char *gx = grad_x + ((n0 + n) * g->C + gi * g->Cg) * g->H * g->W * isz;
                char *mine = cols + n * g->OHW * isz;
                if (dt == DT_F32)
                    col2im_f32(g, (const float *)mine, width, (float *)gx, 1, table);
                else
                    col2im_f64(g, (const double *)mine, width, (double *)gx, 1, table);
            }
        }
    }
    pg_scratch_free(cols);
    pg_scratch_free(gt);
    pg_scratch_free(table);
    return err;
}

int pg_conv2d_backward_input(int dt, char *grad_out, char *w, char *grad_x,
                             const int64_t *geometry) {
    geom_t g;
    if ((dt != DT_F32 && dt != DT_F64) || load_geom(&g, geometry)) return -1;
    int64_t isz = dt == DT_F32 ? 4 : 8;
    int nt = pg_threads_for(conv_work(&g));
    if (small_images(&g)) return backward_input_batched(dt, &g, grad_out, w, grad_x, nt);
    int ni = conv_image_threads(&g, nt);
    /* one column buffer per working thread: memory is bounded by threads, not the batch */
    size_t csize = (size_t)(g.KK * g.OHW * isz);
    char *cols = (char *)pg_scratch_alloc(csize * (size_t)ni);
    if (!cols) return -2;
    int inner = ni > 1 ? 1 : nt;
    int ntc = ni > 1 ? 1 : pg_threads_for(g.KK * g.OHW);
    int err = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ni) if(ni > 1) reduction(min : err)
    for (int64_t n = 0; n < g.N; n++) {
        char *mycols = cols + csize * (size_t)omp_get_thread_num();
        for (int64_t gi = 0; gi < g.G; gi++) {
            amat A = {w + gi * g.Og * g.KK * isz, 1, g.KK, 0, 0};
            bmat B = {B_STRIDED, grad_out + (n * g.O + gi * g.Og) * g.OHW * isz, g.OHW, 1, NULL};
            int e = gemm_dt(dt, g.KK, g.OHW, g.Og, &A, &B, mycols, g.OHW, inner);
            if (e < err) err = e;
            if (e) continue;
            char *gx = grad_x + (n * g.C + gi * g.Cg) * g.H * g.W * isz;
            if (dt == DT_F32)
                col2im_f32(&g, (const float *)mycols, g.OHW, (float *)gx, ntc, NULL);
            else
                col2im_f64(&g, (const double *)mycols, g.OHW, (double *)gx, ntc, NULL);
        }
    }
    pg_scratch_free(cols);
    return err;
}
