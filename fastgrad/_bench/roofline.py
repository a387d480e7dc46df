"""python -m fastgrad bench --roofline: each call's time against its roofline.

The roofline of a call is max(read time, FMA time), both measured on this machine
in this process, with the threads of the run (``--threads``), round-robin with the
call's own timings (a neighbour's load slows both alike):

  read time   bytes of X / the read bandwidth, the faster of a streaming sum
              (``np.add.reduce``, split over the threads) and ``A @ v`` (BLAS gemv,
              pinned to the threads) over a 256 MiB array, well past any L3
  FMA time    the call's multiply-adds / the GEMM rate of the dtype (BLAS
              ``A @ B``, 1024 x 1024, pinned to the threads)

value_and_grad does 2 m n k multiply-adds (z = X coef, then g += X^T d; k outputs or
K classes), hessp 3 m n (z, X v, then the product). A ratio of 1.00 is as fast as
the machine can go; memory-bound cases are bounded by the read, multinomial with
many classes by the FMAs. The path column is what ``fastgrad.explain`` names
("-" where this fastgrad has no explain).
"""
import math
import os
import sys
import time

import numpy as np

from .table import blas_info
from .timing import time_round_robin

#: bytes of the array the read bandwidth is measured on (8x a 32 MiB L3)
READ_BYTES = 256 << 20
#: side of the square GEMM that measures the FMA rate
GEMM_N = 1024
#: seconds the rates' timings aim for per sample
RATE_SAMPLE_TIME = 0.05


class RCase:
    """One row: loss, op, shape, dtype, order, classes (multinomial), power (tweedie)."""

    __slots__ = ("loss", "op", "m", "n", "dtype", "order", "K", "power")

    def __init__(self, loss, m, n, dtype="float64", order="C", op="value_and_grad", K=None,
                 power=None):
        self.loss, self.op, self.m, self.n = loss, op, int(m), int(n)
        self.dtype, self.order, self.K, self.power = np.dtype(dtype).name, order, K, power

    @property
    def label(self):
        dt = {"float64": "f64", "float32": "f32"}[self.dtype]
        op = "hessp " if self.op == "hessp" else ""
        k = f" K={self.K}" if self.K else ""
        p = f"({self.power:g})" if self.power is not None else ""
        return f"{op}{self.loss}{p} {self.m}x{self.n} {dt} {self.order}{k}"

    @property
    def kwargs(self):
        """The call's loss keywords."""
        kw = {"loss": self.loss}
        if self.power is not None:
            kw["power"] = self.power
        return kw

    @property
    def nbytes(self):
        return self.m * self.n * np.dtype(self.dtype).itemsize

    @property
    def fmas(self):
        k = self.K or 1
        return (3 if self.op == "hessp" else 2) * self.m * self.n * k


def full_cases(scale=1):
    """The cases of the kernel-plan table, the log-link losses (poisson, gamma,
    tweedie 1.5, C and F) and 64x32; scale > 1 divides the rows (a quick run)."""
    def m(rows):
        return max(64, rows // scale)
    cs = []
    for dt in ("float64", "float32"):
        for order in ("C", "F"):
            for loss in ("squared", "logistic"):
                cs.append(RCase(loss, m(500_000), 100, dt, order))
    for order in ("C", "F"):
        cs.append(RCase("squared", m(40_000), 1000, "float64", order))
    for order in ("C", "F"):
        cs.append(RCase("logistic", m(4_000_000), 8, "float64", order))
    cs.append(RCase("logistic", m(500_000), 100, "float64", "C", op="hessp"))
    for K in (3, 10, 32):
        cs.append(RCase("multinomial", m(500_000), 100, "float64", "C", K=K))
    cs.append(RCase("multinomial", m(500_000), 100, "float64", "F", K=10))
    for loss, power in (("poisson", None), ("gamma", None), ("tweedie", 1.5)):
        for order in ("C", "F"):
            cs.append(RCase(loss, m(500_000), 100, "float64", order, power=power))
    for loss in ("squared", "logistic"):
        cs.append(RCase(loss, 64, 32, "float64", "C"))
    return cs


# --------------------------------------------------------------------------
# the machine
# --------------------------------------------------------------------------
def cpu_model():
    """The CPU model, as the plan read it at import (fastgrad._plan)."""
    from .. import _plan
    return _plan.CPU_MODEL


def cache_sizes():
    """{"L1d": bytes, "L2": ..., "L3": ...} and where they were read from: the sizes
    the plan uses (fastgrad._plan reads them once, at import)."""
    from .. import _plan
    where = sorted({w for _, w in _plan.CACHES.values()})
    return {k: _plan.CACHES[k][0] for k in ("L1d", "L2", "L3")}, ", ".join(where)


def isa():
    """The ISA clone that runs ("avx512", "avx2", "baseline")."""
    from .. import _plan
    return _plan._isa() or "- (no compiled core)"


def _fmt_bytes(b):
    if not b:
        return "?"
    for unit, s in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= s:
            return f"{b / s:g} {unit}"
    return f"{b} B"


def _median_time(fn, repeat, min_time, settled=False):
    return time_round_robin({"f": fn}, repeat, min_time, settled=settled)["f"]["median"]


class Yardstick:
    """The machine's rates, measured with `threads` threads: the read bandwidth (the
    faster of a streaming sum and ``A @ v`` over READ_BYTES) and the GEMM rate per dtype.

    ``fns()`` gives the timed calls, so that measure_case times them round-robin
    with the call it judges (the same process, the same moments: a neighbour's load
    then slows both alike); ``rates(medians)`` turns their times into rates."""

    def __init__(self, threads=1):
        from concurrent.futures import ThreadPoolExecutor
        self.threads = threads
        self.buf = np.ones(READ_BYTES // 8)      # every page touched
        self.A = self.buf.reshape(-1, 128)
        self.v = np.ones(128)
        self._parts = np.array_split(self.buf, threads)
        self._pool = ThreadPoolExecutor(threads) if threads > 1 else None
        rng = np.random.default_rng(0)
        self.gemm = {dt: (rng.standard_normal((GEMM_N, GEMM_N)).astype(dt),
                          rng.standard_normal((GEMM_N, GEMM_N)).astype(dt))
                     for dt in ("float64", "float32")}

    def close(self):
        if self._pool is not None:
            self._pool.shutdown()

    def fns(self, dtypes=("float64", "float32")):
        buf, A, v, parts, pool = self.buf, self.A, self.v, self._parts, self._pool
        if pool is None:
            def stream_sum():
                np.add.reduce(buf)
        else:
            def stream_sum():
                list(pool.map(np.add.reduce, parts))
        out = {"read_sum": stream_sum, "read_gemv": lambda: A @ v}
        for dt in dtypes:
            P, Q = self.gemm[dt]
            out[f"gemm_{dt}"] = lambda P=P, Q=Q: P @ Q
        return out

    def rates(self, medians):
        r = {"read_sum": self.buf.nbytes / medians["read_sum"],
             "read_gemv": self.buf.nbytes / medians["read_gemv"]}
        r["read"] = max(r["read_sum"], r["read_gemv"])
        for dt in ("float64", "float32"):
            if f"gemm_{dt}" in medians:
                r[f"fma_{dt}"] = GEMM_N ** 3 / medians[f"gemm_{dt}"]
        return r


def _medians(fns, repeat, min_time, settled=False):
    """Medians of fns timed round-robin; settled (for more than one thread): each
    sample once the other pools have gone idle (timing.settle)."""
    res = time_round_robin(fns, repeat, min_time, settled=settled)
    return {k: v["median"] for k, v in res.items()}


def machine_rates(threads=1, repeat=5, stick=None):
    """{"read": bytes/s, "read_sum": ..., "read_gemv": ..., "fma_float64": FMA/s,
    "fma_float32": ...} measured now with `threads` threads."""
    from threadpoolctl import threadpool_limits
    own = stick is None
    stick = Yardstick(threads) if own else stick
    try:
        fns = stick.fns()
        for f in fns.values():
            f()
        with threadpool_limits(threads):
            return stick.rates(_medians(fns, repeat, RATE_SAMPLE_TIME, threads > 1))
    finally:
        if own:
            stick.close()


# --------------------------------------------------------------------------
# the cases
# --------------------------------------------------------------------------
def make_x(case, seed=0):
    rng = np.random.default_rng(seed)
    dt = np.dtype(case.dtype)
    if case.order == "F":
        return rng.standard_normal((case.n, case.m), dtype=dt).T  # F-ordered, no copy
    return rng.standard_normal((case.m, case.n), dtype=dt)


def with_x(X, case, seed=1):
    """(X, y, coef, v) of `case` around an X already built; z = X coef ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(case.dtype)
    m, n, k = case.m, case.n, case.K
    scale = 1.0 / math.sqrt(n)
    shape = (n, k) if k else (n,)
    coef = (rng.standard_normal(shape) * scale).astype(dt)
    v = (rng.standard_normal(shape) * scale).astype(dt)
    if case.loss == "multinomial":
        y = rng.integers(0, k, m)
    elif case.loss == "logistic":
        y = (rng.random(m) < 0.5).astype(dt)
    elif case.loss in ("poisson", "tweedie"):          # y >= 0
        y = rng.poisson(1.0, m).astype(dt)
    elif case.loss == "gamma":                         # y > 0
        y = rng.gamma(2.0, 0.5, m).astype(dt)
    else:
        y = rng.standard_normal(m, dtype=dt)
    return X, y, coef, v


def explain_path(X, y, coef, v, case, threads):
    import fastgrad
    explain = getattr(fastgrad, "explain", None)
    if explain is None:
        return "-"
    try:
        kw = dict(case.kwargs, n_threads=threads, reduction="sum")
        if case.op == "hessp":
            return explain(X, y, coef, op="hessp", v=v, **kw)["path"]
        return explain(X, y, coef, **kw)["path"]
    except Exception as exc:  # an explain that disagrees with this call: say so
        return f"? ({type(exc).__name__})"


def measure_case(case, rates, threads=1, repeat=7, data=None):
    """{"label", "time", "read", "fma", "roofline", "ratio", "path", "rates"} of one case.

    rates: a Yardstick (its reads and GEMM are timed round-robin with the call, and
    the roofline uses those) or a dict of fixed rates (machine_rates's keys)."""
    import fastgrad

    X, y, coef, v = with_x(make_x(case), case) if data is None else data
    kw = dict(case.kwargs, reduction="sum", n_threads=threads)
    if case.op == "hessp":
        def fn():
            fastgrad.hessp(X, y, coef, v, **kw)
    else:
        def fn():
            fastgrad.value_and_grad(X, y, coef, **kw)
    fn()
    if isinstance(rates, Yardstick):
        fns = {"call": fn, **rates.fns((case.dtype,))}
        for f in fns.values():
            f()
        med = _medians(fns, repeat, 0.02, threads > 1)
        t, rates = med["call"], rates.rates(med)
    else:
        t = _median_time(fn, repeat, 0.02, threads > 1)
    t_read = case.nbytes / rates["read"]
    t_fma = case.fmas / rates[f"fma_{case.dtype}"]
    roof = max(t_read, t_fma)
    return {"label": case.label, "time": t, "read": t_read, "fma": t_fma,
            "roofline": roof, "ratio": t / roof, "bound": "read" if t_read >= t_fma else "FMA",
            "path": explain_path(X, y, coef, v, case, threads), "rates": rates}


def _fmt_t(t):
    for unit, s in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if t >= s:
            return f"{t / s:.3g} {unit}"
    return f"{t * 1e9:.3g} ns"


def add_arguments(group):
    group.add_argument("--quick", action="store_true",
                       help="with --roofline: rows / 100, a check that it runs")


def run(args):
    """The --roofline mode: exit status 0, or 2 without the compiled core."""
    scale = 100 if args.quick else 1
    return 0 if report(args.threads, args.repeat, scale) is not None else 2


def report(threads=1, repeat=7, scale=1, out=sys.stdout):
    """Prints the machine and the table; returns the list of measure_case dicts."""
    from threadpoolctl import threadpool_limits

    from .. import _backends
    if _backends._native is None:
        print(f"python -m fastgrad bench --roofline: the compiled core is not available "
              f"({_backends.NATIVE_ERROR}); the roofline is about it", file=sys.stderr)
        return None
    caches, where = cache_sizes()
    print(f"CPU      : {cpu_model()}", file=out)
    print(f"ISA      : {isa()} (clone of fastgrad that runs)", file=out)
    print(f"caches   : L1d {_fmt_bytes(caches.get('L1d'))}, L2 {_fmt_bytes(caches.get('L2'))}, "
          f"L3 {_fmt_bytes(caches.get('L3'))} (from {where})", file=out)
    print(f"BLAS     : {blas_info()}", file=out)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            print(f"note     : {var}={os.environ[var]} is set; it changes the BLAS kernels "
                  f"that measure the rates (unset it for the machine's own)", file=out)
    stick = Yardstick(threads)
    rates = machine_rates(threads, stick=stick)
    print(f"threads  : {threads}", file=out)
    print(f"read     : {rates['read'] / 1e9:.2f} GB/s (streaming sum "
          f"{rates['read_sum'] / 1e9:.2f}, X @ v {rates['read_gemv'] / 1e9:.2f})", file=out)
    print(f"GEMM     : {rates['fma_float64'] / 1e9:.2f} GFMA/s f64, "
          f"{rates['fma_float32'] / 1e9:.2f} GFMA/s f32", file=out)
    print("(measured again with each case, round-robin with its calls; the table uses "
          "those, the read column in GB/s)", file=out)
    print("", file=out)
    head = (f"{'case':<36} {'time':>9} {'roofline':>9} {'bound':>5} {'ratio':>6} "
            f"{'read':>6}  path")
    print(head, file=out)
    print("-" * len(head), file=out)
    results = []
    cases = full_cases(scale)
    # one X for the cases that share it (shape, dtype, order), freed after them
    groups = {}
    for c in cases:
        groups.setdefault((c.m, c.n, c.dtype, c.order), []).append(c)
    with threadpool_limits(threads):
        for group in groups.values():
            X = make_x(group[0])
            for c in group:
                r = measure_case(c, stick, threads, repeat, with_x(X, c))
                results.append(r)
                print(f"{r['label']:<36} {_fmt_t(r['time']):>9} {_fmt_t(r['roofline']):>9} "
                      f"{r['bound']:>5} {r['ratio']:>6.2f} {r['rates']['read'] / 1e9:>6.1f}  "
                      f"{r['path']}", file=out, flush=True)
            del X
    stick.close()
    return results

