/*
 * fastgrad: the pointwise losses and the build macros shared by the kernels
 * (fastgrad_kernels.c for dense X, fg_csr.c for CSR X).  Each .c file that
 * includes it gets its own static inline copies.  Not a public header.
 */
#ifndef FG_POINTWISE_H
#define FG_POINTWISE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "fastgrad_kernels.h"

/* The ISA clones are whole translation units now (fg_isa.h), each compiled
 * for its target; FG_CLONES, once GCC's target_clones, marks nothing. */
#define FG_CLONES

#if defined(__GNUC__)
#define FG_INLINE static inline __attribute__((always_inline))
#else
#define FG_INLINE static inline
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FG_RESTRICT __restrict__
#define FG_PREFETCH(p) __builtin_prefetch((p), 0, 3)
/* into L2 (prefetcht1): not the L1 fill buffers (see _plan.STREAM_AHEAD_BYTES) */
#define FG_PREFETCH_L2(p) __builtin_prefetch((p), 0, 2)
#else
#define FG_RESTRICT
#define FG_PREFETCH(p) ((void)0)
#define FG_PREFETCH_L2(p) ((void)0)
#endif

/* ---- pointwise losses, stable for every finite z ------------------------
 * logistic: l(z, y) = log(1 + e^z) - y z, written by the sign of z so that
 * the exponential never overflows and nothing cancels (as in scikit-learn's
 * sklearn/_loss/_loss.pyx.tp).  With e = exp(-|z|) <= 1:
 *   z >= 0: l = log1p(e) + (1 - y) z,  l' = ((1 - y) - y e) / (1 + e)
 *   z <  0: l = log1p(e) - y z,        l' = ((1 - y) e - y) / (1 + e)
 *   l'' = e / (1 + e)^2
 * exp and log1p are our own branch-free versions (below) so that the loops
 * over a block of rows vectorise; both are accurate to a few ulp.
 */
typedef union { double d; int64_t i; } fg_pun;

/* GCC/clang vector extensions: 4 doubles, lowered to AVX2, AVX-512 or SSE2
 * by the clone being compiled */
#if (defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 9) && !defined(FG_NO_VECEXT)
#define FG_HAVE_VECEXT 1
typedef double fg_v4d __attribute__((vector_size(32)));
typedef float fg_v4f __attribute__((vector_size(16)));
typedef int64_t fg_v4i __attribute__((vector_size(32)));
#else
#define FG_HAVE_VECEXT 0
#endif

/* The core of fg_expneg and fg_exp: x = k ln2 + r with |r| <= ln2/2 (x already
 * clamped by the caller), e^r by a degree-11 polynomial fitted to e^r on
 * [-ln2/2, ln2/2] (relative error of the fit 3e-18; tools/fit_poly.py); returns
 * e^r and sets *k.  Estrin's scheme: a dependency chain of 5 operations instead
 * of 11. */
FG_INLINE double fg_exp_core(double xc, int64_t *k)
{
    const double shift = 6755399441055744.0; /* 1.5 * 2^52: rounds to integer */
    const double log2e = 1.4426950408889634;
    const double ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
    fg_pun t, sh;
    t.d = xc * log2e + shift;
    sh.d = shift;
    double kd = t.d - shift;
    double r = (xc - kd * ln2hi) - kd * ln2lo;
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double q0 = 1.0 + r, q1 = 0.5000000000000018 + r * 0.16666666666666147;
    double q2 = 0.04166666666649316 + r * 0.008333333333569098;
    double q3 = 0.0013888888951133485 + r * 0.00019841269413815112;
    double q4 = 2.480148660775664e-05 + r * 2.7557638344026344e-06;
    double q5 = 2.763226447373137e-07 + r * 2.4989491355772434e-08;
    double u0 = q0 + r2 * q1, u1 = q2 + r2 * q3, u2 = q4 + r2 * q5;
    *k = t.i - sh.i;
    return (u0 + r4 * u1) + r8 * u2;
}

/* exp(x) for x <= 0 (or NaN): 2^k e^r (fg_exp_core); 0 below -708 where the
 * result would be subnormal (an absolute error under 3e-308). */
FG_INLINE double fg_expneg(double x)
{
    double xc = x < -708.0 ? -708.0 : x;
    int64_t k;
    double p = fg_exp_core(xc, &k);
    fg_pun sc;
    sc.i = (k + 1023) << 52;                /* 2^k */
    double res = p * sc.d;
    return x < -708.0 ? 0.0 : res;
}

/* exp(x) for every x (the log-link losses): fg_exp_core, with 2^k applied as
 * two factors 2^(k/2) 2^(k - k/2), so that results run from the subnormals (0
 * below -745) up to +inf (above 709.78, by overflow of the product: no branch,
 * no NaN); NaN stays NaN. */
FG_INLINE double fg_exp(double x)
{
    double xc = x > 710.0 ? 710.0 : x;
    xc = xc < -746.0 ? -746.0 : xc;
    int64_t k;                               /* in [-1076, 1024] (NaN: anything) */
    double p = fg_exp_core(xc, &k);
    int64_t k1 = k >> 1, k2 = k - k1;
    fg_pun s1, s2;
    s1.i = (int64_t)((uint64_t)(k1 + 1023) << 52);
    s2.i = (int64_t)((uint64_t)(k2 + 1023) << 52);
    return (p * s1.d) * s2.d;
}

/* log1p(e) for e in [0, 1] from s = e / (2 + e) in [0, 1/3]: 2 atanh(s) =
 * 2 s P(s^2), P a degree-10 polynomial fitted to atanh(s)/s on s^2 in
 * [0, 1/9] (relative error of the fit 1.3e-18; tools/fit_poly.py).
 * Polynomials are evaluated by Estrin's scheme: the vectorised loops are
 * bound by the latency of the chain, not by the number of operations. */
FG_INLINE double fg_log1p_s(double s)
{
    double u = s * s;
    double u2 = u * u, u4 = u2 * u2, u8 = u4 * u4;
    double a0 = 1.0 + u * 0.3333333333333307;
    double a1 = 0.2000000000009337 + u * 0.14285714272669545;
    double a2 = 0.1111111204375274 + u * 0.09090870302302582;
    double a3 = 0.07693309359409381 + u * 0.06650157332425342;
    double a4 = 0.060553120094590594 + u * 0.04161286981016405;
    double b0 = a0 + u2 * a1, b1 = a2 + u2 * a3, b2 = a4 + u2 * 0.0852382451767922;
    double p = (b0 + u4 * b1) + u8 * b2;
    return 2.0 * s * p;
}

FG_INLINE double fg_log1p01(double e) { return fg_log1p_s(e / (2.0 + e)); }

FG_INLINE double pw_loss(int loss, double z, double y)
{
    if (loss == FG_SQUARED) {
        double r = z - y;
        return 0.5 * r * r;
    }
    double e = fg_expneg(-fabs(z));
    return fg_log1p01(e) + (z >= 0 ? (1.0 - y) * z : -y * z);
}

/* logistic: one division per row, q = 1 / ((1 + e)(2 + e)), gives both
 * s = e / (2 + e) = e (1 + e) q and 1 / (1 + e) = (2 + e) q.
 * The losses go to lb and are summed after the loop: an `omp simd
 * reduction` here is left unvectorised by GCC (its per-lane arrays then
 * live in memory and the loop runs several times slower).
 * HAS_W, WANT_D: constants at every call, so the loop has no branches. */
FG_INLINE void pw_logistic(const int HAS_W, const int WANT_D, ptrdiff_t nb,
                           const double *FG_RESTRICT z, const double *FG_RESTRICT y,
                           const double *FG_RESTRICT w, double *FG_RESTRICT d,
                           double *FG_RESTRICT lb)
{
#pragma omp simd
    for (ptrdiff_t b = 0; b < nb; b++) {
        double zb = z[b], yb = y[b], wb = HAS_W ? w[b] : 1.0;
        double e = fg_expneg(-fabs(zb));
        double ope = 1.0 + e, tpe = 2.0 + e;
        double q = 1.0 / (ope * tpe);
        lb[b] = wb * (fg_log1p_s(e * ope * q) + (zb >= 0 ? (1.0 - yb) * zb : -yb * zb));
        if (WANT_D) {
            double num = zb >= 0 ? (1.0 - yb) - yb * e : (1.0 - yb) * e - yb;
            d[b] = wb * num * (tpe * q);
        }
    }
}

/* The log-link losses (API.md's table; the terms free of z dropped, as in
 * scikit-learn's HalfPoissonLoss, HalfGammaLoss, HalfTweedieLoss):
 *   poisson: l = e^z - y z,    l' = e^z - y,      l'' = e^z
 *   gamma:   l = z + y e^-z,   l' = 1 - y e^-z,   l'' = y e^-z
 *   tweedie (power p, not 1 or 2): with a = e^((2-p) z), b = e^((1-p) z),
 *            l = a/(2-p) - y b/(1-p),  l' = a - y b,  l'' = (2-p) a - (1-p) y b
 * One exp per row for poisson and gamma (fg_exp: inf where e^z overflows,
 * and inf - y z or z + inf stay inf).  Tweedie: a and b can both overflow,
 * with opposite signs (p <= 0, z > 0; p > 2, z < 0), so the larger one is
 * factored out: E = e^((2-p) z) for z >= 0 (a = E, b = E s), E = e^((1-p) z)
 * for z < 0 (a = E s, b = E), with s = e^-|z| <= 1 (fg_expneg): two exps a row,
 * the exponent rounded as scikit-learn rounds it, and each bracket finite, so
 * E * bracket is the right inf, never inf - inf.  A bracket of exactly 0 gives 0
 * (not inf * 0).  L: the loss (a constant at every call); HAS_W, MODE likewise
 * (MODE 0: d = w l', lb = w l; 1: lb = w l; 2: d = w l'' t). */
FG_INLINE void pw_loglink(const int L, const int HAS_W, const int MODE, double pw,
                          ptrdiff_t nb, const double *FG_RESTRICT z,
                          const double *FG_RESTRICT t, const double *FG_RESTRICT y,
                          const double *FG_RESTRICT w, double *FG_RESTRICT d,
                          double *FG_RESTRICT lb)
{
    const double c2 = 2.0 - pw, c1 = 1.0 - pw;
    const double i2 = 1.0 / c2, i1 = 1.0 / c1;
#pragma omp simd
    for (ptrdiff_t b = 0; b < nb; b++) {
        const double zb = z[b], yb = y[b], wb = HAS_W ? w[b] : 1.0;
        double l, g, h;
        if (L == FG_POISSON) {
            const double e = fg_exp(zb);
            l = e - yb * zb;
            g = e - yb;
            h = e;
        } else if (L == FG_GAMMA) {
            const double ye = yb * fg_exp(-zb);
            l = zb + ye;
            g = 1.0 - ye;
            h = ye;
        } else {
            const int pos = zb >= 0;
            const double s = fg_expneg(-fabs(zb));
            const double E = fg_exp((pos ? c2 : c1) * zb);
            const double A = pos ? 1.0 : s, yB = yb * (pos ? s : 1.0);
            const double bl = A * i2 - yB * i1, bg = A - yB, bh = c2 * A - c1 * yB;
            l = bl == 0.0 ? 0.0 : E * bl;
            g = bg == 0.0 ? 0.0 : E * bg;
            h = bh == 0.0 ? 0.0 : E * bh;
        }
        if (MODE == 2) {
            d[b] = wb * (h * t[b]);
        } else {
            lb[b] = wb * l;
            if (MODE == 0) d[b] = wb * g;
        }
    }
}

/* pw_loglink with its constants: one vectorised loop per (loss, w?, mode) */
FG_INLINE void pw_loglink_case(int loss, int mode, double pw, ptrdiff_t nb,
                               const double *FG_RESTRICT z, const double *FG_RESTRICT t,
                               const double *FG_RESTRICT y, const double *FG_RESTRICT w,
                               double *FG_RESTRICT d, double *FG_RESTRICT lb)
{
#define FG_LL(L) do {                                                             \
        if (w) {                                                                  \
            if (mode == 0) pw_loglink(L, 1, 0, pw, nb, z, t, y, w, d, lb);        \
            else if (mode == 1) pw_loglink(L, 1, 1, pw, nb, z, t, y, w, d, lb);   \
            else pw_loglink(L, 1, 2, pw, nb, z, t, y, w, d, lb);                  \
        } else {                                                                  \
            if (mode == 0) pw_loglink(L, 0, 0, pw, nb, z, t, y, w, d, lb);        \
            else if (mode == 1) pw_loglink(L, 0, 1, pw, nb, z, t, y, w, d, lb);   \
            else pw_loglink(L, 0, 2, pw, nb, z, t, y, w, d, lb);                  \
        }                                                                         \
    } while (0)
    if (loss == FG_POISSON) FG_LL(FG_POISSON);
    else if (loss == FG_GAMMA) FG_LL(FG_GAMMA);
    else FG_LL(FG_TWEEDIE);
#undef FG_LL
}

/* the Hessian of these losses reads y (so the kernels gather y in hessp mode) */
FG_INLINE int fg_hess_needs_y(int loss) { return loss == FG_GAMMA || loss == FG_TWEEDIE; }

/*
 * The pointwise step over a block of nb rows (one output):
 *   mode 0: d = w l'(z, y), returns sum w l(z, y)
 *   mode 1: returns sum w l(z, y) (d untouched)
 *   mode 2: d = w l''(z) t (t = x.v), returns 0
 * z, t, y, w: contiguous doubles (w NULL: all ones); lb: nb doubles of scratch;
 * pw: the tweedie power (unused by the other losses).
 * One loop per case, so each vectorises.
 */
/* one function (compiled for every FG_CLONES target), not inlined: it is
 * called once per block of rows, and a copy inlined at each of the kernels'
 * call sites made the build take minutes */
#if defined(__GNUC__)
__attribute__((noinline, unused))
#endif
static FG_CLONES double pw_block(int loss, double pw, int mode, ptrdiff_t nb,
                          const double *FG_RESTRICT z,
                          const double *FG_RESTRICT t, const double *FG_RESTRICT y,
                          const double *FG_RESTRICT w, double *FG_RESTRICT d,
                          double *FG_RESTRICT lb)
{
    double acc = 0.0;
    if (loss >= FG_POISSON) {
        pw_loglink_case(loss, mode, pw, nb, z, t, y, w, d, lb);
        if (mode == 2) return 0.0;
    } else if (mode == 2) {
        if (loss == FG_SQUARED) {
            if (w) {
#pragma omp simd
                for (ptrdiff_t b = 0; b < nb; b++) d[b] = w[b] * t[b];
            } else {
#pragma omp simd
                for (ptrdiff_t b = 0; b < nb; b++) d[b] = t[b];
            }
        } else {
            if (w) {
#pragma omp simd
                for (ptrdiff_t b = 0; b < nb; b++) {
                    double e = fg_expneg(-fabs(z[b]));
                    double q = 1.0 / (1.0 + e);
                    d[b] = w[b] * (e * q * q * t[b]);
                }
            } else {
#pragma omp simd
                for (ptrdiff_t b = 0; b < nb; b++) {
                    double e = fg_expneg(-fabs(z[b]));
                    double q = 1.0 / (1.0 + e);
                    d[b] = e * q * q * t[b];
                }
            }
        }
        return 0.0;
    }
    if (loss == FG_SQUARED) {
        if (mode == 1 && w) {
#pragma omp simd reduction(+ : acc)
            for (ptrdiff_t b = 0; b < nb; b++) {
                double r = z[b] - y[b];
                acc += 0.5 * r * r * w[b];
            }
        } else if (mode == 1) {
#pragma omp simd reduction(+ : acc)
            for (ptrdiff_t b = 0; b < nb; b++) {
                double r = z[b] - y[b];
                acc += 0.5 * r * r;
            }
        } else if (w) {
#pragma omp simd reduction(+ : acc)
            for (ptrdiff_t b = 0; b < nb; b++) {
                double r = z[b] - y[b];
                double wr = w[b] * r;
                acc += 0.5 * wr * r;
                d[b] = wr;
            }
        } else {
#pragma omp simd reduction(+ : acc)
            for (ptrdiff_t b = 0; b < nb; b++) {
                double r = z[b] - y[b];
                acc += 0.5 * r * r;
                d[b] = r;
            }
        }
        return acc;
    }
    /* logistic: the loop is written once (pw_logistic) and instantiated per
     * (weights?, derivative?) so that no masked loads or stores are left in it
     * (AMD runs masked stores slowly) */
    if (loss >= FG_POISSON) {
        /* lb was filled above */
    } else if (mode == 0) {
        if (w) pw_logistic(1, 1, nb, z, y, w, d, lb);
        else pw_logistic(0, 1, nb, z, y, w, d, lb);
    } else {
        if (w) pw_logistic(1, 0, nb, z, y, w, d, lb);
        else pw_logistic(0, 0, nb, z, y, w, d, lb);
    }
    double a4[4] = {0.0, 0.0, 0.0, 0.0};
    ptrdiff_t b = 0;
    for (; b + 4 <= nb; b += 4)
        for (int l = 0; l < 4; l++) a4[l] += lb[b + l];
    for (; b < nb; b++) a4[0] += lb[b];
    return acc + ((a4[0] + a4[1]) + (a4[2] + a4[3]));
}

#endif /* FG_POINTWISE_H */
