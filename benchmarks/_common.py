"""Helpers of the asv suite: data, the NumPy expressions, thread pinning, timing.

Self-contained on purpose: asv runs this directory against older commits of
fastgrad too, so nothing here imports fastgrad's private modules.
Names here start with no benchmark prefix (time_, peakmem_, track_, ...), so asv
finds no benchmark in this module.
"""
import math
import os
import statistics
import time

import numpy as np

#: (n_samples, n_features) of the memory-bound cases: X is 160 MB in float64
#: (256 MB for 4000000x8), 5x or more the 32 MiB L3 of the reference machine,
#: so every call streams X from RAM.
SHAPES = {"200000x100": (200_000, 100), "20000x1000": (20_000, 1000),
          "4000000x8": (4_000_000, 8)}

#: FASTGRAD_ASV_GRID=full widens the parameter grids (several times longer runs)
FULL_GRID = os.environ.get("FASTGRAD_ASV_GRID", "") == "full"

#: the shapes ValueAndGrad runs over
GRID_SHAPES = list(SHAPES) if FULL_GRID else ["200000x100"]


#: rows of random data drawn; larger X repeats them (drawing 800 MB of normals
#: takes seconds, copying them a fraction of that; timings do not see the values,
#: and every row still has its own address, so X still streams from RAM)
DRAW_ROWS = 1 << 14


def random_matrix(rng, m, n, dtype="float64", order="C"):
    """Standard normal (m, n) array in C or F order (rows repeat past DRAW_ROWS)."""
    dt = np.dtype(dtype)
    k = min(m, DRAW_ROWS)
    if order == "F":
        block = rng.standard_normal((n, k), dtype=dt)
        out = np.empty((n, m), dtype=dt)
        for s in range(0, m, k):
            out[:, s:s + k] = block[:, :min(k, m - s)]
        return out.T  # F-ordered (m, n), no copy
    block = rng.standard_normal((k, n), dtype=dt)
    out = np.empty((m, n), dtype=dt)
    for s in range(0, m, k):
        out[s:s + k] = block[:min(k, m - s)]
    return out


def make_data(m, n, dtype="float64", order="C", seed=0):
    """X (m, n) in the given memory order, coef and v with z = X @ coef ~ N(0, 1),
    and y for each loss."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    X = random_matrix(rng, m, n, dt, order)
    scale = 1.0 / math.sqrt(n)
    coef = (rng.standard_normal(n) * scale).astype(dt)
    v = (rng.standard_normal(n) * scale).astype(dt)
    y = {"squared": rng.standard_normal(m, dtype=dt),
         "logistic": (rng.random(m) < 0.5).astype(dt)}
    return X, coef, v, y


def expit_and_loss(z, y):
    """Stable sigmoid p and summed logistic loss, NumPy only."""
    e = np.exp(-np.abs(z))
    p = np.where(z >= 0, 1.0, e) / (1.0 + e)
    loss = float(np.sum(np.log1p(e) + np.maximum(z, 0) - y * z))
    return p, loss


def numpy_twopass(X, y, coef, loss):
    """The textbook NumPy loss and gradient: reads X twice."""
    if loss == "squared":
        r = X @ coef - y
        return 0.5 * float(r @ r), X.T @ r
    p, value = expit_and_loss(X @ coef, y)
    return value, X.T @ (p - y)


def hess_diag(X, y, coef, loss):
    """l''(z) at coef, or None for the squared loss (where it is 1)."""
    if loss == "squared":
        return None
    p, _ = expit_and_loss(X @ coef, y)
    return p * (1 - p)


def numpy_hessp(X, h, v):
    """X.T @ (h * (X @ v)) with h computed beforehand."""
    t = X @ v
    return X.T @ (t if h is None else h * t)


class Pinned:
    """BLAS and OpenMP pools limited to n_threads from setup to teardown."""

    def __init__(self, n_threads):
        from threadpoolctl import threadpool_limits
        self._limits = threadpool_limits(limits=n_threads)

    def restore(self):
        self._limits.restore_original_limits()


def unpin(bench):
    """teardown: restore the thread limits (asv calls teardown after a skipped setup too)."""
    pinned = getattr(bench, "pinned", None)
    if pinned is not None:
        pinned.restore()
        bench.pinned = None


def median_time(fn, repeat=5, number=1):
    """Median seconds per call over repeat samples of number calls (after one warm-up)."""
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


def interleaved_medians(fns, repeat=5):
    """Median seconds per call of each function, timed in turn (one warm-up each)."""
    for fn in fns:
        fn()
    samples = [[] for _ in fns]
    for r in range(repeat):
        for i in range(len(fns)):
            j = (i + r) % len(fns)
            t0 = time.perf_counter()
            fns[j]()
            samples[j].append(time.perf_counter() - t0)
    return [statistics.median(s) for s in samples]


def skip_unless_native():
    """Raise NotImplementedError (asv's skip) when fastgrad has no compiled core."""
    import fastgrad
    try:
        fastgrad.value_and_grad(np.ones((2, 2)), np.ones(2), np.ones(2), backend="native")
    except ImportError as exc:
        raise NotImplementedError(f"fastgrad's compiled core is not available: {exc}")
