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


def loglink_parts(z, y, loss):
    """Summed loss, l'(z) and l''(z) of a log-link bench loss ("poisson", "gamma",
    "tweedieP"), the way NumPy users write them (moderate z)."""
    if loss == "poisson":
        e = np.exp(z)
        return float(np.sum(e - y * z)), e - y, e
    if loss == "gamma":
        ye = y * np.exp(-z)
        return float(np.sum(z + ye)), 1.0 - ye, ye
    p = float(loss[len("tweedie"):])
    a, b = np.exp((2 - p) * z), y * np.exp((1 - p) * z)
    return float(np.sum(a / (2 - p) - b / (1 - p))), a - b, (2 - p) * a - (1 - p) * b


def numpy_loglink(X, y, coef, loss):
    """Summed log-link loss and its gradient X.T @ l'(X @ coef)."""
    L, d, _ = loglink_parts(X @ coef, y, loss)
    return L, X.T @ d


def numpy_twopass(X, y, coef, loss):
    """The textbook NumPy loss and gradient of `loss` (a bench loss name)."""
    if loss not in ("squared", "logistic"):
        return numpy_loglink(X, y, coef, loss)
    return (numpy_squared if loss == "squared" else numpy_logistic)(X, y, coef)


def numpy_hess_diag(X, y, coef, loss):
    """l''(z) at coef (None for the squared loss, where it is 1)."""
    if loss == "squared":
        return None
    if loss != "logistic":
        return loglink_parts(X @ coef, y, loss)[2]
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
