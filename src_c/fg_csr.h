/*
 * fastgrad: the row kernels for a CSR X (scipy.sparse's compressed rows).
 *
 * One call processes logical rows [r0, r1) (rows of X, or rows[r0..r1) when a
 * row index is given) in a single pass over their stored values: per row
 * z = sum data[p] coef[indices[p]] (+ b), the pointwise loss and derivative
 * (pw_block of fg_pointwise.h, over a block of rows), and
 * g[indices[p]] += d data[p] while the row is still in cache.  Duplicate
 * column indices in a row add up (as scipy's toarray()); the order of the
 * column indices does not matter; explicit zeros cost time, not correctness.
 * All accumulation is in double.
 *
 * The structure is checked as it is read, so a malformed matrix is never read
 * out of bounds: a row whose extent is not 0 <= indptr[r] <= indptr[r + 1] <=
 * nnz, or that holds a column index outside [0, n), stops the call and is
 * reported through *bad (its logical row index); the caller then raises.
 *
 * Plain C99, no Python; SIMD paths chosen at run time as in fastgrad_kernels.c.
 */
#ifndef FG_CSR_H
#define FG_CSR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const void *data;       /* stored values: float or double (the dtype of y, coef) */
    const void *indices;    /* column index of each stored value: int32 or int64 */
    const void *indptr;     /* m + 1 row pointers, the integer type of indices */
    ptrdiff_t nnz;          /* indptr[m]: every row's extent must lie in [0, nnz] */
    ptrdiff_t n, k;         /* features, outputs */
    const void *y;          /* y(i, j) at y + i*ys0 + j*ys1 (elements) */
    ptrdiff_t ys0, ys1;
    const ptrdiff_t *lab;   /* multinomial class labels lab(i) at lab + i*ls, in [0, k),
                               or NULL (then y holds (m, k) probabilities) */
    ptrdiff_t ls;
    const void *w;          /* weights w(i) at w + i*ws, or NULL */
    ptrdiff_t ws;
    const ptrdiff_t *rows;  /* logical row -> row of X, or NULL */
    const void *coef;       /* (n, k), C-contiguous */
    const void *icpt;       /* (k,) or NULL */
    const void *v;          /* hessp direction (n, k) or NULL */
    const void *vicpt;      /* (k,) or NULL */
    int loss;               /* FG_SQUARED, ..., FG_TWEEDIE (fastgrad_kernels.h) */
    int hess;               /* 1: Hessian-vector product instead of gradient */
    int want_grad;          /* 0: loss only (no scatter) */
    int path;               /* FG_PATH_CSR_* (fastgrad_kernels.h), the plan's */
    double power;           /* FG_TWEEDIE's power p; else unused */
} fg_csr_args;

/* Doubles of scratch one call of fg_csr_chunk_* needs. */
size_t fg_csr_work_size(const fg_csr_args *a);

/*
 * Adds logical rows [r0, r1) into g (n*k doubles for coef, then k for the
 * intercept); returns the weighted loss sum of those rows (0 in hess mode).
 * *bad: -1, or the logical row index of the first malformed row met (the call
 * then stops early and g and the returned loss are to be discarded).
 * Suffix: data type (f64, f32) and index type (i32, i64).
 */
double fg_csr_chunk_f64_i32(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g,
                            double *work, ptrdiff_t *bad);
double fg_csr_chunk_f64_i64(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g,
                            double *work, ptrdiff_t *bad);
double fg_csr_chunk_f32_i32(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g,
                            double *work, ptrdiff_t *bad);
double fg_csr_chunk_f32_i64(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g,
                            double *work, ptrdiff_t *bad);

#ifdef __cplusplus
}
#endif
#endif
