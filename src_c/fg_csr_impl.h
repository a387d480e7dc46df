/*
 * The loops of fg_csr.c, written once; included with T (element type of the
 * stored values, y, w, coef), I (integer type of indices and indptr) and SFX
 * (name suffix) defined.  Not a public header.
 *
 * One output (k = 1): blocks of rows (csr_k1_rows with rows=, up to
 * FG_CSR_NB rows, fewer when the rows are long; csr_k1_flat for consecutive
 * rows, up to FG_CSR_NBF rows and FG_CSR_CAP values), so that a block's
 * values stay in L1/L2: the dot products of the block, the pointwise step
 * vectorised over the block (pw_block), then the scatter
 * g[indices[p]] += d data[p] over the block's values, read again from cache.
 * Several outputs (and the multinomial loss): one row at a time, z and d of
 * length k.
 */
#define FG_CAT2(a, b) a##b
#define FG_CAT(a, b) FG_CAT2(a, b)
#define FN(name) FG_CAT(name, SFX)

/* pw_block with the loss, the mode and w == NULL as constants: each case gets
 * its own vectorised loops (with them as run-time values, GCC turns the
 * conditional stores and loads into masked ones, several times slower).
 * Losses not listed here take the generic call. */
FG_INLINE double FN(pw_fixed)(int loss, double pw, int mode, ptrdiff_t nb, const double *z,
                              const double *t, const double *y, const double *w, double *d,
                              double *lb)
{
#define FG_PW(L, M) (w ? pw_block(L, pw, M, nb, z, t, y, w, d, lb) \
                       : pw_block(L, pw, M, nb, z, t, y, NULL, d, lb))
    if (loss == FG_LOGISTIC)
        return mode == 0 ? FG_PW(FG_LOGISTIC, 0)
             : mode == 1 ? FG_PW(FG_LOGISTIC, 1) : FG_PW(FG_LOGISTIC, 2);
    if (loss == FG_SQUARED)
        return mode == 0 ? FG_PW(FG_SQUARED, 0)
             : mode == 1 ? FG_PW(FG_SQUARED, 1) : FG_PW(FG_SQUARED, 2);
#undef FG_PW
    return pw_block(loss, pw, mode, nb, z, t, y, w, d, lb);
}

/* extent [*p0, *p1) of logical row i; 0 when it is not 0 <= p0 <= p1 <= nnz */
FG_INLINE int FN(csr_extent)(const fg_csr_args *a, ptrdiff_t i, ptrdiff_t *p0,
                             ptrdiff_t *p1)
{
    const I *ip = (const I *)a->indptr;
    const ptrdiff_t r = a->rows ? a->rows[i] : i;
    const ptrdiff_t s = (ptrdiff_t)ip[r], e = (ptrdiff_t)ip[r + 1];
    *p0 = s;
    *p1 = e;
    return 0 <= s && s <= e && e <= a->nnz;
}

/* sum of data[p] c[idx[p]] over [p0, p1); *bad = 1 (and the sum stops) at an
 * index outside [0, n), before it is used */
FG_INLINE double FN(csr_dot)(const T *FG_RESTRICT data, const I *FG_RESTRICT idx,
                             ptrdiff_t p0, ptrdiff_t p1, const T *FG_RESTRICT c, size_t n,
                             unsigned *bad)
{
    /* four partial sums: the additions of one row overlap instead of waiting
     * for each other (rows are short; the loop is bound by latency, not memory) */
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    ptrdiff_t p = p0;
    for (; p + 4 <= p1; p += 4) {
        const size_t j0 = (size_t)(ptrdiff_t)idx[p], j1 = (size_t)(ptrdiff_t)idx[p + 1];
        const size_t j2 = (size_t)(ptrdiff_t)idx[p + 2], j3 = (size_t)(ptrdiff_t)idx[p + 3];
        if (FG_UNLIKELY((j0 >= n) | (j1 >= n) | (j2 >= n) | (j3 >= n))) {   /* negative: huge */
            *bad = 1;
            return 0.0;
        }
        s0 += (double)data[p] * (double)c[j0];
        s1 += (double)data[p + 1] * (double)c[j1];
        s2 += (double)data[p + 2] * (double)c[j2];
        s3 += (double)data[p + 3] * (double)c[j3];
    }
    for (; p < p1; p++) {
        const size_t j = (size_t)(ptrdiff_t)idx[p];
        if (FG_UNLIKELY(j >= n)) {
            *bad = 1;
            return 0.0;
        }
        s0 += (double)data[p] * (double)c[j];
    }
    return (s0 + s1) + (s2 + s3);
}

/* the two dot products with c and v in one sweep */
FG_INLINE void FN(csr_dot2)(const T *FG_RESTRICT data, const I *FG_RESTRICT idx,
                            ptrdiff_t p0, ptrdiff_t p1, const T *FG_RESTRICT c,
                            const T *FG_RESTRICT v, size_t n, double *sc, double *sv,
                            unsigned *bad)
{
    double s = 0.0, u = 0.0;
    for (ptrdiff_t p = p0; p < p1; p++) {
        const size_t j = (size_t)(ptrdiff_t)idx[p];
        if (FG_UNLIKELY(j >= n)) {
            *bad = 1;
            break;
        }
        const double x = (double)data[p];
        s += x * (double)c[j];
        u += x * (double)v[j];
    }
    *sc = s;
    *sv = u;
}

/* ---- one output, any rows (rows= given, or a row too long for a flat block):
 * blocks of rows, one row's values at a time ------------------------------- */
FG_INLINE double FN(csr_k1_rows)(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1,
                            double *FG_RESTRICT g, ptrdiff_t *bad)
{
    const T *data = (const T *)a->data;
    const I *idx = (const I *)a->indices;
    const size_t n = (size_t)a->n;
    const T *coef = (const T *)a->coef, *v = (const T *)a->v;
    const T *y = (const T *)a->y, *wt = (const T *)a->w;
    const ptrdiff_t ys = a->ys0, ws = a->ws;
    const ptrdiff_t *rows = a->rows;
    const double b = a->icpt ? (double)((const T *)a->icpt)[0] : 0.0;
    const double vb = a->vicpt ? (double)((const T *)a->vicpt)[0] : 0.0;
    const int mode = a->hess ? 2 : (a->want_grad ? 0 : 1), loss = a->loss;
    const int need_z = mode != 2 || loss != FG_SQUARED;
    double z[FG_CSR_NB], t[FG_CSR_NB], yb[FG_CSR_NB], wb[FG_CSR_NB], d[FG_CSR_NB];
    double lb[FG_CSR_NB];
    ptrdiff_t ps[FG_CSR_NB], pe[FG_CSR_NB];
    double acc = 0.0, gi = 0.0;
    ptrdiff_t i = r0;
    while (i < r1) {
        /* the block: up to FG_CSR_NB rows, and about FG_CSR_BLOCK_NNZ values */
        ptrdiff_t nb = 0, vals = 0;
        unsigned out = 0;
        while (nb < FG_CSR_NB && i + nb < r1 && (nb == 0 || vals < FG_CSR_BLOCK_NNZ)) {
            const ptrdiff_t q = nb;
            if (!FN(csr_extent)(a, i + q, &ps[q], &pe[q])) {
                *bad = i + q;
                return 0.0;
            }
            if (need_z && mode == 2) {
                FN(csr_dot2)(data, idx, ps[q], pe[q], coef, v, n, &z[q], &t[q], &out);
                z[q] += b;
                t[q] += vb;
            } else if (need_z) {
                z[q] = FN(csr_dot)(data, idx, ps[q], pe[q], coef, n, &out) + b;
                t[q] = 0.0;
            } else {
                z[q] = 0.0;
                t[q] = FN(csr_dot)(data, idx, ps[q], pe[q], v, n, &out) + vb;
            }
            if (out) {
                *bad = i + q;
                return 0.0;
            }
            vals += pe[q] - ps[q];
            nb++;
        }
        const double *w = NULL;
        for (ptrdiff_t q = 0; q < nb; q++) {
            const ptrdiff_t r = rows ? rows[i + q] : i + q;
            if (mode != 2 || fg_hess_needs_y(loss)) yb[q] = (double)y[r * ys];
            if (wt) wb[q] = (double)wt[r * ws];
        }
        if (wt) w = wb;
        acc += FN(pw_fixed)(loss, a->power, mode, nb, z, t, yb, w, d, lb);
        if (mode != 1) {
            for (ptrdiff_t q = 0; q < nb; q++) {
                const double dq = d[q];
                gi += dq;
                for (ptrdiff_t p = ps[q]; p < pe[q]; p++)
                    g[idx[p]] += dq * (double)data[p];
            }
        }
        i += nb;
    }
    g[n] += gi;
    return acc;
}

/* sum of s[0:len]: the first FG_CSR_WIN (16) terms without a branch on len
 * (rows of varying length would mispredict the loop's exit on every row): four
 * vectors read in full and masked by AND (s is readable to s[15]; a masked
 * NaN gives +0), then the rest of a long row */
FG_INLINE double FN(seg_sum)(const double *FG_RESTRICT s, ptrdiff_t len)
{
#if FG_HAVE_VECEXT
    const fg_v4i L = {len, len, len, len};
    const fg_v4i i0 = {0, 1, 2, 3}, i1 = {4, 5, 6, 7}, i2 = {8, 9, 10, 11},
                 i3 = {12, 13, 14, 15};
    fg_v4d a0, a1, a2, a3;
    memcpy(&a0, s, sizeof a0);
    memcpy(&a1, s + 4, sizeof a1);
    memcpy(&a2, s + 8, sizeof a2);
    memcpy(&a3, s + 12, sizeof a3);
    a0 = (fg_v4d)((fg_v4i)a0 & (i0 < L));
    a1 = (fg_v4d)((fg_v4i)a1 & (i1 < L));
    a2 = (fg_v4d)((fg_v4i)a2 & (i2 < L));
    a3 = (fg_v4d)((fg_v4i)a3 & (i3 < L));
    const fg_v4d t4 = (a0 + a1) + (a2 + a3);
    double acc = (t4[0] + t4[1]) + (t4[2] + t4[3]);
#else
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (ptrdiff_t t = 0; t < FG_CSR_WIN; t++) acc += t < len ? s[t] : 0.0;
#endif
    for (ptrdiff_t t = FG_CSR_WIN; t < len; t++) acc += s[t];
    return acc;
}

/* 1 when a column index of xi[0:span] lies outside [0, n): one vector pass
 * (min and max), so that the loops that read at the indices need no test */
FG_INLINE int FN(span_out)(const I *FG_RESTRICT xi, ptrdiff_t span, ptrdiff_t n)
{
    I mn = 0, mx = 0;
#pragma omp simd reduction(min : mn) reduction(max : mx)
    for (ptrdiff_t p = 0; p < span; p++) {
        mn = xi[p] < mn ? xi[p] : mn;
        mx = xi[p] > mx ? xi[p] : mx;
    }
    return mn < 0 || (ptrdiff_t)mx >= n;
}

/* pp[p] = xd[p] c[S xi[p]] over a checked span (S = 2: c is the interleaved
 * pairs of the work array).  Eight values per step; FG_OPAQUE keeps the loads
 * at indices scalar.  It prefetches values and indices FG_CSR_PF values
 * ahead (an address past the matrix is never dereferenced, only prefetched,
 * which cannot fault). */
#define FG_SPAN_PROD(NAME, CT, S)                                                         \
    FG_INLINE void FN(NAME)(const T *FG_RESTRICT xd, const I *FG_RESTRICT xi,              \
                            ptrdiff_t span, const CT *FG_RESTRICT c,                       \
                            double *FG_RESTRICT pp)                                        \
    {                                                                                      \
        ptrdiff_t p = 0;                                                                   \
        for (; p + 8 <= span; p += 8) {                                                    \
            /* one prefetch per 8 values of each stream (a line of doubles) */             \
            FG_PREFETCH((const char *)((uintptr_t)(xd + p) + FG_CSR_PF * sizeof(T)));     \
            FG_PREFETCH((const char *)((uintptr_t)(xi + p) + FG_CSR_PF * sizeof(I)));     \
            for (int u = 0; u < 8; u += 4) {                                               \
                size_t j0 = (size_t)xi[p + u], j1 = (size_t)xi[p + u + 1];                 \
                size_t j2 = (size_t)xi[p + u + 2], j3 = (size_t)xi[p + u + 3];             \
                FG_OPAQUE(j0);                                                             \
                FG_OPAQUE(j1);                                                             \
                FG_OPAQUE(j2);                                                             \
                FG_OPAQUE(j3);                                                             \
                pp[p + u] = (double)xd[p + u] * (double)c[S * j0];                         \
                pp[p + u + 1] = (double)xd[p + u + 1] * (double)c[S * j1];                 \
                pp[p + u + 2] = (double)xd[p + u + 2] * (double)c[S * j2];                 \
                pp[p + u + 3] = (double)xd[p + u + 3] * (double)c[S * j3];                 \
            }                                                                              \
        }                                                                                  \
        for (; p < span; p++) {                                                            \
            size_t j = (size_t)xi[p];                                                      \
            FG_OPAQUE(j);                                                                  \
            pp[p] = (double)xd[p] * (double)c[S * j];                                      \
        }                                                                                  \
    }
FG_SPAN_PROD(span_prod, T, 1)
FG_SPAN_PROD(span_prod_il, double, 2)
#undef FG_SPAN_PROD

/* g[S xi[p]] += dd[p] over a checked span, eight values per step */
FG_INLINE void FN(span_scatter)(const I *FG_RESTRICT xi, const double *FG_RESTRICT dd,
                                ptrdiff_t span, double *FG_RESTRICT g, const size_t S)
{
    ptrdiff_t p = 0;
    for (; p + 8 <= span; p += 8) {
        for (int u = 0; u < 8; u += 4) {
            size_t j0 = (size_t)xi[p + u], j1 = (size_t)xi[p + u + 1];
            size_t j2 = (size_t)xi[p + u + 2], j3 = (size_t)xi[p + u + 3];
            FG_OPAQUE(j0);
            FG_OPAQUE(j1);
            FG_OPAQUE(j2);
            FG_OPAQUE(j3);
            g[S * j0] += dd[p + u];
            g[S * j1] += dd[p + u + 1];
            g[S * j2] += dd[p + u + 2];
            g[S * j3] += dd[p + u + 3];
        }
    }
    for (; p < span; p++) {
        size_t j = (size_t)xi[p];
        FG_OPAQUE(j);
        g[S * j] += dd[p];
    }
}

/* ---- one output, consecutive rows (no rows=): the values of a block of rows
 * are one flat span [P0, P0 + span) of data and indices.  Per block:
 *   the check of the span's column indices (one vector pass), the products
 *   data[p] c[indices[p]] over the span (one flat loop), the sums per row
 *   (seg_sum), the pointwise step, dd[p] = d data[p] (FG_CSR_WIN values per
 *   row, without a branch on its length), then g[indices[p]] += dd[p] over
 *   the span (one flat loop).  No loop of
 *   the hot path runs over one row, so rows of varying length cost no branch
 *   mispredictions.
 * With FG_CSR_IL_MIN features or more and one vector to gather (coef, or v for
 * the squared loss's Hessian product), that vector and the gradient live
 * interleaved in the work array, cg[2j] = c[j] and cg[2j + 1] = g[j]: the
 * products bring the line in from L3 and the scatter finds it in cache (one
 * miss per value instead of two).  cg is filled at the start of each call
 * (each chunk of rows) and its gradient added into g at the end, O(n) each. */
FG_INLINE double FN(csr_k1_flat)(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1,
                                 double *FG_RESTRICT g, double *work, ptrdiff_t *bad)
{
    const T *data = (const T *)a->data;
    const I *idx = (const I *)a->indices;
    const I *ip = (const I *)a->indptr;
    const ptrdiff_t n = a->n;
    const ptrdiff_t nnz = a->nnz;
    const T *coef = (const T *)a->coef, *v = (const T *)a->v;
    const T *y = (const T *)a->y, *wt = (const T *)a->w;
    const ptrdiff_t ys = a->ys0, ws = a->ws;
    const double b = a->icpt ? (double)((const T *)a->icpt)[0] : 0.0;
    const double vb = a->vicpt ? (double)((const T *)a->vicpt)[0] : 0.0;
    const int mode = a->hess ? 2 : (a->want_grad ? 0 : 1), loss = a->loss;
    const int need_z = mode != 2 || loss != FG_SQUARED;
    double *pz = work;                          /* products with coef */
    double *pt = pz + FG_CSR_CAP + FG_CSR_WIN;  /* products with v */
    double *dd = pt + FG_CSR_CAP + FG_CSR_WIN;  /* d of each value's row */
    double z[FG_CSR_NBF], t[FG_CSR_NBF], yb[FG_CSR_NBF], wb[FG_CSR_NBF], d[FG_CSR_NBF];
    double lb[FG_CSR_NBF];
    ptrdiff_t off[FG_CSR_NBF + 1];
    double acc = 0.0, gi = 0.0;
    /* interleaved (c, g) pairs, the start rounded up to a cache line */
    const int il = n >= FG_CSR_IL_MIN && (mode == 0 || (mode == 2 && !need_z));
    double *cg = (double *)(((uintptr_t)(dd + FG_CSR_CAP + FG_CSR_WIN) + 63) & ~(uintptr_t)63);
    /* where the scatter adds: g, or the gradient half of the pairs */
    double *gs = il ? cg + 1 : g;
    const size_t gstride = il ? 2 : 1;
    if (il) {
        const T *c = need_z ? coef : v;
        for (ptrdiff_t j = 0; j < n; j++) {
            cg[2 * j] = (double)c[j];
            cg[2 * j + 1] = 0.0;
        }
    }
    /* seg_sum reads up to FG_CSR_WIN past a span (and ignores it): defined values */
    memset(work, 0, 2 * (FG_CSR_CAP + FG_CSR_WIN) * sizeof(double));
    ptrdiff_t P0 = (ptrdiff_t)ip[r0];
    if (P0 < 0 || P0 > nnz) {
        *bad = r0;
        return 0.0;
    }
    ptrdiff_t i = r0;
    while (i < r1) {
        /* the block: up to FG_CSR_NBF rows holding at most FG_CSR_CAP values */
        ptrdiff_t nb = 0;
        off[0] = 0;
        if (r1 - i >= FG_CSR_NBF) {
            /* a full block whose last end lies in [P0, P0 + FG_CSR_CAP] and
             * in [0, nnz]: the ends in one vector pass, checked non-decreasing
             * (then all of them lie in range); the loop below otherwise */
            const ptrdiff_t E = (ptrdiff_t)ip[i + FG_CSR_NBF];
            if (E >= P0 && E - P0 <= FG_CSR_CAP && E <= nnz) {
                const I *FG_RESTRICT ipi = ip + i;
                int down = 0;
#pragma omp simd reduction(| : down)
                for (ptrdiff_t q = 0; q < FG_CSR_NBF; q++) {
                    off[q + 1] = (ptrdiff_t)ipi[q + 1] - P0;
                    down |= ipi[q + 1] < ipi[q];
                }
                if (!down) nb = FG_CSR_NBF;
            }
        }
        while (nb < FG_CSR_NBF && i + nb < r1) {
            const ptrdiff_t e = (ptrdiff_t)ip[i + nb + 1];
            if (e < P0 + off[nb] || e > nnz) {
                *bad = i + nb;
                return 0.0;
            }
            if (e - P0 > FG_CSR_CAP) break;
            off[++nb] = e - P0;
        }
        if (nb == 0) {  /* one row longer than a block: the row path (into g) */
            acc += FN(csr_k1_rows)(a, i, i + 1, g, bad);
            if (*bad >= 0) return 0.0;
            P0 = (ptrdiff_t)ip[i + 1];
            i++;
            continue;
        }
        const ptrdiff_t span = off[nb];
        const T *FG_RESTRICT xd = data + P0;
        const I *FG_RESTRICT xi = idx + P0;
        if (FG_UNLIKELY(FN(span_out)(xi, span, n))) {
            for (ptrdiff_t q = 0; q < nb; q++)
                for (ptrdiff_t p = off[q]; p < off[q + 1]; p++)
                    if ((size_t)(ptrdiff_t)xi[p] >= (size_t)n) {
                        *bad = i + q;
                        return 0.0;
                    }
        }
        if (il) {
            FN(span_prod_il)(xd, xi, span, cg, need_z ? pz : pt);
        } else {
            if (need_z) FN(span_prod)(xd, xi, span, coef, pz);
            if (mode == 2) FN(span_prod)(xd, xi, span, v, pt);
        }
        if (mode != 2) {
            for (ptrdiff_t q = 0; q < nb; q++)
                z[q] = FN(seg_sum)(pz + off[q], off[q + 1] - off[q]) + b;
        } else {
            for (ptrdiff_t q = 0; q < nb; q++) {
                const ptrdiff_t len = off[q + 1] - off[q];
                z[q] = need_z ? FN(seg_sum)(pz + off[q], len) + b : 0.0;
                t[q] = FN(seg_sum)(pt + off[q], len) + vb;
            }
        }
        const double *w = NULL;
        if (mode != 2 || fg_hess_needs_y(loss))
            for (ptrdiff_t q = 0; q < nb; q++) yb[q] = (double)y[(i + q) * ys];
        if (wt) {
            for (ptrdiff_t q = 0; q < nb; q++) wb[q] = (double)wt[(i + q) * ws];
            w = wb;
        }
        acc += FN(pw_fixed)(loss, a->power, mode, nb, z, t, yb, w, d, lb);
        if (mode != 1) {
            /* dd[p] = d data[p]: FG_CSR_WIN values per row whatever its
             * length (the next rows overwrite what spills over), then the
             * rest of a long row; the spill reads data past the span, so the
             * last block of the matrix fills d alone and multiplies after */
            for (ptrdiff_t q = 0; q < nb; q++) gi += d[q];
            if (P0 + span + FG_CSR_WIN <= nnz) {
                for (ptrdiff_t q = 0; q < nb; q++) {
                    const double dq = d[q];
                    double *FG_RESTRICT dr = dd + off[q];
                    const T *FG_RESTRICT xr = xd + off[q];
#pragma omp simd
                    for (ptrdiff_t u = 0; u < FG_CSR_WIN; u++) dr[u] = dq * (double)xr[u];
                    for (ptrdiff_t u = FG_CSR_WIN; u < off[q + 1] - off[q]; u++)
                        dr[u] = dq * (double)xr[u];
                }
            } else {
                for (ptrdiff_t q = 0; q < nb; q++) {
                    const double dq = d[q];
                    double *FG_RESTRICT dr = dd + off[q];
#pragma omp simd
                    for (ptrdiff_t u = 0; u < FG_CSR_WIN; u++) dr[u] = dq;
                    for (ptrdiff_t u = FG_CSR_WIN; u < off[q + 1] - off[q]; u++) dr[u] = dq;
                }
#pragma omp simd
                for (ptrdiff_t p = 0; p < span; p++) dd[p] *= (double)xd[p];
            }
            /* a scatter of 3 loads and 1 store per value */
            FN(span_scatter)(xi, dd, span, gs, gstride);
        }
        P0 += span;
        i += nb;
    }
    if (il)
        for (ptrdiff_t j = 0; j < n; j++) g[j] += cg[2 * j + 1];
    g[n] += gi;
    return acc;
}

/* ---- several outputs: one row at a time ----------------------------------- */
FG_INLINE double FN(csr_kn)(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1,
                            double *FG_RESTRICT g, double *work, ptrdiff_t *bad)
{
    const T *data = (const T *)a->data;
    const I *idx = (const I *)a->indices;
    const ptrdiff_t n = a->n, k = a->k;
    const T *coef = (const T *)a->coef, *v = (const T *)a->v;
    const T *icpt = (const T *)a->icpt, *vicpt = (const T *)a->vicpt;
    const int mode = a->hess ? 2 : (a->want_grad ? 0 : 1), loss = a->loss;
    const int need_z = mode != 2 || loss != FG_SQUARED;
    double *z = work, *t = z + k, *yb = t + k, *wb = yb + k, *d = wb + k, *lb = d + k;
    double *gi = g + n * k;
    double acc = 0.0;
    for (ptrdiff_t i = r0; i < r1; i++) {
        ptrdiff_t p0, p1;
        if (!FN(csr_extent)(a, i, &p0, &p1)) {
            *bad = i;
            return 0.0;
        }
        for (ptrdiff_t j = 0; j < k; j++) {
            z[j] = icpt ? (double)icpt[j] : 0.0;
            t[j] = vicpt ? (double)vicpt[j] : 0.0;
        }
        for (ptrdiff_t p = p0; p < p1; p++) {
            const size_t col = (size_t)(ptrdiff_t)idx[p];
            if (col >= (size_t)n) {
                *bad = i;
                return 0.0;
            }
            const double x = (double)data[p];
            if (need_z) {
                const T *cf = coef + col * k;
#pragma omp simd
                for (ptrdiff_t j = 0; j < k; j++) z[j] += x * (double)cf[j];
            }
            if (mode == 2) {
                const T *vf = v + col * k;
#pragma omp simd
                for (ptrdiff_t j = 0; j < k; j++) t[j] += x * (double)vf[j];
            }
        }
        const ptrdiff_t r = a->rows ? a->rows[i] : i;
        if (loss == FG_MULTINOMIAL) {
            /* the softmax over the row's k logits (fg_multinomial.h) */
            const double wi = a->w ? (double)((const T *)a->w)[r * a->ws] : 1.0;
            ptrdiff_t lab = -1;
            if (mode != 2) {
                if (a->lab) {
                    lab = a->lab[r * a->ls];
                } else {
                    const T *yr = (const T *)a->y + r * a->ys0;
                    for (ptrdiff_t j = 0; j < k; j++) yb[j] = (double)yr[j * a->ys1];
                }
            }
            acc += pw_multi1(mode, k, z, t, 1, yb, lab, wi, d, lb);
        } else {
            const double *w = NULL;
            if (a->w) {
                const double wi = (double)((const T *)a->w)[r * a->ws];
                for (ptrdiff_t j = 0; j < k; j++) wb[j] = wi;
                w = wb;
            }
            if (mode != 2 || fg_hess_needs_y(loss)) {
                const T *yr = (const T *)a->y + r * a->ys0;
                for (ptrdiff_t j = 0; j < k; j++) yb[j] = (double)yr[j * a->ys1];
            }
            acc += FN(pw_fixed)(loss, a->power, mode, k, z, t, yb, w, d, lb);
        }
        if (mode == 1) continue;
        for (ptrdiff_t j = 0; j < k; j++) gi[j] += d[j];
        for (ptrdiff_t p = p0; p < p1; p++) {
            const double x = (double)data[p];
            double *gf = g + (ptrdiff_t)idx[p] * k;
#pragma omp simd
            for (ptrdiff_t j = 0; j < k; j++) gf[j] += x * d[j];
        }
    }
    return acc;
}

FG_CLONES
double FN(fg_csr_chunk)(const fg_csr_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g,
                        double *work, ptrdiff_t *bad)
{
    *bad = -1;
    if (r1 <= r0) return 0.0;
    /* the plan's path (fastgrad/_plan.py): csr_k1_rows for one output with
     * rows=, csr_k1_flat for one output over consecutive rows, csr_kn else */
    switch (a->path) {
    case FG_PATH_CSR_ROWS: return FN(csr_k1_rows)(a, r0, r1, g, bad);
    case FG_PATH_CSR_FLAT: return FN(csr_k1_flat)(a, r0, r1, g, work, bad);
    default: return FN(csr_kn)(a, r0, r1, g, work, bad);
    }
}

#undef FN
#undef FG_CAT
#undef FG_CAT2
