/*
 * The loops of fastgrad_kernels.c, written once; included with T (element
 * type of X, y, w, coef) and SFX (name suffix) defined.  Not a public header.
 */
#define FG_CAT2(a, b) a##b
#define FG_CAT(a, b) FG_CAT2(a, b)
#define FN(name) FG_CAT(name, SFX)

/* pointer to logical row i of X, gathered into buf when columns are strided */
FG_INLINE const T *FN(row_ptr)(const fg_args *a, ptrdiff_t i, T *FG_RESTRICT buf)
{
    ptrdiff_t r = a->rows ? a->rows[i] : i;
    const T *p = (const T *)a->X + r * a->sr;
    if (a->sc == 1) return p;
    ptrdiff_t n = a->n, sc = a->sc;
    for (ptrdiff_t f = 0; f < n; f++) buf[f] = p[f * sc];
    return buf;
}

FG_INLINE double FN(y_at)(const fg_args *a, ptrdiff_t i, ptrdiff_t j)
{
    ptrdiff_t r = a->rows ? a->rows[i] : i;
    return (double)((const T *)a->y)[r * a->ys0 + j * a->ys1];
}

FG_INLINE double FN(w_at)(const fg_args *a, ptrdiff_t i)
{
    if (!a->w) return 1.0;
    ptrdiff_t r = a->rows ? a->rows[i] : i;
    return (double)((const T *)a->w)[r * a->ws];
}

/* four dot products of rows with c, sharing the loads of c */
FG_INLINE void FN(dot4)(const T *FG_RESTRICT p0, const T *FG_RESTRICT p1,
                        const T *FG_RESTRICT p2, const T *FG_RESTRICT p3,
                        const T *FG_RESTRICT c, ptrdiff_t n, double *s)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (ptrdiff_t f = 0; f < n; f++) {
        double cf = (double)c[f];
        s0 += (double)p0[f] * cf;
        s1 += (double)p1[f] * cf;
        s2 += (double)p2[f] * cf;
        s3 += (double)p3[f] * cf;
    }
    s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3;
}

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
#pragma omp simd
    for (ptrdiff_t f = 0; f < n; f++)
        g[f] += d0 * (double)p0[f] + d1 * (double)p1[f] + d2 * (double)p2[f] +
                d3 * (double)p3[f];
}

FG_INLINE void FN(axpy1)(double *FG_RESTRICT g, const T *FG_RESTRICT p, double d, ptrdiff_t n)
{
#pragma omp simd
    for (ptrdiff_t f = 0; f < n; f++) g[f] += d * (double)p[f];
}

/* derivative (gradient mode) or curvature term (hess mode) of one output;
 * z = x.coef + b, t = x.v + vb; returns the weighted loss (0 in hess mode) */
FG_INLINE double FN(point)(const fg_args *a, double z, double t, double y, double w,
                           double *d)
{
    if (a->hess) {
        double h = (a->loss == FG_SQUARED) ? 1.0 : pw_hess_logistic(z);
        *d = w * h * t;
        return 0.0;
    }
    if (!a->want_grad) {
        *d = 0.0;
        return w * pw_loss(a->loss, z, y);
    }
    double l = pw_loss_grad(a->loss, z, y, d);
    *d *= w;
    return w * l;
}

/* ---- row path: rows contiguous (or gathered), one output ----------------- */
FG_INLINE double FN(rows_k1)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                             double *FG_RESTRICT g, double *work)
{
    const ptrdiff_t n = a->n;
    const T *coef = (const T *)a->coef;
    const T *v = (const T *)a->v;
    const double b = a->icpt ? (double)((const T *)a->icpt)[0] : 0.0;
    const double vb = a->vicpt ? (double)((const T *)a->vicpt)[0] : 0.0;
    const int need_z = !a->hess || a->loss != FG_SQUARED;
    T *buf = (T *)work;
    double loss = 0.0, gi = 0.0;
    ptrdiff_t i = r0;
    for (; i + 4 <= r1; i += 4) {
        const T *p0 = FN(row_ptr)(a, i, buf);
        const T *p1 = FN(row_ptr)(a, i + 1, buf + n);
        const T *p2 = FN(row_ptr)(a, i + 2, buf + 2 * n);
        const T *p3 = FN(row_ptr)(a, i + 3, buf + 3 * n);
        double z[4] = {0, 0, 0, 0}, t[4] = {0, 0, 0, 0}, d[4];
        if (need_z) FN(dot4)(p0, p1, p2, p3, coef, n, z);
        if (a->hess) FN(dot4)(p0, p1, p2, p3, v, n, t);
        for (int r = 0; r < 4; r++) {
            double y = a->hess ? 0.0 : FN(y_at)(a, i + r, 0);
            loss += FN(point)(a, z[r] + b, t[r] + vb, y, FN(w_at)(a, i + r), &d[r]);
            gi += d[r];
        }
        if (a->want_grad) FN(axpy4)(g, p0, p1, p2, p3, d, n);
    }
    for (; i < r1; i++) {
        const T *p = FN(row_ptr)(a, i, buf);
        double z = need_z ? FN(dot1)(p, coef, n) : 0.0;
        double t = a->hess ? FN(dot1)(p, v, n) : 0.0, d;
        double y = a->hess ? 0.0 : FN(y_at)(a, i, 0);
        loss += FN(point)(a, z + b, t + vb, y, FN(w_at)(a, i), &d);
        gi += d;
        if (a->want_grad) FN(axpy1)(g, p, d, n);
    }
    g[n] += gi;
    return loss;
}

/* ---- row path: several outputs ------------------------------------------ */
FG_INLINE double FN(rows_kn)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                             double *FG_RESTRICT g, double *work)
{
    const ptrdiff_t n = a->n, k = a->k;
    const T *coef = (const T *)a->coef;
    const T *v = (const T *)a->v;
    const T *icpt = (const T *)a->icpt, *vicpt = (const T *)a->vicpt;
    const int need_z = !a->hess || a->loss != FG_SQUARED;
    T *buf = (T *)work;
    double *z = work + 4 * n, *d = z + k, *t = d + k;
    double *gi = g + n * k;
    double loss = 0.0;
    for (ptrdiff_t i = r0; i < r1; i++) {
        const T *p = FN(row_ptr)(a, i, buf);
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
            if (a->hess) {
                const T *vf = v + f * k;
#pragma omp simd
                for (ptrdiff_t j = 0; j < k; j++) t[j] += x * (double)vf[j];
            }
        }
        double w = FN(w_at)(a, i);
        for (ptrdiff_t j = 0; j < k; j++) {
            double y = a->hess ? 0.0 : FN(y_at)(a, i, j);
            loss += FN(point)(a, z[j], t[j], y, w, &d[j]);
            gi[j] += d[j];
        }
        if (!a->want_grad) continue;
        for (ptrdiff_t f = 0; f < n; f++) {
            double x = (double)p[f];
            double *gf = g + f * k;
#pragma omp simd
            for (ptrdiff_t j = 0; j < k; j++) gf[j] += x * d[j];
        }
    }
    return loss;
}

/* ---- column path: X[:, f] contiguous (F-ordered), blocks of rows ---------- */
FG_INLINE double FN(cols)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1,
                          double *FG_RESTRICT g, double *work)
{
    const ptrdiff_t n = a->n, k = a->k, B = a->block, sc = a->sc;
    const T *X = (const T *)a->X;
    const T *coef = (const T *)a->coef;
    const T *v = (const T *)a->v;
    const T *icpt = (const T *)a->icpt, *vicpt = (const T *)a->vicpt;
    const ptrdiff_t *rows = a->rows;
    const int need_z = !a->hess || a->loss != FG_SQUARED;
    double *FG_RESTRICT z = work, *FG_RESTRICT t = work + B * k;
    T *FG_RESTRICT xb = (T *)(work + 2 * B * k); /* gathered column block */
    double *gi = g + n * k;
    double loss = 0.0;
    for (ptrdiff_t b0 = r0; b0 < r1; b0 += B) {
        const ptrdiff_t nb = (r1 - b0 < B) ? r1 - b0 : B;
        for (ptrdiff_t b = 0; b < nb; b++)
            for (ptrdiff_t j = 0; j < k; j++) {
                z[b * k + j] = icpt ? (double)icpt[j] : 0.0;
                t[b * k + j] = vicpt ? (double)vicpt[j] : 0.0;
            }
        /* z = X_b coef, t = X_b v, one column at a time */
        for (ptrdiff_t f = 0; f < n; f++) {
            const T *col = X + f * sc;
            const T *x;
            if (rows) {
                for (ptrdiff_t b = 0; b < nb; b++) xb[b] = col[rows[b0 + b]];
                x = xb;
            } else {
                x = col + b0;
            }
            if (k == 1) {
                if (need_z) {
                    double c = (double)coef[f];
#pragma omp simd
                    for (ptrdiff_t b = 0; b < nb; b++) z[b] += (double)x[b] * c;
                }
                if (a->hess) {
                    double c = (double)v[f];
#pragma omp simd
                    for (ptrdiff_t b = 0; b < nb; b++) t[b] += (double)x[b] * c;
                }
            } else {
                for (ptrdiff_t b = 0; b < nb; b++) {
                    double xv = (double)x[b];
                    if (need_z)
                        for (ptrdiff_t j = 0; j < k; j++) z[b * k + j] += xv * (double)coef[f * k + j];
                    if (a->hess)
                        for (ptrdiff_t j = 0; j < k; j++) t[b * k + j] += xv * (double)v[f * k + j];
                }
            }
        }
        /* pointwise: z -> d (in place) */
        for (ptrdiff_t b = 0; b < nb; b++) {
            double w = FN(w_at)(a, b0 + b);
            for (ptrdiff_t j = 0; j < k; j++) {
                double y = a->hess ? 0.0 : FN(y_at)(a, b0 + b, j), d;
                loss += FN(point)(a, z[b * k + j], t[b * k + j], y, w, &d);
                z[b * k + j] = d;
                gi[j] += d;
            }
        }
        if (!a->want_grad) continue;
        /* g[f] += X_b[:, f] . d, while the block is in cache */
        for (ptrdiff_t f = 0; f < n; f++) {
            const T *col = X + f * sc;
            const T *x;
            if (rows) {
                for (ptrdiff_t b = 0; b < nb; b++) xb[b] = col[rows[b0 + b]];
                x = xb;
            } else {
                x = col + b0;
            }
            if (k == 1) {
                double s = 0.0;
#pragma omp simd reduction(+ : s)
                for (ptrdiff_t b = 0; b < nb; b++) s += (double)x[b] * z[b];
                g[f] += s;
            } else {
                double *gf = g + f * k;
                for (ptrdiff_t b = 0; b < nb; b++) {
                    double xv = (double)x[b];
                    for (ptrdiff_t j = 0; j < k; j++) gf[j] += xv * z[b * k + j];
                }
            }
        }
    }
    return loss;
}

FG_CLONES
double FN(fg_chunk)(const fg_args *a, ptrdiff_t r0, ptrdiff_t r1, double *g, double *work)
{
    if (r1 <= r0) return 0.0;
    if (a->sr == 1 && a->sc != 1 && a->n > 1)
        return FN(cols)(a, r0, r1, g, work);
    if (a->k == 1)
        return FN(rows_k1)(a, r0, r1, g, work);
    return FN(rows_kn)(a, r0, r1, g, work);
}

#undef FN
#undef FG_CAT
#undef FG_CAT2
