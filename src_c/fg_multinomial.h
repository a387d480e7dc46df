/*
 * The multinomial (softmax) pointwise step for one row of k logits, included
 * by fastgrad_kernels.c after the binary losses (it uses fg_expneg and
 * fg_log1p01).  Not a public header.
 *
 *   l(z, y) = logsumexp(z) - sum_j y_j z_j,   l' = softmax(z) - y,
 *   l'' t   = p * (t - p.t)                    (p = softmax(z))
 *
 * Stable for every finite z: with mx = max_j z_j every exponent is <= 0 and
 * the sum s = sum_j exp(z_j - mx) lies in [1, k].  The loss is evaluated as
 *   log(s) + sum_j y_j (mx - z_j) + mx (1 - sum_j y_j)
 * which equals logsumexp(z) - y.z exactly in real arithmetic, but has no
 * cancellation between two large numbers when the probabilities sum to 1
 * (the last term is then zero), and for one label c it is log(s) + (mx - z_c).
 */
#ifndef FG_MULTINOMIAL_H
#define FG_MULTINOMIAL_H

/* log(s) for s >= 1 (s = 2^e u, u in [1, 2): e ln 2 + log1p(u - 1)); NaN stays NaN */
FG_INLINE double fg_log_ge1(double s)
{
    const double ln2 = 0.6931471805599453094;
    fg_pun b;
    b.d = s;
    int64_t e = ((b.i >> 52) & 0x7ff) - 1023;
    b.i = (b.i & (int64_t)0x000fffffffffffffLL) | (int64_t)0x3ff0000000000000LL;
    double r = (double)e * ln2 + fg_log1p01(b.d - 1.0);
    return s == s ? r : s;
}

/*
 * One row: logits z[j * zs] (and t[j * zs] = x.v_j in mode 2), j < k.
 * Targets: class label lab >= 0, or (lab < 0) probabilities yb[0..k).
 *   mode 0: d[j * zs] = w (p_j - y_j), returns w l
 *   mode 1: returns w l (d untouched)
 *   mode 2: d[j * zs] = w p_j (t_j - p.t), returns 0
 * e: k doubles of scratch.
 */
FG_INLINE double pw_multi1(int mode, ptrdiff_t k, const double *z, const double *t,
                           ptrdiff_t zs, const double *yb, ptrdiff_t lab, double w,
                           double *d, double *FG_RESTRICT e)
{
    double mx = z[0];
    for (ptrdiff_t j = 1; j < k; j++) {
        double zj = z[j * zs];
        mx = zj > mx ? zj : mx;
    }
    double s = 0.0;
    for (ptrdiff_t j = 0; j < k; j++) {
        e[j] = fg_expneg(z[j * zs] - mx);      /* NaN anywhere makes s NaN */
        s += e[j];
    }
    const double inv = 1.0 / s;
    if (mode == 2) {
        double pt = 0.0;
        for (ptrdiff_t j = 0; j < k; j++) {
            e[j] *= inv;
            pt += e[j] * t[j * zs];
        }
        for (ptrdiff_t j = 0; j < k; j++) d[j * zs] = w * e[j] * (t[j * zs] - pt);
        return 0.0;
    }
    double l = fg_log_ge1(s);
    if (lab >= 0) {
        l += mx - z[lab * zs];
    } else {
        double sy = 0.0, a = 0.0;
        for (ptrdiff_t j = 0; j < k; j++) {
            sy += yb[j];
            a += yb[j] * (mx - z[j * zs]);
        }
        l += a + mx * (1.0 - sy);
    }
    if (mode == 0) {
        if (lab >= 0) {
            for (ptrdiff_t j = 0; j < k; j++) d[j * zs] = w * (e[j] * inv);
            d[lab * zs] = w * (e[lab] * inv - 1.0);
        } else {
            for (ptrdiff_t j = 0; j < k; j++) d[j * zs] = w * (e[j] * inv - yb[j]);
        }
    }
    return w * l;
}

/*
 * The same step on a row padded to kp >= k classes (a multiple of 4) whose
 * padding has z = -inf (so p = 0) and t = 0, yb[j] = 0: the loops run over kp
 * and vectorise.  Same contract as pw_multi1 (zs = 1); d is written over kp.
 */
FG_INLINE double pw_multi_pad(int mode, ptrdiff_t k, ptrdiff_t kp,
                              const double *FG_RESTRICT z, const double *FG_RESTRICT t,
                              const double *FG_RESTRICT yb, ptrdiff_t lab, double w,
                              double *FG_RESTRICT d, double *FG_RESTRICT e)
{
    double m4[4] = {z[0], z[1], z[2], z[3]};
    for (ptrdiff_t j = 4; j < kp; j += 4)
        for (int l = 0; l < 4; l++) m4[l] = z[j + l] > m4[l] ? z[j + l] : m4[l];
    double mx01 = m4[1] > m4[0] ? m4[1] : m4[0], mx23 = m4[3] > m4[2] ? m4[3] : m4[2];
    const double mx = mx23 > mx01 ? mx23 : mx01;
#pragma omp simd
    for (ptrdiff_t j = 0; j < kp; j++) e[j] = fg_expneg(z[j] - mx);
    double s4[4] = {0.0, 0.0, 0.0, 0.0};
    for (ptrdiff_t j = 0; j < kp; j += 4)
        for (int l = 0; l < 4; l++) s4[l] += e[j + l];
    const double s = (s4[0] + s4[1]) + (s4[2] + s4[3]);
    const double inv = 1.0 / s;
    if (mode == 2) {
        double pt = 0.0;
#pragma omp simd reduction(+ : pt)
        for (ptrdiff_t j = 0; j < kp; j++) {
            e[j] *= inv;
            pt += e[j] * t[j];
        }
#pragma omp simd
        for (ptrdiff_t j = 0; j < kp; j++) d[j] = w * e[j] * (t[j] - pt);
        return 0.0;
    }
    double l = fg_log_ge1(s);
    if (lab >= 0) {
        l += mx - z[lab];
    } else {
        double sy = 0.0, a = 0.0;
        for (ptrdiff_t j = 0; j < k; j++) {
            sy += yb[j];
            a += yb[j] * (mx - z[j]);
        }
        l += a + mx * (1.0 - sy);
    }
    if (mode == 0) {
        if (lab >= 0) {
#pragma omp simd
            for (ptrdiff_t j = 0; j < kp; j++) d[j] = w * (e[j] * inv);
            d[lab] = w * (e[lab] * inv - 1.0);
        } else {
#pragma omp simd
            for (ptrdiff_t j = 0; j < kp; j++) d[j] = w * (e[j] * inv - yb[j]);
        }
    }
    return w * l;
}

/*
 * The step of pw_multi1 for nb rows at once, vectorised over the rows (the
 * same operations, row by row, so the same results): logits z[j * ld + r]
 * (j < k, r < nv = nb rounded up to 8; the rows past nb are copies of a row
 * and are left out of the sum), to which the intercepts ic[j] are added here;
 * in mode 2 t[j * ld + r] likewise with ict[j].  Targets: lab[r] (lab not
 * NULL) or probabilities yt[j * ld + r].  w[r] the weights.  d[j * ld + r]:
 *   mode 0: w (p_j - y_j); mode 1: untouched; mode 2: w p_j (t_j - p.t).
 * sc: 5 ld doubles of scratch.  Returns sum_{r < nb} w_r l_r, summed in row
 * order.
 */
FG_INLINE double pw_multi_blk(const int mode, ptrdiff_t k, ptrdiff_t nb, ptrdiff_t ld,
                              double *FG_RESTRICT z, double *FG_RESTRICT t,
                              const double *FG_RESTRICT ic, const double *FG_RESTRICT ict,
                              const double *FG_RESTRICT yt, const ptrdiff_t *FG_RESTRICT lab,
                              const double *FG_RESTRICT w, double *FG_RESTRICT d,
                              double *FG_RESTRICT sc)
{
    const ptrdiff_t nv = (nb + 7) & ~(ptrdiff_t)7;
    double *FG_RESTRICT mx = sc, *FG_RESTRICT s = sc + ld, *FG_RESTRICT l = sc + 2 * ld;
    double *FG_RESTRICT u = sc + 3 * ld;
    {
        const double c0 = ic[0];
#pragma omp simd
        for (ptrdiff_t r = 0; r < nv; r++) {
            z[r] += c0;
            mx[r] = z[r];
            s[r] = 0.0;
        }
    }
    for (ptrdiff_t j = 1; j < k; j++) {
        double *FG_RESTRICT zj = z + j * ld;
        const double cj = ic[j];
#pragma omp simd
        for (ptrdiff_t r = 0; r < nv; r++) {
            const double v = zj[r] + cj;
            zj[r] = v;
            mx[r] = v > mx[r] ? v : mx[r];
        }
    }
    for (ptrdiff_t j = 0; j < k; j++) {
        const double *FG_RESTRICT zj = z + j * ld;
        double *FG_RESTRICT dj = d + j * ld;
#pragma omp simd
        for (ptrdiff_t r = 0; r < nv; r++) {
            const double e = fg_expneg(zj[r] - mx[r]);   /* NaN anywhere makes s NaN */
            dj[r] = e;
            s[r] += e;
        }
    }
    if (mode == 2) {
#pragma omp simd
        for (ptrdiff_t r = 0; r < nv; r++) {
            s[r] = 1.0 / s[r];
            u[r] = 0.0;
        }
        for (ptrdiff_t j = 0; j < k; j++) {
            double *FG_RESTRICT tj = t + j * ld, *FG_RESTRICT dj = d + j * ld;
            const double cj = ict[j];
#pragma omp simd
            for (ptrdiff_t r = 0; r < nv; r++) {
                tj[r] += cj;
                dj[r] *= s[r];
                u[r] += dj[r] * tj[r];
            }
        }
        for (ptrdiff_t j = 0; j < k; j++) {
            const double *FG_RESTRICT tj = t + j * ld;
            double *FG_RESTRICT dj = d + j * ld;
#pragma omp simd
            for (ptrdiff_t r = 0; r < nv; r++) dj[r] = w[r] * dj[r] * (tj[r] - u[r]);
        }
        return 0.0;
    }
#pragma omp simd
    for (ptrdiff_t r = 0; r < nv; r++) {
        l[r] = fg_log_ge1(s[r]);
        s[r] = 1.0 / s[r];
    }
    if (lab) {
        for (ptrdiff_t r = 0; r < nb; r++) l[r] += mx[r] - z[lab[r] * ld + r];
        if (mode == 0)
            for (ptrdiff_t j = 0; j < k; j++) {
                double *FG_RESTRICT dj = d + j * ld;
#pragma omp simd
                for (ptrdiff_t r = 0; r < nv; r++)
                    dj[r] = w[r] * (dj[r] * s[r] - (lab[r] == j ? 1.0 : 0.0));
            }
    } else {
        double *FG_RESTRICT sy = u, *FG_RESTRICT ay = sc + 4 * ld;
#pragma omp simd
        for (ptrdiff_t r = 0; r < nv; r++) {
            sy[r] = 0.0;
            ay[r] = 0.0;
        }
        for (ptrdiff_t j = 0; j < k; j++) {
            const double *FG_RESTRICT yj = yt + j * ld, *FG_RESTRICT zj = z + j * ld;
#pragma omp simd
            for (ptrdiff_t r = 0; r < nv; r++) {
                sy[r] += yj[r];
                ay[r] += yj[r] * (mx[r] - zj[r]);
            }
        }
#pragma omp simd
        for (ptrdiff_t r = 0; r < nv; r++) l[r] += ay[r] + mx[r] * (1.0 - sy[r]);
        if (mode == 0)
            for (ptrdiff_t j = 0; j < k; j++) {
                double *FG_RESTRICT dj = d + j * ld;
                const double *FG_RESTRICT yj = yt + j * ld;
#pragma omp simd
                for (ptrdiff_t r = 0; r < nv; r++) dj[r] = w[r] * (dj[r] * s[r] - yj[r]);
            }
    }
    double acc = 0.0;
    for (ptrdiff_t r = 0; r < nb; r++) acc += w[r] * l[r];
    return acc;
}

#endif
