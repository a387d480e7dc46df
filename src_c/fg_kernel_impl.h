/*
 * The loops of fastgrad_kernels.c, written once; included with T (element
 * type of X, y, w, coef) and SFX (name suffix) defined.  Not a public header.
 *
 * Row path (a row of X contiguous, or gathered): blocks of rows; 4 rows at a
 * time, their 4 dot products sharing the loads of coef, the pointwise step
 * vectorised over the block, then one combined axpy g += d0 x0 + d1 x1 +
 * d2 x2 + d3 x3, so g is loaded and stored once per 4 rows while the rows are
 * still in L1.  For chunks that come from memory with rows of 16 values to
 * 2 KiB, the dot products run row after row instead (X read front to back),
 * and the squared loss takes four rows at a time, their dots, then their axpy;
 * for float64 the rows are prefetched into L2, further ahead (the plan's
 * FG_STREAM_L2).
 * Column path (F-ordered X): a panel of rows (the plan's: 8 cache lines of
 * each column) that stays in L1/L2; z for the panel eight columns at a time
 * (four with rows=, and for hessp of the logistic loss on float X), the
 * pointwise step over the panel, then g[f] += X_b[:, f] . d four columns at a
 * time, reading the panel again from cache, while the next panel is
 * prefetched (half in each sweep) when X comes from memory: X comes from
 * memory once.  With
 * n <= 8 columns (and one output, no rows=), cols_small instead: blocks of 64
 * rows, 4 rows of a column per vector, the gradient in registers.
 */
#ifndef FG_BR
/* the capacity of the row paths' block buffers: the plan's block_rows for
 * them (fastgrad/_plan.py, MAX_BLOCK_ROWS) is at most this */
#define FG_BR 64
#endif
/* the plan's rows per block of a row path, within the buffers, a multiple of 4 */
#define FG_BLOCK_ROWS(a) \
    ((a)->block_rows < 4 ? 4 : ((a)->block_rows > FG_BR ? FG_BR : (a)->block_rows & ~(ptrdiff_t)3))
#ifndef FG_VW
#define FG_VW 4     /* doubles a vector in the explicit vector code; 4 in every clone
                       (fg_dense_avx512.c gives the measurement), except the
                       avx512 clone's multinomial tiles (rows_mn8: 8) */
#endif
#define FG_CAT2(a, b) a##b
#define FG_CAT(a, b) FG_CAT2(a, b)
#define FN(name) FG_CAT(name, SFX)

/* pointer to logical row i of X, gathered into buf when columns are strided */
FG_INLINE const T *FN(row_ptr)(const fg_args *a, ptrdiff_t i, ptrdiff_t n, T *FG_RESTRICT buf)
{
    ptrdiff_t r = a->rows ? a->rows[i] : i;
    const T *p = (const T *)a->X + r * a->sr;
    if (a->sc == 1) return p;
    ptrdiff_t sc = a->sc;
    for (ptrdiff_t f = 0; f < n; f++) buf[f] = p[f * sc];
    return buf;
}

#ifndef FG_CHECK_YB_DEFINED
#define FG_CHECK_YB_DEFINED
/* the check of y in the kernel's pass (a->ybad): yb[0, nb) in [ylo, yhi], else
 * the flag set; yb is in L1, a compare a value */
FG_INLINE void fg_check_yb(const fg_args *a, const double *FG_RESTRICT yb, ptrdiff_t nb)
{
    const double lo = a->ylo, hi = a->yhi;
    double bad = 0.0;
#pragma omp simd reduction(+ : bad)
    for (ptrdiff_t b = 0; b < nb; b++) bad += ((yb[b] >= lo) & (yb[b] <= hi)) ? 0.0 : 1.0;
    if (bad != 0.0) {
#if defined(__GNUC__) || defined(__clang__)
        __atomic_store_n(a->ybad, 1, __ATOMIC_RELAXED);
#else
        *(volatile int *)a->ybad = 1;
#endif
    }
}
#endif

/* yb[b] = y(i0 + b, j), wb[b] = w(i0 + b) as doubles; returns wb or NULL;
 * with a->ybad, the y checked (fg_check_yb) */
FG_INLINE const double *FN(gather_yw)(const fg_args *a, ptrdiff_t i0, ptrdiff_t nb,
                                      ptrdiff_t j, int need_y, double *FG_RESTRICT yb,
                                      double *FG_RESTRICT wb)
{
    const T *y = (const T *)a->y + j * a->ys1;
    const T *w = (const T *)a->w;
    const ptrdiff_t ys = a->ys0, ws = a->ws;
    const ptrdiff_t *rows = a->rows;
    if (rows) {
        if (need_y)
            for (ptrdiff_t b = 0; b < nb; b++) yb[b] = (double)y[rows[i0 + b] * ys];
        if (w)
            for (ptrdiff_t b = 0; b < nb; b++) wb[b] = (double)w[rows[i0 + b] * ws];
    } else {
        /* contiguous y and w: loops that vectorise (a strided copy took a
         * fifth of the small-n row path's time: 4,000,000 x 8 f64 C, Xeon
         * family 6 model 167, the kernel alone 0.95-0.96x with these) */
        if (need_y && ys == 1)
            for (ptrdiff_t b = 0; b < nb; b++) yb[b] = (double)y[i0 + b];
        else if (need_y)
            for (ptrdiff_t b = 0; b < nb; b++) yb[b] = (double)y[(i0 + b) * ys];
        if (w && ws == 1)
            for (ptrdiff_t b = 0; b < nb; b++) wb[b] = (double)w[i0 + b];
        else if (w)
            for (ptrdiff_t b = 0; b < nb; b++) wb[b] = (double)w[(i0 + b) * ws];
    }
    if (a->ybad && need_y) fg_check_yb(a, yb, nb);
    return w ? wb : NULL;
}

#if FG_HAVE_VECEXT && !defined(FG_SUM4_DEFINED)
#define FG_SUM4_DEFINED
/* {sum(a0), sum(a1), sum(a2), sum(a3)}: four horizontal sums by one transpose */
FG_INLINE fg_v4d fg_sum4(fg_v4d a0, fg_v4d a1, fg_v4d a2, fg_v4d a3)
{
    const fg_v4i lo = {0, 4, 2, 6}, hi = {1, 5, 3, 7}, lo2 = {0, 1, 4, 5}, hi2 = {2, 3, 6, 7};
    const fg_v4d t0 = __builtin_shuffle(a0, a1, lo) + __builtin_shuffle(a0, a1, hi);
    const fg_v4d t1 = __builtin_shuffle(a2, a3, lo) + __builtin_shuffle(a2, a3, hi);
    return __builtin_shuffle(t0, t1, lo2) + __builtin_shuffle(t0, t1, hi2);
}
#endif

#if FG_HAVE_VECEXT
/* load 4 elements of T as 4 doubles (unaligned) */
FG_INLINE fg_v4d FN(load4)(const T *p)
{
    if (sizeof(T) == 8) {
        fg_v4d v;
        memcpy(&v, p, sizeof v);
        return v;
    } else {
        /* written element by element, GCC 12 emits one vcvtps2pd ymm, m128;
         * a memcpy to a 4-float vector and __builtin_convertvector became
         * two half conversions and an insert (5 instructions instead of 1) */
        return (fg_v4d){(double)p[0], (double)p[1], (double)p[2], (double)p[3]};
    }
}
#endif

#ifndef FG_F32_W8
#define FG_F32_W8 0 /* float rows converted 8 at a time (the avx512 clone, see fg_dense_avx512.c) */
#endif
#ifndef FG_F64_W8
#define FG_F64_W8 0 /* with FG_F32_W8: double rows' dot products 8 at a time (the same) */
#endif

#if FG_HAVE_VECEXT && (FG_VW == 8 || FG_F32_W8) && !defined(FG_V8D_DEFINED)
#define FG_V8D_DEFINED
typedef double fg_v8d __attribute__((vector_size(64)));
/* {lo half + hi half} of an 8-double vector */
FG_INLINE fg_v4d fg_fold8(fg_v8d a)
{
#if defined(__GNUC__) && __GNUC__ >= 12
    /* the two halves in registers (a memcpy of the high half went through the
     * stack: a 64-byte store read back as 32 bytes, no store forwarding) */
    return __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
#else
    fg_v4d lo, hi;
    memcpy(&lo, &a, sizeof lo);
    memcpy(&hi, (const char *)&a + sizeof lo, sizeof hi);
    return lo + hi;
#endif
}
#endif

#if FG_HAVE_VECEXT && FG_F32_W8
/* 8 elements of T as 8 doubles (unaligned); for float one vcvtps2pd zmm, m256 */
FG_INLINE fg_v8d FN(load8)(const T *p)
{
    return (fg_v8d){(double)p[0], (double)p[1], (double)p[2], (double)p[3],
                    (double)p[4], (double)p[5], (double)p[6], (double)p[7]};
}
#endif

#if FG_HAVE_VECEXT
/* the end of dot4's vector loops: the four sums zz, plus columns [f, n) one by
 * one, plus add, into s */
FG_INLINE void FN(dot4_tail)(fg_v4d zz, const T *FG_RESTRICT p0, const T *FG_RESTRICT p1,
                             const T *FG_RESTRICT p2, const T *FG_RESTRICT p3,
                             const T *FG_RESTRICT c, ptrdiff_t f, ptrdiff_t n, double add,
                             double *s)
{
    double r[4];
    memcpy(r, &zz, sizeof r);
    for (; f < n; f++) {
        const double cf = (double)c[f];
        r[0] += (double)p0[f] * cf;
        r[1] += (double)p1[f] * cf;
        r[2] += (double)p2[f] * cf;
        r[3] += (double)p3[f] * cf;
    }
    s[0] = r[0] + add; s[1] = r[1] + add; s[2] = r[2] + add; s[3] = r[3] + add;
}
#endif

/* four dot products of rows with c, sharing the loads of c */
FG_INLINE void FN(dot4)(const T *FG_RESTRICT p0, const T *FG_RESTRICT p1,
                        const T *FG_RESTRICT p2, const T *FG_RESTRICT p3,
                        const T *FG_RESTRICT c, ptrdiff_t n, double add, double *s)
{
#if FG_HAVE_VECEXT && FG_VW == 8
    if (sizeof(T) == 8 && n >= 16) {
        /* 8 doubles a vector: built with -DFG_AVX512_VW=8 only (slower on Zen 4,
         * see fg_dense_avx512.c) */
        fg_v8d a0 = {0, 0, 0, 0, 0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
        ptrdiff_t f = 0;
        for (; f + 8 <= n; f += 8) {
            fg_v8d cf, x0, x1, x2, x3;
            memcpy(&cf, c + f, sizeof cf);
            memcpy(&x0, p0 + f, sizeof x0);
            memcpy(&x1, p1 + f, sizeof x1);
            memcpy(&x2, p2 + f, sizeof x2);
            memcpy(&x3, p3 + f, sizeof x3);
            a0 += x0 * cf; a1 += x1 * cf; a2 += x2 * cf; a3 += x3 * cf;
        }
        const fg_v4d zz = fg_sum4(fg_fold8(a0), fg_fold8(a1), fg_fold8(a2), fg_fold8(a3));
        FN(dot4_tail)(zz, p0, p1, p2, p3, c, f, n, add, s);
        return;
    }
#endif
#if FG_HAVE_VECEXT
    if (n >= 8) {
        /* vector accumulators, reduced together by one transpose at the end
         * (instead of four horizontal sums) */
        fg_v4d a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
        ptrdiff_t f = 0;
        for (; f + 4 <= n; f += 4) {
            const fg_v4d cf = FN(load4)(c + f);
            a0 += FN(load4)(p0 + f) * cf;
            a1 += FN(load4)(p1 + f) * cf;
            a2 += FN(load4)(p2 + f) * cf;
            a3 += FN(load4)(p3 + f) * cf;
        }
        const fg_v4d zz = fg_sum4(a0, a1, a2, a3);
        FN(dot4_tail)(zz, p0, p1, p2, p3, c, f, n, add, s);
        return;
    }
#endif
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (ptrdiff_t f = 0; f < n; f++) {
        double cf = (double)c[f];
        s0 += (double)p0[f] * cf;
        s1 += (double)p1[f] * cf;
        s2 += (double)p2[f] * cf;
        s3 += (double)p3[f] * cf;
    }
    s[0] = s0 + add; s[1] = s1 + add; s[2] = s2 + add; s[3] = s3 + add;
}

/* dot4 with c and with u in one sweep over the 4 rows (hessp of a
 * non-quadratic loss): each row value loaded once for both */
FG_INLINE void FN(dot4x2)(const T *FG_RESTRICT p0, const T *FG_RESTRICT p1,
                          const T *FG_RESTRICT p2, const T *FG_RESTRICT p3,
                          const T *FG_RESTRICT c, const T *FG_RESTRICT u, ptrdiff_t n,
                          double addc, double addu, double *sc, double *su)
{
#if FG_HAVE_VECEXT
    if (n >= 8) {
        fg_v4d a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
        fg_v4d b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        ptrdiff_t f = 0;
        for (; f + 4 <= n; f += 4) {
            const fg_v4d cf = FN(load4)(c + f), uf = FN(load4)(u + f);
            const fg_v4d x0 = FN(load4)(p0 + f), x1 = FN(load4)(p1 + f);
            const fg_v4d x2 = FN(load4)(p2 + f), x3 = FN(load4)(p3 + f);
            a0 += x0 * cf; a1 += x1 * cf; a2 += x2 * cf; a3 += x3 * cf;
            b0 += x0 * uf; b1 += x1 * uf; b2 += x2 * uf; b3 += x3 * uf;
        }
        const fg_v4d zz = fg_sum4(a0, a1, a2, a3), tt = fg_sum4(b0, b1, b2, b3);
        double r[4], q[4];
        memcpy(r, &zz, sizeof r);
        memcpy(q, &tt, sizeof q);
        for (; f < n; f++) {
            const double cf = (double)c[f], uf = (double)u[f];
            const double x0 = (double)p0[f], x1 = (double)p1[f];
            const double x2 = (double)p2[f], x3 = (double)p3[f];
            r[0] += x0 * cf; r[1] += x1 * cf; r[2] += x2 * cf; r[3] += x3 * cf;
            q[0] += x0 * uf; q[1] += x1 * uf; q[2] += x2 * uf; q[3] += x3 * uf;
        }
        for (int l = 0; l < 4; l++) {
            sc[l] = r[l] + addc;
            su[l] = q[l] + addu;
        }
        return;
    }
#endif
    FN(dot4)(p0, p1, p2, p3, c, n, addc, sc);
    FN(dot4)(p0, p1, p2, p3, u, n, addu, su);
}

#if FG_HAVE_VECEXT
/* one row's dot products with c (and with u when u is not NULL), n >= 16:
 * four vector accumulators, the row read front to back */
FG_INLINE void FN(dot1v)(const T *FG_RESTRICT p, const T *FG_RESTRICT c,
                         const T *FG_RESTRICT u, ptrdiff_t n, double *sc, double *su)
{
    fg_v4d a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
    fg_v4d b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    ptrdiff_t f = 0;
    for (; f + 16 <= n; f += 16) {
        const fg_v4d x0 = FN(load4)(p + f), x1 = FN(load4)(p + f + 4);
        const fg_v4d x2 = FN(load4)(p + f + 8), x3 = FN(load4)(p + f + 12);
        a0 += x0 * FN(load4)(c + f);
        a1 += x1 * FN(load4)(c + f + 4);
        a2 += x2 * FN(load4)(c + f + 8);
        a3 += x3 * FN(load4)(c + f + 12);
        if (u) {
            b0 += x0 * FN(load4)(u + f);
            b1 += x1 * FN(load4)(u + f + 4);
            b2 += x2 * FN(load4)(u + f + 8);
            b3 += x3 * FN(load4)(u + f + 12);
        }
    }
    for (; f + 4 <= n; f += 4) {
        const fg_v4d x0 = FN(load4)(p + f);
        a0 += x0 * FN(load4)(c + f);
        if (u) b0 += x0 * FN(load4)(u + f);
    }
    const fg_v4d sa = (a0 + a1) + (a2 + a3), sb = (b0 + b1) + (b2 + b3);
    double r = (sa[0] + sa[1]) + (sa[2] + sa[3]), q = (sb[0] + sb[1]) + (sb[2] + sb[3]);
    for (; f < n; f++) {
        r += (double)p[f] * (double)c[f];
        if (u) q += (double)p[f] * (double)u[f];
    }
    *sc = r;
    if (u) *su = q;
}

#endif

#if FG_HAVE_VECEXT && FG_F32_W8
/* dot1v of float rows with coef (and u) already as doubles (cd, ud: the
 * chunk's copies, 64-byte aligned): 8 values a conversion, no conversion of
 * coef per row, and the row as doubles into dst for the axpys (axpy4d), so
 * that each float is converted once (fg_dense_avx512.c gives the measurement).
 * Double rows too (FG_F64_W8: cd and ud are coef and u, dst NULL): 8 values a
 * vector where dot1v takes 4 */
FG_INLINE void FN(dot1vd)(const T *FG_RESTRICT p, const double *FG_RESTRICT cd,
                          const double *FG_RESTRICT ud, ptrdiff_t n, double *sc, double *su,
                          double *FG_RESTRICT dst)
{
    fg_v8d e0 = {0, 0, 0, 0, 0, 0, 0, 0}, e1 = e0, e2 = e0, e3 = e0;
    fg_v8d h0 = e0, h1 = e0, h2 = e0, h3 = e0;
    ptrdiff_t f = 0;
    for (; f + 32 <= n; f += 32) {
        const fg_v8d x0 = FN(load8)(p + f), x1 = FN(load8)(p + f + 8);
        const fg_v8d x2 = FN(load8)(p + f + 16), x3 = FN(load8)(p + f + 24);
        fg_v8d c0, c1, c2, c3;
        if (dst) {
            memcpy(dst + f, &x0, sizeof x0); memcpy(dst + f + 8, &x1, sizeof x1);
            memcpy(dst + f + 16, &x2, sizeof x2); memcpy(dst + f + 24, &x3, sizeof x3);
        }
        memcpy(&c0, cd + f, sizeof c0); memcpy(&c1, cd + f + 8, sizeof c1);
        memcpy(&c2, cd + f + 16, sizeof c2); memcpy(&c3, cd + f + 24, sizeof c3);
        e0 += x0 * c0; e1 += x1 * c1; e2 += x2 * c2; e3 += x3 * c3;
        if (ud) {
            memcpy(&c0, ud + f, sizeof c0); memcpy(&c1, ud + f + 8, sizeof c1);
            memcpy(&c2, ud + f + 16, sizeof c2); memcpy(&c3, ud + f + 24, sizeof c3);
            h0 += x0 * c0; h1 += x1 * c1; h2 += x2 * c2; h3 += x3 * c3;
        }
    }
    for (; f + 8 <= n; f += 8) {
        const fg_v8d x0 = FN(load8)(p + f);
        fg_v8d c0;
        if (dst) memcpy(dst + f, &x0, sizeof x0);
        memcpy(&c0, cd + f, sizeof c0);
        e0 += x0 * c0;
        if (ud) {
            memcpy(&c0, ud + f, sizeof c0);
            h0 += x0 * c0;
        }
    }
    fg_v4d sa = fg_fold8((e0 + e1) + (e2 + e3)), sb = fg_fold8((h0 + h1) + (h2 + h3));
    if (f + 4 <= n) {  /* a last 4 as a vector: no chain of scalar FMAs (n = 100) */
        const fg_v4d x0 = FN(load4)(p + f);
        fg_v4d c0;
        if (dst) memcpy(dst + f, &x0, sizeof x0);
        memcpy(&c0, cd + f, sizeof c0);
        sa += x0 * c0;
        if (ud) {
            memcpy(&c0, ud + f, sizeof c0);
            sb += x0 * c0;
        }
        f += 4;
    }
    double r = (sa[0] + sa[1]) + (sa[2] + sa[3]), q = (sb[0] + sb[1]) + (sb[2] + sb[3]);
    for (; f < n; f++) {
        const double xf = (double)p[f];
        if (dst) dst[f] = xf;
        r += xf * cd[f];
        if (ud) q += xf * ud[f];
    }
    *sc = r;
    if (ud) *su = q;
}
#endif

#if FG_HAVE_VECEXT
/* dot1v, or dot1vd when the chunk holds coef (and u) as doubles (cd not NULL;
 * then the row goes to dst as doubles) */
FG_INLINE void FN(dot1x)(const T *FG_RESTRICT p, const T *FG_RESTRICT c,
                         const T *FG_RESTRICT u, const double *cd, const double *ud,
                         ptrdiff_t n, double *sc, double *su, double *dst)
{
#if FG_F32_W8
    if (sizeof(T) == 4 && cd) {
        FN(dot1vd)(p, cd, u ? ud : NULL, n, sc, su, dst);
        return;
    }
#endif
#if FG_F64_W8
    if (sizeof(T) == 8) {
        FN(dot1vd)(p, (const double *)c, (const double *)u, n, sc, su, NULL);
        return;
    }
#endif
    (void)cd; (void)ud; (void)dst;
    FN(dot1v)(p, c, u, n, sc, su);
}
#endif

FG_INLINE double FN(dot1)(const T *FG_RESTRICT p, const T *FG_RESTRICT c, ptrdiff_t n)
{
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (ptrdiff_t f = 0; f < n; f++) s += (double)p[f] * (double)c[f];
    return s;
}

/* g += d0 p0 + d1 p1 + d2 p2 + d3 p3: g is loaded and stored once per 4 rows */
FG_INLINE void FN(axpy4)(double *FG_RESTRICT g, const T *FG_RESTRICT p0,
                         const T *FG_RESTRICT p1, const T *FG_RESTRICT p2,
                         const T *FG_RESTRICT p3, const double *d, ptrdiff_t n)
{
    double d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3];
    ptrdiff_t f = 0;
#if FG_HAVE_VECEXT
    if (sizeof(T) == 4) {
        /* float rows: 4 at a time with load4 (one conversion per 4 values;
         * the omp simd loop below loads 8 floats and splits them) */
        const fg_v4d D0 = {d0, d0, d0, d0}, D1 = {d1, d1, d1, d1};
        const fg_v4d D2 = {d2, d2, d2, d2}, D3 = {d3, d3, d3, d3};
#if FG_F32_W8
        /* 8 at a time (the avx512 clone: one conversion per 8 values) */
        for (; f + 8 <= n; f += 8) {
            fg_v8d gv;
            memcpy(&gv, g + f, sizeof gv);
            gv += d0 * FN(load8)(p0 + f) + d1 * FN(load8)(p1 + f) +
                  d2 * FN(load8)(p2 + f) + d3 * FN(load8)(p3 + f);
            memcpy(g + f, &gv, sizeof gv);
        }
#endif
        for (; f + 4 <= n; f += 4) {
            fg_v4d gv;
            memcpy(&gv, g + f, sizeof gv);
            gv += D0 * FN(load4)(p0 + f) + D1 * FN(load4)(p1 + f) +
                  D2 * FN(load4)(p2 + f) + D3 * FN(load4)(p3 + f);
            memcpy(g + f, &gv, sizeof gv);
        }
    }
#endif
#pragma omp simd
    for (ptrdiff_t u = f; u < n; u++)
        g[u] += d0 * (double)p0[u] + d1 * (double)p1[u] + d2 * (double)p2[u] +
                d3 * (double)p3[u];
}

#if FG_HAVE_VECEXT && FG_F32_W8 && !defined(FG_AXPY4D_DEFINED)
#define FG_AXPY4D_DEFINED
/* axpy4 of rows already as doubles (dot1vd's copies), 8 at a time */
FG_INLINE void fg_axpy4d(double *FG_RESTRICT g, const double *FG_RESTRICT p0,
                         const double *FG_RESTRICT p1, const double *FG_RESTRICT p2,
                         const double *FG_RESTRICT p3, const double *d, ptrdiff_t n)
{
    const double d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3];
    ptrdiff_t f = 0;
    for (; f + 8 <= n; f += 8) {
        fg_v8d gv, x0, x1, x2, x3;
        memcpy(&gv, g + f, sizeof gv);
        memcpy(&x0, p0 + f, sizeof x0); memcpy(&x1, p1 + f, sizeof x1);
        memcpy(&x2, p2 + f, sizeof x2); memcpy(&x3, p3 + f, sizeof x3);
        gv += (d0 * x0 + d1 * x1) + (d2 * x2 + d3 * x3);
        memcpy(g + f, &gv, sizeof gv);
    }
    for (; f < n; f++) g[f] += (d0 * p0[f] + d1 * p1[f]) + (d2 * p2[f] + d3 * p3[f]);
}
#endif

FG_INLINE void FN(axpy1)(double *FG_RESTRICT g, const T *FG_RESTRICT p, double d, ptrdiff_t n)
{
#pragma omp simd
    for (ptrdiff_t f = 0; f < n; f++) g[f] += d * (double)p[f];
}

/* ---- row path: one output.  n is a parameter so that the small-n callers
 * below specialise it to a constant (loops fully unrolled, g in registers). */
FG_INLINE double FN(rows_k1)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t n,
                             double *FG_RESTRICT g, double *work)
{
    const T *coef = (const T *)a->coef;
    const T *v = (const T *)a->v;
    const double b = a->icpt ? (double)((const T *)a->icpt)[0] : 0.0;
    const double vb = a->vicpt ? (double)((const T *)a->vicpt)[0] : 0.0;
    const int mode = fg_mode(a), loss = a->loss;
    const int need_z = mode != FG_MODE_HESSP || loss != FG_SQUARED;
    const int need_y = mode != FG_MODE_HESSP || fg_hess_needs_y(loss);
    T *buf = (T *)work;
    double *z = work + 4 * n, *t = z + 4, *yb = t + 4, *wb = yb + 4, *d = wb + 4;
    double *lb = d + 4;
    double acc = 0.0, gi = 0.0;
    ptrdiff_t i = r0;
    if (a->sc == 1) {
        /* blocks of block_rows rows (the plan's: about half of L1d): z for the block, the
         * pointwise step over the whole block (independent iterations that
         * pipeline, instead of a chain of exp/log latencies every 4 rows),
         * then the axpys while the block's rows are still in L1 */
        double *zB = lb + 4, *tB = zB + FG_BR, *yB = tB + FG_BR, *wB = yB + FG_BR;
        double *dB = wB + FG_BR, *lB = dB + FG_BR;
        /* float rows of the avx512 clone: coef (and v) as doubles for the
         * chunk, 64-byte aligned after the block buffers (fg_work_size) */
        double *cd = NULL, *vd = NULL, *rb = NULL;
        const ptrdiff_t np8 = (n + 7) & ~(ptrdiff_t)7;
        ptrdiff_t BR = FG_BLOCK_ROWS(a);
#if FG_HAVE_VECEXT && FG_F32_W8
        if (sizeof(T) == 4 && (a->stream & FG_STREAM_SEQ)) {
            /* and the block's rows as doubles (rb, BR x np8): the plan's block
             * of float rows (half of L1d) halved, so that the doubles take as
             * much of L1d as the floats did */
            cd = (double *)(((uintptr_t)(lB + FG_BR) + 63) & ~(uintptr_t)63);
            vd = cd + np8;
            rb = vd + np8;
            BR = BR / 2 < 4 ? 4 : (BR / 2) & ~(ptrdiff_t)3;
            for (ptrdiff_t f = 0; f < n; f++) {
                cd[f] = (double)coef[f];
                if (v) vd[f] = (double)v[f];
            }
        }
#endif
        (void)cd, (void)vd, (void)rb, (void)np8;  /* unused by the portable build */
        /* the plan's (fastgrad/_plan.py, stream_flags, which gives the
         * measurements): prefetch the rows 8 ahead when they come from memory
         * and are short enough; the dot products row after row (X read front
         * to back) for rows of 16 values and more */
        const int pf = (a->stream & FG_STREAM_PREFETCH) != 0;
        const int seq = (a->stream & FG_STREAM_SEQ) != 0;
#if FG_HAVE_VECEXT
        /* the plan's (fastgrad/_plan.py, STREAM_AHEAD_BYTES, which gives the
         * measurements): the blocked loop's rows prefetched into L2 instead,
         * further ahead, so the stream from memory runs on through the
         * pointwise step and the axpys.  float64 only (the plan's), so the
         * float32 loops compile without it */
        const int l2 = sizeof(T) == 8 && seq && (a->stream & FG_STREAM_L2) != 0;
        const ptrdiff_t ahead = a->stream >> FG_STREAM_AHEAD_SHIFT;
        /* the blocked loop's prefetch of a row `ahead`, with the plan's
         * FG_STREAM_SPLIT (fastgrad/_plan.py, PREFETCH_SPLIT): its first half of
         * lines by the dot phase, the rest by the axpy phase (all by the dot
         * phase without one, or without the flag), so that memory stays busy
         * through the whole block, not only the dot products.  Intel Xeon (family 6 model 167, L2 2 MiB),
         * tools/kernel_floor.py, the kernel alone, 1 thread, whole rows in the
         * dot phase -> split: 500,000 x 100 f64 C logistic 33.1-33.8 ->
         * 31.3-31.4 ms, hessp 35.1 -> 31.2, 500,000 x 200 logistic 68.2 ->
         * 63.4, 1,000,000 x 40 28.9 -> 26.9 (one read 21-51 ms) */
        const ptrdiff_t rowlen = n * (ptrdiff_t)sizeof(T);
        const int split = (a->stream & FG_STREAM_SPLIT) != 0 && mode != FG_MODE_VALUE;
        const ptrdiff_t mid = split ? (rowlen / 2) & ~(ptrdiff_t)63 : rowlen;
        if (seq && pf && !a->rows && (a->stream & FG_STREAM_QUARTERS)) {
            /* the plan's (fastgrad/_plan.py, QUARTERS): the chunk's rows as four
             * quarters read in lockstep, each block R rows of each quarter
             * (the squared loss: R = 1, four rows a step), so that four
             * streams run ahead from memory where one did.  The rest of the
             * chunk (fewer than 4 R rows) by the loops below */
            const ptrdiff_t R = loss == FG_SQUARED ? 1 : BR / 4;
            const ptrdiff_t q = (r1 - i) / (4 * R) * R, nb = 4 * R;
            const ptrdiff_t qa = l2 ? ahead : 8;   /* rows ahead in each quarter */
            const T *pr[FG_BR];
            for (ptrdiff_t j = 0; j < q; j += R) {
                for (ptrdiff_t u = 0; u < R; u++)
                    for (ptrdiff_t s = 0; s < 4; s++) {
                        const ptrdiff_t k = s * R + u;
                        const T *p = FN(row_ptr)(a, i + s * q + j + u, n, buf);
                        pr[k] = p;
                        if (j + u + qa < q) {   /* this quarter's row ahead */
                            const char *nx = (const char *)p + qa * a->sr * (ptrdiff_t)sizeof(T);
                            if (l2)
                                for (ptrdiff_t o = 0; o < mid; o += 64) FG_PREFETCH_L2(nx + o);
                            else
                                for (ptrdiff_t o = 0; o < rowlen; o += 64) FG_PREFETCH(nx + o);
                        }
                        if (need_z) {
                            if (mode == FG_MODE_HESSP)
                                FN(dot1x)(p, coef, v, cd, vd, n, zB + k, tB + k, rb ? rb + k * np8 : NULL);
                            else
                                FN(dot1x)(p, coef, NULL, cd, NULL, n, zB + k, NULL, rb ? rb + k * np8 : NULL);
                            zB[k] += b;
                            if (mode == FG_MODE_HESSP) tB[k] += vb;
                        } else {
                            FN(dot1x)(p, v, NULL, vd, NULL, n, tB + k, NULL, rb ? rb + k * np8 : NULL);
                            tB[k] += vb;
                        }
                    }
                for (ptrdiff_t s = 0; s < 4; s++)
                    FN(gather_yw)(a, i + s * q + j, R, 0, need_y, yB + s * R, wB + s * R);
                acc += pw_block(loss, a->power, mode, nb, zB, tB, yB, a->w ? wB : NULL, dB, lB);
                if (mode == FG_MODE_VALUE) continue;
                for (ptrdiff_t k = 0; k < nb; k += 4) {
                    if (l2 && split)   /* the second half of the rows ahead */
                        for (ptrdiff_t u = 0; u < 4; u++) {
                            const ptrdiff_t ju = j + (k + u) % R;
                            if (ju + ahead < q) {
                                const char *nx = (const char *)pr[k + u] + ahead * a->sr * (ptrdiff_t)sizeof(T);
                                for (ptrdiff_t o = mid; o < rowlen; o += 64) FG_PREFETCH_L2(nx + o);
                            }
                        }
                    gi += (dB[k] + dB[k + 1]) + (dB[k + 2] + dB[k + 3]);
#if FG_F32_W8
                    if (rb) {
                        const double *q0 = rb + k * np8;
                        fg_axpy4d(g, q0, q0 + np8, q0 + 2 * np8, q0 + 3 * np8, dB + k, n);
                        continue;
                    }
#endif
                    FN(axpy4)(g, pr[k], pr[k + 1], pr[k + 2], pr[k + 3], dB + k, n);
                }
            }
            i += 4 * q;
        }
        if (seq && loss == FG_SQUARED) {
            /* the squared loss from memory: four rows at a time, their dots,
             * d, and one axpy4 while the rows are in L1, each row 8 ahead
             * prefetched: a steady stream.  (C harness, 500,000 x 100 in one
             * process: one row at a time 22.6-27.8 ms, the blocks of 64 rows
             * 30.5-33.8, a plain sum of X 21.2.  Four rows instead of one,
             * side by side in the package: float32 1.43-1.68x -> 1.18-1.31x
             * one read, float64 unchanged.  The logistic step needs the
             * blocks, whose vectorised exp/log cost ~3.5 ns a row against ~20
             * one by one) */
            const T *y = (const T *)a->y, *wt = (const T *)a->w;
            const ptrdiff_t ys = a->ys0, ws = a->ws;
            /* four rows per step: each row's dot product in turn (X read
             * front to back), then one axpy4, so g is loaded and stored once
             * per four rows while they are still in L1 */
            for (; i + 4 <= r1; i += 4) {
                const T *pr[4];
                double dq[4];
                for (int u = 0; u < 4; u++) {
                    const T *p = FN(row_ptr)(a, i + u, n, buf);
                    const ptrdiff_t r = a->rows ? a->rows[i + u] : i + u;
                    pr[u] = p;
                    if (pf && !a->rows && l2) {  /* the plan's rows ahead, into L2 */
                        if (i + u + ahead < r1) {
                            const char *nx = (const char *)p + ahead * a->sr * (ptrdiff_t)sizeof(T);
                            for (ptrdiff_t o = 0; o < n * (ptrdiff_t)sizeof(T); o += 64)
                                FG_PREFETCH_L2(nx + o);
                        }
                    } else if (pf && !a->rows && i + u + 8 < r1) {
                        const char *nx = (const char *)p + 8 * a->sr * (ptrdiff_t)sizeof(T);
                        for (ptrdiff_t o = 0; o < n * (ptrdiff_t)sizeof(T); o += 64)
                            FG_PREFETCH(nx + o);
                    }
                    const double wi = wt ? (double)wt[r * ws] : 1.0;
                    if (mode == FG_MODE_HESSP) {
                        double tq;
                        FN(dot1x)(p, v, NULL, vd, NULL, n, &tq, NULL, rb + u * np8);
                        tq += vb;
                        dq[u] = wt ? wi * tq : tq;
                    } else {
                        double zq;
                        FN(dot1x)(p, coef, NULL, cd, NULL, n, &zq, NULL, rb + u * np8);
                        const double rq = (zq + b) - (double)y[r * ys];
                        if (mode == FG_MODE_VALUE) {
                            acc += wt ? 0.5 * rq * rq * wi : 0.5 * rq * rq;
                            continue;
                        }
                        dq[u] = wt ? wi * rq : rq;
                        acc += 0.5 * dq[u] * rq;
                    }
                }
                if (mode == FG_MODE_VALUE) continue;
                gi += (dq[0] + dq[1]) + (dq[2] + dq[3]);
#if FG_F32_W8
                if (rb) {
                    fg_axpy4d(g, rb, rb + np8, rb + 2 * np8, rb + 3 * np8, dq, n);
                    continue;
                }
#endif
                FN(axpy4)(g, pr[0], pr[1], pr[2], pr[3], dq, n);
            }
        }
#endif
        while (i + 4 <= r1) {
            const ptrdiff_t nb = (r1 - i < BR) ? ((r1 - i) & ~(ptrdiff_t)3) : BR;
            for (ptrdiff_t q = 0; q < nb; q += 4) {
                const ptrdiff_t iq = i + q;
                const T *p0 = FN(row_ptr)(a, iq, n, buf);
                const T *p1 = FN(row_ptr)(a, iq + 1, n, buf);
                const T *p2 = FN(row_ptr)(a, iq + 2, n, buf);
                const T *p3 = FN(row_ptr)(a, iq + 3, n, buf);
                if (!a->rows) {  /* rows 8 ahead: keeps memory busy */
                    if (pf && !seq) {
                        const char *nx = (const char *)p0 + 8 * a->sr * (ptrdiff_t)sizeof(T);
                        for (ptrdiff_t o = 0; o < 4 * n * (ptrdiff_t)sizeof(T); o += 64)
                            FG_PREFETCH(nx + o);
                    }
                } else if (iq + 8 <= r1) {  /* random rows: the next four early */
                    for (int u = 4; u < 8; u++) {
                        const char *nx = (const char *)((const T *)a->X + a->rows[iq + u] * a->sr);
                        for (ptrdiff_t o = 0; o < n * (ptrdiff_t)sizeof(T); o += 64)
                            FG_PREFETCH(nx + o);
                    }
                }
#if FG_HAVE_VECEXT
                if (seq) {  /* the 4 rows one after the other (see seq) */
                    const T *pr[4] = {p0, p1, p2, p3};
                    for (int r = 0; r < 4; r++) {
                        if (pf && !a->rows && l2) {  /* the plan's rows ahead, into L2 */
                            if (iq + r + ahead < r1) {   /* the first half (mid) */
                                const char *nx = (const char *)pr[r] + ahead * a->sr * (ptrdiff_t)sizeof(T);
                                for (ptrdiff_t o = 0; o < mid; o += 64) FG_PREFETCH_L2(nx + o);
                            }
                        } else if (pf && !a->rows) {  /* row 8 ahead, one row per row */
                            const char *nx = (const char *)pr[r] + 8 * a->sr * (ptrdiff_t)sizeof(T);
                            for (ptrdiff_t o = 0; o < n * (ptrdiff_t)sizeof(T); o += 64)
                                FG_PREFETCH(nx + o);
                        }
                        if (need_z) {
                            /* u = NULL spelled out: dot1v is inlined, and a
                             * constant NULL drops its second set of sums */
                            if (mode == FG_MODE_HESSP)
                                FN(dot1x)(pr[r], coef, v, cd, vd, n, zB + q + r, tB + q + r, rb + (q + r) * np8);
                            else
                                FN(dot1x)(pr[r], coef, NULL, cd, NULL, n, zB + q + r, NULL, rb + (q + r) * np8);
                            zB[q + r] += b;
                            if (mode == FG_MODE_HESSP) tB[q + r] += vb;
                        } else {
                            FN(dot1x)(pr[r], v, NULL, vd, NULL, n, tB + q + r, NULL, rb + (q + r) * np8);
                            tB[q + r] += vb;
                        }
                    }
                } else
#endif
                if (need_z && mode == FG_MODE_HESSP)
                    FN(dot4x2)(p0, p1, p2, p3, coef, v, n, b, vb, zB + q, tB + q);
                else if (need_z)
                    FN(dot4)(p0, p1, p2, p3, coef, n, b, zB + q);
                else if (mode == FG_MODE_HESSP)
                    FN(dot4)(p0, p1, p2, p3, v, n, vb, tB + q);
            }
            const double *w = FN(gather_yw)(a, i, nb, 0, need_y, yB, wB);
            acc += pw_block(loss, a->power, mode, nb, zB, tB, yB, w, dB, lB);
            if (mode != FG_MODE_VALUE) {
                for (ptrdiff_t q = 0; q < nb; q += 4) {
                    const ptrdiff_t iq = i + q;
#if FG_HAVE_VECEXT
                    if (seq && pf && !a->rows && l2 && split)   /* the second half of the rows ahead */
                        for (int u = 0; u < 4; u++)
                            if (iq + u + ahead < r1) {
                                const char *nx = (const char *)((const T *)a->X + (iq + u + ahead) * a->sr);
                                for (ptrdiff_t o = mid; o < rowlen; o += 64) FG_PREFETCH_L2(nx + o);
                            }
#endif
                    gi += (dB[q] + dB[q + 1]) + (dB[q + 2] + dB[q + 3]);
#if FG_F32_W8
                    if (rb) {
                        const double *q0 = rb + q * np8;
                        fg_axpy4d(g, q0, q0 + np8, q0 + 2 * np8, q0 + 3 * np8, dB + q, n);
                        continue;
                    }
#endif
                    FN(axpy4)(g, FN(row_ptr)(a, iq, n, buf), FN(row_ptr)(a, iq + 1, n, buf),
                              FN(row_ptr)(a, iq + 2, n, buf), FN(row_ptr)(a, iq + 3, n, buf),
                              dB + q, n);
                }
            }
            i += nb;
        }
    }
    for (; i + 4 <= r1; i += 4) {
        const T *p0 = FN(row_ptr)(a, i, n, buf);
        const T *p1 = FN(row_ptr)(a, i + 1, n, buf + n);
        const T *p2 = FN(row_ptr)(a, i + 2, n, buf + 2 * n);
        const T *p3 = FN(row_ptr)(a, i + 3, n, buf + 3 * n);
        if (!a->rows) {  /* rows 8 ahead: keeps memory busy while d is computed */
            const char *nx = (const char *)p0 + 8 * a->sr * (ptrdiff_t)sizeof(T);
            for (ptrdiff_t o = 0; o < 4 * n * (ptrdiff_t)sizeof(T); o += 64)
                FG_PREFETCH(nx + o);
        }
        if (a->rows && i + 8 <= r1) {  /* random rows: fetch the next four early */
            for (int q = 4; q < 8; q++) {
                const char *nx = (const char *)((const T *)a->X + a->rows[i + q] * a->sr);
                for (ptrdiff_t o = 0; o < n * (ptrdiff_t)sizeof(T); o += 64)
                    FG_PREFETCH(nx + o);
            }
        }
        if (need_z && mode == FG_MODE_HESSP)
            FN(dot4x2)(p0, p1, p2, p3, coef, v, n, b, vb, z, t);
        else if (need_z)
            FN(dot4)(p0, p1, p2, p3, coef, n, b, z);
        else if (mode == FG_MODE_HESSP)
            FN(dot4)(p0, p1, p2, p3, v, n, vb, t);
        const double *w = FN(gather_yw)(a, i, 4, 0, need_y, yb, wb);
        acc += pw_block(loss, a->power, mode, 4, z, t, yb, w, d, lb);
        if (mode == FG_MODE_VALUE) continue;
        gi += (d[0] + d[1]) + (d[2] + d[3]);
        FN(axpy4)(g, p0, p1, p2, p3, d, n);
    }
    if (i < r1) {
        const ptrdiff_t nb = r1 - i;
        for (ptrdiff_t q = 0; q < nb; q++) {
            const T *p = FN(row_ptr)(a, i + q, n, buf);
            z[q] = need_z ? FN(dot1)(p, coef, n) + b : 0.0;
            t[q] = mode == FG_MODE_HESSP ? FN(dot1)(p, v, n) + vb : 0.0;
        }
        const double *w = FN(gather_yw)(a, i, nb, 0, need_y, yb, wb);
        acc += pw_block(loss, a->power, mode, nb, z, t, yb, w, d, lb);
        if (mode != FG_MODE_VALUE) {
            for (ptrdiff_t q = 0; q < nb; q++) {
                const T *p = FN(row_ptr)(a, i + q, n, buf);
                gi += d[q];
                FN(axpy1)(g, p, d[q], n);
            }
        }
    }
    g[n] += gi;
    return acc;
}

#if FG_HAVE_VECEXT

/* rows_k1 as a call of its own, for rows_vec's last rows (fewer than 4 a
 * chunk), so that rows_vec's instances do not each carry a copy of its loops */
FG_PATH double FN(rows_k1_call)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t n,
                                double *FG_RESTRICT g, double *work)
{
    return FN(rows_k1)(a, r0, r1, n, g, work);
}

/* Row path for n = 4 NV (NV <= 4) with contiguous rows: 4 rows at a time, the
 * four dot products reduced together by a transpose (no per-row horizontal
 * sums), in blocks of rows (see rows_k1), g held in NV vector registers for
 * the whole chunk.  An 8-wide form for the avx512 clone (n = 8 and 16: 8 rows
 * a step, a row one or two vectors of 8, the 8 dot products reduced by
 * fg_hsum8x8, d broadcast into the FMAs) was not kept: on an Intel Xeon
 * (family 6 model 167 as virtualised, L1d 48 KiB, L2 2 MiB), the kernel alone
 * against this one, 4,000,000 x 8 f64 C, medians of 5-7: from cache 0.95
 * (logistic) and 1.04 (squared), from memory 1.19 (logistic; 1.18-1.43 with
 * the prefetch 0, 64, 128 or 256 rows ahead) and 1.04 (squared). */
FG_INLINE double FN(rows_vec)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1, const int NV,
                              double *FG_RESTRICT g, double *work)
{
    const ptrdiff_t n = 4 * NV, sr = a->sr;
    const T *X = (const T *)a->X, *coef = (const T *)a->coef, *v = (const T *)a->v;
    const ptrdiff_t *rows = a->rows;
    const double b = a->icpt ? (double)((const T *)a->icpt)[0] : 0.0;
    const double vb = a->vicpt ? (double)((const T *)a->vicpt)[0] : 0.0;
    const int mode = fg_mode(a), loss = a->loss;
    const int need_z = mode != FG_MODE_HESSP || loss != FG_SQUARED;
    const int need_y = mode != FG_MODE_HESSP || fg_hess_needs_y(loss);
    /* blocks of block_rows rows (the plan's): z (and t) for the block, the
     * pointwise step over the whole block, then g += d x from L1 */
    const ptrdiff_t BR = FG_BLOCK_ROWS(a);
    double *zB = work, *tB = zB + FG_BR, *yB = tB + FG_BR, *wB = yB + FG_BR;
    double *dB = wB + FG_BR, *lB = dB + FG_BR;
    fg_v4d c[4], cv[4], gv[4];
    for (int q = 0; q < NV; q++) {
        c[q] = FN(load4)(coef + 4 * q);
        cv[q] = v ? FN(load4)(v + 4 * q) : c[q];
        gv[q] = (fg_v4d){0, 0, 0, 0};
    }
    double acc = 0.0, gi = 0.0;
    /* rows from memory (the plan's flag, set for a C-contiguous X without
     * rows= whose chunks do not fit in cache): prefetch the next block while
     * this one's dot products run, so that memory stays busy through the
     * pointwise step (for the logistic loss ~30 instructions per row, during
     * which the hardware prefetcher alone ran dry) */
    const int pf = (a->stream & FG_STREAM_PREFETCH) != 0;
    const ptrdiff_t ahead = pf ? a->stream >> FG_STREAM_AHEAD_SHIFT : 0;
    ptrdiff_t i = r0;
    while (i + 4 <= r1) {
        const ptrdiff_t nb = (r1 - i < BR) ? ((r1 - i) & ~(ptrdiff_t)3) : BR;
        for (ptrdiff_t u = 0; u < nb; u += 4) {
            if (pf && !ahead && i + nb + u + 4 <= r1) {
                const char *nx = (const char *)(X + (i + nb + u) * sr);
                for (ptrdiff_t o = 0; o < 4 * n * (ptrdiff_t)sizeof(T); o += 64)
                    FG_PREFETCH(nx + o);
            }
            fg_v4d x[4][4];
            for (int r = 0; r < 4; r++) {
                const T *pr = X + (rows ? rows[i + u + r] : i + u + r) * sr;
                for (int q = 0; q < NV; q++) x[r][q] = FN(load4)(pr + 4 * q);
            }
            for (int pass = 0; pass < 2; pass++) {
                if (pass == 0 && !need_z) continue;
                if (pass == 1 && mode != FG_MODE_HESSP) break;
                const fg_v4d *cc = pass == 0 ? c : cv;
                fg_v4d sm[4];
                for (int r = 0; r < 4; r++) {
                    sm[r] = x[r][0] * cc[0];
                    for (int q = 1; q < NV; q++) sm[r] += x[r][q] * cc[q];
                }
                fg_v4d zz = fg_sum4(sm[0], sm[1], sm[2], sm[3]);
                zz += pass == 0 ? b : vb;
                memcpy((pass == 0 ? zB : tB) + u, &zz, sizeof zz);
            }
        }
        if (ahead && i + ahead + nb <= r1) {
            /* the plan's distance (_plan.ROWS_VEC_AHEAD_BYTES, which gives the
             * measurements): a block's worth of rows `ahead` rows on, and of
             * y, into L1 before the pointwise step, instead of the next block
             * in the dot phase */
            const char *px = (const char *)(X + (i + ahead) * sr);
            for (ptrdiff_t o = 0; o < nb * n * (ptrdiff_t)sizeof(T); o += 64) FG_PREFETCH(px + o);
            if (need_y && a->ys0 == 1) {
                const char *py = (const char *)((const T *)a->y + i + ahead);
                for (ptrdiff_t o = 0; o < nb * (ptrdiff_t)sizeof(T); o += 64) FG_PREFETCH(py + o);
            }
        }
        const double *w = FN(gather_yw)(a, i, nb, 0, need_y, yB, wB);
        acc += pw_block(loss, a->power, mode, nb, zB, tB, yB, w, dB, lB);
        if (mode != FG_MODE_VALUE) {
            for (ptrdiff_t u = 0; u < nb; u += 4) {
                const double *d = dB + u;
                gi += (d[0] + d[1]) + (d[2] + d[3]);
                const T *p0 = X + (rows ? rows[i + u] : i + u) * sr;
                const T *p1 = X + (rows ? rows[i + u + 1] : i + u + 1) * sr;
                const T *p2 = X + (rows ? rows[i + u + 2] : i + u + 2) * sr;
                const T *p3 = X + (rows ? rows[i + u + 3] : i + u + 3) * sr;
                for (int q = 0; q < NV; q++)
                    gv[q] += d[0] * FN(load4)(p0 + 4 * q) + d[1] * FN(load4)(p1 + 4 * q) +
                             d[2] * FN(load4)(p2 + 4 * q) + d[3] * FN(load4)(p3 + 4 * q);
            }
        }
        i += nb;
    }
    for (int q = 0; q < NV; q++) {
        double tmp[4];
        memcpy(tmp, &gv[q], sizeof tmp);
        for (int l = 0; l < 4; l++) g[4 * q + l] += tmp[l];
    }
    g[n] += gi;
    if (i < r1) acc += FN(rows_k1_call)(a, i, r1, n, g, work + 6 * FG_BR);
    return acc;
}
/* ---- multinomial row path: 4 rows per step ---------------------------------
 * coef (and v) are copied once per chunk into double tiles cp[f][kp] (kp: k
 * rounded up to 4, padding 0), the intercept row likewise with padding -inf,
 * so padded classes get z = -inf, p = 0, d = 0.  For 4 rows the logits are
 * accumulated in vector registers (tiles of up to 3 vectors = 12 classes; each
 * load of coef serves the 4 rows); the softmax step runs per row over kp;
 * then gp[f][:] += sum_r x_r[f] d_r[:] with the 4 rows' d in registers, while
 * the rows are still in L1.  gp is added into g at the end of the chunk. */
FG_INLINE void FN(mn_dot)(const T *const *p, const ptrdiff_t xs, const fg_v4d *FG_RESTRICT cp,
                          ptrdiff_t n, ptrdiff_t kv, ptrdiff_t q0, const int TJ,
                          fg_v4d *FG_RESTRICT zo)
{
    /* TJ = 3: 12 accumulators + 3 of coef + 1 broadcast; TJ = 2: 8
     * accumulators; TJ = 1: two sets of 4 (even and odd f), so that at least 8
     * independent FMA chains hide the FMA latency and nothing spills from the
     * 16 AVX2 registers */
    fg_v4d s[2][4][2];
    for (int h = 0; h < 2; h++)
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 2; j++) s[h][r][j] = (fg_v4d){0, 0, 0, 0};
    const T *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3];
    ptrdiff_t f = 0;
    if (TJ == 1) {
        for (; f + 2 <= n; f += 2) {
            for (int h = 0; h < 2; h++) {
                const fg_v4d cj = cp[(f + h) * kv + q0];
                s[h][0][0] += (double)p0[(f + h) * xs] * cj;
                s[h][1][0] += (double)p1[(f + h) * xs] * cj;
                s[h][2][0] += (double)p2[(f + h) * xs] * cj;
                s[h][3][0] += (double)p3[(f + h) * xs] * cj;
            }
        }
    }
    if (TJ == 3) {
        fg_v4d a[4][3];
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 3; j++) a[r][j] = (fg_v4d){0, 0, 0, 0};
        for (; f < n; f++) {
            const fg_v4d *c = cp + f * kv + q0;
            const fg_v4d c0 = c[0], c1 = c[1], c2 = c[2];
            double x = (double)p0[f * xs];
            a[0][0] += x * c0; a[0][1] += x * c1; a[0][2] += x * c2;
            x = (double)p1[f * xs];
            a[1][0] += x * c0; a[1][1] += x * c1; a[1][2] += x * c2;
            x = (double)p2[f * xs];
            a[2][0] += x * c0; a[2][1] += x * c1; a[2][2] += x * c2;
            x = (double)p3[f * xs];
            a[3][0] += x * c0; a[3][1] += x * c1; a[3][2] += x * c2;
        }
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 3; j++) zo[r * kv + q0 + j] += a[r][j];
        return;
    }
    for (; f < n; f++) {
        const fg_v4d *c = cp + f * kv + q0;
        const double x0 = (double)p0[f * xs], x1 = (double)p1[f * xs];
        const double x2 = (double)p2[f * xs], x3 = (double)p3[f * xs];
        for (int j = 0; j < TJ; j++) {
            const fg_v4d cj = c[j];
            s[0][0][j] += x0 * cj;
            s[0][1][j] += x1 * cj;
            s[0][2][j] += x2 * cj;
            s[0][3][j] += x3 * cj;
        }
    }
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < TJ; j++) zo[r * kv + q0 + j] += s[0][r][j] + s[1][r][j];
}

FG_INLINE void FN(mn_axpy)(const T *const *p, const ptrdiff_t xs, const fg_v4d *FG_RESTRICT dv,
                           ptrdiff_t n, ptrdiff_t kv, ptrdiff_t q0, const int TJ,
                           fg_v4d *FG_RESTRICT gp)
{
    const T *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3];
    if (TJ == 3) {
        /* 12 d vectors + 3 of g + 1 broadcast: the 16 AVX2 registers */
        fg_v4d e[4][3];
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 3; j++) e[r][j] = dv[r * kv + q0 + j];
        for (ptrdiff_t f = 0; f < n; f++) {
            fg_v4d *gf = gp + f * kv + q0;
            fg_v4d g0 = gf[0], g1 = gf[1], g2 = gf[2];
            double x = (double)p0[f * xs];
            g0 += x * e[0][0]; g1 += x * e[0][1]; g2 += x * e[0][2];
            x = (double)p1[f * xs];
            g0 += x * e[1][0]; g1 += x * e[1][1]; g2 += x * e[1][2];
            x = (double)p2[f * xs];
            g0 += x * e[2][0]; g1 += x * e[2][1]; g2 += x * e[2][2];
            x = (double)p3[f * xs];
            g0 += x * e[3][0]; g1 += x * e[3][1]; g2 += x * e[3][2];
            gf[0] = g0; gf[1] = g1; gf[2] = g2;
        }
        return;
    }
    fg_v4d d[4][2];
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < TJ; j++) d[r][j] = dv[r * kv + q0 + j];
    for (ptrdiff_t f = 0; f < n; f++) {
        fg_v4d *gf = gp + f * kv + q0;
        const double x0 = (double)p0[f * xs], x1 = (double)p1[f * xs];
        const double x2 = (double)p2[f * xs], x3 = (double)p3[f * xs];
        for (int j = 0; j < TJ; j++)
            gf[j] += x0 * d[0][j] + x1 * d[1][j] + x2 * d[2][j] + x3 * d[3][j];
    }
}

/* tiles of 3 vectors (12 classes) over the kv vectors of classes, then 2 or 1
 * (4 = 2 + 2) */
FG_INLINE void FN(mn_dots)(const T *const *p, const ptrdiff_t xs, const fg_v4d *cp,
                           ptrdiff_t n, ptrdiff_t kv, fg_v4d *zo)
{
    ptrdiff_t q = 0;
    while (q < kv) {
        const ptrdiff_t rem = kv - q;
        if (rem == 1) { FN(mn_dot)(p, xs, cp, n, kv, q, 1, zo); q += 1; }
        else if (rem == 2 || rem == 4) { FN(mn_dot)(p, xs, cp, n, kv, q, 2, zo); q += 2; }
        else { FN(mn_dot)(p, xs, cp, n, kv, q, 3, zo); q += 3; }
    }
}

FG_INLINE void FN(mn_axpys)(const T *const *p, const ptrdiff_t xs, const fg_v4d *dv,
                            ptrdiff_t n, ptrdiff_t kv, fg_v4d *gp)
{
    ptrdiff_t q = 0;
    while (q < kv) {
        const ptrdiff_t rem = kv - q;
        if (rem == 1) { FN(mn_axpy)(p, xs, dv, n, kv, q, 1, gp); q += 1; }
        else if (rem == 2 || rem == 4) { FN(mn_axpy)(p, xs, dv, n, kv, q, 2, gp); q += 2; }
        else { FN(mn_axpy)(p, xs, dv, n, kv, q, 3, gp); q += 3; }
    }
}

#if !(defined(__AVX512F__) && defined(__AVX512VL__)) && \
    !(defined(__AVX2__) && defined(__FMA__))   /* there: rows_mn8, rows_mn4 below */
FG_PATH double FN(rows_mn)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                             double *FG_RESTRICT g, double *work)
{
    const ptrdiff_t n = a->n, k = a->k, kp = (k + 3) & ~(ptrdiff_t)3, kv = kp / 4;
    const int mode = fg_mode(a);
    const ptrdiff_t *rows = a->rows;
    const int unit = a->sc == 1;
    /* work, aligned for the vector type (fg_work_size has the slack) */
    double *base = (double *)(((uintptr_t)work + 31) & ~(uintptr_t)31);
    fg_v4d *cp = (fg_v4d *)base, *vp = cp + n * kv, *gp = vp + n * kv;
    fg_v4d *ip = gp + n * kv, *vip = ip + kv;
    fg_v4d *zb = vip + kv, *tb = zb + 4 * kv, *db = tb + 4 * kv;
    double *eb = (double *)(db + 4 * kv), *yb = eb + 4 * kp;
    double *cpd = (double *)cp, *vpd = (double *)vp, *gpd = (double *)gp;
    double *ipd = (double *)ip, *vipd = (double *)vip;
    const T *coef = (const T *)a->coef, *v = (const T *)a->v;
    const T *icpt = (const T *)a->icpt, *vicpt = (const T *)a->vicpt;

    for (ptrdiff_t f = 0; f < n; f++)
        for (ptrdiff_t j = 0; j < kp; j++)
            cpd[f * kp + j] = j < k ? (double)coef[f * k + j] : 0.0;
    if (mode == FG_MODE_HESSP)
        for (ptrdiff_t f = 0; f < n; f++)
            for (ptrdiff_t j = 0; j < kp; j++)
                vpd[f * kp + j] = j < k ? (double)v[f * k + j] : 0.0;
    for (ptrdiff_t j = 0; j < kp; j++) {
        ipd[j] = j < k ? (icpt ? (double)icpt[j] : 0.0) : -INFINITY;
        vipd[j] = (j < k && vicpt) ? (double)vicpt[j] : 0.0;
        yb[j] = 0.0;
    }
    if (mode != FG_MODE_VALUE) memset(gpd, 0, (size_t)(n * kp) * sizeof(double));

    const double *zd = (const double *)zb, *td = (const double *)tb;
    double *dd = (double *)db;
    double *gi = g + n * k;
    double acc = 0.0;
    for (ptrdiff_t i = r0; i < r1; i += 4) {
        const int nr = r1 - i < 4 ? (int)(r1 - i) : 4;
        const T *p[4];
        for (int r = 0; r < 4; r++)   /* no gather: the kernels step by a->sc */
            p[r] = (const T *)a->X + (rows ? rows[i + (r < nr ? r : 0)] : i + (r < nr ? r : 0)) * a->sr;
        if (rows && i + 8 <= r1 && a->sc == 1) {  /* random rows: the next four early */
            for (int q = 4; q < 8; q++) {
                const char *nx = (const char *)((const T *)a->X + rows[i + q] * a->sr);
                for (ptrdiff_t o = 0; o < n * (ptrdiff_t)sizeof(T); o += 64)
                    FG_PREFETCH(nx + o);
            }
        }
        if (!rows && a->sr == 1 && ((i - r0) & 7) == 0 && i + 72 < r1) {
            /* F-ordered X: n column streams, more than the hardware follows;
             * one line of each column 64 rows ahead, every 8 rows */
            const T *nx = (const T *)a->X + (i + 64);
            for (ptrdiff_t f = 0; f < n; f++) FG_PREFETCH(nx + f * a->sc);
        }
        for (int r = 0; r < 4; r++)
            for (ptrdiff_t q = 0; q < kv; q++) {
                zb[r * kv + q] = ip[q];
                tb[r * kv + q] = vip[q];
            }
        if (unit) {             /* rows contiguous: the stride a constant 1 */
            FN(mn_dots)(p, 1, cp, n, kv, zb);
            if (mode == FG_MODE_HESSP) FN(mn_dots)(p, 1, vp, n, kv, tb);
        } else {
            FN(mn_dots)(p, a->sc, cp, n, kv, zb);
            if (mode == FG_MODE_HESSP) FN(mn_dots)(p, a->sc, vp, n, kv, tb);
        }
        for (int r = 0; r < 4; r++) {
            double *dr = dd + r * kp;
            if (r >= nr) {
                for (ptrdiff_t j = 0; j < kp; j++) dr[j] = 0.0;
                continue;
            }
            const ptrdiff_t row = rows ? rows[i + r] : i + r;
            const double wi = a->w ? (double)((const T *)a->w)[row * a->ws] : 1.0;
            ptrdiff_t lab = -1;
            if (mode != FG_MODE_HESSP) {
                if (a->lab) {
                    lab = a->lab[row * a->ls];
                } else {
                    const T *y = (const T *)a->y + row * a->ys0;
                    for (ptrdiff_t j = 0; j < k; j++) yb[j] = (double)y[j * a->ys1];
                }
            }
            acc += pw_multi_pad(mode, k, kp, zd + r * kp, td + r * kp, yb, lab, wi, dr, eb);
        }
        if (mode == FG_MODE_VALUE) continue;
        for (int r = 0; r < nr; r++)
            for (ptrdiff_t j = 0; j < k; j++) gi[j] += dd[r * kp + j];
        if (unit) FN(mn_axpys)(p, 1, db, n, kv, gp);
        else FN(mn_axpys)(p, a->sc, db, n, kv, gp);
    }
    if (mode != FG_MODE_VALUE)
        for (ptrdiff_t f = 0; f < n; f++)
            for (ptrdiff_t j = 0; j < k; j++) g[f * k + j] += gpd[f * kp + j];
    return acc;
}
#endif
#endif

#if FG_HAVE_VECEXT && !defined(FG_MNPF_COMMON)
#define FG_MNPF_COMMON
/* ---- the prefetch cursor of the multinomial tiles (rows_mn8, rows_mn4) ---- */
/* the rows read in place are prefetched into L2 this many blocks ahead
 * (500,000 x 100 f64 C, CPU time, K = 10, when the prefetches were issued in a
 * burst by the first z tile: 1 block ahead into L1 64 ms, into L2 58-60, 2 or 4
 * blocks ahead into L2 58-59; K = 3 40, 37-38, 37-38; spread evenly, below, 1,
 * 2 or 4 blocks ahead the same within the noise) */
#define FG_MN8_PFD 2
/* The prefetch of a block FG_MN8_PFD blocks ahead, spread over this block's
 * multiply-adds: each step of a tile counts the vector multiply-adds it did
 * (fg_mn8_pf_take) and a line goes out every `per` of them, so the block's
 * lines go out at an even rate until its last step.  Issued in a burst (one
 * line of each of 8 rows a step of the first z tile, or all from the g tiles)
 * they waited on the L1 fill buffers (a software prefetch holds one, into L2
 * too) and memory then idled through the rest of the block.  Intel Xeon
 * (family 6 model 167 as virtualised, L2 2 MiB), 500,000 x 100 C, the kernel
 * alone on X from memory (2 MiB pages), CPU time, before -> after: f64 K = 10
 * 51.7-55.3 -> 45.0-48.3 ms, K = 3 33.4-34.8 -> 28.7-30.6 (one read 28);
 * f32 K = 10, bound by its arithmetic, 52-54 either way; from L2 (2,000 rows)
 * the counting costs 3-10 %, so the plan turns it on only for chunks from
 * memory (where f32 K = 10 is 1.04-1.05x the burst's time, and 1.17x with no
 * prefetch).  Finishing early (lines x 1.3, 1.7) 50-54, late (x 0.9) 54-57,
 * every other line only (for the adjacent-line prefetcher to bring the other)
 * 63-65.  F-ordered blocks (a run a column, instead of mn8_tr's prefetch)
 * measured 0.93-1.04x: not taken.  The block is runs of len bytes stride apart:
 * one run when its rows are back to back, else a run a row. */
typedef struct {
    const char *p, *end;   /* the next line; the end of its run */
    int64_t left, per;     /* multiply-adds until the next line is due; per line */
    const char *next;      /* the next run */
    ptrdiff_t runs, stride, len;   /* runs after this one; between runs; bytes a run */
} fg_mn8_pf;
/* a line due and the run at its end: the next run, or none (left never again
 * reaches 0) */
FG_INLINE void fg_mn8_pf_run(fg_mn8_pf *c)
{
    if (c->runs == 0) {
        c->left = INT64_MAX / 2;
        c->p = c->end = NULL;
        return;
    }
    c->runs--;
    c->p = (const char *)((uintptr_t)c->next & ~(uintptr_t)63);
    c->end = c->next + c->len;
    c->next += c->stride;
}
FG_INLINE void fg_mn8_pf_take(fg_mn8_pf *c, int64_t nfma)
{
    c->left -= nfma;
    while (c->left <= 0) {
        if (c->p >= c->end) {
            fg_mn8_pf_run(c);
            if (c->p == NULL) return;
        }
        FG_PREFETCH_L2(c->p);
        c->p += 64;
        c->left += c->per;
    }
}
/* the cursor over runs (>= 1) runs of len bytes stride apart from base, nfma
 * vector multiply-adds to spread them over (the lines of each run from its first) */
FG_INLINE void fg_mn8_pf_init(fg_mn8_pf *c, const char *base, ptrdiff_t runs, ptrdiff_t stride,
                              ptrdiff_t len, double nfma)
{
    c->p = (const char *)((uintptr_t)base & ~(uintptr_t)63);
    c->end = base + len;
    c->next = base + stride;
    c->runs = runs - 1;
    c->stride = stride;
    c->len = len;
    const double lines = (double)runs * (double)(len / 64 + 2);   /* at least as many */
    c->per = (int64_t)(nfma / lines);
    if (c->per < 1) c->per = 1;
    c->left = c->per;
}
#endif

#if FG_HAVE_VECEXT
/* ---- the block frame shared by the multinomial tiles (rows_mn8, rows_mn4) -- */
/* ct[j * np + f]: coef (j < k), then v (k <= j < kk), transposed and padded
 * with 0 to np; ic[j] their intercepts (0 without) */
FG_INLINE void FN(mn_coef_t)(const fg_args *a, ptrdiff_t kk, ptrdiff_t np, double *ct, double *ic)
{
    const ptrdiff_t n = a->n, k = a->k;
    const T *coef = (const T *)a->coef, *v = (const T *)a->v;
    const T *icpt = (const T *)a->icpt, *vicpt = (const T *)a->vicpt;
    for (ptrdiff_t j = 0; j < kk; j++) {
        const T *src = j < k ? coef + j : v + (j - k);
        for (ptrdiff_t f = 0; f < n; f++) ct[j * np + f] = (double)src[f * k];
        for (ptrdiff_t f = n; f < np; f++) ct[j * np + f] = 0.0;
        ic[j] = j < k ? (icpt ? (double)icpt[j] : 0.0) : (vicpt ? (double)vicpt[j - k] : 0.0);
    }
}

/* rows i .. i + nb (through rows=) copied to xb (np apart), the rows up to nv zero */
FG_INLINE void FN(mn_copy_rows)(const fg_args *a, ptrdiff_t i, ptrdiff_t nb, ptrdiff_t nv,
                                ptrdiff_t np, T *xb)
{
    const ptrdiff_t n = a->n, sr = a->sr, sc = a->sc;
    for (ptrdiff_t r = 0; r < nb; r++) {
        const T *src = (const T *)a->X + (a->rows ? a->rows[i + r] : i + r) * sr;
        T *dst = xb + r * np;
        if (sc == 1) memcpy(dst, src, (size_t)n * sizeof(T));
        else for (ptrdiff_t f = 0; f < n; f++) dst[f] = src[f * sc];
    }
    if (nv > nb) memset(xb + nb * np, 0, (size_t)((nv - nb) * np) * sizeof(T));
}

/* the block's weights wb, labels lb (or targets yt[j * B + r]) for r < nv, the
 * rows past nb copies of its first */
FG_INLINE void FN(mn_block_targets)(const fg_args *a, int mode, ptrdiff_t i, ptrdiff_t nb,
                                    ptrdiff_t nv, ptrdiff_t B, double *wb, ptrdiff_t *lb,
                                    double *yt)
{
    const int need_y = mode != FG_MODE_HESSP && !a->lab;
    for (ptrdiff_t r = 0; r < nv; r++) {
        const ptrdiff_t row = a->rows ? a->rows[i + (r < nb ? r : 0)] : i + (r < nb ? r : 0);
        wb[r] = a->w ? (double)((const T *)a->w)[row * a->ws] : 1.0;
        if (mode != FG_MODE_HESSP && a->lab) lb[r] = a->lab[row * a->ls];
        if (need_y) {
            const T *y = (const T *)a->y + row * a->ys0;
            for (ptrdiff_t j = 0; j < a->k; j++) yt[j * B + r] = (double)y[j * a->ys1];
        }
    }
}

/* the cursor over the B rows FG_MN8_PFD blocks after row i (read in place),
 * spread over nfma multiply-adds: one run when the rows lie (nearly) back to
 * back, else a run a row */
FG_INLINE void FN(mn_block_ahead)(const fg_args *a, ptrdiff_t i, ptrdiff_t B, double nfma,
                                  fg_mn8_pf *pc)
{
    const char *ah = (const char *)((const T *)a->X + (i + FG_MN8_PFD * B) * a->sr);
    const ptrdiff_t rb = a->n * (ptrdiff_t)sizeof(T), st = a->sr * (ptrdiff_t)sizeof(T);
    if (st - rb < 64) fg_mn8_pf_init(pc, ah, 1, 0, (B - 1) * st + rb, nfma);
    else fg_mn8_pf_init(pc, ah, B, st, rb, nfma);
}

/* the softmax step of the block (pw_multi_blk, by mode) and gi[j] += the
 * block's sum of d_j; returns its loss */
FG_INLINE double FN(mn_block_softmax)(const fg_args *a, int mode, ptrdiff_t nb, ptrdiff_t B,
                                      double *zt, const double *ic, const double *yt,
                                      const ptrdiff_t *lb, const double *wb, double *dt,
                                      double *scr, double *gi)
{
    const ptrdiff_t k = a->k;
    if (mode == FG_MODE_HESSP) {
        pw_multi_blk(2, k, nb, B, zt, zt + k * B, ic, ic + k, NULL, NULL, wb, dt, scr);
    } else if (mode == FG_MODE_VALUE) {
        return pw_multi_blk(1, k, nb, B, zt, NULL, ic, NULL, yt, a->lab ? lb : NULL, wb, dt,
                            scr);
    }
    const double l = mode == FG_MODE_HESSP ? 0.0 :
        pw_multi_blk(0, k, nb, B, zt, NULL, ic, NULL, yt, a->lab ? lb : NULL, wb, dt, scr);
    for (ptrdiff_t j = 0; j < k; j++) {
        double s = 0.0;
        for (ptrdiff_t r = 0; r < nb; r++) s += dt[j * B + r];
        gi[j] += s;
    }
    return l;
}
#endif

/* ---- multinomial tiles at 8 doubles (the avx512 clone) ----------------------
 * Blocks of B rows (the plan's block_rows, a multiple of 8).  Per block, z
 * (and t = X v for hessp: v's classes after coef's) for 8 rows at a time:
 *   groups of 8 classes as vectors of classes (mn8_zb): x_r[f] broadcast times
 *      the 8 classes' coef at f, up to 3 groups x 8 rows = 24 accumulators, then
 *      one 8 x 8 transpose a group into z^T (classes x B);
 *   the classes past the last group (K mod 8) along the features (mn8_z):
 *      x_r[f..f+8) * coef^T[j][f..f+8), 8 rows x up to 3 classes, then one
 *      transpose-and-add gives the 8 rows' logits of a class as one vector;
 *   so no class is padded whatever K.  Then the softmax over the block,
 *   vectorised over the rows (pw_multi_blk), and g^T[j][f..] += d[r][j] x_r[f..]
 *   in tiles of up to 6 classes x up to 8 vectors of features held in registers
 *   over the B rows (read again from L1; mn8_g).
 * Rows not read in place (F-ordered: 8 x 8 transposes, mn8_tr; strided or
 * rows=: copies) go to a buffer of B rows first.  The rows read in place are
 * prefetched into L2 FG_MN8_PFD blocks ahead, a line at a time at an even rate
 * over the block's multiply-adds (fg_mn8_pf), when the plan says they come from
 * memory (FG_STREAM_PREFETCH).  The last vector of a row is a
 * masked load (no read past it).  Measured against the alternatives in
 * tools/mn_floor.py's README row and the commit messages. */
#if FG_HAVE_VECEXT && defined(__AVX512F__) && defined(__AVX512VL__)
#ifndef FG_MN8_COMMON
#define FG_MN8_COMMON
#include <immintrin.h>
#define FG_MN8_MAXB 256
/* x kept in a register: GCC would otherwise fold its load into each FMA that
 * uses it (a load per FMA, the load ports then the limit) */
#define FG_MN8_REG(x) __asm__("" : "+v"(x))
/* v[r] = the sum of the 8 lanes of a[r], r < 8 */
FG_INLINE __m512d fg_hsum8x8(const __m512d *a)
{
    __m512d s[4], u[2];
    for (int i = 0; i < 4; i++)
        s[i] = _mm512_add_pd(_mm512_unpacklo_pd(a[2 * i], a[2 * i + 1]),
                             _mm512_unpackhi_pd(a[2 * i], a[2 * i + 1]));
    for (int i = 0; i < 2; i++)
        u[i] = _mm512_add_pd(_mm512_shuffle_f64x2(s[2 * i], s[2 * i + 1], 0x88),
                             _mm512_shuffle_f64x2(s[2 * i], s[2 * i + 1], 0xdd));
    return _mm512_add_pd(_mm512_shuffle_f64x2(u[0], u[1], 0x88),
                         _mm512_shuffle_f64x2(u[0], u[1], 0xdd));
}
/* o[l][q] = a[q][l], q, l < 8: three stages of shuffles (24) */
FG_INLINE void fg_tr8x8(const __m512d *a, __m512d *o)
{
    const __m512i i0 = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i i1 = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    __m512d b[8], u[8];
    for (int q = 0; q < 8; q += 2) {
        b[q] = _mm512_unpacklo_pd(a[q], a[q + 1]);
        b[q + 1] = _mm512_unpackhi_pd(a[q], a[q + 1]);
    }
    for (int q = 0; q < 8; q += 4)
        for (int h = 0; h < 2; h++) {
            u[q + h] = _mm512_permutex2var_pd(b[q + h], i0, b[q + h + 2]);
            u[q + h + 2] = _mm512_permutex2var_pd(b[q + h], i1, b[q + h + 2]);
        }
    /* u[h]: rows lo, lo + 2 (lo = 0, 1, 4, 5) of columns 0..3, u[h + 4] the
     * same of columns 4..7 */
    for (int h = 0; h < 4; h++) {
        const int lo = (h & 1) + 4 * (h >> 1);
        o[lo] = _mm512_shuffle_f64x2(u[h], u[h + 4], 0x44);
        o[lo + 2] = _mm512_shuffle_f64x2(u[h], u[h + 4], 0xee);
    }
}
#endif

FG_INLINE __m512d FN(mn8_ld)(const T *p)
{
    if (sizeof(T) == 8) return _mm512_loadu_pd((const void *)p);
    return _mm512_cvtps_pd(_mm256_loadu_ps((const void *)p));
}
FG_INLINE __m512d FN(mn8_ldm)(const T *p, __mmask8 m)
{
    if (sizeof(T) == 8) return _mm512_maskz_loadu_pd(m, (const void *)p);
    return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, (const void *)p));
}

/* The 8 rows of a z tile at b + r sb bytes, r < 8, from two moving bases
 * (b, b5 = b + 5 sb) and two strides (sb, s3 = 3 sb): every address is one
 * x86 addressing mode, so the 8 rows (and the 8 prefetched) need 4 + 2
 * registers instead of 16 pointers spilled to the stack. */
#define FG_MN8_ROW(b, b5, sb, s3, r)                                               \
    ((r) == 0 ? (b) : (r) == 1 ? (b) + (sb) : (r) == 2 ? (b) + 2 * (sb) :            \
     (r) == 3 ? (b) + (s3) : (r) == 4 ? (b) + 4 * (sb) : (r) == 5 ? (b5) :           \
     (r) == 6 ? (b) + 2 * (s3) : (b5) + 2 * (sb))

/* zo[j * ldz + r] = x_r . ct[j * np ...], r < 8, j < MJ (ct padded with 0 to np),
 * x_r = x0 + r ss; the prefetch cursor pc (or NULL) advanced a step at a time */
FG_INLINE void FN(mn8_z)(const T *x0, ptrdiff_t ss, ptrdiff_t n, const double *FG_RESTRICT ct,
                         ptrdiff_t np, const int MJ, double *FG_RESTRICT zo, ptrdiff_t ldz,
                         fg_mn8_pf *pc)
{
    fg_mn8_pf pf;
    if (pc) pf = *pc;
    __m512d acc[3][8];
    for (int j = 0; j < MJ; j++)
        for (int r = 0; r < 8; r++) acc[j][r] = _mm512_setzero_pd();
    const ptrdiff_t sb = ss * (ptrdiff_t)sizeof(T), s3 = 3 * sb;
    const char *b = (const char *)x0, *b5 = b + 5 * sb;
    const ptrdiff_t nf = n & ~(ptrdiff_t)7;
    const double *c0 = ct;
    for (ptrdiff_t f = 0; f < nf; f += 8) {
        __m512d c[3];
        for (int j = 0; j < MJ; j++) c[j] = _mm512_load_pd(c0 + j * np);
        for (int r = 0; r < 8; r++) {
            __m512d x = FN(mn8_ld)((const T *)FG_MN8_ROW(b, b5, sb, s3, r));
            FG_MN8_REG(x);
            for (int j = 0; j < MJ; j++) acc[j][r] = _mm512_fmadd_pd(x, c[j], acc[j][r]);
        }
        if (pc) fg_mn8_pf_take(&pf, 8 * MJ);
        c0 += 8;
        b += 8 * sizeof(T);
        b5 += 8 * sizeof(T);
    }
    if (nf < n) {
        const __mmask8 m = (__mmask8)((1u << (n - nf)) - 1);
        __m512d c[3];
        for (int j = 0; j < MJ; j++) c[j] = _mm512_load_pd(c0 + j * np);
        for (int r = 0; r < 8; r++) {
            __m512d x = FN(mn8_ldm)((const T *)FG_MN8_ROW(b, b5, sb, s3, r), m);
            FG_MN8_REG(x);
            for (int j = 0; j < MJ; j++) acc[j][r] = _mm512_fmadd_pd(x, c[j], acc[j][r]);
        }
        if (pc) fg_mn8_pf_take(&pf, 8 * MJ);
    }
    for (int j = 0; j < MJ; j++) _mm512_storeu_pd(zo + j * ldz, fg_hsum8x8(acc[j]));
    if (pc) *pc = pf;
}

/* gt[j * np + f0 + 8 q ...] += sum_{r < nb} dt[j * ldd + r] x_r[f0 + 8 q ...], j < MJ,
 * q < NF, x_r = x0 + r ss; the last vector's load masked by ml; the prefetch
 * cursor pc (or NULL) advanced a row at a time */
FG_INLINE void FN(mn8_g)(const T *x0, ptrdiff_t ss, ptrdiff_t nb, ptrdiff_t f0, __mmask8 ml,
                         const double *FG_RESTRICT dt, ptrdiff_t ldd, const int MJ,
                         const int NF, double *FG_RESTRICT gt, ptrdiff_t np, fg_mn8_pf *pc)
{
    fg_mn8_pf pf;
    if (pc) pf = *pc;
    __m512d acc[6][8];
    for (int j = 0; j < MJ; j++)
        for (int q = 0; q < NF; q++) acc[j][q] = _mm512_load_pd(gt + j * np + f0 + 8 * q);
    const T *pr = x0 + f0;
    for (ptrdiff_t r = 0; r < nb; r++, pr += ss) {
        __m512d x[8];
        for (int q = 0; q < NF - 1; q++) {
            x[q] = FN(mn8_ld)(pr + 8 * q);
            FG_MN8_REG(x[q]);
        }
        x[NF - 1] = FN(mn8_ldm)(pr + 8 * (NF - 1), ml);
        FG_MN8_REG(x[NF - 1]);
        for (int j = 0; j < MJ; j++) {
            const __m512d dj = _mm512_set1_pd(dt[j * ldd + r]);
            for (int q = 0; q < NF; q++) acc[j][q] = _mm512_fmadd_pd(x[q], dj, acc[j][q]);
        }
        if (pc) fg_mn8_pf_take(&pf, MJ * NF);
    }
    for (int j = 0; j < MJ; j++)
        for (int q = 0; q < NF; q++) _mm512_store_pd(gt + j * np + f0 + 8 * q, acc[j][q]);
    if (pc) *pc = pf;
}

/* xb[r * np + f] = xs[r + f * sc], r < nb (a multiple of 8), f < n: 8 x 8
 * blocks transposed in registers (float32 through doubles, exactly); the same
 * columns po bytes further prefetched, one line for each 8 x 8 block */
FG_INLINE void FN(mn8_tr)(const T *xs, ptrdiff_t sc, ptrdiff_t n, ptrdiff_t nb, T *xb,
                          ptrdiff_t np, ptrdiff_t po)
{
    const ptrdiff_t n8 = n & ~(ptrdiff_t)7;
    for (ptrdiff_t f = 0; f < n8; f += 8) {
        const T *c = xs + f * sc;
        for (ptrdiff_t r = 0; r < nb; r += 8) {
            __m512d a[8], o[8];
            for (int q = 0; q < 8; q++) {
                a[q] = FN(mn8_ld)(c + q * sc + r);
                if (po) FG_PREFETCH_L2((const char *)(c + q * sc + r) + po);
            }
            fg_tr8x8(a, o);   /* a[q][l] = x(r + l, f + q) -> rows */
            T *d = xb + r * np + f;
            for (int l = 0; l < 8; l++) {
                if (sizeof(T) == 8) _mm512_storeu_pd((void *)(d + l * np), o[l]);
                else _mm256_storeu_ps((void *)(d + l * np), _mm512_cvtpd_ps(o[l]));  /* exact */
            }
        }
    }
    for (ptrdiff_t f = n8; f < n; f++)
        for (ptrdiff_t r = 0; r < nb; r++) xb[r * np + f] = xs[r + f * sc];
}

/* zo[(8 v + l) * ldz + r] = x_r . cv[v][.][l], r, l < 8, v < V: z of 8 rows for V
 * groups of 8 classes, a vector of 8 classes a row (x_r[f] broadcast, cv[v][f]
 * the 8 classes' coef at feature f), 8 V accumulators; then an 8 x 8 transpose
 * of each group instead of a transpose-and-add per class.  The prefetch cursor
 * pc (or NULL) advanced every 8 features. */
FG_INLINE void FN(mn8_zb)(const T *x0, ptrdiff_t ss, ptrdiff_t n, const double *FG_RESTRICT cv,
                          const int V, double *FG_RESTRICT zo, ptrdiff_t ldz, fg_mn8_pf *pc)
{
    fg_mn8_pf pf;
    if (pc) pf = *pc;
    __m512d acc[3][8];
    for (int v = 0; v < V; v++)
        for (int r = 0; r < 8; r++) acc[v][r] = _mm512_setzero_pd();
    const ptrdiff_t sb = ss * (ptrdiff_t)sizeof(T), s3 = 3 * sb;
    const char *b = (const char *)x0, *b5 = b + 5 * sb;
    const ptrdiff_t vs = 8 * n;   /* doubles between two groups of cv */
    ptrdiff_t f = 0;
#define FG_MN8_ZB_STEP()                                                                \
    do {                                                                                \
        __m512d c[3];                                                                   \
        for (int v = 0; v < V; v++) c[v] = _mm512_load_pd(cv + v * vs + 8 * f);         \
        for (int r = 0; r < 8; r++) {                                                   \
            __m512d x = _mm512_set1_pd((double)*(const T *)FG_MN8_ROW(b, b5, sb, s3, r)); \
            FG_MN8_REG(x);                                                              \
            for (int v = 0; v < V; v++) acc[v][r] = _mm512_fmadd_pd(x, c[v], acc[v][r]); \
        }                                                                               \
        b += sizeof(T);                                                                 \
        b5 += sizeof(T);                                                                \
        f++;                                                                            \
    } while (0)
    for (; f + 8 <= n;) {
        for (int u = 0; u < 8; u++) FG_MN8_ZB_STEP();
        if (pc) fg_mn8_pf_take(&pf, 64 * V);
    }
    for (; f < n;) FG_MN8_ZB_STEP();
    if (pc) fg_mn8_pf_take(&pf, 8 * V * (n & 7));
#undef FG_MN8_ZB_STEP
    for (int v = 0; v < V; v++) {
        __m512d o[8];
        fg_tr8x8(acc[v], o);
        for (int l = 0; l < 8; l++) _mm512_storeu_pd(zo + (8 * v + l) * ldz, o[l]);
    }
    if (pc) *pc = pf;
}

/* z^T of 8 rows, all kk classes: tiles of 3 classes (then 2 or 1), each
 * advancing the prefetch cursor pc (or NULL) */
FG_INLINE void FN(mn8_zs)(const T *x0, ptrdiff_t ss, ptrdiff_t n, const double *ct,
                          ptrdiff_t np, const double *cv, ptrdiff_t kk, double *zo,
                          ptrdiff_t ldz, fg_mn8_pf *pc)
{
    /* groups of 8 classes, 3 (then 2 or 1) at a time */
    const ptrdiff_t ng = kk / 8;
    for (ptrdiff_t v = 0; v < ng; v += 3) {
        const int V = ng - v >= 3 ? 3 : (int)(ng - v);
        const double *c = cv + v * 8 * n;
        double *z = zo + 8 * v * ldz;
        if (V == 3) FN(mn8_zb)(x0, ss, n, c, 3, z, ldz, pc);
        else if (V == 2) FN(mn8_zb)(x0, ss, n, c, 2, z, ldz, pc);
        else FN(mn8_zb)(x0, ss, n, c, 1, z, ldz, pc);
    }
    /* the other classes: tiles of 3 (then 2 or 1) along the features */
    ptrdiff_t j = 8 * ng;
    for (; j + 3 <= kk; j += 3)
        FN(mn8_z)(x0, ss, n, ct + j * np, np, 3, zo + j * ldz, ldz, pc);
    if (kk - j == 2) FN(mn8_z)(x0, ss, n, ct + j * np, np, 2, zo + j * ldz, ldz, pc);
    else if (kk - j == 1) FN(mn8_z)(x0, ss, n, ct + j * np, np, 1, zo + j * ldz, ldz, pc);
}

/* one tile of MJ classes over vectors [q, q + nf) of features, nf <= NFMAX */
#define FG_MN8_GT(MJ, NFMAX)                                                             \
    do {                                                                                 \
        const __mmask8 m_ = q + nf == nvec ? ml : (__mmask8)0xff;                        \
        switch (nf) {                                                                    \
        FG_MN8_GC(MJ, NFMAX, 8) FG_MN8_GC(MJ, NFMAX, 7) FG_MN8_GC(MJ, NFMAX, 6)          \
        FG_MN8_GC(MJ, NFMAX, 5) FG_MN8_GC(MJ, NFMAX, 4) FG_MN8_GC(MJ, NFMAX, 3)          \
        FG_MN8_GC(MJ, NFMAX, 2)                                                          \
        default: FN(mn8_g)(x0, ss, nb, 8 * q, m_, dt + j * ldd, ldd, MJ, 1, gt + j * np, np, \
                           pc);                                                          \
        }                                                                                \
    } while (0)
#define FG_MN8_GC(MJ, NFMAX, NF)                                                         \
    case NF:                                                                             \
        if (NF <= NFMAX)                                                                 \
            FN(mn8_g)(x0, ss, nb, 8 * q, m_, dt + j * ldd, ldd, MJ, NF <= NFMAX ? NF : 1, \
                      gt + j * np, np, pc);                                              \
        break;
/* MJ classes over all nvec vectors: tiles of at most NFMAX vectors (MJ NFMAX
 * accumulators <= 24), balanced (13 vectors at 4: 4 3 3 3, not 4 4 4 1) */
#define FG_MN8_G(MJ, NFMAX)                                                              \
    do {                                                                                 \
        const ptrdiff_t nt = (nvec + NFMAX - 1) / NFMAX;                                 \
        ptrdiff_t q = 0;                                                                 \
        for (ptrdiff_t t = 0; t < nt; t++) {                                             \
            const ptrdiff_t nf = (nvec * (t + 1)) / nt - (nvec * t) / nt;                \
            FG_MN8_GT(MJ, NFMAX);                                                        \
            q += nf;                                                                     \
        }                                                                                \
    } while (0)

/* g^T += d^T X_b: tiles of 6 classes (then 5 to 1) x vectors of features, each
 * advancing the prefetch cursor pc (or NULL) */
FG_INLINE void FN(mn8_gs)(const T *x0, ptrdiff_t ss, ptrdiff_t nb, ptrdiff_t n,
                          const double *dt, ptrdiff_t ldd, ptrdiff_t k, double *gt, ptrdiff_t np,
                          fg_mn8_pf *pc)
{
    const ptrdiff_t nvec = (n + 7) / 8;
    const int tail = (int)(n - 8 * (nvec - 1));
    const __mmask8 ml = (__mmask8)((1u << tail) - 1);
    ptrdiff_t j = 0;
    for (; j + 6 <= k; j += 6) FG_MN8_G(6, 4);
    switch (k - j) {
    case 5: FG_MN8_G(5, 4); break;
    case 4: FG_MN8_G(4, 6); break;
    case 3: FG_MN8_G(3, 8); break;
    case 2: FG_MN8_G(2, 8); break;
    case 1: FG_MN8_G(1, 8); break;
    default: break;
    }
}
#undef FG_MN8_G
#undef FG_MN8_GT
#undef FG_MN8_GC

FG_PATH double FN(rows_mn8)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                            double *FG_RESTRICT g, double *work)
{
    const ptrdiff_t n = a->n, k = a->k, np = (n + 7) & ~(ptrdiff_t)7;
    const int mode = fg_mode(a);
    const ptrdiff_t kk = mode == FG_MODE_HESSP ? 2 * k : k;
    ptrdiff_t B = a->block_rows & ~(ptrdiff_t)7;
    B = B < 8 ? 8 : (B > FG_MN8_MAXB ? FG_MN8_MAXB : B);
    const ptrdiff_t *rows = a->rows;
    const ptrdiff_t sr = a->sr, sc = a->sc;
    const T *X = (const T *)a->X;
    /* work (fg_work_size): ct kk np | gt k np | zt kk B | dt k B | yt k B | w B | sc 5 B |
     * ic kk | lab B | xb B np (T) */
    double *ct = (double *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
    double *gt = ct + kk * np, *zt = gt + k * np, *dt = zt + kk * B, *yt = dt + k * B;
    double *wb = yt + k * B, *scr = wb + B, *ic = scr + 5 * B;
    ptrdiff_t *lb = (ptrdiff_t *)(ic + ((kk + 7) & ~(ptrdiff_t)7));
    T *xb = (T *)(lb + B);
    /* cv[g][f][l]: coef of class 8 g + l at feature f, groups of 8 classes */
    double *cv = (double *)(((uintptr_t)(xb + B * np) + 63) & ~(uintptr_t)63);
    FN(mn_coef_t)(a, kk, np, ct, ic);
    for (ptrdiff_t j = 0; j < (kk & ~(ptrdiff_t)7); j++)
        for (ptrdiff_t f = 0; f < n; f++) cv[(j / 8) * 8 * n + f * 8 + (j & 7)] = ct[j * np + f];
    if (mode != FG_MODE_VALUE) memset(gt, 0, (size_t)(k * np) * sizeof(double));
    /* rows read in place: contiguous, evenly strided; else copied to xb */
    const int direct = sc == 1 && !rows;
    /* a full block's vector multiply-adds (z by groups of 8 classes, the
     * others along the features, then g): what the prefetch is spread over */
    const ptrdiff_t nfv = (n + 7) / 8;
    const double nfma = (double)B * (double)((kk / 8) * n + (kk % 8) * nfv +
                                             (mode == FG_MODE_VALUE ? 0 : k * nfv));
    double *gi = g + n * k;
    double acc = 0.0;
    for (ptrdiff_t i = r0; i < r1; i += B) {
        const ptrdiff_t nb = r1 - i < B ? r1 - i : B, nv = (nb + 7) & ~(ptrdiff_t)7;
        const T *x0;
        ptrdiff_t ss;
        if (direct && nb == nv) {
            x0 = X + i * sr;
            ss = sr;
        } else {
            /* gathered, strided, F-ordered (a transpose of the block) or the
             * last rows of the chunk: copied, the rows past nb zero */
            if (sr == 1 && !rows && nb == nv)
                FN(mn8_tr)(X + i, sc, n, nb, xb, np,
                           i + (FG_MN8_PFD + 1) * B <= r1 ? FG_MN8_PFD * B * (ptrdiff_t)sizeof(T) : 0);
            else
                FN(mn_copy_rows)(a, i, nb, nv, np, xb);
            x0 = xb;
            ss = np;
        }
        FN(mn_block_targets)(a, mode, i, nb, nv, B, wb, lb, yt);
        /* the rows FG_MN8_PFD blocks ahead (read in place only), prefetched by
         * the tiles through this block */
        fg_mn8_pf pc = {0};   /* set when ahead; zeroed for the compiler */
        const int ahead = (a->stream & FG_STREAM_PREFETCH) && direct && x0 != xb &&
                          i + (FG_MN8_PFD + 1) * B <= r1;
        if (ahead) FN(mn_block_ahead)(a, i, B, nfma, &pc);
        /* two copies of the tiles: with the cursor, and without it (NULL, a
         * constant: no counting at all where there is nothing to prefetch,
         * 3-6 % of the time of the F-ordered calls from L2) */
        if (ahead)
            for (ptrdiff_t r = 0; r < nv; r += 8)
                FN(mn8_zs)(x0 + r * ss, ss, n, ct, np, cv, kk, zt + r, B, &pc);
        else
            for (ptrdiff_t r = 0; r < nv; r += 8)
                FN(mn8_zs)(x0 + r * ss, ss, n, ct, np, cv, kk, zt + r, B, NULL);
        acc += FN(mn_block_softmax)(a, mode, nb, B, zt, ic, yt, lb, wb, dt, scr, gi);
        if (mode == FG_MODE_VALUE) continue;
        if (ahead) FN(mn8_gs)(x0, ss, nb, n, dt, B, k, gt, np, &pc);
        else FN(mn8_gs)(x0, ss, nb, n, dt, B, k, gt, np, NULL);
    }
    if (mode != FG_MODE_VALUE)
        for (ptrdiff_t f = 0; f < n; f++)
            for (ptrdiff_t j = 0; j < k; j++) g[f * k + j] += gt[j * np + f];
    return acc;
}
#define FG_HAVE_MN8 1
#endif

/* ---- multinomial tiles at 4 doubles (the avx2 clone) -------------------------
 * rows_mn8's plan at the width of AVX2 and its 16 vector registers: blocks of
 * B rows (the plan's block_rows, a multiple of 8); per block, z^T (and t = X v
 * for hessp) 4 rows at a time: groups of 4 classes as vectors (x_r[f]
 * broadcast times the group's coef at f, 2 groups x 4 rows = 8 accumulators,
 * then a 4 x 4 transpose a group; mn4_zb), the classes past the last group
 * along the features (x_r[f..f+4) * coef^T[j][f..f+4), 4 rows x up to 2
 * classes, then a transpose-and-add a class; mn4_z), so no class is padded; the
 * softmax vectorised over the rows (pw_multi_blk); g^T[j][f..] += d[r][j]
 * x_r[f..] in tiles of up to 4 classes x 3 vectors held in registers over the B
 * rows, read again from L1 (mn4_g).  Rows not read in place (F-ordered: 4 x
 * 4 transposes, mn4_tr; strided or rows=: copies) go to a buffer of B rows
 * first.  The rows read in place from memory are prefetched FG_MN8_PFD blocks
 * ahead at an even rate over the block's multiply-adds (fg_mn8_pf).  It
 * replaced a loop of 4 rows a step with the classes as padded vectors and the
 * softmax a row at a time (rows_mn, now the baseline clone's): AMD EPYC Zen 3
 * (L2 512 KiB), 500,000 x 100 f64 C, 1 thread, side by side in the package,
 * new/old: K = 3 0.48-0.53, K = 10 0.64-0.82, K = 32 0.93-0.99.  Tiles of 4
 * rows x 3 classes along the features (12 accumulators, spilling) instead of 2
 * and no class groups: K = 10 1.16x, K = 32 1.28x the time. */
#if FG_HAVE_VECEXT && defined(__AVX2__) && defined(__FMA__) && \
    !(defined(__AVX512F__) && defined(__AVX512VL__))
#ifndef FG_MN4_COMMON
#define FG_MN4_COMMON
#include <immintrin.h>
#define FG_MN4_MAXB 256
#ifndef FG_MN4_ZJ
#define FG_MN4_ZJ 2
#endif
/* the g tiles: 4 classes x 3 vectors of features (12 accumulators, 3 x vectors
 * and a broadcast: the 16 registers); 500,000 x 100 f64 C, K = 10 and 32, side
 * by side: 0.94-0.96x the time of 3 x 3, and 3 x 3 0.95-0.99x that of 2 x 4 */
#ifndef FG_MN4_GJ
#define FG_MN4_GJ 4
#define FG_MN4_GF 3
#endif
#ifndef FG_MN4_ZV
#define FG_MN4_ZV 2
#endif
#ifndef FG_MN4_ZB_MIN
#define FG_MN4_ZB_MIN 4
#endif
/* x kept in a register (as FG_MN8_REG) */
#define FG_MN4_REG(x) __asm__("" : "+x"(x))
/* the lanes below t (1 to 3) of 4 doubles / 4 floats */
FG_INLINE __m256i fg_mn4_mask64(int t)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(t), _mm256_setr_epi64x(0, 1, 2, 3));
}
/* [sum a[0], sum a[1], sum a[2], sum a[3]] */
FG_INLINE __m256d fg_hsum4x4(const __m256d *a)
{
    const __m256d t0 = _mm256_hadd_pd(a[0], a[1]), t1 = _mm256_hadd_pd(a[2], a[3]);
    return _mm256_add_pd(_mm256_permute2f128_pd(t0, t1, 0x20),
                         _mm256_permute2f128_pd(t0, t1, 0x31));
}
#endif

FG_INLINE __m256d FN(mn4_ld)(const T *p)
{
    if (sizeof(T) == 8) return _mm256_loadu_pd((const double *)(const void *)p);
    return _mm256_cvtps_pd(_mm_loadu_ps((const float *)(const void *)p));
}
/* the first t (1 to 3) elements, the others 0; m = fg_mn4_mask64(t) */
FG_INLINE __m256d FN(mn4_ldm)(const T *p, __m256i m)
{
    if (sizeof(T) == 8) return _mm256_maskload_pd((const double *)(const void *)p, m);
    /* the low 32 bits of each 64-bit lane of m, as 4 lanes of 32 */
    const __m128i m32 = _mm256_castsi256_si128(
        _mm256_permutevar8x32_epi32(m, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
    return _mm256_cvtps_pd(_mm_maskload_ps((const float *)(const void *)p, m32));
}

/* zo[j * ldz + r] = x_r . ct[j * np ...], r < 4, j < MJ (ct padded with 0 to np),
 * x_r = x0 + r ss; the prefetch cursor pc (or NULL) advanced a step at a time */
FG_INLINE void FN(mn4_z)(const T *x0, ptrdiff_t ss, ptrdiff_t n, const double *FG_RESTRICT ct,
                         ptrdiff_t np, const int MJ, double *FG_RESTRICT zo, ptrdiff_t ldz,
                         fg_mn8_pf *pc)
{
    fg_mn8_pf pf;
    if (pc) pf = *pc;
    __m256d acc[3][4];
    for (int j = 0; j < MJ; j++)
        for (int r = 0; r < 4; r++) acc[j][r] = _mm256_setzero_pd();
    const T *p0 = x0, *p1 = x0 + ss, *p2 = x0 + 2 * ss, *p3 = x0 + 3 * ss;
    const ptrdiff_t nf = n & ~(ptrdiff_t)3;
    for (ptrdiff_t f = 0; f < nf; f += 4) {
        __m256d c[3];
        for (int j = 0; j < MJ; j++) c[j] = _mm256_load_pd(ct + j * np + f);
        __m256d x = FN(mn4_ld)(p0 + f);
        FG_MN4_REG(x);
        for (int j = 0; j < MJ; j++) acc[j][0] = _mm256_fmadd_pd(x, c[j], acc[j][0]);
        x = FN(mn4_ld)(p1 + f);
        FG_MN4_REG(x);
        for (int j = 0; j < MJ; j++) acc[j][1] = _mm256_fmadd_pd(x, c[j], acc[j][1]);
        x = FN(mn4_ld)(p2 + f);
        FG_MN4_REG(x);
        for (int j = 0; j < MJ; j++) acc[j][2] = _mm256_fmadd_pd(x, c[j], acc[j][2]);
        x = FN(mn4_ld)(p3 + f);
        FG_MN4_REG(x);
        for (int j = 0; j < MJ; j++) acc[j][3] = _mm256_fmadd_pd(x, c[j], acc[j][3]);
        if (pc) fg_mn8_pf_take(&pf, 4 * MJ);
    }
    if (nf < n) {
        const __m256i m = fg_mn4_mask64((int)(n - nf));
        __m256d c[3];
        for (int j = 0; j < MJ; j++) c[j] = _mm256_load_pd(ct + j * np + nf);
        const T *pr[4] = {p0, p1, p2, p3};
        for (int r = 0; r < 4; r++) {
            const __m256d x = FN(mn4_ldm)(pr[r] + nf, m);
            for (int j = 0; j < MJ; j++) acc[j][r] = _mm256_fmadd_pd(x, c[j], acc[j][r]);
        }
        if (pc) fg_mn8_pf_take(&pf, 4 * MJ);
    }
    for (int j = 0; j < MJ; j++) _mm256_storeu_pd(zo + j * ldz, fg_hsum4x4(acc[j]));
    if (pc) *pc = pf;
}

/* gt[j * np + f0 + 4 q ...] += sum_{r < nb} dt[j * ldd + r] x_r[f0 + 4 q ...], j < MJ,
 * q < NF, x_r = x0 + r ss; the last vector's load masked by ml when MASKED
 * (the row's last vector, short); the prefetch cursor pc (or NULL) advanced a
 * row at a time */
FG_INLINE void FN(mn4_g)(const T *x0, ptrdiff_t ss, ptrdiff_t nb, ptrdiff_t f0, const int MASKED,
                         __m256i ml, const double *FG_RESTRICT dt, ptrdiff_t ldd,
                         const int MJ, const int NF, double *FG_RESTRICT gt, ptrdiff_t np,
                         fg_mn8_pf *pc)
{
    fg_mn8_pf pf;
    if (pc) pf = *pc;
    __m256d acc[4][6];
    for (int j = 0; j < MJ; j++)
        for (int q = 0; q < NF; q++) acc[j][q] = _mm256_load_pd(gt + j * np + f0 + 4 * q);
    const T *pr = x0 + f0;
    for (ptrdiff_t r = 0; r < nb; r++, pr += ss) {
        __m256d x[6];
        for (int q = 0; q < NF - 1; q++) {
            x[q] = FN(mn4_ld)(pr + 4 * q);
            FG_MN4_REG(x[q]);
        }
        x[NF - 1] = MASKED ? FN(mn4_ldm)(pr + 4 * (NF - 1), ml) : FN(mn4_ld)(pr + 4 * (NF - 1));
        FG_MN4_REG(x[NF - 1]);
        for (int j = 0; j < MJ; j++) {
            const __m256d dj = _mm256_broadcast_sd(dt + j * ldd + r);
            for (int q = 0; q < NF; q++) acc[j][q] = _mm256_fmadd_pd(x[q], dj, acc[j][q]);
        }
        if (pc) fg_mn8_pf_take(&pf, MJ * NF);
    }
    for (int j = 0; j < MJ; j++)
        for (int q = 0; q < NF; q++) _mm256_store_pd(gt + j * np + f0 + 4 * q, acc[j][q]);
    if (pc) *pc = pf;
}

/* xb[r * np + f] = xs[r + f * sc], r < nb (a multiple of 4), f < n: 4 x 4
 * blocks transposed in registers (float32 through doubles, exactly); the same
 * columns po bytes further prefetched, a line every 8 rows of a column */
FG_INLINE void FN(mn4_tr)(const T *xs, ptrdiff_t sc, ptrdiff_t n, ptrdiff_t nb, T *xb,
                          ptrdiff_t np, ptrdiff_t po)
{
    const ptrdiff_t n4 = n & ~(ptrdiff_t)3;
    for (ptrdiff_t f = 0; f < n4; f += 4) {
        const T *c = xs + f * sc;
        for (ptrdiff_t r = 0; r < nb; r += 4) {
            __m256d a[4];
            for (int q = 0; q < 4; q++) {
                a[q] = FN(mn4_ld)(c + q * sc + r);
                if (po && (r & 7) == 0) FG_PREFETCH_L2((const char *)(c + q * sc + r) + po);
            }
            /* a[q][l] = x(r + l, f + q) -> o[l][q] */
            const __m256d u0 = _mm256_unpacklo_pd(a[0], a[1]), u1 = _mm256_unpackhi_pd(a[0], a[1]);
            const __m256d u2 = _mm256_unpacklo_pd(a[2], a[3]), u3 = _mm256_unpackhi_pd(a[2], a[3]);
            __m256d o[4];
            o[0] = _mm256_permute2f128_pd(u0, u2, 0x20);
            o[1] = _mm256_permute2f128_pd(u1, u3, 0x20);
            o[2] = _mm256_permute2f128_pd(u0, u2, 0x31);
            o[3] = _mm256_permute2f128_pd(u1, u3, 0x31);
            T *d = xb + r * np + f;
            for (int l = 0; l < 4; l++) {
                if (sizeof(T) == 8) _mm256_storeu_pd((double *)(void *)(d + l * np), o[l]);
                else _mm_storeu_ps((float *)(void *)(d + l * np), _mm256_cvtpd_ps(o[l]));
            }
        }
    }
    for (ptrdiff_t f = n4; f < n; f++)
        for (ptrdiff_t r = 0; r < nb; r++) xb[r * np + f] = xs[r + f * sc];
}

/* zo[(4 v + l) * ldz + r] = x_r . cv[v][.][l], r, l < 4, v < V: z of 4 rows for V
 * groups of 4 classes, a vector of 4 classes a row (x_r[f] broadcast, cv[v][f]
 * the 4 classes' coef at f), 4 V accumulators; then a 4 x 4 transpose a group.
 * The prefetch cursor pc (or NULL) advanced every 4 features. */
FG_INLINE void FN(mn4_zb)(const T *x0, ptrdiff_t ss, ptrdiff_t n, const double *FG_RESTRICT cv,
                          const int V, double *FG_RESTRICT zo, ptrdiff_t ldz, fg_mn8_pf *pc)
{
    fg_mn8_pf pf;
    if (pc) pf = *pc;
    __m256d acc[FG_MN4_ZV][4];
    for (int v = 0; v < V; v++)
        for (int r = 0; r < 4; r++) acc[v][r] = _mm256_setzero_pd();
    const T *p0 = x0, *p1 = x0 + ss, *p2 = x0 + 2 * ss, *p3 = x0 + 3 * ss;
    const ptrdiff_t vs = 4 * n;   /* doubles between two groups of cv */
    ptrdiff_t f = 0;
#define FG_MN4_ZB_STEP()                                                                \
    do {                                                                                \
        __m256d c[FG_MN4_ZV];                                                           \
        for (int v = 0; v < V; v++) c[v] = _mm256_load_pd(cv + v * vs + 4 * f);         \
        __m256d x = _mm256_set1_pd((double)p0[f]);                                      \
        for (int v = 0; v < V; v++) acc[v][0] = _mm256_fmadd_pd(x, c[v], acc[v][0]);    \
        x = _mm256_set1_pd((double)p1[f]);                                              \
        for (int v = 0; v < V; v++) acc[v][1] = _mm256_fmadd_pd(x, c[v], acc[v][1]);    \
        x = _mm256_set1_pd((double)p2[f]);                                              \
        for (int v = 0; v < V; v++) acc[v][2] = _mm256_fmadd_pd(x, c[v], acc[v][2]);    \
        x = _mm256_set1_pd((double)p3[f]);                                              \
        for (int v = 0; v < V; v++) acc[v][3] = _mm256_fmadd_pd(x, c[v], acc[v][3]);    \
        f++;                                                                            \
    } while (0)
    for (; f + 4 <= n;) {
        for (int u = 0; u < 4; u++) FG_MN4_ZB_STEP();
        if (pc) fg_mn8_pf_take(&pf, 16 * V);
    }
    for (; f < n;) FG_MN4_ZB_STEP();
    if (pc) fg_mn8_pf_take(&pf, 4 * V * (n & 3));
#undef FG_MN4_ZB_STEP
    for (int v = 0; v < V; v++) {
        /* acc[v][r][l] -> o[l][r] */
        const __m256d u0 = _mm256_unpacklo_pd(acc[v][0], acc[v][1]);
        const __m256d u1 = _mm256_unpackhi_pd(acc[v][0], acc[v][1]);
        const __m256d u2 = _mm256_unpacklo_pd(acc[v][2], acc[v][3]);
        const __m256d u3 = _mm256_unpackhi_pd(acc[v][2], acc[v][3]);
        double *z = zo + 4 * v * ldz;
        _mm256_storeu_pd(z, _mm256_permute2f128_pd(u0, u2, 0x20));
        _mm256_storeu_pd(z + ldz, _mm256_permute2f128_pd(u1, u3, 0x20));
        _mm256_storeu_pd(z + 2 * ldz, _mm256_permute2f128_pd(u0, u2, 0x31));
        _mm256_storeu_pd(z + 3 * ldz, _mm256_permute2f128_pd(u1, u3, 0x31));
    }
    if (pc) *pc = pf;
}

/* z^T of 4 rows, all kk classes: groups of 4 classes as vectors (mn4_zb, up to
 * FG_MN4_ZV groups a tile), the classes past the last group along the
 * features (mn4_z, tiles of at most FG_MN4_ZJ classes, balanced) */
FG_INLINE void FN(mn4_zs)(const T *x0, ptrdiff_t ss, ptrdiff_t n, const double *ct,
                          ptrdiff_t np, const double *cv, ptrdiff_t kk, double *zo,
                          ptrdiff_t ldz, fg_mn8_pf *pc)
{
    const ptrdiff_t ng = kk >= FG_MN4_ZB_MIN ? kk / 4 : 0;
    for (ptrdiff_t v = 0; v < ng; v += FG_MN4_ZV) {
        const int V = ng - v >= FG_MN4_ZV ? FG_MN4_ZV : (int)(ng - v);
        const double *c = cv + v * 4 * n;
        double *z = zo + 4 * v * ldz;
        if (V == FG_MN4_ZV) FN(mn4_zb)(x0, ss, n, c, FG_MN4_ZV, z, ldz, pc);
        else if (V == 2) FN(mn4_zb)(x0, ss, n, c, 2, z, ldz, pc);
        else FN(mn4_zb)(x0, ss, n, c, 1, z, ldz, pc);
    }
    const ptrdiff_t k0 = 4 * ng, kr = kk - k0;
    zo += k0 * ldz;
    ct += k0 * np;
    const ptrdiff_t nt = (kr + FG_MN4_ZJ - 1) / FG_MN4_ZJ;
    ptrdiff_t j = 0;
    for (ptrdiff_t t = 0; t < nt; t++) {
        const ptrdiff_t mj = (kr * (t + 1)) / nt - (kr * t) / nt;
        if (mj == 3) FN(mn4_z)(x0, ss, n, ct + j * np, np, 3, zo + j * ldz, ldz, pc);
        else if (mj == 2) FN(mn4_z)(x0, ss, n, ct + j * np, np, 2, zo + j * ldz, ldz, pc);
        else FN(mn4_z)(x0, ss, n, ct + j * np, np, 1, zo + j * ldz, ldz, pc);
        j += mj;
    }
}

/* MJ classes over vectors [q, q + nf) of features, nf <= NFMAX <= 6; the last
 * of the row masked when short */
#define FG_MN4_GM(MJ, NF)                                                                \
    do {                                                                                 \
        if (q + nf == nvec && tail < 4)                                                  \
            FN(mn4_g)(x0, ss, nb, 4 * q, 1, ml, dt + j * ldd, ldd, MJ, NF, gt + j * np, np, pc); \
        else                                                                             \
            FN(mn4_g)(x0, ss, nb, 4 * q, 0, ml, dt + j * ldd, ldd, MJ, NF, gt + j * np, np, pc); \
    } while (0)
#define FG_MN4_GC(MJ, NFMAX, NF)                                                         \
    case NF:                                                                             \
        if (NF <= NFMAX) FG_MN4_GM(MJ, NF <= NFMAX ? NF : 1);                            \
        break;
/* MJ classes over all nvec vectors: tiles of at most NFMAX vectors, balanced */
#define FG_MN4_G(MJ, NFMAX)                                                              \
    do {                                                                                 \
        const ptrdiff_t nt = (nvec + NFMAX - 1) / NFMAX;                                 \
        ptrdiff_t q = 0;                                                                 \
        for (ptrdiff_t t = 0; t < nt; t++) {                                             \
            const ptrdiff_t nf = (nvec * (t + 1)) / nt - (nvec * t) / nt;                \
            switch (nf) {                                                                \
            FG_MN4_GC(MJ, NFMAX, 6) FG_MN4_GC(MJ, NFMAX, 5) FG_MN4_GC(MJ, NFMAX, 4)      \
            FG_MN4_GC(MJ, NFMAX, 3) FG_MN4_GC(MJ, NFMAX, 2)                              \
            default: FG_MN4_GM(MJ, 1);                                                   \
            }                                                                            \
            q += nf;                                                                     \
        }                                                                                \
    } while (0)

/* g^T += d^T X_b: tiles of FG_MN4_GJ classes x FG_MN4_GF vectors of features,
 * then 3 x 3, 2 x 4 or 1 x 6 */
FG_INLINE void FN(mn4_gs)(const T *x0, ptrdiff_t ss, ptrdiff_t nb, ptrdiff_t n,
                          const double *dt, ptrdiff_t ldd, ptrdiff_t k, double *gt, ptrdiff_t np,
                          fg_mn8_pf *pc)
{
    const ptrdiff_t nvec = (n + 3) / 4;
    const int tail = (int)(n - 4 * (nvec - 1));
    const __m256i ml = fg_mn4_mask64(tail & 3);
    ptrdiff_t j = 0;
    for (; j + FG_MN4_GJ <= k; j += FG_MN4_GJ) FG_MN4_G(FG_MN4_GJ, FG_MN4_GF);
    if (k - j == 3) FG_MN4_G(3, 3);
    else if (k - j == 2) FG_MN4_G(2, 4);
    else if (k - j == 1) FG_MN4_G(1, 6);
}
#undef FG_MN4_G
#undef FG_MN4_GC
#undef FG_MN4_GM

/* F-ordered X, a block of rows read in place (no transpose): a row's features
 * are sc apart, the block's rows of one feature back to back.
 * zo[j * ldz + r] = sum_f x[f][r] ct[j * np + f], r < 8 (2 vectors of 4 rows),
 * j < MJ (up to 4 classes: 8 accumulators), xs = the block's first row of
 * feature 0.  With pf, the same 8 rows of each column pf bytes further are
 * prefetched, one line a feature (spread over the tile). */
FG_INLINE void FN(mn4_zf)(const T *xs, ptrdiff_t sc, ptrdiff_t n, const double *FG_RESTRICT ct,
                          ptrdiff_t np, const int MJ, double *FG_RESTRICT zo, ptrdiff_t ldz,
                          ptrdiff_t pf)
{
    __m256d acc[4][2];
    for (int j = 0; j < MJ; j++) acc[j][0] = acc[j][1] = _mm256_setzero_pd();
    const T *c = xs;
    for (ptrdiff_t f = 0; f < n; f++, c += sc) {
        if (pf) FG_PREFETCH_L2((const char *)c + pf);
        __m256d x0 = FN(mn4_ld)(c), x1 = FN(mn4_ld)(c + 4);
        FG_MN4_REG(x0);
        FG_MN4_REG(x1);
        for (int j = 0; j < MJ; j++) {
            const __m256d cj = _mm256_broadcast_sd(ct + j * np + f);
            acc[j][0] = _mm256_fmadd_pd(x0, cj, acc[j][0]);
            acc[j][1] = _mm256_fmadd_pd(x1, cj, acc[j][1]);
        }
    }
    for (int j = 0; j < MJ; j++) {
        _mm256_storeu_pd(zo + j * ldz, acc[j][0]);
        _mm256_storeu_pd(zo + j * ldz + 4, acc[j][1]);
    }
}

/* z^T of the 8 rows at xs, all kk classes: tiles of at most 4 classes, balanced */
FG_INLINE void FN(mn4_zfs)(const T *xs, ptrdiff_t sc, ptrdiff_t n, const double *ct,
                           ptrdiff_t np, ptrdiff_t kk, double *zo, ptrdiff_t ldz, ptrdiff_t pf)
{
    const ptrdiff_t nt = (kk + 3) / 4;
    ptrdiff_t j = 0;
    for (ptrdiff_t t = 0; t < nt; t++) {
        const ptrdiff_t mj = (kk * (t + 1)) / nt - (kk * t) / nt;
        const ptrdiff_t p = t == 0 ? pf : 0;   /* the prefetch by the first tile */
        if (mj == 4) FN(mn4_zf)(xs, sc, n, ct + j * np, np, 4, zo + j * ldz, ldz, p);
        else if (mj == 3) FN(mn4_zf)(xs, sc, n, ct + j * np, np, 3, zo + j * ldz, ldz, p);
        else if (mj == 2) FN(mn4_zf)(xs, sc, n, ct + j * np, np, 2, zo + j * ldz, ldz, p);
        else FN(mn4_zf)(xs, sc, n, ct + j * np, np, 1, zo + j * ldz, ldz, p);
        j += mj;
    }
}

/* F-ordered, in place: gt[j * np + f0 + q] += sum_{r < nb} dt[j * ldd + r] x[f0 + q][r],
 * q < NQ (up to 4 features), j < MJ (up to 2 classes): 8 accumulators of 4 rows,
 * then one transpose-and-add a class; nb a multiple of 4 */
FG_INLINE void FN(mn4_gf)(const T *xs, ptrdiff_t sc, ptrdiff_t nb, ptrdiff_t f0, const int NQ,
                          const double *FG_RESTRICT dt, ptrdiff_t ldd, const int MJ,
                          double *FG_RESTRICT gt, ptrdiff_t np)
{
    __m256d acc[2][4];
    for (int j = 0; j < 2; j++)
        for (int q = 0; q < 4; q++) acc[j][q] = _mm256_setzero_pd();
    const T *c = xs + f0 * sc;
    for (ptrdiff_t r = 0; r < nb; r += 4) {
        __m256d x[4];
        for (int q = 0; q < NQ; q++) {
            x[q] = FN(mn4_ld)(c + q * sc + r);
            FG_MN4_REG(x[q]);
        }
        for (int j = 0; j < MJ; j++) {
            const __m256d dj = _mm256_load_pd(dt + j * ldd + r);
            for (int q = 0; q < NQ; q++) acc[j][q] = _mm256_fmadd_pd(x[q], dj, acc[j][q]);
        }
    }
    for (int j = 0; j < MJ; j++) {
        double *gj = gt + j * np + f0;
        _mm256_storeu_pd(gj, _mm256_add_pd(_mm256_loadu_pd(gj), fg_hsum4x4(acc[j])));
    }
}

/* g^T += d^T X_b for an F-ordered block read in place: tiles of 4 features x 2
 * classes (the last features 1 to 3: gt is padded to np, a multiple of 8, and
 * the padding's sums are 0) */
FG_INLINE void FN(mn4_gfs)(const T *xs, ptrdiff_t sc, ptrdiff_t nb, ptrdiff_t n,
                           const double *dt, ptrdiff_t ldd, ptrdiff_t k, double *gt, ptrdiff_t np)
{
    const ptrdiff_t n4 = n & ~(ptrdiff_t)3;
    for (ptrdiff_t j = 0; j < k; j += 2) {
        const int mj = k - j >= 2 ? 2 : 1;
        for (ptrdiff_t f = 0; f < n4; f += 4) {
            if (mj == 2) FN(mn4_gf)(xs, sc, nb, f, 4, dt + j * ldd, ldd, 2, gt + j * np, np);
            else FN(mn4_gf)(xs, sc, nb, f, 4, dt + j * ldd, ldd, 1, gt + j * np, np);
        }
        const int nq = (int)(n - n4);
        for (int mm = 1; mm <= 2; mm++) {
            if (mm != mj || nq == 0) continue;
            if (nq == 3) FN(mn4_gf)(xs, sc, nb, n4, 3, dt + j * ldd, ldd, mm, gt + j * np, np);
            else if (nq == 2) FN(mn4_gf)(xs, sc, nb, n4, 2, dt + j * ldd, ldd, mm, gt + j * np, np);
            else FN(mn4_gf)(xs, sc, nb, n4, 1, dt + j * ldd, ldd, mm, gt + j * np, np);
        }
    }
}

FG_PATH double FN(rows_mn4)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                            double *FG_RESTRICT g, double *work)
{
    const ptrdiff_t n = a->n, k = a->k, np = (n + 7) & ~(ptrdiff_t)7;
    const int mode = fg_mode(a);
    const ptrdiff_t kk = mode == FG_MODE_HESSP ? 2 * k : k;
    ptrdiff_t B = a->block_rows & ~(ptrdiff_t)7;
    B = B < 8 ? 8 : (B > FG_MN4_MAXB ? FG_MN4_MAXB : B);
    const ptrdiff_t *rows = a->rows;
    const ptrdiff_t sr = a->sr, sc = a->sc;
    const T *X = (const T *)a->X;
    /* work (fg_work_size, the layout of rows_mn8's): ct kk np | gt k np | zt kk B |
     * dt k B | yt k B | w B | sc 5 B | ic kk | lab B | xb B np (T) */
    double *ct = (double *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
    double *gt = ct + kk * np, *zt = gt + k * np, *dt = zt + kk * B, *yt = dt + k * B;
    double *wb = yt + k * B, *scr = wb + B, *ic = scr + 5 * B;
    ptrdiff_t *lb = (ptrdiff_t *)(ic + ((kk + 7) & ~(ptrdiff_t)7));
    T *xb = (T *)(lb + B);
    FN(mn_coef_t)(a, kk, np, ct, ic);
    /* cv[g][f][l]: coef of class 4 g + l at feature f, groups of 4 classes */
    double *cv = (double *)(((uintptr_t)(xb + B * np) + 63) & ~(uintptr_t)63);
    for (ptrdiff_t j = 0; j < (kk & ~(ptrdiff_t)3); j++)
        for (ptrdiff_t f = 0; f < n; f++) cv[(j / 4) * 4 * n + f * 4 + (j & 3)] = ct[j * np + f];
    if (mode != FG_MODE_VALUE) memset(gt, 0, (size_t)(k * np) * sizeof(double));
    /* rows read in place: contiguous, evenly strided; else copied to xb */
    const int direct = sc == 1 && !rows;
    /* a full block's vector multiply-adds (z, then g, as mn4_zs and mn4_gs):
     * what the prefetch is spread over */
    const ptrdiff_t nfv = (n + 3) / 4;
    const ptrdiff_t ng = kk >= FG_MN4_ZB_MIN ? kk / 4 : 0;
    const double nfma = (double)B * (double)(ng * n + (kk - 4 * ng) * nfv +
                                             (mode == FG_MODE_VALUE ? 0 : k * nfv));
    double *gi = g + n * k;
    double acc = 0.0;
    for (ptrdiff_t i = r0; i < r1; i += B) {
        const ptrdiff_t nb = r1 - i < B ? r1 - i : B, nv = (nb + 7) & ~(ptrdiff_t)7;
        const T *x0 = NULL;
        ptrdiff_t ss = 0;
        /* F-ordered, a whole block, where the plan says so (FG_STREAM_MN_COLS):
         * read in place by the column tiles (mn4_zf, mn4_gf), else transposed */
        const int cols = (a->stream & FG_STREAM_MN_COLS) && sr == 1 && sc != 1 && !rows &&
                         nb == B;
        /* F-ordered blocks: the columns of the block FG_MN8_PFD ahead prefetched
         * po bytes further on (none near the end of the chunk) */
        const ptrdiff_t po = i + (FG_MN8_PFD + 1) * B <= r1
                                 ? FG_MN8_PFD * B * (ptrdiff_t)sizeof(T) : 0;
        if (direct && nb == nv) {
            x0 = X + i * sr;
            ss = sr;
        } else if (!cols) {
            /* gathered, strided, F-ordered (a transpose of the block) or the
             * last rows of the chunk: copied, the rows past nb zero */
            if (sr == 1 && !rows && nb == nv)
                FN(mn4_tr)(X + i, sc, n, nb, xb, np, po);
            else
                FN(mn_copy_rows)(a, i, nb, nv, np, xb);
            x0 = xb;
            ss = np;
        }
        FN(mn_block_targets)(a, mode, i, nb, nv, B, wb, lb, yt);
        /* the rows FG_MN8_PFD blocks ahead (read in place only), prefetched by
         * the tiles through this block */
        fg_mn8_pf pc = {0};   /* set when ahead; zeroed for the compiler */
        const int ahead = (a->stream & FG_STREAM_PREFETCH) && direct && x0 != xb &&
                          i + (FG_MN8_PFD + 1) * B <= r1;
        if (ahead) FN(mn_block_ahead)(a, i, B, nfma, &pc);
        /* with the cursor, and without it (NULL, a constant: no counting) */
        if (cols) {
            for (ptrdiff_t r = 0; r < B; r += 8)
                FN(mn4_zfs)(X + i + r, sc, n, ct, np, kk, zt + r, B, po);
        } else if (ahead)
            for (ptrdiff_t r = 0; r < nv; r += 4)
                FN(mn4_zs)(x0 + r * ss, ss, n, ct, np, cv, kk, zt + r, B, &pc);
        else
            for (ptrdiff_t r = 0; r < nv; r += 4)
                FN(mn4_zs)(x0 + r * ss, ss, n, ct, np, cv, kk, zt + r, B, NULL);
        acc += FN(mn_block_softmax)(a, mode, nb, B, zt, ic, yt, lb, wb, dt, scr, gi);
        if (mode == FG_MODE_VALUE) continue;
        if (cols) FN(mn4_gfs)(X + i, sc, nb, n, dt, B, k, gt, np);
        else if (ahead) FN(mn4_gs)(x0, ss, nb, n, dt, B, k, gt, np, &pc);
        else FN(mn4_gs)(x0, ss, nb, n, dt, B, k, gt, np, NULL);
    }
    if (mode != FG_MODE_VALUE)
        for (ptrdiff_t f = 0; f < n; f++)
            for (ptrdiff_t j = 0; j < k; j++) g[f * k + j] += gt[j * np + f];
    return acc;
}
#define FG_HAVE_MN4 1
#endif

/* the row path for one output (FG_PATH_ROWS, FG_PATH_ROWS_STREAM) */
FG_PATH double FN(rows_any)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                            double *FG_RESTRICT g, double *work)
{
    return FN(rows_k1)(a, r0, r1, a->n, g, work);
}

#if FG_HAVE_VECEXT
/* FG_PATH_ROWS_VEC: the plan takes it only for contiguous rows (a->sc == 1)
 * of n = 4, 8, 12 or 16; n a constant in each call, so g stays in registers */
FG_PATH double FN(rows_vec_any)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                                double *FG_RESTRICT g, double *work)
{
    switch (a->n) {
        case 4: return FN(rows_vec)(a, r0, r1, 1, g, work);
        case 8: return FN(rows_vec)(a, r0, r1, 2, g, work);
        case 12: return FN(rows_vec)(a, r0, r1, 3, g, work);
        case 16: return FN(rows_vec)(a, r0, r1, 4, g, work);
        default: return FN(rows_any)(a, r0, r1, g, work);
    }
}
#endif

/* ---- row path: several outputs, one row at a time ----------------------- */
FG_PATH double FN(rows_kn)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                             double *FG_RESTRICT g, double *work)
{
    const ptrdiff_t n = a->n, k = a->k;
    const T *coef = (const T *)a->coef;
    const T *v = (const T *)a->v;
    const T *icpt = (const T *)a->icpt, *vicpt = (const T *)a->vicpt;
    const int mode = fg_mode(a), loss = a->loss;
    const int need_z = mode != FG_MODE_HESSP || loss != FG_SQUARED;
    T *buf = (T *)work;
    double *z = work + 4 * n, *t = z + k, *yb = t + k, *wb = yb + k, *d = wb + k;
    double *lb = d + k;
    double *gi = g + n * k;
    double acc = 0.0;
    for (ptrdiff_t i = r0; i < r1; i++) {
        const T *p = FN(row_ptr)(a, i, n, buf);
        for (ptrdiff_t j = 0; j < k; j++) {
            z[j] = icpt ? (double)icpt[j] : 0.0;
            t[j] = vicpt ? (double)vicpt[j] : 0.0;
        }
        for (ptrdiff_t f = 0; f < n; f++) {
            double x = (double)p[f];
            if (need_z) {
                const T *cf = coef + f * k;
#pragma omp simd
                for (ptrdiff_t j = 0; j < k; j++) z[j] += x * (double)cf[j];
            }
            if (mode == FG_MODE_HESSP) {
                const T *vf = v + f * k;
#pragma omp simd
                for (ptrdiff_t j = 0; j < k; j++) t[j] += x * (double)vf[j];
            }
        }
        ptrdiff_t r = a->rows ? a->rows[i] : i;
        double wi = a->w ? (double)((const T *)a->w)[r * a->ws] : 1.0;
        if (loss == FG_MULTINOMIAL) {
            ptrdiff_t lab = -1;
            if (mode != FG_MODE_HESSP) {
                if (a->lab) {
                    lab = a->lab[r * a->ls];
                } else {
                    const T *y = (const T *)a->y + r * a->ys0;
                    for (ptrdiff_t j = 0; j < k; j++) yb[j] = (double)y[j * a->ys1];
                }
            }
            acc += pw_multi1(mode, k, z, t, 1, yb, lab, wi, d, lb);
        } else {
            const double *w = NULL;
            if (a->w) {
                for (ptrdiff_t j = 0; j < k; j++) wb[j] = wi;
                w = wb;
            }
            if (mode != FG_MODE_HESSP || fg_hess_needs_y(loss)) {
                const T *y = (const T *)a->y + r * a->ys0;
                for (ptrdiff_t j = 0; j < k; j++) yb[j] = (double)y[j * a->ys1];
            }
            acc += pw_block(loss, a->power, mode, k, z, t, yb, w, d, lb);
        }
        if (mode == FG_MODE_VALUE) continue;
        for (ptrdiff_t j = 0; j < k; j++) gi[j] += d[j];
        for (ptrdiff_t f = 0; f < n; f++) {
            double x = (double)p[f];
            double *gf = g + f * k;
#pragma omp simd
            for (ptrdiff_t j = 0; j < k; j++) gf[j] += x * d[j];
        }
    }
    return acc;
}

/* ---- column path: X[:, f] contiguous (F-ordered), blocks of rows ---------- */

/* contiguous segment [b0, b0 + nb) of column f (gathered when rows are given) */
FG_INLINE const T *FN(col_seg)(const fg_args *a, ptrdiff_t f, ptrdiff_t b0, ptrdiff_t nb,
                               T *FG_RESTRICT xb)
{
    const T *col = (const T *)a->X + f * a->sc;
    if (!a->rows) return col + b0;
    for (ptrdiff_t b = 0; b < nb; b++) xb[b] = col[a->rows[b0 + b]];
    return xb;
}

/* The column path's prefetch of the next panel (the plan's FG_STREAM_PREFETCH,
 * "spread"): while rows [i0, i0 + line) of a panel's segments are read, on
 * every other line, the line at plo + i0 / 2 of each segment (the next panel's
 * part of that column) is prefetched while below phi.  The first sweep over a
 * panel (z) prefetches the first half of the next panel, the second (g) the
 * second half, so memory stays busy while the second sweep reads from cache.
 * plo = phi = 0: no prefetch (rows=, the last panel, an output j > 0). */
#define FG_COL_LINE ((ptrdiff_t)(64 / sizeof(T)))
FG_INLINE void FN(col_pf)(const T *const *x, const int nx, ptrdiff_t i0, ptrdiff_t plo,
                          ptrdiff_t phi)
{
#if FG_HAVE_VECEXT
    const ptrdiff_t o = plo + i0 / 2;
    if ((i0 & FG_COL_LINE) || o >= phi) return;
    for (int q = 0; q < nx; q++) FG_PREFETCH(x[q] + o);
#else
    (void)x, (void)nx, (void)i0, (void)plo, (void)phi;
#endif
}

/* the lines [i0, i1) of a panel, for the loops over its rows b; without the
 * vector extensions (the portable build) one step over the whole panel and no
 * prefetch (its reductions would fold the sums every line) */
#if FG_HAVE_VECEXT
#define FG_COL_STEP FG_COL_LINE
#else
#define FG_COL_STEP PTRDIFF_MAX
#endif
#define FG_COL_LINES(nb)                                                            \
    for (ptrdiff_t i0 = 0, i1; i1 = ((nb) - i0 <= FG_COL_STEP ? (nb) : i0 + FG_COL_STEP), \
                               i0 < (nb); i0 = i1)

/* z[0:nb] += X_b[:, f:f+4] @ c[0:4] (x[u] = column f + u's segment) */
FG_INLINE void FN(col_axpy4)(double *FG_RESTRICT z, const T *const *x, const double *c,
                             ptrdiff_t nb, ptrdiff_t plo, ptrdiff_t phi)
{
    const T *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
    const double c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
    FG_COL_LINES(nb) {
        FN(col_pf)(x, 4, i0, plo, phi);
        ptrdiff_t b0 = i0;
#if FG_HAVE_VECEXT
        if (sizeof(T) == 4) {  /* float: one conversion per 4 values (see axpy4) */
            const fg_v4d C0 = {c0, c0, c0, c0}, C1 = {c1, c1, c1, c1};
            const fg_v4d C2 = {c2, c2, c2, c2}, C3 = {c3, c3, c3, c3};
            for (; b0 + 4 <= i1; b0 += 4) {
                fg_v4d zv;
                memcpy(&zv, z + b0, sizeof zv);
                zv += FN(load4)(x0 + b0) * C0 + FN(load4)(x1 + b0) * C1 +
                      FN(load4)(x2 + b0) * C2 + FN(load4)(x3 + b0) * C3;
                memcpy(z + b0, &zv, sizeof zv);
            }
        }
#endif
#pragma omp simd
        for (ptrdiff_t b = b0; b < i1; b++)
            z[b] += (double)x0[b] * c0 + (double)x1[b] * c1 + (double)x2[b] * c2 +
                    (double)x3[b] * c3;
    }
}

/* z[0:nb] += X_b[:, f:f+8] @ c[0:8] (x[u] = column f + u's segment), and
 * t[0:nb] += X_b[:, f:f+8] @ u[0:8] when t: each value loaded once for both.
 * Eight columns per step instead of four: z (and t) is loaded and stored once
 * per eight columns, and eight column streams come from memory at once
 * (side by side, F-ordered 40,000 x 1000, best of 9, 3 rounds: logistic
 * 28.2-30.7 -> 24.2-27.4 ms, hessp 29.9-32.0 -> 25.3-27.6; 500,000 x 100
 * hessp 29.2-31.0 -> 26.8-29.0; squared within the noise; 500,000 x 100 F
 * float32 logistic 16.4-19.1 -> 15.0-15.2 with the vector loop for float) */
FG_INLINE void FN(col_axpy8)(double *FG_RESTRICT z, double *FG_RESTRICT t,
                             const T *const *x, const double *c, const double *u,
                             ptrdiff_t nb, ptrdiff_t plo, ptrdiff_t phi)
{
    const T *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
    const T *x4 = x[4], *x5 = x[5], *x6 = x[6], *x7 = x[7];
    const double c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
    const double c4 = c[4], c5 = c[5], c6 = c[6], c7 = c[7];
    if (!t) {
        FG_COL_LINES(nb) {
            FN(col_pf)(x, 8, i0, plo, phi);
            ptrdiff_t b0 = i0;
#if FG_HAVE_VECEXT
            if (sizeof(T) == 4) {  /* float: one conversion per 4 values (see axpy4) */
                const fg_v4d C0 = {c0, c0, c0, c0}, C1 = {c1, c1, c1, c1};
                const fg_v4d C2 = {c2, c2, c2, c2}, C3 = {c3, c3, c3, c3};
                const fg_v4d C4 = {c4, c4, c4, c4}, C5 = {c5, c5, c5, c5};
                const fg_v4d C6 = {c6, c6, c6, c6}, C7 = {c7, c7, c7, c7};
                for (; b0 + 4 <= i1; b0 += 4) {
                    fg_v4d zv;
                    memcpy(&zv, z + b0, sizeof zv);
                    zv += (FN(load4)(x0 + b0) * C0 + FN(load4)(x1 + b0) * C1 +
                           FN(load4)(x2 + b0) * C2 + FN(load4)(x3 + b0) * C3) +
                          (FN(load4)(x4 + b0) * C4 + FN(load4)(x5 + b0) * C5 +
                           FN(load4)(x6 + b0) * C6 + FN(load4)(x7 + b0) * C7);
                    memcpy(z + b0, &zv, sizeof zv);
                }
            }
#endif
#pragma omp simd
            for (ptrdiff_t b = b0; b < i1; b++)
                z[b] += ((double)x0[b] * c0 + (double)x1[b] * c1 + (double)x2[b] * c2 +
                         (double)x3[b] * c3) +
                        ((double)x4[b] * c4 + (double)x5[b] * c5 + (double)x6[b] * c6 +
                         (double)x7[b] * c7);
        }
        return;
    }
    const double u0 = u[0], u1 = u[1], u2 = u[2], u3 = u[3];
    const double u4 = u[4], u5 = u[5], u6 = u[6], u7 = u[7];
    FG_COL_LINES(nb) {
        FN(col_pf)(x, 8, i0, plo, phi);
#pragma omp simd
        for (ptrdiff_t b = i0; b < i1; b++) {
            const double y0 = (double)x0[b], y1 = (double)x1[b], y2 = (double)x2[b];
            const double y3 = (double)x3[b], y4 = (double)x4[b], y5 = (double)x5[b];
            const double y6 = (double)x6[b], y7 = (double)x7[b];
            z[b] += (y0 * c0 + y1 * c1 + y2 * c2 + y3 * c3) +
                    (y4 * c4 + y5 * c5 + y6 * c6 + y7 * c7);
            t[b] += (y0 * u0 + y1 * u1 + y2 * u2 + y3 * u3) +
                    (y4 * u4 + y5 * u5 + y6 * u6 + y7 * u7);
        }
    }
}

/* z[0:nb] += X_b[:, f:f+4] @ c[0:4] and t[0:nb] += X_b[:, f:f+4] @ u[0:4]
 * in one sweep (hessp of a non-quadratic loss needs both) */
FG_INLINE void FN(col_axpy4x2)(double *FG_RESTRICT z, double *FG_RESTRICT t,
                               const T *const *x, const double *c, const double *u,
                               ptrdiff_t nb, ptrdiff_t plo, ptrdiff_t phi)
{
    const T *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
    const double c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
    const double u0 = u[0], u1 = u[1], u2 = u[2], u3 = u[3];
    FG_COL_LINES(nb) {
        FN(col_pf)(x, 4, i0, plo, phi);
        ptrdiff_t b0 = i0;
#if FG_HAVE_VECEXT
        if (sizeof(T) == 4) {  /* float: one conversion per 4 values (see axpy4) */
            const fg_v4d C0 = {c0, c0, c0, c0}, C1 = {c1, c1, c1, c1};
            const fg_v4d C2 = {c2, c2, c2, c2}, C3 = {c3, c3, c3, c3};
            const fg_v4d U0 = {u0, u0, u0, u0}, U1 = {u1, u1, u1, u1};
            const fg_v4d U2 = {u2, u2, u2, u2}, U3 = {u3, u3, u3, u3};
            for (; b0 + 4 <= i1; b0 += 4) {
                const fg_v4d y0 = FN(load4)(x0 + b0), y1 = FN(load4)(x1 + b0);
                const fg_v4d y2 = FN(load4)(x2 + b0), y3 = FN(load4)(x3 + b0);
                fg_v4d zv, tv;
                memcpy(&zv, z + b0, sizeof zv);
                memcpy(&tv, t + b0, sizeof tv);
                zv += y0 * C0 + y1 * C1 + y2 * C2 + y3 * C3;
                tv += y0 * U0 + y1 * U1 + y2 * U2 + y3 * U3;
                memcpy(z + b0, &zv, sizeof zv);
                memcpy(t + b0, &tv, sizeof tv);
            }
        }
#endif
#pragma omp simd
        for (ptrdiff_t b = b0; b < i1; b++) {
            const double y0 = (double)x0[b], y1 = (double)x1[b];
            const double y2 = (double)x2[b], y3 = (double)x3[b];
            z[b] += y0 * c0 + y1 * c1 + y2 * c2 + y3 * c3;
            t[b] += y0 * u0 + y1 * u1 + y2 * u2 + y3 * u3;
        }
    }
}

FG_INLINE void FN(col_axpy1)(double *FG_RESTRICT z, const T *FG_RESTRICT x, double c,
                             ptrdiff_t nb)
{
#pragma omp simd
    for (ptrdiff_t b = 0; b < nb; b++) z[b] += (double)x[b] * c;
}

/* z = X_b @ c (+ c0), and t = X_b @ u (+ u0) when t, for output column j of
 * c (n, k): W columns a sweep (the plan's block_cols: 8, or 4 where 8
 * accumulating streams do not pay, see COL_SWEEP in fastgrad/_plan.py), the
 * last n % 4 one at a time.  xb: room for 4 gathered segments (rows=). */
FG_INLINE void FN(col_matvec)(const fg_args *a, const T *c, const T *c0, const T *u,
                              const T *u0, ptrdiff_t j, ptrdiff_t b0, ptrdiff_t nb,
                              double *FG_RESTRICT z, double *FG_RESTRICT t,
                              T *FG_RESTRICT xb, ptrdiff_t plo, ptrdiff_t phi)
{
    const ptrdiff_t n = a->n, k = a->k, B = a->block_rows;
    const ptrdiff_t W = a->block_cols == 8 ? 8 : 4;
    const double zi = c0 ? (double)c0[j] : 0.0, ti = (t && u0) ? (double)u0[j] : 0.0;
    for (ptrdiff_t b = 0; b < nb; b++) z[b] = zi;
    if (t)
        for (ptrdiff_t b = 0; b < nb; b++) t[b] = ti;
    ptrdiff_t f = 0;
    for (; f + W <= n; f += W) {
        const T *xs[8];
        double cs[8], us[8];
        for (int q = 0; q < W; q++) {
            xs[q] = FN(col_seg)(a, f + q, b0, nb, xb + q * B);
            cs[q] = (double)c[(f + q) * k + j];
            us[q] = t ? (double)u[(f + q) * k + j] : 0.0;
        }
        if (W == 8)
            FN(col_axpy8)(z, t, xs, cs, us, nb, plo, phi);
        else if (t)
            FN(col_axpy4x2)(z, t, xs, cs, us, nb, plo, phi);
        else
            FN(col_axpy4)(z, xs, cs, nb, plo, phi);
    }
    if (f + 4 <= n) {
        const T *xs[4];
        double cs[4], us[4];
        for (int q = 0; q < 4; q++) {
            xs[q] = FN(col_seg)(a, f + q, b0, nb, xb + q * B);
            cs[q] = (double)c[(f + q) * k + j];
            us[q] = t ? (double)u[(f + q) * k + j] : 0.0;
        }
        if (t)
            FN(col_axpy4x2)(z, t, xs, cs, us, nb, plo, phi);
        else
            FN(col_axpy4)(z, xs, cs, nb, plo, phi);
        f += 4;
    }
    for (; f < n; f++) {
        const T *x = FN(col_seg)(a, f, b0, nb, xb);
        if (plo < phi)
            for (ptrdiff_t o = plo; o < phi; o += FG_COL_LINE) FG_PREFETCH(x + o);
        FN(col_axpy1)(z, x, (double)c[f * k + j], nb);
        if (t) FN(col_axpy1)(t, x, (double)u[f * k + j], nb);
    }
}

FG_PATH double FN(cols)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                          double *FG_RESTRICT g, double *work)
{
    const ptrdiff_t n = a->n, k = a->k, B = a->block_rows;
    const T *coef = (const T *)a->coef;
    const T *v = (const T *)a->v;
    const T *icpt = (const T *)a->icpt, *vicpt = (const T *)a->vicpt;
    const int mode = fg_mode(a), loss = a->loss;
    const int need_z = mode != FG_MODE_HESSP || loss != FG_SQUARED;
    const int need_y = mode != FG_MODE_HESSP || fg_hess_needs_y(loss);
    const int pf = (a->stream & FG_STREAM_PREFETCH) && !a->rows;
    double *z = work, *t = z + k * B, *d = t + k * B, *yb = d + k * B, *wb = yb + B;
    double *lb = wb + B;
    T *xb = (T *)(lb + B);  /* 8 gathered column segments (rows=) */
    double *gi = g + n * k;
    double acc = 0.0;
    for (ptrdiff_t b0 = r0; b0 < r1; b0 += B) {
        const ptrdiff_t nb = (r1 - b0 < B) ? r1 - b0 : B;
        /* the next panel, prefetched: its first half during the z sweep, its
         * second during the g sweep (offsets from this panel's segments) */
        const ptrdiff_t nn = pf ? ((r1 - b0 - nb < B) ? r1 - b0 - nb : B) : 0;
        const ptrdiff_t p1 = nb, p2 = nb + (nn + 1) / 2, p3 = nb + nn;
        for (ptrdiff_t j = 0; j < k; j++) {
            const ptrdiff_t lo = j ? 0 : p1, hi = j ? 0 : p2;
            if (need_z && mode == FG_MODE_HESSP)
                FN(col_matvec)(a, coef, icpt, v, vicpt, j, b0, nb, z + j * B, t + j * B,
                               xb, lo, hi);
            else if (need_z)
                FN(col_matvec)(a, coef, icpt, NULL, NULL, j, b0, nb, z + j * B, NULL, xb,
                               lo, hi);
            else if (mode == FG_MODE_HESSP)
                FN(col_matvec)(a, v, vicpt, NULL, NULL, j, b0, nb, t + j * B, NULL, xb, lo,
                               hi);
        }
        if (loss == FG_MULTINOMIAL) {
            /* the softmax couples the k outputs: one row (stride B) at a time */
            double *ym = lb + 5 * B, *em = ym + k;
            const T *wT = (const T *)a->w;
            for (ptrdiff_t b = 0; b < nb; b++) {
                const ptrdiff_t r = a->rows ? a->rows[b0 + b] : b0 + b;
                const double wi = wT ? (double)wT[r * a->ws] : 1.0;
                ptrdiff_t lab = -1;
                if (mode != FG_MODE_HESSP) {
                    if (a->lab) {
                        lab = a->lab[r * a->ls];
                    } else {
                        const T *y = (const T *)a->y + r * a->ys0;
                        for (ptrdiff_t j = 0; j < k; j++) ym[j] = (double)y[j * a->ys1];
                    }
                }
                acc += pw_multi1(mode, k, z + b, t + b, B, ym, lab, wi, d + b, em);
            }
        } else {
            for (ptrdiff_t j = 0; j < k; j++) {
                const double *w = FN(gather_yw)(a, b0, nb, j, need_y, yb, wb);
                acc += pw_block(loss, a->power, mode, nb, z + j * B, t + j * B, yb, w, d + j * B, lb);
            }
        }
        if (mode == FG_MODE_VALUE) continue;
        for (ptrdiff_t j = 0; j < k; j++) {
            double s = 0.0;
            const double *dj = d + j * B;
            for (ptrdiff_t b = 0; b < nb; b++) s += dj[b];
            gi[j] += s;
        }
        /* g[f, j] += X_b[:, f] . d[:, j], four columns at a time: four
         * independent sums (one sum alone waits on its own additions) and
         * each d loaded once for four columns; the second half of the next
         * panel prefetched on the way (col_pf) */
        ptrdiff_t f = 0;
        for (; f + 4 <= n; f += 4) {
            const T *xs[4];
            for (int q = 0; q < 4; q++) xs[q] = FN(col_seg)(a, f + q, b0, nb, xb + q * B);
            const T *x0 = xs[0], *x1 = xs[1], *x2 = xs[2], *x3 = xs[3];
            for (ptrdiff_t j = 0; j < k; j++) {
                const double *dj = d + j * B;
                const ptrdiff_t lo = j ? 0 : p2, hi = j ? 0 : p3;
                double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
#if FG_HAVE_VECEXT
                /* vector sums over the whole panel (a reduction per line
                 * would fold them every 8 rows) */
                fg_v4d S0 = {0, 0, 0, 0}, S1 = S0, S2 = S0, S3 = S0;
#endif
                FG_COL_LINES(nb) {
                    FN(col_pf)(xs, 4, i0, lo, hi);
                    ptrdiff_t bb = i0;
#if FG_HAVE_VECEXT
                    for (; bb + 4 <= i1; bb += 4) {
                        fg_v4d dv;
                        memcpy(&dv, dj + bb, sizeof dv);
                        S0 += FN(load4)(x0 + bb) * dv;
                        S1 += FN(load4)(x1 + bb) * dv;
                        S2 += FN(load4)(x2 + bb) * dv;
                        S3 += FN(load4)(x3 + bb) * dv;
                    }
#endif
#pragma omp simd reduction(+ : s0, s1, s2, s3)
                    for (ptrdiff_t b = bb; b < i1; b++) {
                        const double db = dj[b];
                        s0 += (double)x0[b] * db;
                        s1 += (double)x1[b] * db;
                        s2 += (double)x2[b] * db;
                        s3 += (double)x3[b] * db;
                    }
                }
#if FG_HAVE_VECEXT
                s0 += (S0[0] + S0[1]) + (S0[2] + S0[3]);
                s1 += (S1[0] + S1[1]) + (S1[2] + S1[3]);
                s2 += (S2[0] + S2[1]) + (S2[2] + S2[3]);
                s3 += (S3[0] + S3[1]) + (S3[2] + S3[3]);
#endif
                g[f * k + j] += s0;
                g[(f + 1) * k + j] += s1;
                g[(f + 2) * k + j] += s2;
                g[(f + 3) * k + j] += s3;
            }
        }
        for (; f < n; f++) {
            const T *x = FN(col_seg)(a, f, b0, nb, xb);
            for (ptrdiff_t j = 0; j < k; j++) {
                const double *dj = d + j * B;
                double s = 0.0;
#pragma omp simd reduction(+ : s)
                for (ptrdiff_t b = 0; b < nb; b++) s += (double)x[b] * dj[b];
                g[f * k + j] += s;
            }
        }
    }
    return acc;
}

#if FG_HAVE_VECEXT && FG_F64_W8 && defined(FG_MN8_COMMON)
#ifndef FG_COLS_V8
#define FG_COLS_V8 1
#endif
/* the next panel's prefetch: into L1, as cols (into L2, FG_PREFETCH_L2: 0.997
 * of this one's time for 500,000 x 100, 0.96-0.98 for 40,000 x 1000, the
 * kernel alone from memory; not taken on that) */
#ifndef FG_COLS_V8_PF
#define FG_COLS_V8_PF FG_PREFETCH
#endif
#endif
#if FG_HAVE_VECEXT && FG_F64_W8 && defined(FG_MN8_COMMON) && FG_COLS_V8
/* The column path with the panel in registers (the avx512 clone; one output,
 * no rows=, double X, panels of B = 64 rows: the plan's 8 lines of each
 * column).  z of the whole panel is NZ = 8 vectors of 8
 * doubles, held for the whole sweep over the n columns: per column NZ loads
 * and NZ multiply-adds with c_f broadcast once (cols' col_axpy8 loads and
 * stores z for every line and every 8 columns, and runs an `omp simd` loop of
 * one or two vectors per line).  After the pointwise step, d is NZ vectors in
 * registers and 8 columns at a time give g[f:f+8] from 8 dot products over
 * the panel, reduced together by fg_hsum8x8.  The next panel is prefetched, a
 * line per 8 values: its first half during the z sweep, its second half during
 * the g sweep (all of it during the z sweep when there is no g sweep).  The
 * rows after the last whole panel go to cols.  On an Intel Xeon (family 6
 * model 167 as virtualised, L1d 48 KiB, L2 2 MiB), against cols, the kernel
 * alone (tools/kernel_floor.py's, two builds alternated, medians of 5),
 * 500,000 x 100 f64 F from memory: logistic 0.87, squared 0.86, hessp 0.89;
 * from cache 0.55-0.67; 40,000 x 1000 squared 0.92 (0.55 from cache). */
FG_INLINE double FN(cols_v8)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                             double *FG_RESTRICT g, double *work)
{
    enum { NZ = 8 };
    const ptrdiff_t n = a->n, sc = a->sc, B = 8 * NZ;
    const T *X = (const T *)a->X, *coef = (const T *)a->coef, *v = (const T *)a->v;
    const int mode = fg_mode(a), loss = a->loss;
    const int need_z = mode != FG_MODE_HESSP || loss != FG_SQUARED;
    const int need_y = mode != FG_MODE_HESSP || fg_hess_needs_y(loss);
    const int two = need_z && mode == FG_MODE_HESSP;   /* z and t in one sweep */
    const int pf = (a->stream & FG_STREAM_PREFETCH) != 0;
    /* the first sweep computes P = X_b p + p0 into zp, the second (two) t */
    const T *cp = need_z ? coef : v;
    const T *p0 = need_z ? (const T *)a->icpt : (const T *)a->vicpt;
    const double pi = p0 ? (double)p0[0] : 0.0;
    const double ti = a->vicpt ? (double)((const T *)a->vicpt)[0] : 0.0;
    double *z = work, *t = z + B, *d = t + B, *yb = d + B, *wb = yb + B, *lb = wb + B;
    double *zp = need_z ? z : t;
    const ptrdiff_t SEG = B * (ptrdiff_t)sizeof(T);   /* bytes of a column's segment */
    double acc = 0.0, gi = 0.0;
    ptrdiff_t b0 = r0;
    for (; b0 + B <= r1; b0 += B) {
        const T *xp = X + b0;
        const int pfn = pf && b0 + 2 * B <= r1;
        const ptrdiff_t half = mode == FG_MODE_VALUE ? SEG : SEG / 2;
        {
            fg_v8d P[NZ], Q[NZ];
            for (int q = 0; q < NZ; q++) {
                P[q] = (fg_v8d){pi, pi, pi, pi, pi, pi, pi, pi};
                Q[q] = (fg_v8d){ti, ti, ti, ti, ti, ti, ti, ti};
            }
            for (ptrdiff_t f = 0; f < n; f++) {
                const T *x = xp + f * sc;
                if (pfn)
                    for (ptrdiff_t o = 0; o < half; o += 64)
                        FG_COLS_V8_PF((const char *)(x + B) + o);
                const double cf = (double)cp[f];
                if (two) {
                    const double uf = (double)v[f];
                    for (int q = 0; q < NZ; q++) {
                        const fg_v8d xv = FN(load8)(x + 8 * q);
                        P[q] += xv * cf;
                        Q[q] += xv * uf;
                    }
                } else {
                    for (int q = 0; q < NZ; q++) P[q] += FN(load8)(x + 8 * q) * cf;
                }
            }
            for (int q = 0; q < NZ; q++) {
                memcpy(zp + 8 * q, &P[q], sizeof P[q]);
                if (two) memcpy(t + 8 * q, &Q[q], sizeof Q[q]);
            }
        }
        const double *w = FN(gather_yw)(a, b0, B, 0, need_y, yb, wb);
        acc += pw_block(loss, a->power, mode, B, z, t, yb, w, d, lb);
        if (mode == FG_MODE_VALUE) continue;
        fg_v8d D[NZ];
        for (int q = 0; q < NZ; q++) memcpy(&D[q], d + 8 * q, sizeof D[q]);
        {
            fg_v8d s = D[0];
            for (int q = 1; q < NZ; q++) s += D[q];
            double tmp[8];
            memcpy(tmp, &s, sizeof tmp);
            gi += ((tmp[0] + tmp[1]) + (tmp[2] + tmp[3])) + ((tmp[4] + tmp[5]) + (tmp[6] + tmp[7]));
        }
        ptrdiff_t f = 0;
        for (; f < n; f += 8) {
            const int nc = n - f < 8 ? (int)(n - f) : 8;
            __m512d S[8];
            for (int u = 0; u < 8; u++) {
                if (u >= nc) {
                    S[u] = _mm512_setzero_pd();
                    continue;
                }
                const T *x = xp + (f + u) * sc;
                if (pfn)
                    for (ptrdiff_t o = half; o < SEG; o += 64)
                        FG_COLS_V8_PF((const char *)(x + B) + o);
                fg_v8d e[NZ];
                for (int q = 0; q < NZ; q++) e[q] = FN(load8)(x + 8 * q) * D[q];
                for (int h = NZ / 2; h >= 1; h /= 2)   /* a tree: no long chain */
                    for (int q = 0; q < h; q++) e[q] += e[q + h];
                S[u] = (__m512d)e[0];
            }
            const fg_v8d G = (fg_v8d)fg_hsum8x8(S);
            for (int u = 0; u < nc; u++) g[f + u] += G[u];
        }
    }
    g[n] += gi;
    if (b0 < r1) acc += FN(cols)(a, b0, r1, g, work);
    return acc;
}

/* FG_PATH_COLS: cols_v8 where the plan says so (FG_STREAM_PANEL; the other
 * conditions are those the plan sets it under, checked again), else cols */
FG_PATH double FN(cols_any)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                            double *FG_RESTRICT g, double *work)
{
    /* not for float X (_plan.PANEL_REGS_ROWS): panels of 128 rows, NZ = 16,
     * ran 1.16-1.25x cols' time from memory (0.65-0.69 in cache), whichever
     * the prefetch (into L2, two panels ahead, all of a panel in the z sweep) */
    if ((a->stream & FG_STREAM_PANEL) && sizeof(T) == 8 && a->k == 1 && !a->rows &&
        a->loss != FG_MULTINOMIAL && a->block_rows == 64)
        return FN(cols_v8)(a, r0, r1, g, work);
    return FN(cols)(a, r0, r1, g, work);
}
#define FG_HAVE_COLS_ANY 1
#endif

#if FG_HAVE_VECEXT
/* ---- F-ordered X with few columns (n <= 8), one output, no rows=: blocks of
 * FG_BR rows, each 4 consecutive rows of a column one vector, so z of 4 rows
 * is sum_f X[rows, f] c_f with no transpose; the pointwise step over the
 * block; then G_f += X[rows, f] d[rows] in N vector registers for the whole
 * chunk, the block still in L1.  N is a constant at each call (switch in
 * cols_small), so the column loops unroll and G stays in registers. */
FG_INLINE double FN(cols_small_n)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                                  double *FG_RESTRICT g, double *work, const int N)
{
    const ptrdiff_t sc = a->sc;
    const T *X = (const T *)a->X, *coef = (const T *)a->coef, *v = (const T *)a->v;
    const double b = a->icpt ? (double)((const T *)a->icpt)[0] : 0.0;
    const double vb = a->vicpt ? (double)((const T *)a->vicpt)[0] : 0.0;
    const int mode = fg_mode(a), loss = a->loss;
    const int need_z = mode != FG_MODE_HESSP || loss != FG_SQUARED;
    const int need_y = mode != FG_MODE_HESSP || fg_hess_needs_y(loss);
    double *zB = work, *tB = zB + FG_BR, *yB = tB + FG_BR, *wB = yB + FG_BR;
    double *dB = wB + FG_BR, *lB = dB + FG_BR;
    const ptrdiff_t BR = FG_BLOCK_ROWS(a);
    const ptrdiff_t ahead = (a->stream & FG_STREAM_PREFETCH) ? a->stream >> FG_STREAM_AHEAD_SHIFT : 0;
    fg_v4d G[8], C[8], V[8];
    double gt[8];
    for (int f = 0; f < N; f++) {
        const double cf = need_z ? (double)coef[f] : 0.0, vf = v ? (double)v[f] : 0.0;
        C[f] = (fg_v4d){cf, cf, cf, cf};
        V[f] = (fg_v4d){vf, vf, vf, vf};
        G[f] = (fg_v4d){0, 0, 0, 0};
        gt[f] = 0.0;
    }
    double acc = 0.0, gi = 0.0;
    for (ptrdiff_t i = r0; i < r1;) {
        const ptrdiff_t nb = r1 - i < BR ? r1 - i : BR, nb4 = nb & ~(ptrdiff_t)3;
        const T *xi = X + i;
        for (ptrdiff_t q = 0; q < nb4; q += 4) {
            fg_v4d zv = {b, b, b, b}, tv = {vb, vb, vb, vb};
            for (int f = 0; f < N; f++) {
                const fg_v4d xv = FN(load4)(xi + f * sc + q);
                if (need_z) zv += xv * C[f];
                if (mode == FG_MODE_HESSP) tv += xv * V[f];
            }
            memcpy(zB + q, &zv, sizeof zv);
            memcpy(tB + q, &tv, sizeof tv);
        }
        for (ptrdiff_t q = nb4; q < nb; q++) {
            double zq = b, tq = vb;
            for (int f = 0; f < N; f++) {
                const double x = (double)xi[f * sc + q];
                zq += x * C[f][0];
                tq += x * V[f][0];
            }
            zB[q] = need_z ? zq : 0.0;
            tB[q] = tq;
        }
        if (ahead && i + ahead + nb <= r1) {
            /* the plan's (_plan.PAGE_BYTES, which gives the measurements):
             * each column's segment and y's `ahead` rows on (a page) into
             * L1, before the pointwise step, so that every stream is under
             * way before the kernel reaches it */
            for (int f = 0; f < N; f++) {
                const char *px = (const char *)(xi + f * sc + ahead);
                for (ptrdiff_t o = 0; o < nb * (ptrdiff_t)sizeof(T); o += 64) FG_PREFETCH(px + o);
            }
            if (need_y && a->ys0 == 1) {
                const char *py = (const char *)((const T *)a->y + i + ahead);
                for (ptrdiff_t o = 0; o < nb * (ptrdiff_t)sizeof(T); o += 64) FG_PREFETCH(py + o);
            }
        }
        const double *w = FN(gather_yw)(a, i, nb, 0, need_y, yB, wB);
        acc += pw_block(loss, a->power, mode, nb, zB, tB, yB, w, dB, lB);
        if (mode != FG_MODE_VALUE) {
            for (ptrdiff_t q = 0; q < nb4; q += 4) {
                fg_v4d dv;
                memcpy(&dv, dB + q, sizeof dv);
                gi += (dB[q] + dB[q + 1]) + (dB[q + 2] + dB[q + 3]);
                for (int f = 0; f < N; f++) G[f] += FN(load4)(xi + f * sc + q) * dv;
            }
            for (ptrdiff_t q = nb4; q < nb; q++) {
                gi += dB[q];
                for (int f = 0; f < N; f++) gt[f] += (double)xi[f * sc + q] * dB[q];
            }
        }
        i += nb;
    }
    for (int f = 0; f < N; f++) g[f] += ((G[f][0] + G[f][1]) + (G[f][2] + G[f][3])) + gt[f];
    g[N] += gi;
    return acc;
}

FG_PATH double FN(cols_small)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                              double *FG_RESTRICT g, double *work)
{
    switch (a->n) {
    case 2: return FN(cols_small_n)(a, r0, r1, g, work, 2);
    case 3: return FN(cols_small_n)(a, r0, r1, g, work, 3);
    case 4: return FN(cols_small_n)(a, r0, r1, g, work, 4);
    case 5: return FN(cols_small_n)(a, r0, r1, g, work, 5);
    case 6: return FN(cols_small_n)(a, r0, r1, g, work, 6);
    case 7: return FN(cols_small_n)(a, r0, r1, g, work, 7);
    default: return FN(cols_small_n)(a, r0, r1, g, work, 8);
    }
}
#endif

/* The path is the plan's (fastgrad/_plan.py, which says when each is taken
 * and why); a path written with vector extensions is never planned when they
 * are not compiled in (fg_have_vector_paths), and falls back to its portable
 * equivalent here only as a safety net. */
FG_CLONES
double FN(fg_chunk)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g, double *work)
{
    if (r1 <= r0) return 0.0;
    switch (a->path) {
#if FG_HAVE_VECEXT
#if defined(FG_HAVE_MN8)
    case FG_PATH_MULTINOMIAL: return FN(rows_mn8)(a, r0, r1, g, work);
#elif defined(FG_HAVE_MN4)
    case FG_PATH_MULTINOMIAL: return FN(rows_mn4)(a, r0, r1, g, work);
#else
    case FG_PATH_MULTINOMIAL: return FN(rows_mn)(a, r0, r1, g, work);
#endif
    case FG_PATH_COLS_SMALL: return FN(cols_small)(a, r0, r1, g, work);
    case FG_PATH_ROWS_VEC: return FN(rows_vec_any)(a, r0, r1, g, work);
#else
    case FG_PATH_MULTINOMIAL: return FN(rows_kn)(a, r0, r1, g, work);
    case FG_PATH_COLS_SMALL: return FN(cols)(a, r0, r1, g, work);
    case FG_PATH_ROWS_VEC: return FN(rows_any)(a, r0, r1, g, work);
#endif
#if defined(FG_HAVE_COLS_ANY)
    case FG_PATH_COLS: return FN(cols_any)(a, r0, r1, g, work);
#else
    case FG_PATH_COLS: return FN(cols)(a, r0, r1, g, work);
#endif
    case FG_PATH_ROWS_MULTI: return FN(rows_kn)(a, r0, r1, g, work);
    case FG_PATH_ROWS:
    case FG_PATH_ROWS_STREAM:
    default: return FN(rows_any)(a, r0, r1, g, work);
    }
}

#undef FN
#undef FG_CAT
#undef FG_CAT2
