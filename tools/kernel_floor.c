/*
 * The dense kernel alone against a read of what it must read (tools/kernel_floor.py).
 * Compiled with one ISA clone of the core (src_c/fg_dense_<isa>.c, or the
 * baseline fastgrad_kernels.c) into one shared library; the Python side
 * passes the package's own plan (path, stream flags, block rows, chunk rows).
 *   kf_read: X and y streamed once (8 independent sums per 64-byte line):
 *            the bytes any one-pass kernel must bring from memory;
 *   kf_run:  the kernel over rows [0, m) in the plan's chunks, 1 thread,
 *            as the package's driver calls it (no Python, no reduction).
 */
#include <stddef.h>
#include <string.h>
#include "fastgrad_kernels.h"

#define KF_CAT2(a, b) a##b
#define KF_CAT(a, b) KF_CAT2(a, b)
double KF_CAT(fg_chunk_f64, KF_SFX)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g,
                                    double *work);
double KF_CAT(fg_chunk_f32, KF_SFX)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g,
                                    double *work);

double kf_read(const double *X, ptrdiff_t nx, const double *y, ptrdiff_t ny)
{
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t i = 0;
    for (; i + 8 <= nx; i += 8)
        for (int u = 0; u < 8; u++) a[u] += X[i + u];
    for (; i < nx; i++) a[0] += X[i];
    for (i = 0; i + 8 <= ny; i += 8)
        for (int u = 0; u < 8; u++) a[u] += y[i + u];
    for (; i < ny; i++) a[0] += y[i];
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* X (m x n) with strides sr, sc in elements; y contiguous; f32: float X, y, coef;
 * coef (and v) n x k; lab: the multinomial's class labels (then y is unused), or NULL */
double kf_run(const void *X, ptrdiff_t m, ptrdiff_t n, ptrdiff_t sr, ptrdiff_t sc, int f32,
              const void *y, const void *coef, const void *v, int loss, int hess, int path,
              int stream, ptrdiff_t block_rows, ptrdiff_t chunk, double *g, double *work,
              ptrdiff_t k, const ptrdiff_t *lab)
{
    fg_args a;
    memset(&a, 0, sizeof a);
    a.X = X; a.sr = sr; a.sc = sc; a.n = n; a.k = k;
    a.y = y; a.ys0 = 1; a.lab = lab; a.ls = 1; a.coef = coef; a.v = hess ? v : NULL;
    a.loss = loss; a.hess = hess; a.want_grad = 1;
    a.path = path; a.stream = stream; a.block_rows = block_rows;
    double acc = 0.0;
    for (ptrdiff_t i = 0; i < m; i += chunk) {
        const ptrdiff_t e = i + chunk < m ? i + chunk : m;
        acc += f32 ? KF_CAT(fg_chunk_f32, KF_SFX)(&a, i, e, g, work)
                   : KF_CAT(fg_chunk_f64, KF_SFX)(&a, i, e, g, work);
    }
    return acc;
}
