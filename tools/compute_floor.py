"""The compute floor of each large case: fastgrad with X in cache, scaled to all of X.

For each case of the performance issue, the same call runs on a slice of X's rows
that fits in L2 (about 256 KiB, the same layout: an F-ordered X gives an
F-ordered slice). Its time per row, times m, is what the kernel needs with no
memory traffic at all. When that alone exceeds the target (e.g. 1.2 x one
read), no scheduling of the memory reads can meet the target: the case is
bound by computation, not by the read.

Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python tools/compute_floor.py [500000x100C ...]
(about a minute; medians; 1 thread; the per-call overhead, measured on a
4-row slice, is subtracted from the in-cache time).
"""
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastgrad

CASES = [(500000, 100, np.float64), (500000, 100, np.float32),
         (40000, 1000, np.float64), (4000000, 8, np.float64)]
L2_SLICE = 256 * 1024


def med(f, r=7, inner=1):
    ts = []
    for _ in range(r):
        t = time.perf_counter()
        for _ in range(inner):
            f()
        ts.append((time.perf_counter() - t) / inner)
    return float(np.median(ts))


def calls(X, y, yl, c):
    return {
        "squared": lambda A, B, BL: fastgrad.value_and_grad(A, B, c, n_threads=1),
        "logistic": lambda A, B, BL: fastgrad.value_and_grad(A, BL, c, loss="logistic",
                                                             n_threads=1),
        "hessp": lambda A, B, BL: fastgrad.hessp(A, BL, c, c, loss="logistic", n_threads=1),
    }


def main(sel):
    rng = np.random.default_rng(0)
    print("case: one read | per kind: full time (x read) / in-cache floor (x read)")
    for m, n, dt in CASES:
        for order in "CF":
            if sel and f"{m}x{n}{order}" not in sel:
                continue
            X = rng.standard_normal((m, n)).astype(dt)
            X = np.asfortranarray(X) if order == "F" else X
            y = rng.standard_normal(m).astype(dt)
            yl = (y > 0).astype(dt)
            c = (rng.standard_normal(n) * 0.1).astype(dt)
            rows = max(64, L2_SLICE // (n * X.itemsize)) // 8 * 8
            Xs = np.array(X[:rows], order=order)
            X4 = np.array(X[:4], order=order)
            with threadpool_limits(1):
                one = med(lambda: X @ c)
            parts = []
            for kind, f in calls(X, y, yl, c).items():
                full = med(lambda: f(X, y, yl))
                inner = max(1, int(2e-3 / max(full * rows / m, 1e-7)))
                small = med(lambda: f(Xs, y[:rows], yl[:rows]), r=15, inner=inner)
                over = med(lambda: f(X4, y[:4], yl[:4]), r=15, inner=200)
                floor = max(small - over, 0.0) * m / rows
                parts.append(f"{kind} {full * 1e3:.1f} ms ({full / one:.2f}) / "
                             f"{floor * 1e3:.1f} ms ({floor / one:.2f})")
            print(f"{m}x{n} {np.dtype(dt).name} {order}: read {one * 1e3:.1f} ms | "
                  + " | ".join(parts), flush=True)
            del X


if __name__ == "__main__":
    main(sys.argv[1:])
