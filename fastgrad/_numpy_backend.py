"""The NumPy backend: the fallback, the test oracle and the readable spec.

It receives exactly what the compiled core receives (arrays already checked and
converted by ``fastgrad._validation``) and states what the numbers must be:

    z = X @ coef[:n] + coef[n]          (the intercept row only with fit_intercept)
    multinomial: a row of z holds the K logits, l = logsumexp(z) - y.z,
    l' = softmax(z) - y, l'' t = p * (t - p.t); integer labels y are one-hot rows
    poisson, gamma, tweedie (log link): see _loglink_parts
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


def _softmax_parts(z, y):
    """Per row of the (rows, K) logits z: the loss logsumexp(z) - y.z (as (rows, 1))
    and p = softmax(z).  With mx = max_j z_j every exponent is <= 0, and the loss
    is taken as log(s) + sum_j y_j (mx - z_j) + mx (1 - sum_j y_j): the same
    number, without cancelling two large terms when the rows of y sum to 1."""
    mx = np.max(z, axis=1, keepdims=True)
    e = np.exp(z - mx)
    s = np.sum(e, axis=1, keepdims=True)
    loss = (np.log(s) + np.sum(y * (mx - z), axis=1, keepdims=True)
            + mx * (1.0 - np.sum(y, axis=1, keepdims=True)))
    return loss, e / s


def _loglink_parts(loss, z, y, power):
    """loss, l'(z, y), l''(z, y) of the log-link losses (terms free of z dropped):
      poisson: l = e^z - y z,    l' = e^z - y,      l'' = e^z
      gamma:   l = z + y e^-z,   l' = 1 - y e^-z,   l'' = y e^-z
      tweedie: l = a/(2-p) - y b/(1-p),  l' = a - y b,  l'' = (2-p) a - (1-p) y b
               with a = e^((2-p) z), b = e^((1-p) z)
    Where e^z overflows the result is inf, as the mathematics says.  For tweedie
    a and b may both overflow with opposite signs, so the larger is factored out:
    E = e^((2-p) z) when z >= 0 (a = E, b = E s), E = e^((1-p) z) when z < 0
    (a = E s, b = E), s = e^-|z| <= 1: each bracket is finite and E * bracket is
    the right inf, never inf - inf (a bracket of exactly 0 gives 0)."""
    if loss == "poisson":
        e = np.exp(z)
        return e - y * z, e - y, e
    if loss == "gamma":
        ye = y * np.exp(-z)
        return z + ye, 1.0 - ye, ye
    pos = z >= 0
    s = np.exp(-np.abs(z))
    E = np.exp(np.where(pos, (2.0 - power) * z, (1.0 - power) * z))
    A = np.where(pos, 1.0, s)
    yB = y * np.where(pos, s, 1.0)

    def times_E(bracket):
        return np.where(bracket == 0.0, 0.0, E * bracket)
    return (times_E(A / (2.0 - power) - yB / (1.0 - power)), times_E(A - yB),
            times_E((2.0 - power) * A - (1.0 - power) * yB))


def _pointwise(loss_name, z, y, need_hess, power=None):
    if loss_name == "squared":
        r = z - y
        return 0.5 * r * r, r, (np.ones_like(z) if need_hess else None)
    if loss_name in ("poisson", "gamma", "tweedie"):
        return _loglink_parts(loss_name, z, y, power)
    return _logistic_parts(z, y, need_hess)


def _targets(y, idx, nb, k):
    """y of a block as (nb, k) float64; multinomial class labels become one-hot rows."""
    if y.dtype == np.intp:
        yb = np.zeros((nb, k))
        yb[np.arange(nb), y[idx]] = 1.0
        return yb
    return np.asarray(y[idx], dtype=np.float64).reshape(nb, -1)


def _block(loss, hess, z, t, yb, wb, power=None):
    """(sum of w l over the block (0 for hess), d = w l' or w l'' t), shape of z."""
    if hess and loss == "multinomial":
        p = _softmax_parts(z, yb)[1]            # H_i t = p * (t - p.t)
        return 0.0, wb * p * (t - np.sum(p * t, axis=1, keepdims=True))
    if hess:
        h = np.ones_like(t) if loss == "squared" else _pointwise(loss, z, yb, True, power)[2]
        return 0.0, wb * h * t
    if loss == "multinomial":
        lb, p = _softmax_parts(z, yb)
        return float(np.sum(wb * lb)), wb * (p - yb)
    lb, d, _ = _pointwise(loss, z, yb, False, power)
    return float(np.sum(wb * lb)), wb * d


def _coefs(coef, v, n, fit_intercept):
    """(k, W, b, V, vb): coef and v (None: V, vb None) as (n, k) weights and (k,)
    intercepts in float64; (n_coef,) counts as (n_coef, 1), and n_coef may be 0."""
    k = 1 if coef.ndim == 1 else coef.shape[1]
    coef = coef.reshape(coef.shape[0], k)
    W = coef[:n].astype(np.float64)
    b = coef[n].astype(np.float64) if fit_intercept else np.zeros(k)
    if v is None:
        return k, W, b, None, None
    v = v.reshape(v.shape[0], k)
    return (k, W, b, v[:n].astype(np.float64),
            v[n].astype(np.float64) if fit_intercept else np.zeros(k))


def _finish(g, gb, total, out, base, fit_intercept, hess, want_grad, l2, denom):
    """out = g / D + l2 base (the intercept row: gb / D, unpenalised); the loss
    total / D + l2/2 |coef[:n]|^2 (0 for hess, where base is v)."""
    inv = 1.0 / denom
    if want_grad or hess:
        res = np.concatenate([g * inv + l2 * base, (gb * inv)[None, :]]) if fit_intercept \
            else g * inv + l2 * base
        out.reshape(res.shape)[...] = res
    if hess:
        return 0.0
    return total * inv + 0.5 * l2 * float(np.sum(base * base))


def run(X, y, w, rows, coef, v, out, loss, fit_intercept, hess, want_grad, l2, denom,
        n_threads=1, power=0.0):
    """Same contract as ``fastgrad._native.run``; returns the loss, fills ``out``.

    coef, v, out are (n + fit_intercept,) or (n + fit_intercept, k), C-contiguous;
    y is (m,) or (m, k) (multinomial: or (m,) intp class labels). n_threads is
    accepted for symmetry and ignored (NumPy's BLAS has its own threads).
    power: the tweedie power (loss="tweedie" only).
    """
    n = X.shape[1]
    k, W, b, V, vb = _coefs(coef, v, n, fit_intercept)
    need_z = not hess or loss != "squared"
    nrows = X.shape[0] if rows is None else rows.shape[0]

    g = np.zeros((n, k))
    gb = np.zeros(k)
    total = 0.0
    with np.errstate(all="ignore"):  # inf/nan propagate silently, as in the core
        for s in range(0, nrows, BLOCK_ROWS):
            idx = slice(s, s + BLOCK_ROWS) if rows is None else rows[s:s + BLOCK_ROWS]
            Xb = np.asarray(X[idx], dtype=np.float64)
            yb = _targets(y, idx, Xb.shape[0], k)
            wb = (np.ones(Xb.shape[0]) if w is None
                  else np.asarray(w[idx], dtype=np.float64))[:, None]
            z = Xb @ W + b if need_z else None
            lsum, d = _block(loss, hess, z, Xb @ V + vb if hess else None, yb, wb, power)
            total += lsum
            if want_grad or hess:
                g += Xb.T @ d
                gb += d.sum(axis=0)

        return _finish(g, gb, total, out, V if hess else W, fit_intercept, hess,
                       want_grad, l2, denom)


def run_csr(X, y, w, rows, coef, v, out, loss, fit_intercept, hess, want_grad, l2, denom,
            n_threads=1, power=0.0):
    """``run`` for a CSR X (a ``fastgrad._sparse.CSR``), in NumPy only.

    The same formulas, block of rows by block of rows: the values of a block's
    rows are gathered (``row_positions``), then with r(p) the row and c(p) the
    column of value p,
        z[r] = sum_p x_p coef[c(p)] + b         (np.bincount over r)
        g[c] += sum_p x_p d[r(p)]               (np.bincount over c)
    so duplicate column indices add up and their order does not matter.  The
    structure of the rows used is checked first (ValueError, out untouched).
    """
    from ._sparse import first_malformed, row_positions

    n = X.shape[1]
    k, W, b, V, vb = _coefs(coef, v, n, fit_intercept)
    need_z = not hess or loss != "squared"
    nrows = X.shape[0] if rows is None else rows.shape[0]
    msg = first_malformed(X, rows)
    if msg is not None:
        raise ValueError(msg)

    ip = X.indptr
    g = np.zeros((n, k))
    gb = np.zeros(k)
    total = 0.0
    with np.errstate(all="ignore"):
        for s in range(0, nrows, BLOCK_ROWS):
            phys = np.arange(s, min(s + BLOCK_ROWS, nrows)) if rows is None \
                else rows[s:s + BLOCK_ROWS]
            nb = phys.shape[0]
            pos, r = row_positions(ip[phys].astype(np.int64),
                                   ip[phys + 1].astype(np.int64))
            c = X.indices[pos]
            x = X.data[pos].astype(np.float64)
            yb = _targets(y, phys, nb, k)
            wb = (np.ones(nb) if w is None else np.asarray(w[phys], dtype=np.float64))[:, None]

            def matvec(M, m0):
                return np.stack([np.bincount(r, weights=x * M[c, j], minlength=nb)
                                 for j in range(k)], axis=1) + m0

            z = matvec(W, b) if need_z else None
            lsum, d = _block(loss, hess, z, matvec(V, vb) if hess else None, yb, wb, power)
            total += lsum
            if want_grad or hess:
                for j in range(k):
                    g[:, j] += np.bincount(c, weights=x * d[r, j], minlength=n)
                gb += d.sum(axis=0)

        return _finish(g, gb, total, out, V if hess else W, fit_intercept, hess,
                       want_grad, l2, denom)
