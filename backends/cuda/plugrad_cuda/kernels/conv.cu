/* The data movement of conv2d as im2col + GEMM (gemm.cu): im2col lays a chunk of images out as
   columns, cols[c * KH * KW + i * KW + j][image * OH * OW + p * OW + q] (one row per input
   channel and tap, so a group's rows are contiguous), and col2im folds such columns back into
   an input gradient, each input element summing the taps that read it (no atomics). */
#include "pg_common.cuh"

namespace pg {

struct ConvShape {
    pg_i64 n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups;
};

/* images [n0, n0 + count) of x (N, C, H, W) into cols (C*KH*KW, count*OH*OW) */
template <class T>
__device__ void im2col(const T *x, T *cols, const ConvShape &s, pg_i64 n0, pg_i64 count) {
    const pg_i64 ohw = s.oh * s.ow, taps = s.kh * s.kw;
    const pg_i64 total = s.c * taps * count * ohw;
    for (pg_i64 e = global_thread(); e < total; e += grid_threads()) {
        pg_i64 pq = e % ohw, t = e / ohw;
        pg_i64 image = t % count, row = t / count;
        pg_i64 c = row / taps, tap = row % taps;
        pg_i64 i = tap / s.kw, j = tap % s.kw;
        pg_i64 y = (pq / s.ow) * s.sh - s.ph + i * s.dh;
        pg_i64 xx = (pq % s.ow) * s.sw - s.pw + j * s.dw;
        T v = T(0);
        if (y >= 0 && y < s.h && xx >= 0 && xx < s.w)
            v = x[(((n0 + image) * s.c + c) * s.h + y) * s.w + xx];
        cols[e] = v;
    }
}

/* cols (C*KH*KW, count*OH*OW) back into grad_x (N, C, H, W) for images [n0, n0 + count) */
template <class T>
__device__ void col2im(const T *cols, T *grad_x, const ConvShape &s, pg_i64 n0, pg_i64 count) {
    typedef typename Acc<T>::type A;
    const pg_i64 ohw = s.oh * s.ow, taps = s.kh * s.kw, width = count * ohw;
    const pg_i64 total = count * s.c * s.h * s.w;
    for (pg_i64 e = global_thread(); e < total; e += grid_threads()) {
        pg_i64 xx = e % s.w, t = e / s.w;
        pg_i64 y = t % s.h;
        t /= s.h;
        pg_i64 c = t % s.c, image = t / s.c;
        A sum = A(0);
        for (pg_i64 i = 0; i < s.kh; i++) {
            pg_i64 py = y + s.ph - i * s.dh;
            if (py < 0 || py % s.sh) continue;
            pg_i64 p = py / s.sh;
            if (p >= s.oh) continue;
            for (pg_i64 j = 0; j < s.kw; j++) {
                pg_i64 qx = xx + s.pw - j * s.dw;
                if (qx < 0 || qx % s.sw) continue;
                pg_i64 q = qx / s.sw;
                if (q >= s.ow) continue;
                pg_i64 col = image * ohw + p * s.ow + q;
                sum += convert<A>(cols[(c * taps + i * s.kw + j) * width + col]);
            }
        }
        grad_x[(n0 * s.c) * s.h * s.w + e] = convert<T>(sum);
    }
}

}  // namespace pg

#define PG_CONV_KERNELS(name, T)                                                           \
    extern "C" __global__ void pg_im2col_##name(const T *x, T *cols, pg::ConvShape s,      \
                                                pg_i64 n0, pg_i64 count) {                 \
        pg::im2col(x, cols, s, n0, count);                                                 \
    }                                                                                      \
    PG_REGISTER_KERNEL_NO_SYNC(pg_im2col_##name)                                            \
    extern "C" __global__ void pg_col2im_##name(const T *cols, T *grad_x, pg::ConvShape s, \
                                                pg_i64 n0, pg_i64 count) {                 \
        pg::col2im(cols, grad_x, s, n0, count);                                            \
    }                                                                                      \
    PG_REGISTER_KERNEL_NO_SYNC(pg_col2im_##name)
PG_FLOAT_DTYPES(PG_CONV_KERNELS)
