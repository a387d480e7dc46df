"""fastgrad beside NumPy on the same arrays: value_and_grad, hessp, per-call
overhead and minibatches.

Every class builds its arrays in ``setup`` (never timed) and pins BLAS and
OpenMP to ``n_threads`` with threadpoolctl; fastgrad gets ``n_threads`` too.
fastgrad is called with ``reduction="sum"`` so its numbers are those of the
NumPy expressions (the time is the same for "mean").
"""
import numpy as np

import fastgrad
from fastgrad._bench import suite as S
from fastgrad._bench.cases import loss_kwargs
from fastgrad._bench.reference import numpy_hess_diag, numpy_hessp, numpy_twopass
from fastgrad._bench.timing import median_time


class ValueAndGrad(S.VersusTwoPass):
    """One pass (fastgrad) vs two passes (NumPy) over X, X larger than the caches.

    The shapes are 200000x100 only, unless FASTGRAD_ASV_GRID=full (then also
    20000x1000 and 4000000x8).
    """

    params = (["squared", "logistic", "poisson", "gamma", "tweedie1.5"],
              ["float64", "float32"], ["C", "F"], S.GRID_SHAPES, [1, 2])
    param_names = ["loss", "dtype", "order", "shape", "n_threads"]
    timeout = 120

    def setup(self, loss, dtype, order, shape, n_threads):
        m, n = S.SHAPES[shape]
        d = S.data(m, n, dtype, order)
        self.X, self.coef, self.y = d["X"], d["coef"], d["y"][loss]
        self.loss = loss
        self.n_threads = n_threads
        self.pin(n_threads)

    def _fastgrad(self):
        return fastgrad.value_and_grad(self.X, self.y, self.coef, **loss_kwargs(self.loss),
                                       reduction="sum", n_threads=self.n_threads,
                                       backend="native")

    def _numpy_backend(self):
        return fastgrad.value_and_grad(self.X, self.y, self.coef, **loss_kwargs(self.loss),
                                       reduction="sum", backend="numpy")

    def _numpy_twopass(self):
        return numpy_twopass(self.X, self.y, self.coef, self.loss)

    def time_numpy_backend(self, *params):
        self._numpy_backend()

    def time_one_read(self, *params):
        self.X @ self.coef

    def track_gbps(self, *params):
        """bytes of X / median time of fastgrad.value_and_grad"""
        return self.X.nbytes / median_time(self._fastgrad) / 1e9

    track_gbps.unit = "GB/s"


class Hessp(S.PinnedBench):
    """Hessian-vector product: one pass (fastgrad) vs X.T @ (h * (X @ v)) with h given."""

    params = (["squared", "logistic"], ["C", "F"], [1, 2])
    param_names = ["loss", "order", "n_threads"]

    def setup(self, loss, order, n_threads):
        m, n = S.SHAPES["200000x100"]
        d = S.data(m, n, "float64", order)
        self.X, self.coef, self.v, self.y = d["X"], d["coef"], d["v"], d["y"][loss]
        self.loss = loss
        self.n_threads = n_threads
        self.pin(n_threads)
        self.h = numpy_hess_diag(self.X, self.y, self.coef, loss)  # NumPy's, made once

    def _fastgrad(self):
        return fastgrad.hessp(self.X, self.y, self.coef, self.v, loss=self.loss,
                              reduction="sum", n_threads=self.n_threads, backend="native")

    def _numpy(self):
        return numpy_hessp(self.X, self.h, self.v)

    def time_fastgrad_hessp(self, *params):
        self._fastgrad()

    def time_numpy_backend_hessp(self, *params):
        fastgrad.hessp(self.X, self.y, self.coef, self.v, loss=self.loss,
                       reduction="sum", backend="numpy")

    def time_numpy_hessp(self, *params):
        self._numpy()

    def track_speedup_vs_numpy(self, *params):
        """time of X.T @ (h * (X @ v)) / time of fastgrad.hessp"""
        return S.ratio(self._numpy, self._fastgrad)

    track_speedup_vs_numpy.unit = "x"


class Small(S.PinnedBench):
    """Per-call overhead on a 64 x 32 float64 X (16 KiB: in L1/L2)."""

    params = (["squared", "logistic"], [1, 2])
    param_names = ["loss", "n_threads"]

    def setup(self, loss, n_threads):
        d = S.data(64, 32)
        self.X, self.coef, self.y = d["X"], d["coef"], d["y"][loss]
        self.loss = loss
        self.n_threads = n_threads
        self.pin(n_threads)
        self.obj = fastgrad.Objective(self.X, self.y, loss=loss, reduction="sum",
                                      n_threads=n_threads, backend="native")
        self.out = np.empty_like(self.coef)

    def time_value_and_grad(self, *params):
        fastgrad.value_and_grad(self.X, self.y, self.coef, loss=self.loss, reduction="sum",
                                n_threads=self.n_threads, backend="native")

    def time_objective_value_and_grad(self, *params):
        self.obj.value_and_grad(self.coef)

    def time_objective_value_and_grad_out(self, *params):
        self.obj.value_and_grad(self.coef, out=self.out)

    def time_numpy_backend(self, *params):
        fastgrad.value_and_grad(self.X, self.y, self.coef, loss=self.loss, reduction="sum",
                                backend="numpy")

    def time_numpy_twopass(self, *params):
        numpy_twopass(self.X, self.y, self.coef, self.loss)

    def time_one_read(self, *params):
        self.X @ self.coef


class Minibatch(S.PinnedBench):
    """256 random rows of a 1,000,000 x 100 float64 X (800 MB), a new batch each call.

    ``rows=`` reads the rows in place; the alternatives copy them first
    (``X[rows]``) or are given a contiguous 256 x 100 array to begin with.
    """

    params = (["squared", "logistic"],)
    param_names = ["loss"]
    n_batches = 1024
    batch = 256
    timeout = 120

    def setup(self, loss):
        m, n = 1_000_000, 100
        d = S.data(m, n)
        self.X, self.coef, self.y = d["X"], d["coef"], d["y"][loss]
        self.loss = loss
        rng = np.random.default_rng(1)
        self.batches = rng.integers(0, m, size=(self.n_batches, self.batch))
        self.i = 0
        self.Xb = np.ascontiguousarray(self.X[self.batches[0]])
        self.yb = self.y[self.batches[0]]
        self.obj = fastgrad.Objective(self.X, self.y, loss=loss, reduction="sum",
                                      n_threads=1, backend="native", check_input=False)
        self.pin(1)

    def _rows(self):
        self.i = (self.i + 1) % self.n_batches
        return self.batches[self.i]

    def time_rows(self, loss):
        fastgrad.value_and_grad(self.X, self.y, self.coef, loss=loss, reduction="sum",
                                rows=self._rows(), n_threads=1, backend="native")

    def time_objective_rows(self, loss):
        self.obj.value_and_grad(self.coef, rows=self._rows())

    def time_contiguous(self, loss):
        fastgrad.value_and_grad(self.Xb, self.yb, self.coef, loss=loss, reduction="sum",
                                n_threads=1, backend="native")

    def time_take_then_fastgrad(self, loss):
        rows = self._rows()
        fastgrad.value_and_grad(self.X[rows], self.y[rows], self.coef, loss=loss,
                                reduction="sum", n_threads=1, backend="native")

    def time_take_then_numpy(self, loss):
        rows = self._rows()
        numpy_twopass(self.X[rows], self.y[rows], self.coef, loss)

    def time_take_only(self, loss):
        """X[rows] alone: reading the random rows from memory (which rows= cannot
        avoid) plus the copy; time_contiguous reads its rows from cache."""
        self.X[self._rows()]
