"""What a minibatch call with rows= cannot go below: issue 4's target beside
loops that only read the same rows.

    python tools/rows_floor.py [--m 1000000] [--n 100] [--batch 256] [--rounds 400]

A C-ordered float64 X of m x n (800 MB by default, far beyond the caches) and
random batches of row indices, a new batch for every call, as the asv
``Minibatch`` benchmark does.  In one process, round-robin (each round calls
each method once, on a fresh batch), one thread:

- fastgrad with rows= (``Objective.value_and_grad`` and the function);
- fastgrad on a contiguous batch-sized array (in cache: the target's unit);
- ``X[rows]`` followed by NumPy's two-pass gradient, and ``X[rows]`` alone;
- loops from tools/rows_floor.c on the same arrays, through ctypes: a load
  per cache line of each row (with and without prefetching rows ahead), the
  dot product of each row with coef, and a row-by-row copy.

Prints medians in microseconds and each as a multiple of the contiguous call.
Needs a C compiler (cc, or $CC).  Pin nothing else to these cores while it runs.
"""
import argparse
import ctypes
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import fastgrad  # noqa: E402
from fastgrad._bench import suite  # noqa: E402
from fastgrad._bench.reference import numpy_twopass  # noqa: E402


def build(d):
    cc = shlex.split(os.environ.get("CC", "cc"))
    so = os.path.join(d, "rows_floor.so")
    subprocess.run(cc + ["-O2", "-shared", "-fPIC", os.path.join(HERE, "rows_floor.c"),
                         "-o", so], check=True)
    lib = ctypes.CDLL(so)
    P, Z, I = ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_int
    lib.rf_touch.argtypes = [P, Z, P, Z, I]
    lib.rf_touch.restype = ctypes.c_double
    lib.rf_copy.argtypes = [P, Z, P, Z, P]
    lib.rf_copy.restype = None
    return lib


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--m", type=int, default=1_000_000)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=400)
    ap.add_argument("--loss", default="squared", choices=["squared", "logistic"])
    args = ap.parse_args()
    m, n, nb, loss = args.m, args.n, args.batch, args.loss
    d = suite.data(m, n)
    X, coef, y = d["X"], d["coef"], d["y"][loss]
    rng = np.random.default_rng(1)
    batches = rng.integers(0, m, size=(args.rounds, nb)).astype(np.int64)
    Xb = np.ascontiguousarray(X[batches[0]])
    yb = y[batches[0]]
    out = np.empty((nb, n))
    obj = fastgrad.Objective(X, y, loss=loss, reduction="sum", n_threads=1,
                             backend="native", check_input=False)
    ptr = lambda a: a.ctypes.data  # noqa: E731

    with tempfile.TemporaryDirectory() as d:
        lib = build(d)
        methods = {
            "fastgrad Objective rows=": lambda r: obj.value_and_grad(coef, rows=r),
            "fastgrad function rows=": lambda r: fastgrad.value_and_grad(
                X, y, coef, loss=loss, reduction="sum", rows=r, n_threads=1,
                backend="native"),
            "fastgrad contiguous (in cache)": lambda r: fastgrad.value_and_grad(
                Xb, yb, coef, loss=loss, reduction="sum", n_threads=1, backend="native"),
            "X[rows] + NumPy two passes": lambda r: numpy_twopass(X[r], y[r], coef, loss),
            "X[rows] alone": lambda r: X[r],
            "C: load per line, no prefetch": lambda r: lib.rf_touch(ptr(X), n, ptr(r), nb, 0),
            "C: load per line, prefetch 8 rows": lambda r: lib.rf_touch(ptr(X), n, ptr(r), nb, 8),
            "C: load per line, prefetch 16 rows": lambda r: lib.rf_touch(ptr(X), n, ptr(r), nb,
                                                                      16),
            "C: copy row by row": lambda r: lib.rf_copy(ptr(X), n, ptr(r), nb, ptr(out)),
        }
        times = {k: [] for k in methods}
        with threadpool_limits(1):
            for i in range(args.rounds):
                for j, (k, f) in enumerate(methods.items()):
                    # a batch no method has read yet in this round
                    r = batches[(i + j * 37) % args.rounds]
                    t = time.perf_counter()
                    f(r)
                    times[k].append(time.perf_counter() - t)
    base = np.median(times["fastgrad contiguous (in cache)"])
    print(f"{m} x {n} float64 C, {nb} random rows per call, {loss}, 1 thread, "
          f"medians of {args.rounds}")
    for k, ts in times.items():
        med = np.median(ts)
        print(f"  {k:36s} {med * 1e6:8.1f} us  {med / base:5.2f}x contiguous")


if __name__ == "__main__":
    main()
