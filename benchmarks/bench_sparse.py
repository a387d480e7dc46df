"""Sparse X (issue 5): fastgrad on a scipy.sparse CSR matrix beside scipy's
gradient expressions, on the same matrix.

    squared:  X.T @ (X @ coef - y)
    logistic: X.T @ (expit(X @ coef) - y)

Cases: 1,000,000 x 100,000 at density 1e-4 (text-like, logistic) and
2,000,000 x 1,000 at density 1e-2 (squared), float64.  The matrix is built in
``setup`` (never timed); scipy is pinned to one thread (threadpoolctl), fastgrad
gets ``n_threads``.  ``track_speedup_vs_scipy`` is scipy's time / fastgrad's
(> 1: fastgrad is faster) and ``track_speedup_threads`` fastgrad's time with
1 thread / with 2.  Self-contained: runs against older commits too (they skip).
"""
import math

import numpy as np

import fastgrad

from . import _common as C

#: name -> (n_samples, n_features, density, loss)
CASES = {"text_1Mx100k": (1_000_000, 100_000, 1e-4, "logistic"),
         "dense_2Mx1k": (2_000_000, 1_000, 1e-2, "squared")}


def make_csr(m, n, density, seed=0):
    """Random CSR: binomial values per row, uniform columns sorted within rows."""
    import scipy.sparse as sp
    rng = np.random.default_rng(seed)
    counts = rng.binomial(n, density, size=m)
    keys = np.repeat(np.arange(m, dtype=np.int64), counts) * n \
        + rng.integers(0, n, int(counts.sum()), dtype=np.int64)
    keys.sort()
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    indptr = np.zeros(m + 1, dtype=np.int32)
    np.cumsum(np.bincount(keys // n, minlength=m), out=indptr[1:])
    X = sp.csr_matrix((rng.standard_normal(keys.size), (keys % n).astype(np.int32), indptr),
                      shape=(m, n))
    coef = rng.standard_normal(n) / math.sqrt(max(1.0, X.nnz / m))
    y = {"squared": rng.standard_normal(m), "logistic": (rng.random(m) < 0.5) * 1.0}
    return X, coef, y


def scipy_grad(X, y, coef, loss):
    from scipy.special import expit
    if loss == "squared":
        return X.T @ (X @ coef - y)
    return X.T @ (expit(X @ coef) - y)


def _skip_unless_sparse_supported():
    C.skip_unless_native()
    import scipy.sparse as sp
    try:
        fastgrad.grad(sp.csr_matrix(np.eye(2)), np.ones(2), np.ones(2), backend="native")
    except TypeError as exc:   # commits before sparse support
        raise NotImplementedError(f"no sparse X in this fastgrad: {exc}")


class SparseValueAndGrad:
    params = (list(CASES), [1, 2])
    param_names = ["case", "n_threads"]
    timeout = 300

    def setup_cache(self):
        _skip_unless_sparse_supported()
        return {name: make_csr(*CASES[name][:3]) for name in CASES}

    def setup(self, data, case, n_threads):
        _skip_unless_sparse_supported()
        self.X, self.coef, ys = data[case]
        self.loss = CASES[case][3]
        self.y = ys[self.loss]
        self.n_threads = n_threads
        self.pinned = C.Pinned(1)           # scipy (and BLAS) on one thread

    def teardown(self, *params):
        C.unpin(self)

    def _fastgrad(self, n_threads=None):
        return fastgrad.value_and_grad(self.X, self.y, self.coef, loss=self.loss,
                                       reduction="sum", backend="native",
                                       n_threads=n_threads or self.n_threads)

    def _scipy(self):
        return scipy_grad(self.X, self.y, self.coef, self.loss)

    def time_fastgrad(self, *params):
        self._fastgrad()

    def time_scipy(self, *params):
        self._scipy()

    def track_speedup_vs_scipy(self, *params):
        """scipy's time (1 thread) / fastgrad's time (n_threads)"""
        t_fg, t_sp = C.interleaved_medians([self._fastgrad, self._scipy])
        return t_sp / t_fg

    track_speedup_vs_scipy.unit = "x"

    def track_speedup_threads(self, data, case, n_threads):
        """fastgrad's time with 1 thread / with n_threads"""
        t1, tn = C.interleaved_medians([lambda: self._fastgrad(1),
                                        lambda: self._fastgrad(n_threads)])
        return t1 / tn

    track_speedup_threads.unit = "x"
