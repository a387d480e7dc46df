"""loss="multinomial": fastgrad's one pass beside NumPy's and scikit-learn's two.

asv classes (data built in ``setup``, threads pinned with threadpoolctl), and a
table when run as a script (fastgrad._bench.multinomial)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_multinomial.py

NumPy's expression is the textbook one: ``Z = X @ W``, a stable softmax, then
``X.T @ (P - Y)`` (two passes over X, two m x K temporaries). scikit-learn's is
``LinearModelLoss(HalfMultinomialLoss(K)).loss_gradient`` (skipped when
scikit-learn is not installed).
"""
import numpy as np

import fastgrad
from fastgrad._bench import suite as S
from fastgrad._bench.peers import sklearn_multinomial
from fastgrad._bench.reference import numpy_softmax_twopass
from fastgrad._bench.timing import medians


class Multinomial(S.PinnedBench):
    """value_and_grad and hessp, K = 10 classes, X larger than the caches."""

    params = (["float64", "float32"], ["C", "F"], [1, 2])
    param_names = ["dtype", "order", "n_threads"]
    timeout = 180

    def setup(self, dtype, order, n_threads):
        self.X, self.W, self.V, self.y = S.multinomial_data(dtype, order)
        self.Y = np.eye(self.W.shape[1], dtype=dtype)[self.y]
        self.n_threads = n_threads
        self.pin(n_threads)

    def _fastgrad(self):
        return fastgrad.value_and_grad(self.X, self.y, self.W, loss="multinomial",
                                       reduction="sum", n_threads=self.n_threads,
                                       backend="native")

    def _numpy(self):
        return numpy_softmax_twopass(self.X, self.W, self.Y)

    def time_fastgrad(self, *params):
        self._fastgrad()

    def time_fastgrad_hessp(self, *params):
        fastgrad.hessp(self.X, self.y, self.W, self.V, loss="multinomial",
                       n_threads=self.n_threads, backend="native")

    def time_numpy_twopass(self, *params):
        self._numpy()

    def time_one_read(self, *params):
        self.X @ self.W[:, 0]

    def peakmem_fastgrad(self, *params):
        self._fastgrad()

    def peakmem_numpy_twopass(self, *params):
        self._numpy()

    def track_speedup_vs_numpy(self, *params):
        """time of NumPy's softmax two-pass expression / time of fastgrad"""
        t_fg, t_np = medians([self._fastgrad, self._numpy])
        return t_np / t_fg

    track_speedup_vs_numpy.unit = "x"

    def track_ratio_to_one_read(self, *params):
        """time of fastgrad / time of one read of X (a single X @ coef)"""
        c = np.ascontiguousarray(self.W[:, 0])
        t_fg, t_read = medians([self._fastgrad, lambda: self.X @ c])
        return t_fg / t_read

    track_ratio_to_one_read.unit = "x"


class MultinomialSklearn(S.PinnedBench):
    """scikit-learn's LinearModelLoss on the same arrays (skipped if not installed)."""

    params = ([1],)
    param_names = ["n_threads"]
    timeout = 180

    def setup(self, n_threads):
        self.run = sklearn_multinomial(S.MULTINOMIAL_SHAPE[2])
        if self.run is None:
            raise NotImplementedError("scikit-learn is not installed")
        self.X, W, _, y = S.multinomial_data()
        self.Wt = np.ascontiguousarray(W.T)
        self.yf = y.astype(np.float64)
        self.pin(n_threads)
        self.n_threads = n_threads

    def time_sklearn_loss_gradient(self, n_threads):
        self.run(self.X, self.yf, self.Wt, n_threads)


if __name__ == "__main__":
    from fastgrad._bench.multinomial import main
    main()
