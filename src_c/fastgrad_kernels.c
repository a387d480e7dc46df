/*
 * fastgrad: the row micro-kernels (see fastgrad_kernels.h).
 *
 * The loops are written once in fg_kernel_impl.h and instantiated here for
 * double and float.  The entry points are compiled for several instruction
 * sets: this file compiled as itself is the portable baseline clone, and
 * fg_dense_avx2.c / fg_dense_avx512.c compile it again for x86-64-v3 (AVX2 +
 * FMA) and x86-64-v4 (AVX-512) with their entry points renamed; fg_isa.c
 * picks one at import (fg_isa.h).  What is not a kernel (the sizes, the
 * pointwise functions exposed for tests) is compiled in the baseline only.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "fastgrad_kernels.h"
#include "fg_pointwise.h"  /* build macros, fg_expneg, fg_log1p_s, pw_block */
#include "fg_isa_names.h"  /* fg_chunk_f64 -> fg_chunk_f64_<clone>, ... */

#ifndef FG_ISA_CLONE

double fg_log1pexp(double z)
{
    double e = fg_expneg(-fabs(z));
    return (z >= 0 ? z : 0.0) + fg_log1p01(e);
}
double fg_logistic_loss(double z, double y) { return pw_loss(FG_LOGISTIC, z, y); }
double fg_sigmoid(double z)
{
    double e = fg_expneg(-fabs(z));
    return z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

#endif /* !FG_ISA_CLONE */

/* the multinomial (softmax) step for one row */
#include "fg_multinomial.h"

#ifndef FG_ISA_CLONE

/* ---- sizes --------------------------------------------------------------- */
ptrdiff_t fg_col_block(ptrdiff_t n, ptrdiff_t k, int itemsize)
{
    /* rows per block of an F-ordered X (n columns): long column segments
     * (256 to 2048 rows, and a block of at most about 4 MiB, so its second
     * sweep reads it from L2 or L3).  Blocks sized for L2 alone were shorter
     * (32 rows for n = 1000) and slower: with 4-row-long column segments the
     * hardware prefetcher never gets going, and the per-segment overhead
     * dominates (C harness, 40,000 x 1000: 32 rows 3.0x a gemv read, 512
     * rows 1.8x; 500,000 x 100: 320 rows 1.48x, 1024 rows 1.52x-1.53x, all
     * without software prefetch, which only lost). */
    ptrdiff_t b = (ptrdiff_t)(4 << 20) / ((n > 0 ? n : 1) * itemsize);
    ptrdiff_t cap = (ptrdiff_t)(256 * 1024) / ((k > 0 ? k : 1) * 8);
    if (b > 2048) b = 2048;
    if (b < 256) b = 256;
    if (b > cap) b = cap;
    b &= ~(ptrdiff_t)7;
    if (b < 16) b = 16;
    return b;
}

size_t fg_work_size(const fg_args *a)
{
    /* row path: 4 gathered rows + z, t, y, w, d, lb (max(k, 4) each), the
     * same for blocks of 64 rows, and the small-n tail's own; column path: z, t, d (k blocks each), y, w, lb,
     * and 4 gathered segments */
    size_t kk = a->k > 4 ? (size_t)a->k : 4;
    size_t row = 4 * (size_t)a->n + 6 * kk + 32 + 64 + 12 * 64 + 16;  /* + blocks of 64 */
    /* the column path only for the X that fg_chunk sends there (its test):
     * otherwise small problems would carry its L2-sized blocks (80 KiB at
     * n = 32) and need a malloc instead of the caller's stack buffer */
    size_t col = (a->sr == 1 && a->sc != 1 && a->n > 1)
                     ? (3 * (size_t)a->k + 7) * (size_t)a->block + 2 * kk : 0;
    if (a->loss == FG_MULTINOMIAL) {
        /* the multinomial row path: padded copies of coef, v and the gradient
         * (n x kp each), padded intercepts, 5 row buffers of 4 x kp, doubles to
         * align them (and 4 n more than it now uses: rows are no longer gathered) */
        size_t kp = ((size_t)a->k + 3) & ~(size_t)3;
        size_t mn = (3 * (size_t)a->n + 2 + 20) * kp + 4 * (size_t)a->n + 8;
        row = row > mn ? row : mn;
    }
    return (row > col ? row : col) + 16;
}

#endif /* !FG_ISA_CLONE */

/* 0: loss and gradient, 1: loss only, 2: Hessian-vector product */
FG_INLINE int fg_mode(const fg_args *a) { return a->hess ? 2 : (a->want_grad ? 0 : 1); }

/* The paths fg_chunk dispatches to are functions of their own, each compiled
 * in every ISA clone: one function holding them all took GCC
 * minutes to compile (its passes grow faster than linearly with the size of
 * a function); a call per chunk costs nothing. */
#if defined(__GNUC__)
#define FG_PATH static FG_CLONES __attribute__((noinline))
#else
#define FG_PATH static
#endif

/* ---- the loops, once per dtype ------------------------------------------ */
#define T double
#define SFX _f64
#include "fg_kernel_impl.h"
#undef T
#undef SFX

#define T float
#define SFX _f32
#include "fg_kernel_impl.h"
#undef T
#undef SFX

/* ---- the logistic loss's range check -------------------------------------- */
/* Each y of rows [0, nrows) (a->rows[0 .. nrows) when given) in [0, 1]; NaN is
 * not.  Blocks of 1024 rows, each counted by a branch-free loop that
 * vectorises (callgrind, 3 calls on 50,000 x 8 float64 logistic: 2.3
 * instructions a row, where a Cython loop that returned at the first bad
 * value ran 9: 1.35M of the call's 9.0M). */
#define FG_Y01_LOOP(T)                                                          \
    do {                                                                        \
        const T *y = (const T *)a->y;                                           \
        if (rows) {                                                             \
            _Pragma("omp simd reduction(+ : bad)")                              \
            for (ptrdiff_t i = i0; i < i1; i++) {                               \
                const double v = (double)y[rows[i] * ys];                       \
                bad += ((v >= 0.0) & (v <= 1.0)) ? 0.0 : 1.0;                   \
            }                                                                   \
        } else if (ys == 1) {                                                   \
            _Pragma("omp simd reduction(+ : bad)")                              \
            for (ptrdiff_t i = i0; i < i1; i++) {                               \
                const double v = (double)y[i];                                  \
                bad += ((v >= 0.0) & (v <= 1.0)) ? 0.0 : 1.0;                   \
            }                                                                   \
        } else {                                                                \
            for (ptrdiff_t i = i0; i < i1; i++) {                               \
                const double v = (double)y[i * ys];                             \
                bad += ((v >= 0.0) & (v <= 1.0)) ? 0.0 : 1.0;                   \
            }                                                                   \
        }                                                                       \
    } while (0)

FG_CLONES
int fg_y_in_unit(const fg_args *a, int f32, ptrdiff_t nrows)
{
    const ptrdiff_t *rows = a->rows;
    const ptrdiff_t ys = a->ys0;
    for (ptrdiff_t i0 = 0; i0 < nrows; i0 += 1024) {
        const ptrdiff_t i1 = nrows - i0 < 1024 ? nrows : i0 + 1024;
        double bad = 0.0;
        if (f32) FG_Y01_LOOP(float);
        else FG_Y01_LOOP(double);
        if (bad != 0.0) return 0;
    }
    return 1;
}
#undef FG_Y01_LOOP
