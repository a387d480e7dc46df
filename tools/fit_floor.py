"""How fast can a patched scikit-learn GLM fit be, against stock, on this machine?

A fit is its objective's evaluations plus the rest (scikit-learn's checks of X
and y, one of them a pass over X, the set-up, the L-BFGS steps).  This times
both parts of the same fit as ``python -m fastgrad bench --sklearn`` runs it
(same data, same estimator, 1 thread), stock and patched, by timing each call
of ``LinearModelLoss.loss_gradient`` (the one method the lbfgs solver calls),
beside one read of X (``X @ coef``, the bench's yardstick) in the same process.

From them it prints the speedup the patched fit would have if each of its
evaluations took exactly one read of X and nothing else changed: the ceiling
of any one-pass evaluation here, since the rest of the fit is the same code in
both.  And the time per evaluation, in reads of X, that a given speedup
target needs.

    python tools/fit_floor.py [--cases poisson,gamma] [--repeat 3] [--target 2]

Needs scikit-learn.  Run with ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE``.
"""
import argparse
import contextlib
import statistics
import sys
import time
import warnings

import numpy as np


@contextlib.contextmanager
def timed(cls, name, log):
    """Wrap cls.<name> (as it is now: stock or patched) to append each call's time."""
    inner = cls.__dict__[name]

    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            log.append(time.perf_counter() - t)

    setattr(cls, name, wrapper)
    try:
        yield
    finally:
        setattr(cls, name, inner)


def one_fit(make, cls, patched):
    """(total seconds, [seconds of each loss_gradient call], estimator)."""
    import fastgrad.sklearn as fsk
    log = []
    ctx = fsk.patched(n_threads=1) if patched else contextlib.nullcontext()
    with ctx, timed(cls, "loss_gradient", log):
        t = time.perf_counter()
        est = make()
        total = time.perf_counter() - t
    return total, log, est


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="poisson,gamma",
                    help="comma-separated: poisson, gamma (the bench's *_500000x100)")
    ap.add_argument("--repeat", type=int, default=3, help="fits of each kind (medians)")
    ap.add_argument("--target", type=float, default=2.0, help="the speedup to price")
    args = ap.parse_args(argv)

    from sklearn.linear_model._linear_loss import LinearModelLoss
    from threadpoolctl import threadpool_limits

    from fastgrad._bench.sklearn_fits import CASES, make_data, make_estimator

    print("1 thread; medians of", args.repeat, "fits of each kind, alternated")
    for short in args.cases.split(","):
        name = f"{short.strip()}_500000x100"
        case = CASES[name]
        X, y, sw = make_data(case)
        kw = {} if sw is None else {"sample_weight": sw}
        coef = np.linspace(-1, 1, X.shape[1])

        def make(case=case, X=X, y=y, kw=kw):
            return make_estimator(case).fit(X, y, **kw)

        rows = {"stock": [], "patched": []}
        reads = []
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            for kind in rows:                       # warm-up (and the patch's probes)
                one_fit(make, LinearModelLoss, kind == "patched")
            for _ in range(args.repeat):
                for kind in rows:
                    total, log, est = one_fit(make, LinearModelLoss, kind == "patched")
                    rows[kind].append((total, sum(log), len(log), est.n_iter_))
                for _ in range(5):
                    t = time.perf_counter()
                    X @ coef
                    reads.append(time.perf_counter() - t)
        read = statistics.median(reads)

        def med(kind, k):
            return statistics.median(r[k] for r in rows[kind])

        print(f"\n{name}: one read of X (X @ coef) {read * 1e3:.1f} ms")
        print(f"{'':9} {'fit':>9} {'evals':>6} {'n_iter':>6} {'per eval':>17} "
              f"{'rest of the fit':>15}")
        for kind in rows:
            total, ev, n = med(kind, 0), med(kind, 1), med(kind, 2)
            per = ev / n
            print(f"{kind:9} {total * 1e3:7.1f} ms {n:6.0f} {med(kind, 3):6.0f} "
                  f"{per * 1e3:7.1f} ms {per / read:5.2f} r {(total - ev) * 1e3:12.1f} ms")
        s_total = med("stock", 0)
        p_total, p_ev, p_n = med("patched", 0), med("patched", 1), med("patched", 2)
        rest = p_total - p_ev
        print(f"speedup now {s_total / p_total:.2f}x; with every patched evaluation at "
              f"exactly one read of X: {s_total / (rest + p_n * read):.2f}x")
        need = (s_total / args.target - rest) / p_n
        print(f"{args.target:g}x needs each evaluation at {need * 1e3:.1f} ms = "
              f"{need / read:.2f} reads of X (now {p_ev / p_n / read:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
