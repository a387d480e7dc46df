"""Optional peers on the arrays of ValueAndGrad (float64, 200000 x 100, same seed).

Each class's setup raises NotImplementedError when its peer does not import,
which asv reports as skipped. Compare with
``bench_fastgrad.ValueAndGrad.time_fastgrad`` at the same loss, order and
n_threads (dtype float64, shape 200000x100).
"""
import numpy as np

from . import _common as C


class _PeerBench:
    params = (["squared", "logistic"], ["C", "F"], [1, 2])
    param_names = ["loss", "order", "n_threads"]

    def setup(self, loss, order, n_threads):
        self.import_peer()  # NotImplementedError first, before building data
        m, n = C.SHAPES["200000x100"]
        self.X, self.coef, _, ys = C.make_data(m, n, "float64", order)
        self.y = ys[loss]
        self.loss = loss
        self.n_threads = n_threads
        self.pinned = C.Pinned(n_threads)
        self.fn = self.prepare()
        self.fn()  # warm-up outside the timings (Numba compiles here)

    def teardown(self, *params):
        C.unpin(self)

    def time_value_and_grad(self, *params):
        self.fn()

    @staticmethod
    def _require(module):
        import importlib
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            raise NotImplementedError(f"{module} is not installed: {exc}")


class SklearnLinearModelLoss(_PeerBench):
    """sklearn.linear_model._linear_loss.LinearModelLoss.loss_gradient (private API)."""

    def import_peer(self):
        self._require("sklearn")
        try:
            from sklearn._loss.loss import HalfBinomialLoss, HalfSquaredError
            from sklearn.linear_model._linear_loss import LinearModelLoss
        except ImportError as exc:  # private modules moved
            raise NotImplementedError(f"sklearn's LinearModelLoss: {exc}")
        self.classes = LinearModelLoss, HalfSquaredError, HalfBinomialLoss

    def prepare(self):
        LinearModelLoss, HalfSquaredError, HalfBinomialLoss = self.classes
        base = HalfSquaredError() if self.loss == "squared" else HalfBinomialLoss()
        lml = LinearModelLoss(base_loss=base, fit_intercept=False)
        X, y, coef, k = self.X, self.y, self.coef, self.n_threads
        return lambda: lml.loss_gradient(coef, X, y, l2_reg_strength=0.0, n_threads=k)


class TorchAutograd(_PeerBench):
    """PyTorch on the CPU: forward X @ coef, loss, backward (torch.set_num_threads)."""

    def import_peer(self):
        self.torch = self._require("torch")

    def prepare(self):
        torch = self.torch
        torch.set_num_threads(self.n_threads)
        Xt, yt = torch.from_numpy(self.X), torch.from_numpy(self.y)  # no copies
        c0 = torch.from_numpy(self.coef)
        squared = self.loss == "squared"
        bce = torch.nn.functional.binary_cross_entropy_with_logits

        def value_and_grad():
            c = c0.detach().requires_grad_(True)
            z = Xt @ c
            loss = 0.5 * ((z - yt) ** 2).sum() if squared else bce(z, yt, reduction="sum")
            loss.backward()
            return loss.item(), c.grad
        return value_and_grad


class TabmatDense(_PeerBench):
    """tabmat.DenseMatrix: matvec, the pointwise part in NumPy, transpose_matvec."""

    def import_peer(self):
        self.tabmat = self._require("tabmat")

    def prepare(self):
        M = self.tabmat.DenseMatrix(self.X)
        y, coef, squared = self.y, self.coef, self.loss == "squared"

        def value_and_grad():
            z = M.matvec(coef)
            if squared:
                r = z - y
                return 0.5 * float(r @ r), M.transpose_matvec(r)
            p, value = C.expit_and_loss(z, y)
            return value, M.transpose_matvec(p - y)
        return value_and_grad


class NumbaFused(_PeerBench):
    """A fused one-pass loop in Numba: prange over row chunks, float64 accumulators."""

    def import_peer(self):
        self.numba = self._require("numba")

    def prepare(self):
        numba = self.numba
        numba.set_num_threads(self.n_threads)
        kernel = _numba_kernel(numba)
        X, y, coef, k = self.X, self.y, self.coef, self.n_threads
        logistic = self.loss == "logistic"
        return lambda: kernel(X, y, coef, logistic, k)


_KERNEL = []


def _numba_kernel(numba):
    if _KERNEL:
        return _KERNEL[0]

    @numba.njit(parallel=True, fastmath=True)
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

    _KERNEL.append(fused)
    return fused
