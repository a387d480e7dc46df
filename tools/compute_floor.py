"""The compute floor of each large case: fastgrad with X in cache, scaled to all of X.

For each large case of ``python -m fastgrad bench --full``, the same call runs
on a slice of X's rows that fits in L2 (about 256 KiB, the same layout: an
F-ordered X gives an F-ordered slice). Its time per row, times m, is what the
kernel needs with no memory traffic at all. When that alone exceeds the
target (e.g. 1.2 x one read), no scheduling of the memory reads can meet
the target: the case is bound by computation, not by the read.

Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python tools/compute_floor.py [500000x100C ...]
(about 20 s; medians of 7 rounds, each round timing the read, the full
call and the slice in turn, so that a drift of the host's speed moves them
alike; 1 thread; the per-call overhead, measured on a 4-row slice, is
subtracted from the in-cache time).  The last figure of each kind, full time /
floor, near 1.0 says the call already runs at its arithmetic: the read of X is
hidden under it, and only fewer instructions would make it faster.
"""
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastgrad

CASES = [(500000, 100, np.float64), (500000, 100, np.float32),
         (40000, 1000, np.float64), (4000000, 8, np.float64)]
L2_SLICE = 256 * 1024
ROUNDS = 7


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
    print("case: one read | per kind: full time (x read) / in-cache floor (x read) "
          "[full / floor: near 1, the read is hidden under the arithmetic]")
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
            fs = calls(X, y, yl, c)
            inner = {}
            with threadpool_limits(1):
                for kind, f in fs.items():  # calls per timing on the slice: ~2 ms
                    t = time.perf_counter()
                    f(X, y, yl)
                    inner[kind] = max(1, int(2e-3 / max((time.perf_counter() - t) * rows / m, 1e-7)))
                # round-robin: a drift of the host's speed moves every column alike
                t_one, t_full, t_small, t_over = [], {}, {}, {}
                for _ in range(ROUNDS):
                    t_one.append(med(lambda: X @ c, r=1))
                    for kind, f in fs.items():
                        t_full.setdefault(kind, []).append(med(lambda: f(X, y, yl), r=1))
                        t_small.setdefault(kind, []).append(
                            med(lambda: f(Xs, y[:rows], yl[:rows]), r=1, inner=inner[kind]))
                        t_over.setdefault(kind, []).append(
                            med(lambda: f(X4, y[:4], yl[:4]), r=1, inner=200))
            one = float(np.median(t_one))
            parts = []
            for kind in fs:
                full = float(np.median(t_full[kind]))
                small, over = float(np.median(t_small[kind])), float(np.median(t_over[kind]))
                floor = max(small - over, 0.0) * m / rows
                parts.append(f"{kind} {full * 1e3:.1f} ms ({full / one:.2f}) / "
                             f"{floor * 1e3:.1f} ms ({floor / one:.2f}) "
                             f"[{full / floor if floor > 0 else float('inf'):.2f}]")
            print(f"{m}x{n} {np.dtype(dt).name} {order}: read {one * 1e3:.1f} ms | "
                  + " | ".join(parts), flush=True)
            del X


if __name__ == "__main__":
    main(sys.argv[1:])
