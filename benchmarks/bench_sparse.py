"""Sparse X: fastgrad on a scipy.sparse CSR matrix beside scipy's gradient
expressions, on the same matrix (the cases of ``python -m fastgrad bench --sparse``).

    squared:  X.T @ (X @ coef - y)
    logistic: X.T @ (expit(X @ coef) - y)

Cases: 1,000,000 x 100,000 at density 1e-4 (text-like, logistic) and
2,000,000 x 1,000 at density 1e-2 (squared), float64.  The matrix is built in
``setup_cache`` (never timed); scipy is pinned to one thread (threadpoolctl),
fastgrad gets ``n_threads``.  ``track_speedup_vs_scipy`` is scipy's time /
fastgrad's (> 1: fastgrad is faster) and ``track_speedup_threads`` fastgrad's
time with 1 thread / with 2.
"""
import fastgrad
from fastgrad._bench import suite as S
from fastgrad._bench.sparse import NAMED_CASES, make_csr, scipy_grad
from fastgrad._bench.timing import medians


class SparseValueAndGrad(S.PinnedBench):
    params = (list(NAMED_CASES), [1, 2])
    param_names = ["case", "n_threads"]
    timeout = 300

    def setup_cache(self):
        S.skip_unless_sparse()
        return {name: make_csr(m, n, d) for name, (_, m, n, d) in NAMED_CASES.items()}

    def setup(self, data, case, n_threads):
        S.skip_unless_sparse()
        self.X, self.coef, ys = data[case]
        self.loss = NAMED_CASES[case][0]
        self.y = ys[self.loss]
        self.n_threads = n_threads
        self.pin(1)           # scipy (and BLAS) on one thread

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
        t_fg, t_sp = medians([self._fastgrad, self._scipy])
        return t_sp / t_fg

    track_speedup_vs_scipy.unit = "x"

    def track_speedup_threads(self, data, case, n_threads):
        """fastgrad's time with 1 thread / with n_threads"""
        t1, tn = medians([lambda: self._fastgrad(1), lambda: self._fastgrad(n_threads)])
        return t1 / tn

    track_speedup_threads.unit = "x"
