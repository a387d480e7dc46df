"""loss="multinomial": fastgrad's one pass beside NumPy's and scikit-learn's two.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_multinomial.py

NumPy's expression is the textbook one: ``Z = X @ W``, a stable softmax, then
``X.T @ (P - Y)`` (two passes over X, two m x K temporaries). scikit-learn's is
``LinearModelLoss(HalfMultinomialLoss(K)).loss_gradient`` (left out when
scikit-learn is not installed).  The asv classes are in
benchmarks/bench_multinomial.py.
"""
import argparse

import numpy as np

from .cases import DRAW_ROWS, make_multinomial_data
from .peers import sklearn_multinomial
from .reference import numpy_softmax_twopass
from .timing import medians

#: (n_samples, n_features, n_classes) of the table: X is 400 MB
SHAPE = (500_000, 100, 10)


def main(argv=None):
    import fastgrad
    from threadpoolctl import threadpool_limits

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="x".join(map(str, SHAPE)), help="MxNxK")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--orders", default="C,F")
    args = p.parse_args(argv)
    m, n, K = (int(s) for s in args.shape.lower().split("x"))
    sk = sklearn_multinomial(K)
    print(f"multinomial {m}x{n}, K={K}, float64, {args.threads} thread(s); "
          f"medians of {args.repeat}, each timed in turn")
    print(f"{'order':5} {'one read':>9} {'fastgrad':>9} {'x read':>7} {'GB/s':>6} "
          f"{'hessp':>9} {'x read':>7} {'NumPy':>9} {'NumPy/fg':>8} {'sklearn':>9} "
          f"{'sk/fg':>6}")
    with threadpool_limits(args.threads):
        for order in args.orders.split(","):
            X, W, V, y = make_multinomial_data(m, n, K, "float64", order, draw_rows=DRAW_ROWS)
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
            t = medians(fns, repeat=args.repeat)
            t_sk = f"{t[4] * 1e3:8.1f}ms {t[4] / t[1]:5.2f}x" if sk is not None else "   (none)"
            print(f"{order:5} {t[0] * 1e3:7.1f}ms {t[1] * 1e3:7.1f}ms {t[1] / t[0]:6.2f}x "
                  f"{X.nbytes / t[1] / 1e9:6.1f} {t[2] * 1e3:7.1f}ms {t[2] / t[0]:6.2f}x "
                  f"{t[3] * 1e3:7.1f}ms {t[3] / t[1]:7.2f}x {t_sk}")
            del X, Y
    return 0
