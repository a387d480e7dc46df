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
size_t fg_work_size(const fg_args *a)
{
    /* row path: 4 gathered rows + z, t, y, w, d, lb (max(k, 4) each), the
     * same for blocks of 64 rows, and the small-n tail's own, and coef and v
     * as doubles (rows_k1 on float rows, 64-byte aligned); column path: z, t, d (k blocks each), y, w, lb,
     * and 4 gathered segments */
    size_t kk = a->k > 4 ? (size_t)a->k : 4;
    size_t row = 6 * (size_t)a->n + 6 * kk + 32 + 64 + 12 * 64 + 40;  /* + blocks of 64 */
    /* the column path only when the plan chose it: otherwise small problems
     * would carry its L2-sized blocks (80 KiB at n = 32) and need a malloc
     * instead of the caller's stack buffer */
    /* rows_k1 on float rows of the avx512 clone: a block of rows as doubles */
    if (a->stream & FG_STREAM_SEQ) row += (size_t)32 /* FG_BR / 2 */ * (((size_t)a->n + 7) & ~(size_t)7) + 8;
    size_t col = a->path == FG_PATH_COLS
                     ? (3 * (size_t)a->k + 7) * (size_t)a->block_rows + 2 * kk : 0;
    if (a->loss == FG_MULTINOMIAL) {
        /* the multinomial row path: padded copies of coef, v and the gradient
         * (n x kp each), padded intercepts, 5 row buffers of 4 x kp, doubles to
         * align them (and 4 n more than it now uses: rows are no longer gathered) */
        size_t kp = ((size_t)a->k + 3) & ~(size_t)3;
        size_t mn = (3 * (size_t)a->n + 2 + 20) * kp + 4 * (size_t)a->n + 8;
        row = row > mn ? row : mn;
        /* the avx512 clone's tiles (rows_mn8): coef^T (and v^T) and g^T padded to
         * np = n rounded up to 8, z^T, d^T, y^T (classes x B), 7 rows of B, the
         * intercepts, B copied rows, B = block_rows (8 to 256), and coef (and v) in
         * groups of 8 classes (kk n) */
        size_t np = ((size_t)a->n + 7) & ~(size_t)7, kk = (a->hess ? 2 : 1) * (size_t)a->k;
        size_t b = (size_t)(a->block_rows < 8 ? 8 : (a->block_rows > 256 ? 256 : a->block_rows));
        size_t mn8 = (kk + (size_t)a->k) * np + (kk + 2 * (size_t)a->k + 7) * b + kk + 8 +
                     b * np + 8 + kk * (size_t)a->n + 8;
        row = row > mn8 ? row : mn8;
    }
    return (row > col ? row : col) + 16;
}

/* 1 when the vector-extension paths (rows_vec, cols_small, the multinomial
 * tiles) are compiled in: the plan names them only then */
int fg_have_vector_paths(void) { return FG_HAVE_VECEXT; }

#endif /* !FG_ISA_CLONE */

/* FG_MODE_GRAD (0): loss and gradient, FG_MODE_VALUE (1): loss only,
 * FG_MODE_HESSP (2): Hessian-vector product */
FG_INLINE int fg_mode(const fg_args *a)
{
    return a->hess ? FG_MODE_HESSP : (a->want_grad ? FG_MODE_GRAD : FG_MODE_VALUE);
}

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

/* ---- the range check of y (logistic and log-link losses) ------------------- */
/* Each y of rows [0, nrows) (a->rows[0 .. nrows) when given) in [lo, hi]; NaN
 * is not (the logistic loss's [0, 1], poisson's [0, inf], gamma's (0, inf] as
 * [smallest subnormal, inf]).  Blocks of 1024 rows, each counted by a
 * branch-free loop that vectorises (callgrind, 3 calls on 50,000 x 8 float64
 * logistic: 2.3 instructions a row, where a Cython loop that returned at the
 * first bad value ran 9: 1.35M of the call's 9.0M). */
#define FG_Y01_LOOP(T)                                                          \
    do {                                                                        \
        const T *y = (const T *)a->y;                                           \
        if (rows) {                                                             \
            _Pragma("omp simd reduction(+ : bad)")                              \
            for (ptrdiff_t i = i0; i < i1; i++) {                               \
                const double v = (double)y[rows[i] * ys];                       \
                bad += ((v >= lo) & (v <= hi)) ? 0.0 : 1.0;                     \
            }                                                                   \
        } else if (ys == 1) {                                                   \
            _Pragma("omp simd reduction(+ : bad)")                              \
            for (ptrdiff_t i = i0; i < i1; i++) {                               \
                const double v = (double)y[i];                                  \
                bad += ((v >= lo) & (v <= hi)) ? 0.0 : 1.0;                     \
            }                                                                   \
        } else {                                                                \
            for (ptrdiff_t i = i0; i < i1; i++) {                               \
                const double v = (double)y[i * ys];                             \
                bad += ((v >= lo) & (v <= hi)) ? 0.0 : 1.0;                     \
            }                                                                   \
        }                                                                       \
    } while (0)

FG_CLONES
int fg_y_in_range(const fg_args *a, int f32, ptrdiff_t nrows, double lo, double hi)
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
