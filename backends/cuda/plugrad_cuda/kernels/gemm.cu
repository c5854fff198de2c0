/* C = alpha * A @ B + beta * C over two batch dimensions, every operand with any strides
   (transposed operands are strides, never copies). The one GEMM behind matmul and the
   convolutions (which use the second batch dimension for groups).

   A block computes a BM x BN tile of C: the threads fetch BM x BK of A and BK x BN of B into
   shared memory cooperatively (each thread a few elements, along whichever of the operand's
   axes has stride 1, so the loads coalesce), then each thread multiplies its TM x TN register
   tile from those. Two shared buffers alternate: the next K step is fetched into registers
   while the current one is multiplied, and one barrier a step separates them. */
#include "pg_common.cuh"

namespace pg {

struct GemmArgs {
    pg_i64 m, n, k;
    pg_i64 batch, batch2;        /* batch b is (b / batch2, b % batch2) */
    pg_i64 a[4], b[4], c[4];     /* strides: batch1, batch2, row, column */
    double alpha, beta;
};

template <class T, int BM, int BN, int BK, int TM, int TN>
__device__ void gemm(const T *A, const T *B, T *C, const GemmArgs &g) {
    constexpr int TX = BN / TN, TY = BM / TM, THREADS = TX * TY;
    constexpr int A_LOADS = BM * BK / THREADS, B_LOADS = BK * BN / THREADS;
    constexpr int PAD = 4;
    static_assert(A_LOADS * THREADS == BM * BK && B_LOADS * THREADS == BK * BN, "tile split");
    static_assert(TM % 4 == 0 && TN % 4 == 0, "register tiles are runs of 4");
    /* 16-byte aligned rows of a multiple of 4 elements: runs of 4 load as one vector */
    __shared__ __align__(16) T As[2][BK][BM + PAD];
    __shared__ __align__(16) T Bs[2][BK][BN + PAD];
    const int tid = threadIdx.x, tx = tid % TX, ty = tid / TX;
    /* The thread's register tile: TM / 4 runs of 4 rows, one in each of TM / 4 equal slices of
       the block tile (CUTLASS's layout), and likewise for columns. */
    auto row_of = [&](int i) { return (i / 4) * (BM / (TM / 4)) + ty * 4 + (i % 4); };
    auto col_of = [&](int j) { return (j / 4) * (BN / (TN / 4)) + tx * 4 + (j % 4); };
    const pg_i64 m0 = (pg_i64)blockIdx.y * BM, n0 = (pg_i64)blockIdx.x * BN;
    const bool a_k_fast = g.a[3] == 1 && g.a[2] != 1;
    const bool b_n_fast = g.b[3] == 1 || g.b[2] != 1;
    const int tiles = (int)((g.k + BK - 1) / BK);
    for (pg_i64 bz = blockIdx.z; bz < g.batch; bz += gridDim.z) {
        const pg_i64 b1 = bz / g.batch2, b2 = bz % g.batch2;
        const T *Ab = A + b1 * g.a[0] + b2 * g.a[1];
        const T *Bb = B + b1 * g.b[0] + b2 * g.b[1];
        T *Cb = C + b1 * g.c[0] + b2 * g.c[1];
        T ra[A_LOADS], rb[B_LOADS];
        /* which tile element the l-th load of this thread is: (row, k) of A, (k, column) of B */
        auto a_at = [&](int l, int &mm, int &kk) {
            int idx = tid + l * THREADS;
            if (a_k_fast) { mm = idx / BK; kk = idx % BK; } else { mm = idx % BM; kk = idx / BM; }
        };
        auto b_at = [&](int l, int &kk, int &nn) {
            int idx = tid + l * THREADS;
            if (b_n_fast) { kk = idx / BN; nn = idx % BN; } else { nn = idx / BK; kk = idx % BK; }
        };
        auto fetch = [&](pg_i64 k0) {
#pragma unroll
            for (int l = 0; l < A_LOADS; l++) {
                int mm, kk;
                a_at(l, mm, kk);
                pg_i64 row = m0 + mm, col = k0 + kk;
                ra[l] = (row < g.m && col < g.k) ? Ab[row * g.a[2] + col * g.a[3]] : T(0);
            }
#pragma unroll
            for (int l = 0; l < B_LOADS; l++) {
                int kk, nn;
                b_at(l, kk, nn);
                pg_i64 row = k0 + kk, col = n0 + nn;
                rb[l] = (row < g.k && col < g.n) ? Bb[row * g.b[2] + col * g.b[3]] : T(0);
            }
        };
        auto stash = [&](int buf) {
#pragma unroll
            for (int l = 0; l < A_LOADS; l++) {
                int mm, kk;
                a_at(l, mm, kk);
                As[buf][kk][mm] = ra[l];
            }
#pragma unroll
            for (int l = 0; l < B_LOADS; l++) {
                int kk, nn;
                b_at(l, kk, nn);
                Bs[buf][kk][nn] = rb[l];
            }
        };
        typedef typename Acc<T>::type F;
        F acc[TM][TN];
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
            for (int j = 0; j < TN; j++) acc[i][j] = F(0);
        fetch(0);
        stash(0);
        __syncthreads();
        for (int t = 0; t < tiles; t++) {
            const int cur = t & 1;
            if (t + 1 < tiles) fetch((pg_i64)(t + 1) * BK);
#pragma unroll
            for (int kk = 0; kk < BK; kk++) {
                T at[TM], bt[TN];
                /* rows row_of(i), columns col_of(j): a warp's lanes read neighbouring runs of
                   shared memory and write neighbouring columns of C */
#pragma unroll
                for (int i = 0; i < TM; i += 4) load4(&As[cur][kk][row_of(i)], at + i);
#pragma unroll
                for (int j = 0; j < TN; j += 4) load4(&Bs[cur][kk][col_of(j)], bt + j);
#pragma unroll
                for (int i = 0; i < TM; i++)
#pragma unroll
                    for (int j = 0; j < TN; j++) acc[i][j] += convert<F>(at[i]) * convert<F>(bt[j]);
            }
            if (t + 1 < tiles) stash(cur ^ 1);
            __syncthreads();
        }
        const F alpha = (F)g.alpha, beta = (F)g.beta;
#pragma unroll
        for (int i = 0; i < TM; i++) {
            pg_i64 row = m0 + row_of(i);
            if (row >= g.m) continue;
#pragma unroll
            for (int j = 0; j < TN; j++) {
                pg_i64 col = n0 + col_of(j);
                if (col >= g.n) continue;
                T *c = Cb + row * g.c[2] + col * g.c[3];
                F v = g.alpha == 1.0 ? acc[i][j] : alpha * acc[i][j];
                *c = convert<T>(g.beta == 0.0 ? v : v + beta * convert<F>(*c));
            }
        }
    }
}

}  // namespace pg

/* The tile shape of each floating dtype, X(name, T, BM, BN, BK, TM, TN): 256 threads each
   (plugrad_cuda/linalg.py launches with the same BM and BN). */
#define PG_GEMM_TILES(X) X(float32, float, 128, 128, 8, 8, 8) X(float64, double, 64, 64, 8, 4, 4)

#define PG_GEMM_KERNEL(name, T, BM, BN, BK, TM, TN)                                        \
    extern "C" __global__ void __launch_bounds__(256)                                      \
        pg_gemm_##name(const T *A, const T *B, T *C, pg::GemmArgs g) {                     \
        pg::gemm<T, BM, BN, BK, TM, TN>(A, B, C, g);                                       \
    }                                                                                      \
    PG_REGISTER_KERNEL(pg_gemm_##name)
PG_GEMM_TILES(PG_GEMM_KERNEL)
