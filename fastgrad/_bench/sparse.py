"""python -m fastgrad bench --sparse: fastgrad beside scipy.sparse on a CSR X.

For each case (loss, shape, density, dtype) this builds a random CSR matrix
(uniformly random columns, sorted within rows, float values) outside the timed
regions and times, round-robin in one process on the same arrays:

  fastgrad      ``fastgrad.value_and_grad(X, y, coef, reduction="sum")`` (loss too)
  scipy         the gradient alone, as scipy.sparse writes it:
                  squared:  X.T @ (X @ coef - y)
                  logistic: X.T @ (expit(X @ coef) - y)

with BLAS/OpenMP pinned to one thread (threadpoolctl) and ``n_threads=1``;
with ``--threads K`` (K > 1) fastgrad is also timed with ``n_threads=K``
(scipy.sparse's products are single-threaded).  Times are medians.
Needs scipy (a test/bench dependency of fastgrad, not a runtime one).
"""
import gc
import json
import math
import sys

import numpy as np

from .cases import TOL
from .timing import time_round_robin

#: name -> (loss, n_samples, n_features, density): a text-like X (logistic) and a
#: denser one (squared), float64; the default cases and the asv suite's
NAMED_CASES = {"text_1Mx100k": ("logistic", 1_000_000, 100_000, 1e-4),
               "dense_2Mx1k": ("squared", 2_000_000, 1_000, 1e-2)}
DEFAULT_CASES = ",".join(f"{loss}:{m}x{n}:{d:g}" for loss, m, n, d in NAMED_CASES.values())


def parse_cases(text):
    """[(loss, m, n, density, dtype)] from 'LOSS:MxN:DENSITY[:DTYPE],...'."""
    cases = []
    for tok in (t.strip() for t in text.split(",")):
        if not tok:
            continue
        parts = tok.split(":")
        if len(parts) not in (3, 4) or parts[0] not in ("squared", "logistic"):
            raise ValueError(f"bad sparse case {tok!r}: expected LOSS:MxN:DENSITY[:DTYPE], "
                             "e.g. logistic:1000000x100000:1e-4:float64")
        m, n = (int(s.replace("_", "")) for s in parts[1].lower().split("x"))
        dens = float(parts[2])
        dt = {"f64": "float64", "f32": "float32"}.get(parts[3], parts[3]) \
            if len(parts) == 4 else "float64"
        if dt not in TOL or not (0 < dens <= 1) or m < 1 or n < 1:
            raise ValueError(f"bad sparse case {tok!r}")
        cases.append((parts[0], m, n, dens, dt))
    if not cases:
        raise ValueError("no sparse cases selected")
    return cases


def make_csr(m, n, density, dtype="float64", seed=0):
    """A random (m, n) CSR matrix: about density * n values per row (binomial),
    columns uniformly random, sorted within rows, no duplicates; int32 indices
    when they fit.  Also coef with z = X @ coef ~ N(0, 1), and y for each loss."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    counts = rng.binomial(n, density, size=m)
    cols = rng.integers(0, n, int(counts.sum()), dtype=np.int64)
    keys = np.repeat(np.arange(m, dtype=np.int64), counts) * n + cols
    del cols
    keys.sort()
    if keys.size:
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    rows = keys // n
    idt = np.int32 if max(n, keys.size) < 2**31 else np.int64
    indptr = np.zeros(m + 1, dtype=idt)
    np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
    del rows
    indices = (keys % n).astype(idt)
    del keys
    data = rng.standard_normal(indices.size, dtype=np.dtype(dtype))
    X = sp.csr_matrix((data, indices, indptr), shape=(m, n))
    coef = (rng.standard_normal(n) / math.sqrt(max(1.0, X.nnz / m))).astype(dtype)
    y = {"squared": rng.standard_normal(m).astype(dtype),
         "logistic": (rng.random(m) < 0.5).astype(dtype)}
    return X, coef, y


def scipy_grad(X, y, coef, loss):
    from scipy.special import expit
    if loss == "squared":
        return X.T @ (X @ coef - y)
    return X.T @ (expit(X @ coef) - y)


def _median_times(fns, repeat):
    """{name: median seconds of one call}, one warm-up call each, round-robin."""
    return {k: t["median"] for k, t in time_round_robin(fns, repeat, min_time=0).items()}


def _fmt(t):
    return f"{t * 1e3:.1f} ms" if t < 10 else f"{t:.2f} s"


def run(args):
    """The --sparse mode of ``python -m fastgrad bench`` (args: its argparse result)."""
    try:
        import scipy.sparse  # noqa: F401
    except ImportError as exc:
        print(f"python -m fastgrad bench --sparse needs scipy ({exc})", file=sys.stderr)
        return 2
    import fastgrad
    from threadpoolctl import threadpool_limits

    text = DEFAULT_CASES if args.cases == "default" else args.cases
    try:
        cases = parse_cases(text)
    except ValueError as exc:
        print(f"python -m fastgrad bench --sparse: {exc}", file=sys.stderr)
        return 2
    backend = args.backend
    K = args.threads
    print(f"fastgrad {fastgrad.__version__} bench --sparse: backend {backend}; scipy and "
          f"BLAS pinned to 1 thread (threadpoolctl); fastgrad n_threads=1"
          + (f" and n_threads={K}" if K > 1 else "")
          + f"; median of {args.repeat} round-robin repeats")
    print("fastgrad = value_and_grad(X, y, coef, reduction='sum') (loss and gradient); "
          "scipy = X.T @ (X @ coef - y) or X.T @ (expit(X @ coef) - y) (gradient only)")
    head = (f"{'case':<40} {'nnz':>10} {'fastgrad 1t':>12} {'scipy 1t':>10} "
            f"{'scipy/fg':>8}" + (f" {'fastgrad ' + str(K) + 't':>12} {'1t/' + str(K) + 't':>7}"
                                  if K > 1 else "") + "  check")
    print()
    print(head)
    print("-" * len(head))
    sys.stdout.flush()
    results, bad = [], 0
    with threadpool_limits(limits=1):
        for loss, m, n, dens, dt in cases:
            X, coef, ys = make_csr(m, n, dens, dt, seed=args.seed)
            y = ys[loss]
            kw = dict(loss=loss, reduction="sum", backend=backend)
            fns = {"fastgrad_1t": lambda: fastgrad.value_and_grad(X, y, coef, n_threads=1,
                                                                  **kw),
                   "scipy_1t": lambda: scipy_grad(X, y, coef, loss)}
            if K > 1:
                fns[f"fastgrad_{K}t"] = lambda: fastgrad.value_and_grad(
                    X, y, coef, n_threads=K, **kw)
            g_fg = np.asarray(fns["fastgrad_1t"]()[1], dtype=np.float64)
            g_sp = np.asarray(fns["scipy_1t"](), dtype=np.float64)
            err = float(np.max(np.abs(g_fg - g_sp)) / max(np.max(np.abs(g_sp)), 1e-300))
            ok = err <= TOL[dt]
            bad += not ok
            t = _median_times(fns, args.repeat)
            label = f"{loss} {m}x{n} density {dens:g} {dt}"
            row = (f"{label:<40} {X.nnz:>10} {_fmt(t['fastgrad_1t']):>12} "
                   f"{_fmt(t['scipy_1t']):>10} {t['scipy_1t'] / t['fastgrad_1t']:>7.2f}x")
            if K > 1:
                tk = t[f"fastgrad_{K}t"]
                row += f" {_fmt(tk):>12} {t['fastgrad_1t'] / tk:>6.2f}x"
            row += "  " + ("ok" if ok else f"MISMATCH {err:.1e}")
            print(row)
            sys.stdout.flush()
            results.append({"loss": loss, "n_samples": m, "n_features": n, "density": dens,
                            "dtype": dt, "nnz": int(X.nnz), "times_s": t,
                            "scipy_over_fastgrad": t["scipy_1t"] / t["fastgrad_1t"],
                            "rel_err": err})
            del X, coef, ys, y, fns
            gc.collect()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": K, "repeat": args.repeat, "results": results}, f, indent=1)
        print(f"wrote {args.json}")
    return 1 if bad else 0
