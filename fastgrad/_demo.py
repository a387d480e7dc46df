"""python -m fastgrad demo: fit a logistic regression with L-BFGS on both backends.

The same seeded synthetic problem is fitted twice with
``scipy.optimize.minimize(obj, x0, jac=True, method="L-BFGS-B")``: once with
``Objective(..., backend="native")`` (the one-pass compiled core) and once with
``backend="numpy"`` (the NumPy reference). For each it prints the number of
gradient evaluations, the time per gradient, the total fit time and the final
loss; then the speedup of the total fit time and how closely the two fitted
coefficient vectors agree.

``--threads N`` gives the compiled core ``n_threads=N`` and limits NumPy's BLAS
to N threads too (threadpoolctl), so the comparison is like for like.
"""
import argparse
import sys
import time

import numpy as np

DEFAULT_SAMPLES = 200_000
DEFAULT_FEATURES = 100
QUICK_SAMPLES = 5_000
QUICK_FEATURES = 20
L2 = 1e-4


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m fastgrad demo",
        description="Fit an L2-regularised logistic regression with scipy's L-BFGS-B "
                    "on a synthetic problem, with the compiled core and with NumPy, "
                    "and compare time and solutions.")
    p.add_argument("--n-samples", type=int, default=None,
                   help=f"rows of X (default {DEFAULT_SAMPLES:,}; {QUICK_SAMPLES:,} with --quick)")
    p.add_argument("--n-features", type=int, default=None,
                   help=f"columns of X (default {DEFAULT_FEATURES}; "
                        f"{QUICK_FEATURES} with --quick)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for both sides: n_threads of the compiled core and the "
                        "BLAS thread limit of NumPy (default: all available cores)")
    p.add_argument("--quick", action="store_true",
                   help="a small problem that runs in well under a second (for tests)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return p


def make_problem(n_samples, n_features, seed=0):
    """Seeded synthetic logistic data: X (float64, C order), 0/1 labels y."""
    rng = np.random.default_rng(seed)
    # columns on scales from 0.56 to 1.8 make the problem mildly ill-conditioned, so that
    # L-BFGS needs some tens of iterations as on real data, not a handful
    scales = np.logspace(-0.25, 0.25, n_features)
    X = rng.standard_normal((n_samples, n_features))
    X *= scales
    true_coef = rng.standard_normal(n_features) / (np.sqrt(n_features) * scales)
    intercept = 0.3
    p = 1.0 / (1.0 + np.exp(-(X @ true_coef + intercept)))
    y = (rng.random(n_samples) < p).astype(np.float64)
    return X, y


class _Counted:
    """Wraps an Objective for scipy: counts calls and the time spent in them."""

    def __init__(self, obj):
        self.obj = obj
        self.calls = 0
        self.seconds = 0.0

    def __call__(self, coef):
        t0 = time.perf_counter()
        value, grad = self.obj.value_and_grad(coef)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        return value, grad


def _fit(minimize, X, y, backend, threads):
    from . import Objective

    obj = Objective(X, y, loss="logistic", fit_intercept=True, l2=L2,
                    n_threads=threads, backend=backend)
    counted = _Counted(obj)
    x0 = np.zeros(obj.coef_shape)
    t0 = time.perf_counter()
    res = minimize(counted, x0, jac=True, method="L-BFGS-B",
                   options={"maxiter": 1000, "gtol": 1e-8, "ftol": 1e-12})
    total = time.perf_counter() - t0
    return {"backend": backend, "coef": res.x, "loss": float(res.fun),
            "calls": counted.calls, "grad_seconds": counted.seconds, "total": total,
            "nit": res.nit, "success": res.success, "message": str(res.message)}


def main(argv=None):
    args = _parser().parse_args(argv)
    m = args.n_samples if args.n_samples is not None else (
        QUICK_SAMPLES if args.quick else DEFAULT_SAMPLES)
    n = args.n_features if args.n_features is not None else (
        QUICK_FEATURES if args.quick else DEFAULT_FEATURES)
    if m < 1 or n < 1:
        print("fastgrad demo: --n-samples and --n-features must be >= 1", file=sys.stderr)
        return 2
    if args.threads is not None and args.threads < 1:
        print("fastgrad demo: --threads must be >= 1", file=sys.stderr)
        return 2
    try:
        from scipy.optimize import minimize
    except ImportError:
        print("fastgrad demo needs scipy for its L-BFGS optimizer, which is not installed.\n"
              "Install it with:  pip install scipy", file=sys.stderr)
        return 1
    from threadpoolctl import threadpool_limits

    from ._backends import NATIVE_ERROR
    if NATIVE_ERROR is not None:
        print(f"fastgrad demo: the compiled core is not available ({NATIVE_ERROR}); "
              "the demo compares it with NumPy, so it cannot run.", file=sys.stderr)
        return 1


    X, y = make_problem(m, n, args.seed)
    threads_txt = "all cores" if args.threads is None else str(args.threads)
    print(f"fastgrad demo: L-BFGS-B logistic regression, {m:,} x {n} float64, "
          f"intercept, l2={L2:g}, threads={threads_txt}")
    print(f"{'backend':<8} {'grad evals':>10} {'ms/grad':>9} {'fit time (s)':>13} "
          f"{'final loss':>20}")
    results = []
    for backend in ("native", "numpy"):
        # limits=None leaves every pool as it is; an int pins BLAS (and OpenMP) to it
        with threadpool_limits(limits=args.threads):
            r = _fit(minimize, X, y, backend, args.threads)
        results.append(r)
        ms = 1e3 * r["grad_seconds"] / max(r["calls"], 1)
        print(f"{backend:<8} {r['calls']:>10d} {ms:>9.2f} {r['total']:>13.3f} "
              f"{r['loss']:>20.15f}")
        if not r["success"]:
            print(f"  note: L-BFGS-B on {backend} stopped with: {r['message']}")

    nat, ref = results
    speedup = ref["total"] / nat["total"] if nat["total"] > 0 else float("inf")
    per_grad = ((ref["grad_seconds"] / max(ref["calls"], 1))
                / max(nat["grad_seconds"] / max(nat["calls"], 1), 1e-12))
    print(f"speedup of native over numpy: {speedup:.2f}x total fit time, "
          f"{per_grad:.2f}x per gradient")
    diff = np.max(np.abs(nat["coef"] - ref["coef"]))
    scale = np.max(np.abs(ref["coef"]))
    rel = diff / scale if scale > 0 else diff
    print(f"agreement: max relative difference of coefficients = {rel:.2e} "
          f"(max|native - numpy| / max|numpy|); "
          f"final losses differ by {abs(nat['loss'] - ref['loss']):.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
