/*
 * Lower bounds for a one-pass fused gradient on a dense X (tools/layout_floor.py):
 * loops that do only the memory accesses such a kernel must do, with none of
 * the arithmetic of a gradient.  Built as a shared library and called through
 * ctypes on the very arrays fastgrad and BLAS read, in the same process, on
 * one thread.
 *
 * A fused kernel needs each row twice (z_i = x_i . coef, then grad += d_i x_i),
 * so it reads a block of B rows from memory and uses the block a second time
 * from cache.  Every loop here sums the values it loads (eight independent
 * vector accumulators, so the additions' latency never limits it) and returns
 * the sum, so that no load can be optimised away.
 *
 * X is m x n with a stride ld (in elements) between columns (F order:
 * lf_block1 and lf_block2 read X[i + j * ld]) or between rows (C order:
 * lf_block1c and lf_block2c read X[i * ld + j]).  Every function comes in a
 * double (suffix _d) and a float (suffix _f) version.
 *
 *   lf_seq:    all of X once in address order: n segments of m contiguous
 *              values, ld apart (for a C-ordered X pass (n, m, ld): the same
 *              loop over its rows; layout_floor.py passes a contiguous X as
 *              one segment of m * n).  The pure read floor: one memory stream.
 *   lf_seqk:   a contiguous x[0:N] (X with ld = m, or ld = n for C order) as
 *              k streams: k equal parts, 4 lines of each in turn.  What
 *              reading X once costs with a few streams instead of one.
 *   lf_block1: for each block of B rows, for each column j, every value of
 *              X[b0:b0+B, j]: n streams of B contiguous values each.  g > 1:
 *              g columns at a time, their segments read in lockstep, a line
 *              of each in turn (as fastgrad's column path reads 8 columns
 *              at a time), so that g streams are in flight at once.  The
 *              memory part of the blocked access.
 *   lf_block2: lf_block1 plus, right after each block's first pass, a second
 *              pass over the same block (the second use, from cache).  The
 *              floor of a one-pass fused kernel with row blocks of B.
 *   lf_block1c, lf_block2c: the same for a C-ordered X: a block of B rows is
 *              one contiguous range of B * n values (row by row when ld > n).
 *   lf_block2cg: lf_block2c with the block's rows read g at a time in
 *              lockstep (g streams, as the kernels' 4-row steps read long
 *              rows), no prefetch.
 *
 * pf > 0: software prefetch, pf blocks ahead: while a line of block k is read
 * in its first pass, the line at the same place in block k + pf is prefetched
 * (one prefetch per line read, spread over the first pass).  lf_block2* with
 * spread = 1 spread them over both passes instead (the first half of each
 * segment of block k + pf during the first pass, the second half during the
 * second, one prefetch per two lines read), so that memory stays busy while
 * the second pass reads from cache.  pf = 0: no software prefetch (the
 * hardware prefetchers only).  -DLF_LOCALITY=0..3 picks the prefetch's
 * locality hint (default 3; on the reference AMD EPYC 0 to 3 measured alike).
 */
#include <stddef.h>
#include <string.h>

#ifndef LF_LOCALITY
#define LF_LOCALITY 3
#endif
#if defined(__GNUC__)
#define LF_PREFETCH(p) __builtin_prefetch((p), 0, LF_LOCALITY)
#else
#define LF_PREFETCH(p) ((void)0)
#endif

#if defined(__GNUC__) && !defined(__clang__)
/* the 32-byte vectors only pass between static functions: no ABI to keep */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

typedef double lf_vd __attribute__((vector_size(32)));
typedef float lf_vf __attribute__((vector_size(32)));

/* lf_grp<NAME>_<S>: G segments p, p + ld, ..., p + (G - 1) ld of len values
 * each, read in lockstep: one line of each in turn, summed into acc[0..7] (the
 * last few values into *s).  G = GX (a constant for the usual g).  pfm = 1: per
 * line read, the line pfo elements further on in the same segment is
 * prefetched; pfm = 2: one line per two lines read, the first half of the
 * lines from pfo on; pfm = 0: none.  Not inlined, so that each G is compiled
 * once (one call per G segments of a block); G = 4 and 8 are constants, any
 * other g runs the same code with G = g. */
/* one line of the segment r at offset i into x0, x1 (inside lf_grp: uses i,
 * pfm, pfo, L, W), with its prefetch */
#define LF_LINE(LOAD, r, x0, x1)                                                         \
    do {                                                                                 \
        __typeof__(p) r_ = (r); /* p: the segments, const T * */                         \
        if (pfm == 1) LF_PREFETCH(r_ + i + pfo);                                         \
        if (pfm == 2 && !(i & L)) LF_PREFETCH(r_ + i / 2 + pfo);                         \
        x0 += LOAD(r_ + i);                                                              \
        x1 += LOAD(r_ + i + W);                                                          \
    } while (0)

#define LF_GRP(S, T, V, NAME, GX)                                                        \
    static __attribute__((noinline)) void lf_grp##NAME##_##S(                            \
        const T *p, ptrdiff_t ld, int g, ptrdiff_t len, V *acc, double *s, ptrdiff_t pfo, \
        int pfm)                                                                         \
    {                                                                                    \
        enum { W = sizeof(V) / sizeof(T), L = 64 / sizeof(T) }; /* L = 2 W */           \
        const int G = GX;                                                                \
        V a[8];                                                                          \
        (void)g;                                                                         \
        for (int u = 0; u < 8; u++) a[u] = acc[u];                                       \
        ptrdiff_t i = 0;                                                                 \
        for (; i + L <= len; i += L) {                                                   \
            /* 4 segments at a time into a[0..7], then 2 into a[0..3], then 1 into     \
             * a[0..1]: the accumulators stay in registers whatever G is */             \
            int q = 0;                                                                   \
            for (; q + 4 <= G; q += 4)                                                   \
                for (int e = 0; e < 4; e++)                                              \
                    LF_LINE(lf_load_##S, p + (q + e) * ld, a[2 * e], a[2 * e + 1]);      \
            for (; q + 2 <= G; q += 2)                                                   \
                for (int e = 0; e < 2; e++)                                              \
                    LF_LINE(lf_load_##S, p + (q + e) * ld, a[2 * e], a[2 * e + 1]);      \
            for (; q < G; q++) LF_LINE(lf_load_##S, p + q * ld, a[0], a[1]);             \
        }                                                                                \
        for (int q = 0; q < G; q++) {                                                    \
            const T *r = p + q * ld;                                                     \
            if (pfm == 1)                                                                \
                for (ptrdiff_t o = i; o < len; o += L) LF_PREFETCH(r + o + pfo);         \
            if (pfm == 2)                                                                \
                for (ptrdiff_t o = (i + L) / 2 / L * L; o < (len + 1) / 2; o += L)       \
                    LF_PREFETCH(r + o + pfo);                                            \
            ptrdiff_t t = i;                                                             \
            for (; t + W <= len; t += W) a[0] += lf_load_##S(r + t);                     \
            for (; t < len; t++) *s += r[t];                                             \
        }                                                                                \
        for (int u = 0; u < 8; u++) acc[u] = a[u];                                       \
    }

#define LF_DEFINE(S, T, V)                                                               \
    static inline V lf_load_##S(const T *p)                                              \
    {                                                                                    \
        V v;                                                                             \
        memcpy(&v, p, sizeof v);                                                         \
        return v;                                                                        \
    }                                                                                    \
                                                                                         \
    /* adds p[0:len] into a[0..7] (the last few values into *s).  pp != NULL: also      \
     * prefetches, per line read, the line at the same place from pp on (half = 0), or  \
     * one line from pp on per two lines read (half = 1: the first half of the lines    \
     * from pp) */                                                                       \
    static inline __attribute__((always_inline)) void lf_seg_##S(                        \
        const T *p, ptrdiff_t len, V *a, double *s, const T *pp, int half)               \
    {                                                                                    \
        enum { W = sizeof(V) / sizeof(T), L = 64 / sizeof(T) }; /* 8 * W: 4 lines */    \
        ptrdiff_t i = 0;                                                                 \
        if (pp && half) {                                                                \
            for (; i + 8 * W <= len; i += 8 * W) {                                       \
                LF_PREFETCH(pp + i / 2);                                                 \
                LF_PREFETCH(pp + i / 2 + L);                                             \
                for (int u = 0; u < 8; u++) a[u] += lf_load_##S(p + i + u * W);          \
            }                                                                            \
            for (ptrdiff_t o = i / 2; o < (len + 1) / 2; o += L) LF_PREFETCH(pp + o);   \
        } else if (pp) {                                                                 \
            for (; i + 8 * W <= len; i += 8 * W) {                                       \
                for (int o = 0; o < 8 * W; o += L) LF_PREFETCH(pp + i + o);              \
                for (int u = 0; u < 8; u++) a[u] += lf_load_##S(p + i + u * W);          \
            }                                                                            \
            for (ptrdiff_t o = i; o < len; o += L) LF_PREFETCH(pp + o);                  \
        } else {                                                                         \
            for (; i + 8 * W <= len; i += 8 * W)                                         \
                for (int u = 0; u < 8; u++) a[u] += lf_load_##S(p + i + u * W);          \
        }                                                                                \
        for (; i + W <= len; i += W) a[0] += lf_load_##S(p + i);                         \
        for (; i < len; i++) *s += p[i];                                                 \
    }                                                                                    \
                                                                                         \
    /* one pass over a segment of a block: no prefetch (pf = 0), prefetch of the whole   \
     * segment dist elements on during the first pass (pass 1 of spread = 0), or of its  \
     * first half in the first pass and its second half in the second (spread = 1) */   \
    static inline __attribute__((always_inline)) void lf_pass_##S(                       \
        const T *p, ptrdiff_t len, V *a, double *s, ptrdiff_t dist, int pass, int spread) \
    {                                                                                    \
        if (!dist || (pass == 2 && !spread))                                             \
            lf_seg_##S(p, len, a, s, NULL, 0);                                           \
        else if (!spread)                                                                \
            lf_seg_##S(p, len, a, s, p + dist, 0);                                       \
        else                                                                             \
            lf_seg_##S(p, len, a, s, p + dist + (pass == 2 ? len / 2 : 0), 1);           \
    }                                                                                    \
                                                                                         \
    LF_GRP(S, T, V, 4, 4)                                                                \
    LF_GRP(S, T, V, 8, 8)                                                                \
    LF_GRP(S, T, V, N, g)                                                                \
    static inline void lf_grp_##S(const T *p, ptrdiff_t ld, int G, ptrdiff_t len, V *a,  \
                                  double *s, ptrdiff_t pfo, int pfm)                     \
    {                                                                                    \
        if (G == 4) lf_grp4_##S(p, ld, G, len, a, s, pfo, pfm);                          \
        else if (G == 8) lf_grp8_##S(p, ld, G, len, a, s, pfo, pfm);                     \
        else lf_grpN_##S(p, ld, G, len, a, s, pfo, pfm);                                 \
    }                                                                                    \
                                                                                         \
    /* lf_pass for G segments ld apart */                                                \
    static inline __attribute__((always_inline)) void lf_gpass_##S(                      \
        const T *p, ptrdiff_t ld, int G, ptrdiff_t len, V *a, double *s, ptrdiff_t dist, \
        int pass, int spread)                                                            \
    {                                                                                    \
        if (!dist || (pass == 2 && !spread))                                             \
            lf_grp_##S(p, ld, G, len, a, s, 0, 0);                                       \
        else if (!spread)                                                                \
            lf_grp_##S(p, ld, G, len, a, s, dist, 1);                                    \
        else                                                                             \
            lf_grp_##S(p, ld, G, len, a, s, dist + (pass == 2 ? len / 2 : 0), 2);        \
    }                                                                                    \
                                                                                         \
    /* one pass over the n segments of a block, g columns at a time */                  \
    static inline __attribute__((always_inline)) void lf_fpass_##S(                      \
        const T *X, ptrdiff_t n, ptrdiff_t ld, ptrdiff_t b0, ptrdiff_t bl, int g, V *a,  \
        double *s, ptrdiff_t dist, int pass, int spread)                                 \
    {                                                                                    \
        ptrdiff_t j = 0;                                                                 \
        if (g <= 1) {                                                                    \
            for (; j < n; j++) lf_pass_##S(X + b0 + j * ld, bl, a, s, dist, pass, spread); \
            return;                                                                      \
        }                                                                                \
        for (; j + g <= n; j += g)                                                       \
            lf_gpass_##S(X + b0 + j * ld, ld, g, bl, a, s, dist, pass, spread);          \
        if (j < n) lf_gpass_##S(X + b0 + j * ld, ld, (int)(n - j), bl, a, s, dist, pass, spread); \
    }                                                                                    \
                                                                                         \
    static double lf_total_##S(const V *a, double s)                                     \
    {                                                                                    \
        for (int u = 0; u < 8; u++)                                                      \
            for (size_t k = 0; k < sizeof(V) / sizeof(T); k++) s += (double)a[u][k];     \
        return s;                                                                        \
    }                                                                                    \
                                                                                         \
    double lf_seq_##S(const T *X, ptrdiff_t m, ptrdiff_t n, ptrdiff_t ld)                \
    {                                                                                    \
        V a[8] = {0};                                                                    \
        double s = 0.0;                                                                  \
        for (ptrdiff_t j = 0; j < n; j++) lf_seg_##S(X + j * ld, m, a, &s, NULL, 0);     \
        return lf_total_##S(a, s);                                                       \
    }                                                                                    \
                                                                                         \
    /* x[0:N] as k streams: k equal parts read in turn, 4 lines of each at a time */    \
    double lf_seqk_##S(const T *x, ptrdiff_t N, int k)                                   \
    {                                                                                    \
        enum { C = 256 / sizeof(T) };                                                    \
        V a[8] = {0};                                                                    \
        double s = 0.0;                                                                  \
        const ptrdiff_t part = N / k / C * C;                                            \
        for (ptrdiff_t i = 0; i < part; i += C)                                          \
            for (int t = 0; t < k; t++) lf_seg_##S(x + t * part + i, C, a, &s, NULL, 0); \
        lf_seg_##S(x + k * part, N - k * part, a, &s, NULL, 0);                          \
        return lf_total_##S(a, s);                                                       \
    }                                                                                    \
                                                                                         \
    /* one pass over a block of a C-ordered X: rows [b0, b0 + bl), one range when        \
     * ld == n, else row by row; g > 1: the rows g at a time in lockstep (a line of      \
     * each in turn, as the kernels' 4-row dot products read long rows), the block       \
     * being an F-ordered n x bl matrix (column stride ld) for the F pass */             \
    static inline __attribute__((always_inline)) void lf_rows_##S(                       \
        const T *X, ptrdiff_t n, ptrdiff_t ld, ptrdiff_t b0, ptrdiff_t bl, int g, V *a,  \
        double *s, ptrdiff_t dist, int pass, int spread)                                 \
    {                                                                                    \
        if (g > 1)                                                                       \
            lf_fpass_##S(X + b0 * ld, bl, ld, 0, n, g, a, s, dist, pass, spread);        \
        else if (ld == n)                                                                \
            lf_pass_##S(X + b0 * ld, bl * n, a, s, dist, pass, spread);                  \
        else                                                                             \
            for (ptrdiff_t i = b0; i < b0 + bl; i++)                                     \
                lf_pass_##S(X + i * ld, n, a, s, dist, pass, spread);                    \
    }                                                                                    \
                                                                                         \
    /* blocks of B rows, each read once (twice = 0) or twice; corder: X is               \
     * C-ordered (lf_rows), else F-ordered (lf_fpass, g columns in lockstep) */          \
    static inline __attribute__((always_inline)) double lf_block_##S(                    \
        const T *X, ptrdiff_t m, ptrdiff_t n, ptrdiff_t ld, ptrdiff_t B, int pf,         \
        int twice, int spread, int g, int corder)                                        \
    {                                                                                    \
        V a[8] = {0};                                                                    \
        double s = 0.0;                                                                  \
        for (ptrdiff_t b0 = 0; b0 < m; b0 += B) {                                        \
            const ptrdiff_t bl = m - b0 < B ? m - b0 : B;                                \
            const ptrdiff_t dist = pf > 0 && b0 + pf * B < m ? pf * B * (corder ? ld : 1) : 0;\
            for (int pass = 1; pass <= 1 + (twice != 0); pass++) {                       \
                if (corder)                                                              \
                    lf_rows_##S(X, n, ld, b0, bl, g, a, &s, dist, pass, spread);         \
                else                                                                     \
                    lf_fpass_##S(X, n, ld, b0, bl, g, a, &s, dist, pass, spread);        \
            }                                                                            \
        }                                                                                \
        return lf_total_##S(a, s);                                                       \
    }                                                                                    \
                                                                                         \
    double lf_block1_##S(const T *X, ptrdiff_t m, ptrdiff_t n, ptrdiff_t ld,             \
                         ptrdiff_t B, int pf, int g)                                     \
    {                                                                                    \
        return lf_block_##S(X, m, n, ld, B, pf, 0, 0, g, 0);                             \
    }                                                                                    \
                                                                                         \
    double lf_block2_##S(const T *X, ptrdiff_t m, ptrdiff_t n, ptrdiff_t ld,             \
                         ptrdiff_t B, int pf, int spread, int g)                         \
    {                                                                                    \
        return spread ? lf_block_##S(X, m, n, ld, B, pf, 1, 1, g, 0)                     \
                      : lf_block_##S(X, m, n, ld, B, pf, 1, 0, g, 0);                    \
    }                                                                                    \
                                                                                         \
    double lf_block1c_##S(const T *X, ptrdiff_t m, ptrdiff_t n, ptrdiff_t ld,            \
                          ptrdiff_t B, int pf)                                           \
    {                                                                                    \
        return lf_block_##S(X, m, n, ld, B, pf, 0, 0, 1, 1);                             \
    }                                                                                    \
                                                                                         \
    double lf_block2c_##S(const T *X, ptrdiff_t m, ptrdiff_t n, ptrdiff_t ld,            \
                          ptrdiff_t B, int pf, int spread)                               \
    {                                                                                    \
        return spread ? lf_block_##S(X, m, n, ld, B, pf, 1, 1, 1, 1)                     \
                      : lf_block_##S(X, m, n, ld, B, pf, 1, 0, 1, 1);                    \
    }                                                                                    \
                                                                                         \
    /* lf_block2c with the rows g at a time in lockstep, no prefetch */                  \
    double lf_block2cg_##S(const T *X, ptrdiff_t m, ptrdiff_t n, ptrdiff_t ld,           \
                           ptrdiff_t B, int g)                                           \
    {                                                                                    \
        return lf_block_##S(X, m, n, ld, B, 0, 1, 0, g, 1);                              \
    }

LF_DEFINE(d, double, lf_vd)
LF_DEFINE(f, float, lf_vf)
