"""The NumPy expressions fastgrad is timed against: the textbook code, which
reads X twice (once for z = X @ coef, once for X.T @ d)."""
import numpy as np


def expit_and_loss(z, y):
    """Stable sigmoid p and summed logistic loss, NumPy only."""
    e = np.exp(-np.abs(z))
    p = np.where(z >= 0, 1.0, e) / (1.0 + e)
    loss = float(np.sum(np.log1p(e) + np.maximum(z, 0) - y * z))
    return p, loss


def numpy_squared(X, y, coef):
    """0.5 * ||X @ coef - y||^2 and its gradient X.T @ (X @ coef - y)."""
    r = X @ coef - y
    return 0.5 * float(r @ r), X.T @ r


def numpy_logistic(X, y, coef):
    """Summed logistic loss and its gradient X.T @ (expit(X @ coef) - y)."""
    p, loss = expit_and_loss(X @ coef, y)
    return loss, X.T @ (p - y)


def numpy_twopass(X, y, coef, loss):
    """The textbook NumPy loss and gradient of `loss` ("squared" or "logistic")."""
    return (numpy_squared if loss == "squared" else numpy_logistic)(X, y, coef)


def numpy_hess_diag(X, y, coef, loss):
    """l''(z) at coef (None for the squared loss, where it is 1)."""
    if loss == "squared":
        return None
    p, _ = expit_and_loss(X @ coef, y)
    return p * (1 - p)


def numpy_hessp(X, h, v):
    """X.T @ (h * (X @ v)) with h computed beforehand."""
    t = X @ v
    return X.T @ (t if h is None else h * t)


def numpy_softmax_twopass(X, W, Y):
    """Multinomial loss and gradient (sums over rows) the way NumPy users write
    them: Z = X @ W, a stable softmax, then X.T @ (P - Y); Y is one-hot."""
    Z = X @ W
    mx = Z.max(axis=1, keepdims=True)
    E = np.exp(Z - mx)
    s = E.sum(axis=1, keepdims=True)
    loss = float(np.sum(np.log(s) + mx) - np.sum(Y * Z))
    return loss, X.T @ (E / s - Y)
