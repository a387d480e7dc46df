"""Each ISA clone of one build against the others, side by side in one process.

Question it answered (the AVX-512 clone's vector width): does a change to one
clone pay?  FASTGRAD_ISA is read once, at import, so two clones cannot be
compared by it in one process; fastgrad._native._select_isa (a private hook for
tests and this tool) switches the clone between calls.  For each case the same
call runs with each runnable clone in turn (the order alternating), REPS rounds,
1 thread; it prints the median time per clone and avx512/avx2 (median and min).
On a shared machine the min is the steadier figure of a compute-bound case.

Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python tools/isa_compare.py [REPS]
(about a minute with REPS = 21).  To judge a variant of one clone, build it
(e.g. CFLAGS=-DFG_AVX512_VW=8, see src_c/fg_dense_avx512.c) and compare its
avx512/avx2 column with the default build's, several runs each.
"""
import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastgrad
import fastgrad._native as nat


def make(rng, m, n, dt, order, loss, K=None):
    X = rng.standard_normal((m, n)).astype(dt)
    if order == "F":
        X = np.asfortranarray(X)
    if K:
        return X, rng.integers(0, K, m), (rng.standard_normal((n, K)) / np.sqrt(n)).astype(dt)
    y = ((rng.random(m) < .5).astype(dt) if loss == "logistic"
         else rng.standard_normal(m).astype(dt))
    return X, y, (rng.standard_normal(n) / np.sqrt(n)).astype(dt)


def cases(rng):
    out = []
    for dt in ("float64", "float32"):
        for loss in ("squared", "logistic"):
            out.append((f"{loss} 1000x100 {dt} C", make(rng, 1000, 100, dt, "C", loss),
                        loss, "vg"))
    out.append(("logistic 1000x400 float64 C", make(rng, 1000, 400, "float64", "C", "logistic"),
                "logistic", "vg"))
    out.append(("hessp logistic 1000x100 float64 C",
                make(rng, 1000, 100, "float64", "C", "logistic"), "logistic", "hessp"))
    out.append(("logistic 20000x8 float64 F", make(rng, 20000, 8, "float64", "F", "logistic"),
                "logistic", "vg"))
    out.append(("logistic 4000x100 float64 F", make(rng, 4000, 100, "float64", "F", "logistic"),
                "logistic", "vg"))
    out.append(("logistic 200000x100 float64 C",
                make(rng, 200000, 100, "float64", "C", "logistic"), "logistic", "vg"))
    out.append(("multinomial 2000x100 float64 C K=10",
                make(rng, 2000, 100, "float64", "C", "multinomial", 10), "multinomial", "vg"))
    return out


def main(reps=21):
    isas = list(nat.isa_compiled_runnable())[::-1]      # worst to best
    before = nat.isa_selected()
    rng = np.random.default_rng(0)
    print(f"{'case':<38}" + "".join(f"{i:>11}" for i in isas) + "  avx512/avx2 median, min")
    try:
        with threadpool_limits(1):
            for label, (X, y, c), loss, op in cases(rng):
                v = c[::-1].copy()
                kw = dict(loss=loss, n_threads=1, reduction="sum")

                def f():
                    if op == "hessp":
                        fastgrad.hessp(X, y, c, v, **kw)
                    else:
                        fastgrad.value_and_grad(X, y, c, **kw)
                f()
                t0 = time.perf_counter()
                f()
                number = max(1, int(0.01 / max(time.perf_counter() - t0, 1e-7)))
                s = {i: [] for i in isas}
                for r in range(reps):
                    for i in (isas if r % 2 == 0 else isas[::-1]):
                        nat._select_isa(i)
                        t0 = time.perf_counter()
                        for _ in range(number):
                            f()
                        s[i].append((time.perf_counter() - t0) / number)
                med = {i: statistics.median(s[i]) for i in isas}
                tail = ""
                if "avx512" in s and "avx2" in s:
                    tail = (f"  {med['avx512'] / med['avx2']:.3f}, "
                            f"{min(s['avx512']) / min(s['avx2']):.3f}")
                print(f"{label:<38}" + "".join(f"{med[i] * 1e6:>9.1f}us" for i in isas) + tail,
                      flush=True)
    finally:
        nat._select_isa(before)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 21)
