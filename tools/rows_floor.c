/*
 * Lower bounds for a minibatch call with rows= (tools/rows_floor.py): loops
 * that only read the batch's rows of a C-ordered float64 X, with none of the
 * arithmetic of a gradient.  Built as a shared library and called through
 * ctypes on the very arrays fastgrad reads, in the same process.
 *
 *   rf_touch: one load per 64-byte line of each row (every line of the rows
 *             must come from memory at least once), prefetching the lines of
 *             the row pf rows ahead (pf = 0: no software prefetch);
 *   rf_copy:  the rows copied into out, row after row (what X[rows] does).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define RF_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define RF_PREFETCH(p) ((void)0)
#endif

static void rf_prefetch_row(const double *X, ptrdiff_t n, const int64_t *rows, ptrdiff_t i,
                            ptrdiff_t nr, int pf)
{
    if (pf <= 0 || i + pf >= nr) return;
    const char *p = (const char *)(X + rows[i + pf] * n);
    for (ptrdiff_t o = 0; o < n * (ptrdiff_t)sizeof(double); o += 64) RF_PREFETCH(p + o);
}

double rf_touch(const double *X, ptrdiff_t n, const int64_t *rows, ptrdiff_t nr, int pf)
{
    double s = 0.0;
    for (ptrdiff_t i = 0; i < nr; i++) {
        rf_prefetch_row(X, n, rows, i, nr, pf);
        const double *p = X + rows[i] * n;
        /* the first value of every line the row touches (a row need not
         * start on a line boundary: step from the row's first line) */
        const uintptr_t a0 = (uintptr_t)p & ~(uintptr_t)63, a1 = (uintptr_t)(p + n);
        for (uintptr_t a = a0; a < a1; a += 64) {
            const double *q = (const double *)a < p ? p : (const double *)a;
            s += *q;
        }
    }
    return s;
}

void rf_copy(const double *X, ptrdiff_t n, const int64_t *rows, ptrdiff_t nr, double *out)
{
    for (ptrdiff_t i = 0; i < nr; i++)
        memcpy(out + i * n, X + rows[i] * n, (size_t)n * sizeof(double));
}
