"""Optional peers: other ways to compute the same loss and gradient.

Each peer's ``prepare(case, data, y, n_threads)`` returns a callable (or None
when it has no such call) on the arrays of ``cases.make_data``; ``available()``
says why it cannot run (None when it can).  Used by ``bench --peers`` and by the
asv classes of benchmarks/bench_peers.py.
"""
import numpy as np

from .reference import expit_and_loss, numpy_hess_diag


class Peer:
    name = ""
    scale = "sum"  # "mean": its loss and gradient are divided by the number of rows

    def available(self):
        """None when importable, else the reason it is skipped."""
        try:
            self._import()
        except Exception as exc:  # ImportError, or a broken install
            return f"{type(exc).__name__}: {exc}".splitlines()[0]
        return None

    def _import(self):
        raise NotImplementedError

    def prepare(self, case, data, y, n_threads):
        raise NotImplementedError


class Sklearn(Peer):
    """sklearn.linear_model._linear_loss.LinearModelLoss.loss_gradient (private API)."""

    name = "sklearn"
    scale = "mean"

    def _import(self):
        from sklearn._loss import loss as L
        from sklearn.linear_model._linear_loss import LinearModelLoss
        return LinearModelLoss, L

    def prepare(self, case, data, y, n_threads):
        LinearModelLoss, L = self._import()
        if case.loss.startswith("tweedie"):
            base = L.HalfTweedieLoss(power=float(case.loss[len("tweedie"):]))
        else:
            base = {"squared": L.HalfSquaredError, "logistic": L.HalfBinomialLoss,
                    "poisson": L.HalfPoissonLoss, "gamma": L.HalfGammaLoss}[case.loss]()
        lml = LinearModelLoss(base_loss=base, fit_intercept=False)
        X, coef, v = data["X"], data["coef"], data["v"]
        if case.kind == "hessp":
            # sklearn's Newton solvers: l''(z) once per coef, then products
            _, hessp = lml.gradient_hessian_product(coef, X, y, l2_reg_strength=0.0,
                                                    n_threads=n_threads)
            return lambda: hessp(v)
        return lambda: lml.loss_gradient(coef, X, y, l2_reg_strength=0.0,
                                         n_threads=n_threads)


class Torch(Peer):
    """PyTorch on the CPU: forward X @ coef, loss, backward (torch.set_num_threads)."""

    name = "torch"

    def _import(self):
        import torch
        return torch

    def prepare(self, case, data, y, n_threads):
        if case.loss not in ("squared", "logistic"):
            return None
        torch = self._import()
        torch.set_num_threads(n_threads)
        Xt = torch.from_numpy(data["X"])  # shares memory, C or F strides
        yt = torch.from_numpy(y)
        c0 = torch.from_numpy(data["coef"])
        vt = torch.from_numpy(data["v"])
        bce = torch.nn.functional.binary_cross_entropy_with_logits

        def objective(c):
            z = Xt @ c
            if case.loss == "squared":
                return 0.5 * ((z - yt) ** 2).sum()
            return bce(z, yt, reduction="sum")

        if case.kind == "hessp":
            def hvp():  # double backward: autograd's Hessian-vector product
                c = c0.detach().requires_grad_(True)
                (g,) = torch.autograd.grad(objective(c), c, create_graph=True)
                (hv,) = torch.autograd.grad(g @ vt, c)
                return hv.numpy()
            return hvp

        def value_and_grad():
            c = c0.detach().requires_grad_(True)
            loss = objective(c)
            loss.backward()
            return loss.item(), c.grad.numpy()
        return value_and_grad


class Tabmat(Peer):
    """tabmat.DenseMatrix: matvec, the pointwise part in NumPy, transpose_matvec."""

    name = "tabmat"

    def _import(self):
        import tabmat
        return tabmat

    def prepare(self, case, data, y, n_threads):
        if case.loss not in ("squared", "logistic"):
            return None
        tabmat = self._import()
        M = tabmat.DenseMatrix(data["X"])
        coef, v = data["coef"], data["v"]
        if case.kind == "hessp":
            h = numpy_hess_diag(data["X"], y, coef, case.loss)

            def hessp():
                t = M.matvec(v)
                return M.transpose_matvec(t if h is None else h * t)
            return hessp

        def value_and_grad():
            z = M.matvec(coef)
            if case.loss == "squared":
                r = z - y
                return 0.5 * float(r @ r), M.transpose_matvec(r)
            p, loss = expit_and_loss(z, y)
            return loss, M.transpose_matvec(p - y)
        return value_and_grad


_NUMBA_KERNEL = None


def _numba_kernel():
    """A fused one-pass loop in Numba: threads over row chunks, float64 accumulators."""
    global _NUMBA_KERNEL
    if _NUMBA_KERNEL is not None:
        return _NUMBA_KERNEL
    import numba

    @numba.njit(parallel=True, fastmath=True, cache=False)
    def fused(X, y, coef, logistic, nchunks):
        m, n = X.shape
        g_parts = np.zeros((nchunks, n))
        l_parts = np.zeros(nchunks)
        step = (m + nchunks - 1) // nchunks
        for c in numba.prange(nchunks):
            lo = c * step
            hi = min(m, lo + step)
            acc = 0.0
            for i in range(lo, hi):
                z = 0.0
                for j in range(n):
                    z += X[i, j] * coef[j]
                yi = y[i]
                if logistic:
                    e = np.exp(-abs(z))
                    if z >= 0:
                        acc += np.log1p(e) + (1.0 - yi) * z
                        d = 1.0 / (1.0 + e) - yi
                    else:
                        acc += np.log1p(e) - yi * z
                        d = e / (1.0 + e) - yi
                else:
                    d = z - yi
                    acc += 0.5 * d * d
                for j in range(n):
                    g_parts[c, j] += d * X[i, j]
            l_parts[c] = acc
        return l_parts.sum(), g_parts.sum(axis=0)

    _NUMBA_KERNEL = fused
    return fused


class Numba(Peer):
    """A fused one-pass loop in Numba: prange over row chunks, float64 accumulators."""

    name = "numba"

    def _import(self):
        import numba
        return numba

    def prepare(self, case, data, y, n_threads):
        numba = self._import()
        if case.kind == "hessp" or case.loss not in ("squared", "logistic"):
            return None
        numba.set_num_threads(n_threads)
        kernel = _numba_kernel()
        X, coef = data["X"], data["coef"]
        logistic = case.loss == "logistic"
        dt = X.dtype

        def value_and_grad():
            loss, g = kernel(X, y, coef, logistic, n_threads)
            return float(loss), g.astype(dt, copy=False)
        return value_and_grad


PEERS = (Sklearn(), Torch(), Tabmat(), Numba())
BY_NAME = {p.name: p for p in PEERS}


def sklearn_multinomial(K):
    """A callable (X, y_float, W.T, n_threads) -> (loss, grad) by scikit-learn's
    LinearModelLoss(HalfMultinomialLoss(K)), or None when it does not import."""
    try:
        from sklearn._loss.loss import HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError:
        return None
    lml = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=K), fit_intercept=False)

    def run(X, yf, Wt, n_threads):
        return lml.loss_gradient(Wt, X, yf, n_threads=n_threads)
    return run
