"""fastgrad.dask against dask's own expressions, on one persisted array.

Run as a script (about 5 minutes, 3.2 GB of X in the workers):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_dask.py
    python benchmarks/bench_dask.py --rows 400000 --repeat 3      # a quick look

It starts a ``distributed.LocalCluster`` (processes, 2 workers x 1 thread),
builds X (rows x cols float64 in ``--chunks`` row chunks) on the workers and
persists it, then times, with both methods in the same process on the same
persisted arrays, taking turns and reporting medians:

- value_and_grad of the squared loss (``reduction="sum"``):
  ``fastgrad.dask.value_and_grad(X, y, coef)`` and ``fastgrad.dask.Objective``
  against ``(X.T @ (X @ coef - y)).compute()``;
- an L-BFGS fit of logistic regression, end to end (the Objective's construction
  included): ``scipy.optimize.minimize(fastgrad.dask.Objective(X, y,
  loss="logistic"), ...)`` against the same minimize with a ``fun`` that computes
  ``z = X @ w; loss = sum(logaddexp(0, z) - y z) / m; grad = X.T @ (expit(z) - y) / m``
  with ``dask.compute(loss, grad)``. Both fits use the same options and
  ``maxiter``; the table shows their iterations and final losses.

For asv, ``bench_dask.DaskCluster`` in benchmarks/ times the same calls on a
smaller array (its setup starts the cluster; importing this module starts nothing).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

from .timing import time_round_robin


def _fastgrad_root():
    import fastgrad
    return os.path.dirname(os.path.dirname(os.path.abspath(fastgrad.__file__)))


def start_cluster(n_workers=2, threads_per_worker=1):
    """A LocalCluster whose workers import the same fastgrad as this process."""
    import logging

    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                           processes=True, dashboard_address=None,
                           env={"PYTHONPATH": _fastgrad_root()},
                           silence_logs=logging.ERROR)
    return cluster, Client(cluster)


def make_data(client, m, n, chunks, seed=0):
    """X (m, n) float64 in `chunks` row chunks, y for both losses, built and
    persisted on the workers; coef with z = X @ coef ~ N(0, 1)."""
    import dask.array as da
    from distributed import wait
    rows = -(-m // chunks)
    rng = da.random.default_rng(seed)
    X = rng.standard_normal((m, n), chunks=(rows, n))
    w_true = np.random.default_rng(seed + 1).standard_normal(n) / np.sqrt(n)
    z = X @ w_true
    y_sq = z + 0.5 * rng.standard_normal(m, chunks=rows)
    y_lo = (rng.uniform(size=m, chunks=rows) < 1.0 / (1.0 + da.exp(-z))).astype(np.float64)
    X, y_sq, y_lo = client.persist([X, y_sq, y_lo])
    wait([X, y_sq, y_lo])
    coef = np.random.default_rng(seed + 2).standard_normal(n) / np.sqrt(n)
    return X, y_sq, y_lo, coef


def dask_lbfgs_fun(X, y):
    """dask's own logistic loss and gradient, one dask.compute per call."""
    import dask
    import dask.array as da
    from scipy.special import expit
    m = X.shape[0]

    def fun(w):
        z = X @ w
        loss = da.sum(da.logaddexp(0.0, z) - y * z) / m
        grad = X.T @ (da.map_blocks(expit, z, dtype=z.dtype) - y) / m
        L, g = dask.compute(loss, grad)
        return float(L), np.asarray(g)
    return fun


def interleaved(fns, repeat):
    """{name: [seconds, ...]}: the methods take turns, the order rotating (no warm-up)."""
    t = time_round_robin(fns, repeat, min_time=0, warmup=False)
    return {k: v["samples"] for k, v in t.items()}


def bench_value_and_grad(X, y, coef, repeat):
    import fastgrad.dask as fd
    obj = fd.Objective(X, y, reduction="sum")
    g_fd = fd.value_and_grad(X, y, coef, reduction="sum")[1]
    g_dk = np.asarray((X.T @ (X @ coef - y)).compute())
    err = float(np.max(np.abs(g_fd - g_dk)) / np.max(np.abs(g_dk)))
    fns = {
        "fastgrad.dask.value_and_grad": lambda: fd.value_and_grad(X, y, coef, reduction="sum"),
        "fastgrad.dask.Objective": lambda: obj(coef),
        "dask (X.T @ (X @ coef - y))": lambda: (X.T @ (X @ coef - y)).compute(),
    }
    return interleaved(fns, repeat), err


def bench_lbfgs(X, y, repeat, maxiter):
    import scipy.optimize

    import fastgrad.dask as fd
    n = X.shape[1]
    opts = dict(jac=True, method="L-BFGS-B",
                options={"maxiter": maxiter, "gtol": 1e-12, "ftol": 0.0})
    results = {}

    def fit_fastgrad():
        obj = fd.Objective(X, y, loss="logistic")          # construction included
        results["fastgrad"] = scipy.optimize.minimize(obj, np.zeros(n), **opts)

    def fit_dask():
        results["dask"] = scipy.optimize.minimize(dask_lbfgs_fun(X, y), np.zeros(n),
                                                  **opts)

    times = interleaved({"fastgrad.dask.Objective + L-BFGS-B": fit_fastgrad,
                         "dask expressions + L-BFGS-B": fit_dask}, repeat)
    t0 = time.perf_counter()
    fd.Objective(X, y, loss="logistic")
    results["construction"] = time.perf_counter() - t0
    return times, results


def _row(name, ts, base):
    med = statistics.median(ts)
    return (f"  {name:36s} {med:9.3f} s  (min {min(ts):.3f}, max {max(ts):.3f}, "
            f"n={len(ts)})  {base / med:6.2f}x")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=4_000_000)
    p.add_argument("--cols", type=int, default=100)
    p.add_argument("--chunks", type=int, default=8)
    p.add_argument("--repeat", type=int, default=7, help="samples of value_and_grad")
    p.add_argument("--fit-repeat", type=int, default=3, help="samples of the L-BFGS fit")
    p.add_argument("--maxiter", type=int, default=30, help="L-BFGS iterations per fit")
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args(argv)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"note: {var} is set; run with `env -u {var}` so OpenBLAS runs at "
                  "its own speed", file=sys.stderr)
    import dask
    import distributed

    import fastgrad
    cluster, client = start_cluster(a.workers)
    try:
        files = set(client.run(lambda: __import__("fastgrad").__file__).values())
        assert files == {fastgrad.__file__}, files
        t0 = time.perf_counter()
        X, y_sq, y_lo, coef = make_data(client, a.rows, a.cols, a.chunks)
        gb = a.rows * a.cols * 8 / 1e9
        print(f"X: {a.rows} x {a.cols} float64 ({gb:.2f} GB) in {a.chunks} row chunks, "
              f"persisted on a LocalCluster of {a.workers} worker processes x 1 thread "
              f"({time.perf_counter() - t0:.1f} s to build); dask {dask.__version__}, "
              f"distributed {distributed.__version__}, fastgrad {fastgrad.__version__}, "
              f"{os.cpu_count()} CPUs")
        times, err = bench_value_and_grad(X, y_sq, coef, a.repeat)
        base = statistics.median(times["dask (X.T @ (X @ coef - y))"])
        print(f"\nvalue_and_grad, squared loss, reduction='sum' (median of {a.repeat}; "
              f"speed-up over dask; max rel. gradient difference {err:.1e}):")
        for k, ts in times.items():
            print(_row(k, ts, base))
        times, res = bench_lbfgs(X, y_lo, a.fit_repeat, a.maxiter)
        base = statistics.median(times["dask expressions + L-BFGS-B"])
        built = res.pop("construction")
        print(f"\nL-BFGS-B fit of logistic regression, end to end, maxiter={a.maxiter} "
              f"(median of {a.fit_repeat}; speed-up over dask; the Objective's "
              f"construction, included, took {built:.2f} s):")
        for k, ts in times.items():
            print(_row(k, ts, base))
        for (k, r), ts in zip(res.items(), times.values()):
            print(f"  {k:9s}: nit={r.nit} nfev={r.nfev} loss={r.fun:.12g} "
                  f"({statistics.median(ts) / r.nfev:.3f} s per evaluation; {r.message})")
        dx = float(np.max(np.abs(res["fastgrad"].x - res["dask"].x)))
        print(f"  max |coef difference| between the two fits: {dx:.1e}")
    finally:
        client.close()
        cluster.close()
