"""loss="multinomial": fastgrad's one pass beside NumPy's and scikit-learn's two.

asv classes (data built in ``setup``, threads pinned with threadpoolctl), and a
table when run as a script::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_multinomial.py

NumPy's expression is the textbook one: ``Z = X @ W``, a stable softmax, then
``X.T @ (P - Y)`` (two passes over X, two m x K temporaries). scikit-learn's is
``LinearModelLoss(HalfMultinomialLoss(K)).loss_gradient`` (skipped when
scikit-learn is not installed).
"""
import argparse
import sys

import numpy as np

import fastgrad

try:
    from . import _common as C
except ImportError:                     # run as a script
    import os
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks import _common as C

#: (n_samples, n_features, n_classes) of the issue's case: X is 400 MB
SHAPE = (500_000, 100, 10)


def make_mn_data(m, n, K, dtype="float64", order="C", seed=0):
    rng = np.random.default_rng(seed)
    X = C.random_matrix(rng, m, n, dtype, order)
    W = (rng.standard_normal((n, K)) / np.sqrt(n)).astype(dtype)
    V = (rng.standard_normal((n, K)) / np.sqrt(n)).astype(dtype)
    y = rng.integers(0, K, m)
    return X, W, V, y


def numpy_softmax_twopass(X, W, Y):
    """Loss and gradient (sums over rows) the way NumPy users write them."""
    Z = X @ W
    mx = Z.max(axis=1, keepdims=True)
    E = np.exp(Z - mx)
    s = E.sum(axis=1, keepdims=True)
    loss = float(np.sum(np.log(s) + mx) - np.sum(Y * Z))
    return loss, X.T @ (E / s - Y)


def sklearn_loss_gradient(K):
    """A callable (X, y, W) -> (loss, grad) by scikit-learn, or None."""
    try:
        from sklearn._loss.loss import HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError:
        return None
    lml = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=K), fit_intercept=False)

    def run(X, yf, Wt, n_threads):
        return lml.loss_gradient(Wt, X, yf, n_threads=n_threads)
    return run


class Multinomial:
    """value_and_grad and hessp, K = 10 classes, X larger than the caches."""

    params = (["float64", "float32"], ["C", "F"], [1, 2])
    param_names = ["dtype", "order", "n_threads"]
    timeout = 180

    def setup(self, dtype, order, n_threads):
        m, n, K = SHAPE
        if not C.FULL_GRID:
            m = 200_000
        self.X, self.W, self.V, self.y = make_mn_data(m, n, K, dtype, order)
        self.Y = np.eye(K, dtype=dtype)[self.y]
        self.n_threads = n_threads
        self.pinned = C.Pinned(n_threads)

    def teardown(self, *params):
        C.unpin(self)

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
        t_fg, t_np = C.interleaved_medians([self._fastgrad, self._numpy])
        return t_np / t_fg

    track_speedup_vs_numpy.unit = "x"

    def track_ratio_to_one_read(self, *params):
        """time of fastgrad / time of one read of X (a single X @ coef)"""
        c = np.ascontiguousarray(self.W[:, 0])
        t_fg, t_read = C.interleaved_medians([self._fastgrad, lambda: self.X @ c])
        return t_fg / t_read

    track_ratio_to_one_read.unit = "x"


class MultinomialSklearn:
    """scikit-learn's LinearModelLoss on the same arrays (skipped if not installed)."""

    params = ([1],)
    param_names = ["n_threads"]
    timeout = 180

    def setup(self, n_threads):
        m, n, K = SHAPE
        if not C.FULL_GRID:
            m = 200_000
        self.run = sklearn_loss_gradient(K)
        if self.run is None:
            raise NotImplementedError("scikit-learn is not installed")
        self.X, W, _, y = make_mn_data(m, n, K)
        self.Wt = np.ascontiguousarray(W.T)
        self.yf = y.astype(np.float64)
        self.pinned = C.Pinned(n_threads)
        self.n_threads = n_threads

    def teardown(self, *params):
        C.unpin(self)

    def time_sklearn_loss_gradient(self, n_threads):
        self.run(self.X, self.yf, self.Wt, n_threads)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="x".join(map(str, SHAPE)), help="MxNxK")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--orders", default="C,F")
    args = p.parse_args(argv)
    m, n, K = (int(s) for s in args.shape.lower().split("x"))
    from threadpoolctl import threadpool_limits
    sk = sklearn_loss_gradient(K)
    print(f"multinomial {m}x{n}, K={K}, float64, {args.threads} thread(s); "
          f"medians of {args.repeat}, each timed in turn")
    print(f"{'order':5} {'one read':>9} {'fastgrad':>9} {'x read':>7} {'GB/s':>6} "
          f"{'hessp':>9} {'x read':>7} {'NumPy':>9} {'NumPy/fg':>8} {'sklearn':>9} "
          f"{'sk/fg':>6}")
    with threadpool_limits(args.threads):
        for order in args.orders.split(","):
            X, W, V, y = make_mn_data(m, n, K, "float64", order)
            Y = np.eye(K)[y]
            c = np.ascontiguousarray(W[:, 0])
            nt = args.threads
            fns = [lambda: X @ c,
                   lambda: fastgrad.value_and_grad(X, y, W, loss="multinomial",
                                                   n_threads=nt, backend="native"),
                   lambda: fastgrad.hessp(X, y, W, V, loss="multinomial", n_threads=nt,
                                          backend="native"),
                   lambda: numpy_softmax_twopass(X, W, Y)]
            if sk is not None:
                Wt, yf = np.ascontiguousarray(W.T), y.astype(np.float64)
                fns.append(lambda: sk(X, yf, Wt, nt))
            t = C.interleaved_medians(fns, repeat=args.repeat)
            t_sk = f"{t[4] * 1e3:8.1f}ms {t[4] / t[1]:5.2f}x" if sk is not None else "   (none)"
            print(f"{order:5} {t[0] * 1e3:7.1f}ms {t[1] * 1e3:7.1f}ms {t[1] / t[0]:6.2f}x "
                  f"{X.nbytes / t[1] / 1e9:6.1f} {t[2] * 1e3:7.1f}ms {t[2] / t[0]:6.2f}x "
                  f"{t[3] * 1e3:7.1f}ms {t[3] / t[1]:7.2f}x {t_sk}")
            del X, Y


if __name__ == "__main__":
    main()
