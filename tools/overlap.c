/*
 * How well one core overlaps arithmetic with a stream from memory
 * (tools/overlap.py).  ov_K reads an array front to back, 8 doubles (one
 * 64-byte line) per step, and does K multiply-adds per line on 8 independent
 * register chains: work that needs no memory of its own.  Called on a
 * 400 MB array it times "read + K FMAs per line" from memory; called on a
 * slice in L2, repeatedly, it times the same work with no memory traffic.
 * ovb_K does the same work in the order a fused kernel must: for each block
 * of 64 lines (4 KiB), the block's reads (from memory), then the K
 * multiply-adds per line in a phase of their own (as the pointwise step
 * needs the whole dot product first), then the block read again (from L1,
 * the axpy).  ovbp_K is ovb_K with the next block prefetched line by line
 * through the arithmetic phase.
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

#define OVB_LINES 64
#define OVB_BODY(K, NAME, PF)                                                  \
    double NAME##K(const double *x, ptrdiff_t n)                               \
    {                                                                          \
        double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                \
        double e[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                \
        const double m = 1.0000001, c = 1e-9;                                  \
        const ptrdiff_t bl = 8 * OVB_LINES;                                    \
        for (ptrdiff_t i = 0; i + bl <= n; i += bl) {                          \
            for (ptrdiff_t j = i; j < i + bl; j += 8)                          \
                for (int u = 0; u < 8; u++) a[u] += x[j + u];                  \
            for (ptrdiff_t j = 0; j < OVB_LINES; j++) {                        \
                if (PF && i + 2 * bl <= n)                                     \
                    __builtin_prefetch(x + i + bl + 8 * j, 0, 3);              \
                _Pragma("GCC unroll 128") for (int k = 0; k < K; k++)          \
                    e[k & 7] = e[k & 7] * m + c;                               \
            }                                                                  \
            for (ptrdiff_t j = i; j < i + bl; j += 8)                          \
                for (int u = 0; u < 8; u++) a[u] -= 0.5 * x[j + u];            \
        }                                                                      \
        double s = 0.0;                                                        \
        for (int u = 0; u < 8; u++) s += a[u] + e[u];                          \
        return s;                                                              \
    }

OVB_BODY(0, ovb_, 0)
OVB_BODY(8, ovb_, 0)
OVB_BODY(16, ovb_, 0)
OVB_BODY(24, ovb_, 0)
OVB_BODY(32, ovb_, 0)
OVB_BODY(48, ovb_, 0)
OVB_BODY(64, ovb_, 0)
OVB_BODY(0, ovbp_, 1)
OVB_BODY(8, ovbp_, 1)
OVB_BODY(16, ovbp_, 1)
OVB_BODY(24, ovbp_, 1)
OVB_BODY(32, ovbp_, 1)
OVB_BODY(48, ovbp_, 1)
OVB_BODY(64, ovbp_, 1)
