"""python -m fastgrad bench: time fastgrad beside NumPy on the same arrays.

For each case (loss x shape x dtype x order, and the kind of call) this times,
round-robin in one process on the same arrays:

  one read        ``X @ coef``: the time to stream X through BLAS once
  fastgrad        ``fastgrad.value_and_grad`` (or ``hessp``, or ``Objective``)
  NumPy 2-pass    the textbook NumPy expression, which reads X twice:
                    squared:  r = X @ coef - y;  (0.5 * r @ r, X.T @ r)
                    logistic: z = X @ coef;  p = expit(z) (stable);
                              (sum(log1p(e^-|z|) + max(z, 0) - y z), X.T @ (p - y))
                    hessp:    X.T @ (h * (X @ v)), h = l''(z) computed beforehand

and, with ``--peers``, scikit-learn's LinearModelLoss, PyTorch autograd, tabmat
and a Numba ``prange`` fused loop where they import.  fastgrad is called with
``reduction="sum"`` so that its numbers are those of the NumPy expressions; each
case checks once that they agree.  BLAS (and every OpenMP pool threadpoolctl
knows) is pinned to ``--threads`` and fastgrad gets ``n_threads=--threads``.
The arrays are built outside the timed regions and freed between shapes.
"""
import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

#: rows x columns of the per-call overhead cases
SMALL = (64, 32)
#: a timing sample lasts at least this long (small cases loop the call)
MIN_SAMPLE_TIME = 0.02
#: tolerance of the agreement check (max abs error / max abs of the reference)
TOL = {"float64": 1e-8, "float32": 2e-3}

LOSSES = ("squared", "logistic")
KINDS = ("vg", "hessp", "objective")
_KIND_LABEL = {"vg": "", "hessp": "hessp", "objective": "Objective"}
_DT_SHORT = {"float64": "f64", "float32": "f32"}


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------
class Case:
    """One row of the table: loss, shape, dtype, memory order, kind of call."""

    __slots__ = ("loss", "m", "n", "dtype", "order", "kind")

    def __init__(self, loss, m, n, dtype="float64", order="C", kind="vg"):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}; got {loss!r}")
        if dtype not in TOL:
            raise ValueError(f"dtype must be one of {tuple(TOL)}; got {dtype!r}")
        if order not in ("C", "F"):
            raise ValueError(f"order must be 'C' or 'F'; got {order!r}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
        if m < 1 or n < 1:
            raise ValueError(f"shape must be positive; got {m}x{n}")
        self.loss, self.m, self.n = loss, int(m), int(n)
        self.dtype, self.order, self.kind = dtype, order, kind

    @property
    def group(self):
        return (self.m, self.n, self.dtype, self.order)

    @property
    def nbytes(self):
        return self.m * self.n * np.dtype(self.dtype).itemsize

    @property
    def label(self):
        parts = [self.loss, _KIND_LABEL[self.kind], f"{self.m}x{self.n}",
                 _DT_SHORT[self.dtype], self.order]
        return " ".join(p for p in parts if p)

    def spec(self):
        return f"{self.loss}:{self.m}x{self.n}:{self.dtype}:{self.order}:{self.kind}"

    def as_dict(self):
        return {"loss": self.loss, "n_samples": self.m, "n_features": self.n,
                "dtype": self.dtype, "order": self.order, "kind": self.kind,
                "label": self.label, "X_bytes": self.nbytes}


def _small_cases():
    m, n = SMALL
    return [Case("squared", m, n), Case("logistic", m, n),
            Case("squared", m, n, kind="objective")]


def _preset(name):
    if name == "default":
        big = [Case(loss, 500_000, 100, "float64", order)
               for order in ("C", "F") for loss in LOSSES]
        return big + _small_cases()
    if name == "small":
        return _small_cases()
    if name == "full":
        shapes = [(500_000, 100, "float64"), (500_000, 100, "float32"),
                  (40_000, 1000, "float64"), (4_000_000, 8, "float64")]
        return [Case(loss, m, n, dt, order, kind)
                for (m, n, dt) in shapes for order in ("C", "F")
                for kind in ("vg", "hessp") for loss in LOSSES] + _small_cases()
    raise KeyError(name)


PRESETS = ("default", "small", "full")

_SPEC_HELP = ("a preset (" + ", ".join(PRESETS) + ") or comma-separated case specs "
              "LOSS:MxN[:DTYPE[:ORDER[:KIND]]], e.g. 'logistic:1000000x50:float32:F' "
              "or 'squared:40000x1000:float64:C:hessp'; LOSS in {squared,logistic}, "
              "DTYPE in {float64,float32}, ORDER in {C,F}, KIND in {vg,hessp,objective}; "
              "presets and specs can be mixed")


def parse_cases(text):
    """Cases from a preset name and/or comma-separated specs (see ``--cases``)."""
    cases = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if token in PRESETS:
            cases.extend(_preset(token))
            continue
        parts = token.split(":")
        if len(parts) < 2 or len(parts) > 5:
            raise ValueError(f"bad case spec {token!r}: expected {_SPEC_HELP}")
        try:
            m, n = (int(s.replace("_", "")) for s in parts[1].lower().split("x"))
        except ValueError:
            raise ValueError(f"bad shape {parts[1]!r} in case spec {token!r}: "
                             "expected MxN, e.g. 500000x100") from None
        dtype = {"f64": "float64", "f32": "float32"}.get(parts[2], parts[2]) \
            if len(parts) > 2 else "float64"
        order = parts[3].upper() if len(parts) > 3 else "C"
        kind = parts[4] if len(parts) > 4 else "vg"
        kind = {"value_and_grad": "vg"}.get(kind, kind)
        cases.append(Case(parts[0], m, n, dtype, order, kind))
    if not cases:
        raise ValueError("no cases selected")
    # one array per (shape, dtype, order): run the cases that share it together
    groups = {}
    for c in cases:
        groups.setdefault(c.group, []).append(c)
    return [c for g in groups.values() for c in g]


# --------------------------------------------------------------------------
# data and the NumPy expressions
# --------------------------------------------------------------------------
def make_data(m, n, dtype, order, seed=0):
    """X (m, n) in the given order, coef and v with z = X @ coef ~ N(0, 1), and y per loss."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if order == "F":
        X = rng.standard_normal((n, m), dtype=dt).T  # F-ordered without a copy
    else:
        X = rng.standard_normal((m, n), dtype=dt)
    scale = 1.0 / math.sqrt(n)
    coef = (rng.standard_normal(n) * scale).astype(dt)
    v = (rng.standard_normal(n) * scale).astype(dt)
    y = {"squared": rng.standard_normal(m, dtype=dt),
         "logistic": (rng.random(m) < 0.5).astype(dt)}
    return {"X": X, "coef": coef, "v": v, "y": y}


def _expit_and_loss(z, y):
    """Stable sigmoid p and summed logistic loss, NumPy only."""
    e = np.exp(-np.abs(z))
    p = np.where(z >= 0, 1.0, e) / (1.0 + e)
    loss = float(np.sum(np.log1p(e) + np.maximum(z, 0) - y * z))
    return p, loss


def numpy_squared(X, y, coef):
    r = X @ coef - y
    return 0.5 * float(r @ r), X.T @ r


def numpy_logistic(X, y, coef):
    p, loss = _expit_and_loss(X @ coef, y)
    return loss, X.T @ (p - y)


def numpy_hess_diag(X, y, coef, loss):
    """l''(z) at coef (None for the squared loss, where it is 1)."""
    if loss == "squared":
        return None
    p, _ = _expit_and_loss(X @ coef, y)
    return p * (1 - p)


def numpy_hessp(X, h, v):
    t = X @ v
    return X.T @ (t if h is None else h * t)


# --------------------------------------------------------------------------
# optional peers: each returns a callable (or None when it has no such call)
# --------------------------------------------------------------------------
class _Peer:
    name = ""
    scale = "sum"  # "mean": its loss and gradient are divided by the number of rows

    def available(self):
        """None when importable, else the reason it is skipped."""
        try:
            self._import()
        except Exception as exc:  # ImportError, or a broken install
            return f"{type(exc).__name__}: {exc}".splitlines()[0]
        return None

    def prepare(self, case, data, y, n_threads):
        raise NotImplementedError


class _Sklearn(_Peer):
    name = "sklearn"
    scale = "mean"

    def _import(self):
        from sklearn._loss.loss import HalfBinomialLoss, HalfSquaredError
        from sklearn.linear_model._linear_loss import LinearModelLoss
        return LinearModelLoss, HalfSquaredError, HalfBinomialLoss

    def prepare(self, case, data, y, n_threads):
        LinearModelLoss, HalfSquaredError, HalfBinomialLoss = self._import()
        base = HalfSquaredError() if case.loss == "squared" else HalfBinomialLoss()
        lml = LinearModelLoss(base_loss=base, fit_intercept=False)
        X, coef, v = data["X"], data["coef"], data["v"]
        if case.kind == "hessp":
            # sklearn's Newton solvers: l''(z) once per coef, then products
            _, hessp = lml.gradient_hessian_product(coef, X, y, l2_reg_strength=0.0,
                                                    n_threads=n_threads)
            return lambda: hessp(v)
        return lambda: lml.loss_gradient(coef, X, y, l2_reg_strength=0.0,
                                         n_threads=n_threads)


class _Torch(_Peer):
    name = "torch"

    def _import(self):
        import torch
        return torch

    def prepare(self, case, data, y, n_threads):
        torch = self._import()
        torch.set_num_threads(n_threads)
        Xt = torch.from_numpy(data["X"])  # shares memory, C or F strides
        yt = torch.from_numpy(y)
        c0 = torch.from_numpy(data["coef"])
        vt = torch.from_numpy(data["v"])
        bce = torch.nn.functional.binary_cross_entropy_with_logits

        def objective(c):
            z = Xt @ c
            if case.loss == "squared":
                return 0.5 * ((z - yt) ** 2).sum()
            return bce(z, yt, reduction="sum")

        if case.kind == "hessp":
            def hvp():  # double backward: autograd's Hessian-vector product
                c = c0.detach().requires_grad_(True)
                (g,) = torch.autograd.grad(objective(c), c, create_graph=True)
                (hv,) = torch.autograd.grad(g @ vt, c)
                return hv.numpy()
            return hvp

        def value_and_grad():
            c = c0.detach().requires_grad_(True)
            loss = objective(c)
            loss.backward()
            return loss.item(), c.grad.numpy()
        return value_and_grad


class _Tabmat(_Peer):
    name = "tabmat"

    def _import(self):
        import tabmat
        return tabmat

    def prepare(self, case, data, y, n_threads):
        tabmat = self._import()
        M = tabmat.DenseMatrix(data["X"])
        coef, v = data["coef"], data["v"]
        if case.kind == "hessp":
            h = numpy_hess_diag(data["X"], y, coef, case.loss)

            def hessp():
                t = M.matvec(v)
                return M.transpose_matvec(t if h is None else h * t)
            return hessp

        def value_and_grad():
            z = M.matvec(coef)
            if case.loss == "squared":
                r = z - y
                return 0.5 * float(r @ r), M.transpose_matvec(r)
            p, loss = _expit_and_loss(z, y)
            return loss, M.transpose_matvec(p - y)
        return value_and_grad


_NUMBA_KERNEL = None


def _numba_kernel():
    """A fused one-pass loop in Numba: threads over row chunks, float64 accumulators."""
    global _NUMBA_KERNEL
    if _NUMBA_KERNEL is not None:
        return _NUMBA_KERNEL
    import numba

    @numba.njit(parallel=True, fastmath=True, cache=False)
    def fused(X, y, coef, logistic, nchunks):
        m, n = X.shape
        g_parts = np.zeros((nchunks, n))
        l_parts = np.zeros(nchunks)
        step = (m + nchunks - 1) // nchunks
        for c in numba.prange(nchunks):
            lo = c * step
            hi = min(m, lo + step)
            acc = 0.0
            for i in range(lo, hi):
                z = 0.0
                for j in range(n):
                    z += X[i, j] * coef[j]
                yi = y[i]
                if logistic:
                    e = np.exp(-abs(z))
                    if z >= 0:
                        acc += np.log1p(e) + (1.0 - yi) * z
                        d = 1.0 / (1.0 + e) - yi
                    else:
                        acc += np.log1p(e) - yi * z
                        d = e / (1.0 + e) - yi
                else:
                    d = z - yi
                    acc += 0.5 * d * d
                for j in range(n):
                    g_parts[c, j] += d * X[i, j]
            l_parts[c] = acc
        return l_parts.sum(), g_parts.sum(axis=0)

    _NUMBA_KERNEL = fused
    return fused


class _Numba(_Peer):
    name = "numba"

    def _import(self):
        import numba
        return numba

    def prepare(self, case, data, y, n_threads):
        numba = self._import()
        if case.kind == "hessp":
            return None
        numba.set_num_threads(n_threads)
        kernel = _numba_kernel()
        X, coef = data["X"], data["coef"]
        logistic = case.loss == "logistic"
        dt = X.dtype

        def value_and_grad():
            loss, g = kernel(X, y, coef, logistic, n_threads)
            return float(loss), g.astype(dt, copy=False)
        return value_and_grad


PEERS = (_Sklearn(), _Torch(), _Tabmat(), _Numba())


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------
def _numbers(fns, min_time):
    """Calls per timing sample so that one sample lasts at least min_time."""
    numbers = {}
    for name, fn in fns.items():
        count, t0 = 0, time.perf_counter()
        while True:
            fn()
            count += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time / 4 or count >= 1000:
                break
        per_call = elapsed / count
        numbers[name] = max(1, int(math.ceil(min_time / max(per_call, 1e-9))))
    return numbers


def time_round_robin(fns, repeat, min_time=MIN_SAMPLE_TIME):
    """Median seconds per call of each function, timed in turn, repeat times.

    Each repeat runs every function once (``number`` calls), rotating the order
    so that no one of them always runs right after another; the garbage
    collector is off while timing, as in ``timeit``.
    """
    numbers = _numbers(fns, min_time)
    names = list(fns)
    samples = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeat):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                fn, number = fns[name], numbers[name]
                t0 = time.perf_counter()
                for _ in range(number):
                    fn()
                samples[name].append((time.perf_counter() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: {"median": statistics.median(samples[name]), "min": min(samples[name]),
                   "number": numbers[name], "samples": samples[name]} for name in names}


def _rel_err(result, reference):
    """max |a - b| / max |b| over loss and gradient (a Python float)."""
    worst = 0.0
    for a, b in zip(result, reference):
        if a is None or b is None:
            continue
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        err = float(np.max(np.abs(a - b))) if b.size else 0.0
        if not math.isfinite(err):
            return float("inf")
        worst = max(worst, err / scale if scale > 0 else err)
    return worst


def _as_pair(out):
    """(loss or None, gradient) from a value_and_grad pair or a bare hessp array."""
    if isinstance(out, tuple):
        return float(out[0]), np.asarray(out[1])
    return None, np.asarray(out)


def run_case(case, data, n_threads, repeat, backend, peers):
    """Build the calls of one case, check them once, time them round-robin."""
    import fastgrad

    X, coef, v = data["X"], data["coef"], data["v"]
    y = data["y"][case.loss]
    kw = dict(loss=case.loss, reduction="sum", n_threads=n_threads, backend=backend)
    fns = {"one_read": lambda: X @ coef}
    if case.kind == "hessp":
        h = numpy_hess_diag(X, y, coef, case.loss)  # outside the timed region
        fns["fastgrad"] = lambda: fastgrad.hessp(X, y, coef, v, **kw)
        fns["numpy"] = lambda: numpy_hessp(X, h, v)
    else:
        if case.kind == "objective":
            obj = fastgrad.Objective(X, y, loss=case.loss, reduction="sum",
                                     n_threads=n_threads, backend=backend)
            fns["fastgrad"] = lambda: obj.value_and_grad(coef)
        else:
            fns["fastgrad"] = lambda: fastgrad.value_and_grad(X, y, coef, **kw)
        ref = numpy_squared if case.loss == "squared" else numpy_logistic
        fns["numpy"] = lambda: ref(X, y, coef)

    # once per case: does fastgrad agree with the NumPy expression (and peers)?
    results = {name: _as_pair(fns[name]()) for name in ("fastgrad", "numpy")}
    checks = {"fastgrad": _rel_err(results["fastgrad"], results["numpy"])}
    peer_notes = {}
    for peer in peers:
        try:
            fn = peer.prepare(case, data, y, n_threads)
        except Exception as exc:  # a peer that cannot run this case is noted, not fatal
            peer_notes[peer.name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            continue
        if fn is None:
            peer_notes[peer.name] = "no such call"
            continue
        try:
            res = _as_pair(fn())  # also the warm-up (Numba compiles here)
        except Exception as exc:
            peer_notes[peer.name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            continue
        ref_loss, ref_grad = results["fastgrad"]
        if peer.scale == "mean":
            ref_loss = None if ref_loss is None else ref_loss / case.m
            ref_grad = ref_grad / case.m
        checks[peer.name] = _rel_err(res, (ref_loss, ref_grad))
        fns["peer:" + peer.name] = fn
    del results

    timings = time_round_robin(fns, repeat)
    tol = TOL[case.dtype]
    t_fg = timings["fastgrad"]["median"]
    out = dict(case.as_dict())
    out["times"] = timings
    out["numpy_over_fastgrad"] = timings["numpy"]["median"] / t_fg
    out["fastgrad_over_one_read"] = t_fg / timings["one_read"]["median"]
    out["fastgrad_GBps"] = case.nbytes / t_fg / 1e9
    out["check"] = {name: {"rel_err": err, "ok": err <= tol} for name, err in checks.items()}
    out["check_tolerance"] = tol
    out["peer_notes"] = peer_notes
    return out


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------
def _fmt_time(t):
    if t is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if t >= scale or unit == "us":
            x = t / scale
            return f"{x:.3g} {unit}" if x < 100 else f"{x:.0f} {unit}"
    return "-"


_COLUMNS = [("case", 32, "<"), ("one read", 10, ">"), ("fastgrad", 10, ">"),
            ("NumPy 2-pass", 12, ">"), ("NumPy/fg", 8, ">"), ("fg/read", 7, ">"),
            ("GB/s", 6, ">"), ("check", 14, "<")]


def _table_header(peer_names):
    cols = _COLUMNS + [(p + " (x fg)", 17, ">") for p in peer_names]
    head = "  ".join(f"{name:{al}{w}}" for name, w, al in cols).rstrip()
    return head + "\n" + "-" * len(head)


def _table_row(res, peer_names):
    t = res["times"]
    chk = res["check"]["fastgrad"]
    check = "ok" if chk["ok"] else f"MISMATCH {chk['rel_err']:.1e}"
    cells = [res["label"], _fmt_time(t["one_read"]["median"]),
             _fmt_time(t["fastgrad"]["median"]), _fmt_time(t["numpy"]["median"]),
             f"{res['numpy_over_fastgrad']:.2f}x", f"{res['fastgrad_over_one_read']:.2f}",
             f"{res['fastgrad_GBps']:.2f}", check]
    for p in peer_names:
        tp = t.get("peer:" + p)
        if tp is None:
            cells.append("n/a")
            continue
        flag = "" if res["check"][p]["ok"] else " !"
        cells.append(f"{_fmt_time(tp['median'])} {tp['median'] / t['fastgrad']['median']:.2f}x"
                     f"{flag}")
    cols = _COLUMNS + [(p, 17, ">") for p in peer_names]
    return "  ".join(f"{c:{al}{w}}" for c, (_, w, al) in zip(cells, cols)).rstrip()


def _blas_info():
    try:
        from threadpoolctl import threadpool_info
        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:  # threadpoolctl missing or failing: not worth a crash
        return "unknown"
    if not infos:
        return "none found"
    # NumPy's own BLAS first (SciPy and others may load another copy)
    infos.sort(key=lambda i: "numpy" not in str(i.get("filepath", "")))
    i = infos[0]
    return (f"{i.get('internal_api')} {i.get('version')} "
            f"({i.get('architecture') or i.get('threading_layer') or '?'})")


def _plot(results, path, n_threads):
    """Time of each method relative to one read of X, one group of bars per case."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    methods = ["fastgrad", "numpy"] + sorted(
        {k for r in results for k in r["times"] if k.startswith("peer:")})
    names = {"fastgrad": "fastgrad", "numpy": "NumPy two-pass"}
    fig = Figure(figsize=(9, max(4.0, 1.5 + 0.1 * len(results) * (len(methods) + 1))))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    height = 0.8 / len(methods)
    ys = np.arange(len(results))
    for i, meth in enumerate(methods):
        vals = [r["times"][meth]["median"] / r["times"]["one_read"]["median"]
                if meth in r["times"] else 0.0 for r in results]
        ax.barh(ys + (i - (len(methods) - 1) / 2) * height, vals, height=height,
                label=names.get(meth, meth.replace("peer:", "")))
    ax.axvline(1.0, color="k", lw=0.8, ls="--")
    ax.set_yticks(ys)
    ax.set_yticklabels([r["label"] for r in results], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    plain = FuncFormatter(lambda x, _pos: f"{x:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.tick_params(axis="x", which="both", labelsize=7)
    ax.set_xlabel("median time / time of one read of X (X @ coef); dashed line = 1")
    ax.set_title(f"fastgrad bench, {n_threads} thread(s): lower is better")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _have_matplotlib():
    import importlib.util
    return importlib.util.find_spec("matplotlib") is not None


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------
def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m fastgrad bench",
        description="Time fastgrad.value_and_grad beside one read of X (X @ coef) and "
                    "the two-pass NumPy expression, on the same arrays in one process. "
                    "fastgrad is called with reduction='sum' so that the numbers are "
                    "those of the NumPy expressions, and each case checks that they "
                    "agree. Times are medians over --repeat round-robin repeats.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--threads", type=int, default=1, metavar="K",
                   help="threads for fastgrad (n_threads=K) and for BLAS/OpenMP "
                        "(threadpoolctl.threadpool_limits(K))")
    p.add_argument("--repeat", type=int, default=7, metavar="N",
                   help="timing samples per method; the table shows their median")
    p.add_argument("--cases", default="default", metavar="SPEC", help=_SPEC_HELP)
    p.add_argument("--full", action="store_true",
                   help="the large set: 500000x100 f64 and f32, 40000x1000, 4000000x8, "
                        "each C and F, squared and logistic, value_and_grad and hessp, "
                        "plus the 64x32 per-call cases (same as --cases full; takes "
                        "several minutes)")
    p.add_argument("--list-cases", action="store_true",
                   help="print the selected cases and exit")
    p.add_argument("--peers", action="store_true",
                   help="also time scikit-learn, PyTorch, tabmat and Numba where they "
                        "import (each is skipped with a note otherwise)")
    p.add_argument("--backend", default="auto", choices=("auto", "native", "numpy"),
                   help="the fastgrad backend to time")
    p.add_argument("--json", metavar="FILE", help="write all results (and the machine's "
                   "fastgrad._config.config()) as JSON to FILE")
    p.add_argument("--plot", metavar="FILE.png",
                   help="draw the times relative to one read with matplotlib")
    p.add_argument("--seed", type=int, default=0, help="seed of the random data")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it goes to stderr, and only to a terminal)")
    p.add_argument("--sparse", action="store_true",
                   help="time a scipy.sparse CSR X against scipy's X.T @ (X @ coef - y) "
                        "and X.T @ (expit(X @ coef) - y), one thread each (and fastgrad "
                        "with --threads K); --cases then takes LOSS:MxN:DENSITY[:DTYPE] "
                        "specs (default: the two cases of issue 5); needs scipy")
    p.add_argument("--roofline", nargs="?", const="full", choices=("full", "quick"),
                   help="each call's time against its roofline, max(one read of X, its "
                        "FMAs at the GEMM rate), both measured here with --threads: the "
                        "CPU, ISA clone and caches, then the issue-18 case set (quick: "
                        "rows / 100, a check that it runs)")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1; got {args.threads}")
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1; got {args.repeat}")
    if args.sparse:
        from ._bench_sparse import run as run_sparse
        return run_sparse(args)
    if args.roofline:
        from ._bench_roofline import run as run_roofline
        res = run_roofline(args.threads, args.repeat, 100 if args.roofline == "quick" else 1)
        return 0 if res is not None else 2
    try:
        cases = parse_cases("full" if args.full else args.cases)
    except ValueError as exc:
        parser.error(str(exc))
    if args.list_cases:
        for c in cases:
            print(f"{c.label:<34} {c.spec()}")
        return 0

    import fastgrad
    from fastgrad import _backends, _config, _validation
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    if args.backend == "native" and _backends._native is None:
        print(f"python -m fastgrad bench: --backend native, but the compiled core is not "
              f"available ({_backends.NATIVE_ERROR})", file=sys.stderr)
        return 2
    used = "numpy" if args.backend == "numpy" or _backends._native is None else "native"
    plot_ok = True
    if args.plot and not _have_matplotlib():
        plot_ok = False
        print(f"--plot {args.plot}: matplotlib is not installed, so no plot will be "
              "written (pip install matplotlib); the benchmark runs anyway.",
              file=sys.stderr)

    peers, skipped = [], {}
    if args.peers:
        for peer in PEERS:
            reason = peer.available()
            if reason is None:
                peers.append(peer)
            else:
                skipped[peer.name] = reason
    peer_names = [p.name for p in peers]

    cfg = _config.config()
    cores = _validation._N_CPUS
    print(f"fastgrad {fastgrad.__version__} bench: backend {used}"
          + (f", SIMD {cfg.get('simd path selected')}" if used == "native" else "")
          + f"; {args.threads} thread(s) for fastgrad and BLAS; BLAS {_blas_info()}; "
          f"{cores} core(s) available")
    print(f"median of {args.repeat} round-robin repeats per method; fastgrad is called with "
          "reduction='sum' to match the NumPy expressions; one read = X @ coef; "
          "GB/s = bytes of X / fastgrad time; check = fastgrad vs NumPy "
          f"(max rel. error <= {TOL['float64']:g} f64, {TOL['float32']:g} f32)")
    if args.threads > cores:
        print(f"note: --threads {args.threads} > {cores} core(s) available: expect noise",
              file=sys.stderr)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            print(f"note: {var}={os.environ[var]} is set; it can slow NumPy's BLAS "
                  f"(run with `env -u {var} ...` for a fair comparison)", file=sys.stderr)
    for name, reason in skipped.items():
        print(f"note: peer {name} skipped: {reason}")
    print()
    print(_table_header(peer_names))
    sys.stdout.flush()

    results = []
    mismatches = []
    t_start = time.perf_counter()
    bar = tqdm(total=len(cases), desc="fastgrad bench", unit="case", file=sys.stderr,
               disable=True if args.no_progress else None, leave=False)
    try:
        with threadpool_limits(limits=args.threads):
            i = 0
            while i < len(cases):
                group = cases[i].group
                j = i
                while j < len(cases) and cases[j].group == group:
                    j += 1
                bar.set_postfix_str(f"building {group[0]}x{group[1]} {group[2]} "
                                    f"{group[3]}")
                data = make_data(*group, seed=args.seed)
                for case in cases[i:j]:
                    bar.set_postfix_str(case.label)
                    res = run_case(case, data, args.threads, args.repeat, used, peers)
                    results.append(res)
                    if not res["check"]["fastgrad"]["ok"]:
                        mismatches.append(res)
                    bar.write(_table_row(res, peer_names), file=sys.stdout)
                    sys.stdout.flush()
                    bar.update(1)
                del data  # free X before the next shape
                gc.collect()
                i = j
    finally:
        bar.close()
    elapsed = time.perf_counter() - t_start

    notes = sorted({f"{p}: {n}" for r in results for p, n in r["peer_notes"].items()})
    for n in notes:
        print(f"note: peer {n} (n/a in the table)")
    for r in results:
        for p in peer_names:
            if p in r["check"] and not r["check"][p]["ok"]:
                print(f"warning: {p} disagrees with fastgrad on {r['label']} "
                      f"(rel. error {r['check'][p]['rel_err']:.1e}); marked '!'")
    print(f"{len(results)} case(s) in {elapsed:.1f} s")
    for r in mismatches:
        print(f"WARNING: fastgrad and NumPy disagree on {r['label']}: max rel. error "
              f"{r['check']['fastgrad']['rel_err']:.2e} > {r['check_tolerance']:g}",
              file=sys.stderr)

    if args.json:
        doc = {
            "fastgrad_version": fastgrad.__version__,
            "config": cfg,
            "machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "python": sys.version, "cores_available": cores,
                        "blas": _blas_info(),
                        "env": {v: os.environ.get(v) for v in
                                ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                 "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}},
            "settings": {"threads": args.threads, "repeat": args.repeat,
                         "backend": used, "seed": args.seed, "reduction": "sum",
                         "min_sample_time_s": MIN_SAMPLE_TIME,
                         "cases": [c.spec() for c in cases]},
            "peers_skipped": skipped,
            "elapsed_s": elapsed,
            "results": results,
        }
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1, default=str)
        print(f"wrote {args.json}")
    if args.plot:
        if plot_ok:
            _plot(results, args.plot, args.threads)
            print(f"wrote {args.plot}")
        else:
            print(f"--plot {args.plot}: not written: matplotlib is not installed "
                  "(pip install matplotlib)", file=sys.stderr)
    return 1 if mismatches else 0
