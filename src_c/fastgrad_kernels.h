/*
 * fastgrad: the row micro-kernels.
 *
 * One call processes rows [r0, r1) of X (or rows[r0..r1) when a row index is
 * given) in a single pass: per row (or block of rows) z = x.coef (+b), the
 * pointwise loss and derivative, and g += d * x while the rows are still in
 * cache.  All accumulation is in double, whatever the dtype of X.
 *
 * Plain C99, no Python.  SIMD paths are chosen at run time (target_clones)
 * where the compiler supports it; the default build is portable.
 */
#ifndef FASTGRAD_KERNELS_H
#define FASTGRAD_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { FG_SQUARED = 0, FG_LOGISTIC = 1, FG_MULTINOMIAL = 2,
       /* the log-link losses (fg_pointwise.h); tweedie with power p, p not 1 or 2 */
       FG_POISSON = 3, FG_GAMMA = 4, FG_TWEEDIE = 5 };

/* The kernel paths.  fastgrad/_plan.py chooses one per call (class Path, the
 * same numbers) from the shape, layout, dtype, loss, mode and the machine's
 * caches; fg_chunk and fg_csr_chunk only switch on it. */
enum fg_path {
    FG_PATH_ROWS = 0,         /* rows_k1: one output, blocks of block_rows rows */
    FG_PATH_ROWS_STREAM = 1,  /* rows_k1 with a->stream set: X comes from memory */
    FG_PATH_ROWS_VEC = 2,     /* rows_vec: n in {4, 8, 12, 16}, g in registers */
    FG_PATH_ROWS_MULTI = 3,   /* rows_kn: several outputs, one row at a time */
    FG_PATH_COLS = 4,         /* cols: column panels of block_rows rows */
    FG_PATH_COLS_SMALL = 5,   /* cols_small: F-ordered, n <= 8, one output */
    FG_PATH_MULTINOMIAL = 6,  /* rows_mn: softmax, 4 rows per step */
    FG_PATH_CSR_ROWS = 7,     /* csr_k1_rows: CSR, one output, rows= given */
    FG_PATH_CSR_FLAT = 8,     /* csr_k1_flat: CSR, one output, consecutive rows */
    FG_PATH_CSR_MULTI = 9     /* csr_kn: CSR, several outputs or multinomial */
};

/* a->stream: how the row paths treat rows that come from memory */
enum {
    FG_STREAM_PREFETCH = 1,   /* prefetch the rows 8 ahead (rows_mn8: the block 2 ahead) */
    FG_STREAM_SEQ = 2,        /* dot products row after row (X read front to back) */
    FG_STREAM_L2 = 4,         /* with SEQ: prefetch into L2 instead,
                                 (stream >> FG_STREAM_AHEAD_SHIFT) rows ahead */
    FG_STREAM_SPLIT = 8,      /* with L2: half of each row ahead by the dot phase,
                                 half by the axpy phase */
    FG_STREAM_MN_COLS = 16,   /* rows_mn4: F-ordered blocks read in place by column
                                 tiles, not transposed into a buffer of rows */
    FG_STREAM_QUARTERS = 32,  /* the row paths' blocks: rows of the chunk's four
                                 quarters in lockstep (four streams) */
    FG_STREAM_PANEL = 64,     /* the column path: a panel of 64 rows of double X
                                 in vector registers (cols_v8, the avx512 clone) */
    FG_STREAM_AHEAD_SHIFT = 8
};

/* the modes of a call (fg_mode) */
enum { FG_MODE_GRAD = 0, FG_MODE_VALUE = 1, FG_MODE_HESSP = 2 };

typedef struct {
    const void *X;          /* element (i, f) at X + i*sr + f*sc (elements) */
    ptrdiff_t sr, sc;       /* strides in elements, any sign */
    ptrdiff_t n, k;         /* features, outputs */
    const void *y;          /* y(i, j) at y + i*ys0 + j*ys1 */
    ptrdiff_t ys0, ys1;
    const ptrdiff_t *lab;   /* multinomial class labels lab(i) at lab + i*ls, in [0, k),
                               or NULL (then y holds (m, k) probabilities) */
    ptrdiff_t ls;
    const void *w;          /* weights w(i) at w + i*ws, or NULL */
    ptrdiff_t ws;
    const ptrdiff_t *rows;  /* logical row -> row of X, or NULL */
    const void *coef;       /* (n, k), C-contiguous, X's dtype */
    const void *icpt;       /* (k,) or NULL */
    const void *v;          /* hessp direction (n, k) or NULL */
    const void *vicpt;      /* (k,) or NULL */
    int loss;               /* FG_SQUARED, ..., FG_TWEEDIE (the enum above) */
    int hess;               /* 1: Hessian-vector product instead of gradient */
    int want_grad;          /* 0: loss only (no axpy) */
    int path;               /* enum fg_path (the plan's) */
    int stream;             /* FG_STREAM_* flags (the plan's) */
    ptrdiff_t block_rows;   /* rows per block (the plan's; row paths: at most FG_BR) */
    ptrdiff_t block_cols;   /* the column path's columns a sweep, 8 or 4 (the plan's) */
    double power;           /* FG_TWEEDIE's power p (not 1, 2 or in (0, 1)); else unused */
    int *ybad;              /* NULL, or a flag the kernels set to 1 when a y they
                               gather for the pointwise step lies outside
                               [ylo, yhi] (NaN too): the check of y in the pass
                               that reads it (one output, gradient or value) */
    double ylo, yhi;
} fg_args;

/* 1 once a kernel of this call has set *a->ybad (any thread) */
static inline int fg_ybad_seen(const fg_args *a)
{
#if defined(__GNUC__) || defined(__clang__)
    return a->ybad != NULL && __atomic_load_n(a->ybad, __ATOMIC_RELAXED) != 0;
#else
    return a->ybad != NULL && *(volatile int *)a->ybad != 0;
#endif
}

/* Doubles of scratch one call of fg_chunk_* needs. */
size_t fg_work_size(const fg_args *a);

/*
 * Adds rows [r0, r1) into g (n*k doubles for coef, then k for the intercept);
 * returns the weighted loss sum of those rows (0 in hess mode).
 * work: fg_work_size(a) doubles.
 */
double fg_chunk_f64(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                    double *g, double *work);
double fg_chunk_f32(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                    double *g, double *work);

/* 1 when every y of rows [0, nrows) (a->rows[0 .. nrows) when given) lies in
 * [lo, hi], else 0 (NaN counts as outside); f32: y is float, else double. */
int fg_y_in_range(const fg_args *a, int f32, ptrdiff_t nrows, double lo, double hi);

/* 1 when the paths written with vector extensions (rows_vec, cols_small,
 * multinomial) are compiled in (GCC or Clang), else 0. */
int fg_have_vector_paths(void);

/* Names of the SIMD paths compiled in, and the one this CPU runs. */
const char *fg_simd_paths(void);
const char *fg_simd_selected(void);

/* Pointwise functions (exposed for tests). */
double fg_log1pexp(double z);
double fg_logistic_loss(double z, double y);
double fg_sigmoid(double z);

#ifdef __cplusplus
}
#endif
#endif
