"""The NumPy backend: the fallback, the test oracle and the readable spec.

It receives exactly what the compiled core receives (arrays already checked and
converted by ``fastgrad._validation``) and states what the numbers must be:

    z = X @ coef[:n] + coef[n]          (the intercept row only with fit_intercept)
    L = sum_i w_i l(z_i, y_i) / D + l2/2 |coef[:n]|^2
    g = X.T @ (w * l'(z, y)) / D + l2 coef[:n],   g[n] = sum_i w_i l'(z_i, y_i) / D
    H v = X.T @ (w * l''(z) * (X @ v[:n] + v[n])) / D + l2 v[:n]

Rows are taken in blocks, and float32 blocks are computed in float64, so sums
over many rows never run in float32 and no copy of all of X is made.
"""
import numpy as np

#: rows per block: bounds the temporaries, whatever the number of rows
BLOCK_ROWS = 8192


def _logistic_parts(z, y, need_hess):
    """loss, l'(z, y) and l''(z) of the logistic loss, stable for every finite z.

    With e = exp(-|z|) <= 1 nothing overflows:
      z >= 0: l = log1p(e) + (1 - y) z,  l' = ((1 - y) - y e) / (1 + e)
      z <  0: l = log1p(e) - y z,        l' = ((1 - y) e - y) / (1 + e)
      l'' = e / (1 + e)^2
    """
    e = np.exp(-np.abs(z))
    pos = z >= 0
    loss = np.log1p(e) + np.where(pos, (1.0 - y) * z, -y * z)
    d = np.where(pos, (1.0 - y) - y * e, (1.0 - y) * e - y) / (1.0 + e)
    h = e / (1.0 + e) ** 2 if need_hess else None
    return loss, d, h


def _pointwise(loss_name, z, y, need_hess):
    if loss_name == "squared":
        r = z - y
        return 0.5 * r * r, r, (np.ones_like(z) if need_hess else None)
    return _logistic_parts(z, y, need_hess)


def run(X, y, w, rows, coef, v, out, loss, fit_intercept, hess, want_grad, l2, denom,
        n_threads=1):
    """Same contract as ``fastgrad._native.run``; returns the loss, fills ``out``.

    coef, v, out are (n + fit_intercept,) or (n + fit_intercept, k), C-contiguous;
    y is (m,) or (m, k). n_threads is
    accepted for symmetry and ignored (NumPy's BLAS has its own threads).
    """
    n = X.shape[1]
    k = 1 if coef.ndim == 1 else coef.shape[1]
    coef = coef.reshape(coef.shape[0], k)      # (n_coef,) -> (n_coef, 1): views
    v = v.reshape(v.shape[0], k) if v is not None else None
    W = coef[:n].astype(np.float64)
    b = coef[n].astype(np.float64) if fit_intercept else np.zeros(k)
    if hess:
        V = v[:n].astype(np.float64)
        vb = v[n].astype(np.float64) if fit_intercept else np.zeros(k)
    need_z = not hess or loss != "squared"
    nrows = X.shape[0] if rows is None else rows.shape[0]

    g = np.zeros((n, k))
    gb = np.zeros(k)
    total = 0.0
    with np.errstate(all="ignore"):  # inf/nan propagate silently, as in the core
        for s in range(0, nrows, BLOCK_ROWS):
            idx = slice(s, s + BLOCK_ROWS) if rows is None else rows[s:s + BLOCK_ROWS]
            Xb = np.asarray(X[idx], dtype=np.float64)
            yb = np.asarray(y[idx], dtype=np.float64).reshape(Xb.shape[0], -1)
            wb = (np.ones(Xb.shape[0]) if w is None
                  else np.asarray(w[idx], dtype=np.float64))[:, None]
            z = Xb @ W + b if need_z else None
            if hess:
                t = Xb @ V + vb
                h = np.ones_like(t) if loss == "squared" else _pointwise(loss, z, yb, True)[2]
                d = wb * h * t
            else:
                lb, d, _ = _pointwise(loss, z, yb, False)
                total += float(np.sum(wb * lb))
                d = wb * d
            if want_grad or hess:
                g += Xb.T @ d
                gb += d.sum(axis=0)

        inv = 1.0 / denom
        if want_grad or hess:
            base = V if hess else W
            res = np.concatenate([g * inv + l2 * base, (gb * inv)[None, :]]) if fit_intercept \
                else g * inv + l2 * base
            out.reshape(res.shape)[...] = res
        if hess:
            return 0.0
        return total * inv + 0.5 * l2 * float(np.sum(W * W))
