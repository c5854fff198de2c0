/* float32 exp, log, tanh, sigmoid and erf on vectors of PG_VW lanes, written with GCC vector
   types. vmath.c includes this file once per SIMD target (PG_VSFX, PG_VTARGET, PG_VW) and
   dispatches at run time like the GEMM micro-kernels. The functions work in double precision
   and round once to float, so results are within 1 ulp of the correctly rounded value (almost
   always equal to it); infinities, NaN, overflow to inf and underflow to subnormals / zero
   follow C99 (libm). erf is a rational approximation instead (within 1e-7 of erf, below). */
#define PG_CAT_(a, b) a##_##b
#define PG_CAT(a, b) PG_CAT_(a, b)
#define PG_T(t) PG_CAT(pg_v##t, PG_VSFX)
#define PG_F(f) PG_CAT(f, PG_VSFX)
#define PG_VINLINE static inline __attribute__((always_inline))

typedef double PG_T(d) __attribute__((vector_size(8 * PG_VW)));
typedef int64_t PG_T(l) __attribute__((vector_size(8 * PG_VW)));
typedef uint64_t PG_T(u) __attribute__((vector_size(8 * PG_VW)));
typedef float PG_T(f) __attribute__((vector_size(4 * PG_VW)));
typedef int32_t PG_T(i) __attribute__((vector_size(4 * PG_VW)));
typedef uint32_t PG_T(ui) __attribute__((vector_size(4 * PG_VW)));


PG_VINLINE PG_VTARGET PG_T(d) PG_F(pg_vsel)(PG_T(l) m, PG_T(d) a, PG_T(d) b) {
    return (PG_T(d))((m & (PG_T(l))a) | (~m & (PG_T(l))b));
}
PG_VINLINE PG_VTARGET PG_T(f) PG_F(pg_vself)(PG_T(i) m, PG_T(f) a, PG_T(f) b) {
    return (PG_T(f))((m & (PG_T(i))a) | (~m & (PG_T(i))b));
}

/* exp(x) for x in [-700, 700] (NaN propagates): Cody-Waite reduction by ln 2 and a degree-11
   Taylor polynomial on |r| <= ln2/2 (relative error below 1e-14). */
PG_VINLINE PG_VTARGET PG_T(d) PG_F(pg_vexp_core)(PG_T(d) x) {
    const double shifter = 0x1.8p52;
    PG_T(d) t = x * 1.4426950408889634 + shifter;
    PG_T(d) n = t - shifter;
    PG_T(d) r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
    PG_T(d) p = r * (1.0 / 39916800.0) + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* the low mantissa bits of t hold n + 2^51: shifted into the exponent they give 2^n */
    PG_T(d) scale = (PG_T(d))(((PG_T(u))t + 1023u) << 52);
    return p * scale;
}

/* clamp to [-200, 200]; NaN passes through */
PG_VINLINE PG_VTARGET PG_T(d) PG_F(pg_vclamp200)(PG_T(d) x) {
    const PG_T(d) lo = PG_VD_(-200.0), hi = PG_VD_(200.0);
    x = PG_F(pg_vsel)(x < lo, lo, x);
    return PG_F(pg_vsel)(x > hi, hi, x);
}

PG_VINLINE PG_VTARGET PG_T(d) PG_F(pg_vwiden)(PG_T(f) v) { return __builtin_convertvector(v, PG_T(d)); }
PG_VINLINE PG_VTARGET PG_T(f) PG_F(pg_vnarrow)(PG_T(d) v) { return __builtin_convertvector(v, PG_T(f)); }

PG_VINLINE PG_VTARGET PG_T(f) PG_F(pg_vexpf)(PG_T(f) v) { return PG_F(pg_vnarrow)(PG_F(pg_vexp_core)(PG_F(pg_vclamp200)(PG_F(pg_vwiden)(v)))); }

PG_VINLINE PG_VTARGET PG_T(f) PG_F(pg_vsigmoidf)(PG_T(f) v) {
    return PG_F(pg_vnarrow)(1.0 / (1.0 + PG_F(pg_vexp_core)(PG_F(pg_vclamp200)(-PG_F(pg_vwiden)(v)))));
}

PG_VINLINE PG_VTARGET PG_T(f) PG_F(pg_vtanhf)(PG_T(f) v) {
    PG_T(d) x = PG_F(pg_vwiden)(v);
    PG_T(l) sign = (PG_T(l))x & INT64_MIN;
    PG_T(d) ax = (PG_T(d))((PG_T(l))x & INT64_MAX);
    PG_T(d) e = PG_F(pg_vexp_core)(2.0 * PG_F(pg_vsel)(ax > 20.0, PG_VD_(20.0), ax));
    PG_T(d) big = (PG_T(d))((PG_T(l))((e - 1.0) / (e + 1.0)) | sign);
    PG_T(d) z = x * x;
    /* x * (...) rather than x + x * (...) keeps the sign of -0 */
    PG_T(d) small = x * (1.0 + z * (-1.0 / 3 + z * (2.0 / 15 + z * (-17.0 / 315 + z * (62.0 / 2835)))));
    return PG_F(pg_vnarrow)(PG_F(pg_vsel)(ax < 0.0625, small, big));
}

PG_VINLINE PG_VTARGET PG_T(f) PG_F(pg_vlogf)(PG_T(f) v) {
    PG_T(i) sub = v < 0x1p-126f;
    PG_T(f) xs = PG_F(pg_vself)(sub, v * 0x1p23f, v);
    PG_T(ui) ix = (PG_T(ui))xs;
    PG_T(i) e = (PG_T(i))((ix >> 23) & 0xffu) - 127 + (sub & -23);
    PG_T(f) m = (PG_T(f))((ix & 0x7fffffu) | 0x3f800000u); /* [1, 2) */
    PG_T(i) hi = m > 1.41421356f;
    m = PG_F(pg_vself)(hi, m * 0.5f, m);
    e -= hi; /* hi is -1 where true */
    PG_T(d) md = PG_F(pg_vwiden)(m);
    PG_T(d) s = (md - 1.0) / (md + 1.0);
    PG_T(d) z = s * s;
    PG_T(d) p = z * (1.0 / 15) + 1.0 / 13;
    p = p * z + 1.0 / 11;
    p = p * z + 1.0 / 9;
    p = p * z + 1.0 / 7;
    p = p * z + 1.0 / 5;
    p = p * z + 1.0 / 3;
    p = p * z + 1.0;
    PG_T(d) r = __builtin_convertvector(e, PG_T(d)) * 0.69314718055994530942 + 2.0 * s * p;
    PG_T(f) res = PG_F(pg_vnarrow)(r);
    res = PG_F(pg_vself)(v == 0.0f, PG_VF_(-__builtin_inff()), res);
    res = PG_F(pg_vself)(v < 0.0f, PG_VF_(__builtin_nanf("")), res);
    res = PG_F(pg_vself)(v == __builtin_inff(), v, res);
    res = PG_F(pg_vself)(v != v, v, res);
    return res;
}


/* erf(x): x clamped to [-4, 4] (beyond, erf is +-1 in float32), then x * P(x^2) / Q(x^2), the
   rational minimax approximation of Eigen's and XNNPACK's float erf, evaluated in double:
   absolute error below 1e-7 on the whole line, relative error near 0 about 1e-7. The result
   is clamped to [-1, 1]; -0 stays -0 and NaN propagates (the clamps pass it through). */
PG_VINLINE PG_VTARGET PG_T(f) PG_F(pg_verff)(PG_T(f) v) {
    const PG_T(d) lo = PG_VD_(-4.0), hi = PG_VD_(4.0);
    PG_T(d) x = PG_F(pg_vwiden)(v);
    x = PG_F(pg_vsel)(x < lo, lo, x);
    x = PG_F(pg_vsel)(x > hi, hi, x);
    PG_T(d) z = x * x;
    PG_T(d) p = z * -2.72614225801306e-10 + 2.77068142495902e-08;
    p = p * z + -2.10102402082508e-06;
    p = p * z + -5.69250639462346e-05;
    p = p * z + -7.34990630326855e-04;
    p = p * z + -2.95459980854025e-03;
    p = p * z + -1.60960333262415e-02;
    PG_T(d) q = z * -1.45660718464996e-05 + -2.13374055278905e-04;
    q = q * z + -1.68282697438203e-03;
    q = q * z + -7.37332916720468e-03;
    q = q * z + -1.42647390514189e-02;
    PG_T(d) r = x * (p / q);
    r = PG_F(pg_vsel)(r > 1.0, PG_VD_(1.0), r);
    r = PG_F(pg_vsel)(r < -1.0, PG_VD_(-1.0), r);
    return PG_F(pg_vnarrow)(r);
}
