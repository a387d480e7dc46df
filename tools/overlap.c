/*
 * How well one core overlaps arithmetic with a stream from memory
 * (tools/overlap.py).  ov_K reads an array front to back, 8 doubles (one
 * 64-byte line) per step, and does K multiply-adds per line on 8 independent
 * register chains: work that needs no memory of its own.  Called on a
 * 400 MB array it times "read + K FMAs per line" from memory; called on a
 * slice in L2, repeatedly, it times the same work with no memory traffic.
 * Built as a shared library and called through ctypes on a NumPy array.
 */
#include <stddef.h>

#define OV_BODY(K)                                                             \
    double ov_##K(const double *x, ptrdiff_t n)                                \
    {                                                                          \
        double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                \
        double e[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                \
        const double m = 1.0000001, c = 1e-9;                                  \
        for (ptrdiff_t i = 0; i + 8 <= n; i += 8) {                            \
            for (int u = 0; u < 8; u++) a[u] += x[i + u];                      \
            _Pragma("GCC unroll 128") for (int k = 0; k < K; k++)              \
                e[k & 7] = e[k & 7] * m + c;                                   \
        }                                                                      \
        double s = 0.0;                                                        \
        for (int u = 0; u < 8; u++) s += a[u] + e[u];                          \
        return s;                                                              \
    }

OV_BODY(0)
OV_BODY(8)
OV_BODY(16)
OV_BODY(24)
OV_BODY(32)
OV_BODY(48)
OV_BODY(64)
