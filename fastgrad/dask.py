"""fastgrad.dask: the API of fastgrad over dask arrays chunked along rows.

    value_and_grad(X, y, coef, ...), grad(...), hessp(X, y, coef, v, ...)
    Objective(X, y, ...)

``X`` is a ``dask.array.Array`` of shape (n_samples, n_features); ``y`` and
``sample_weight`` are dask arrays or array-likes with X's rows. Every row chunk
of X (rechunked to whole rows when its columns are chunked) is one task: the
in-memory ``fastgrad`` call with ``reduction="sum", l2=0`` on that chunk, which
reads the chunk once. The per-chunk partial (loss, sum of weights, gradient)
vectors are added by dask's tree reduction (``Array.sum``, a fixed order, so the
result does not depend on which worker ran what), and the client divides by the
global ``D = sum(sample_weight)`` and adds the l2 terms. Results are concrete
NumPy arrays and Python floats, as in the in-memory API, and equal the in-memory
call on the concatenated arrays to rounding.

Differences from the in-memory API:

- ``rows=`` is not supported (select rows with dask indexing first).
- ``n_threads=None`` gives each task the cores available to its process divided
  by the tasks that process runs at once (a distributed worker's ``nthreads``, the
  threaded scheduler's pool size), so dask's parallelism over chunks does not
  oversubscribe the cores; an int uses that many threads in every task.
- y range and sample_weight are checked inside the tasks (errors name the global
  index); ``Objective`` checks them once, at construction.
- ``loss="multinomial"``: class labels travel in X's dtype and each task checks
  its chunk's labels against K when it runs (``Objective`` on its first call);
  ``Objective(..., n_classes=K)`` as in memory (default: one pass for max + 1).

This module imports dask; ``import fastgrad`` does not import it.
"""
import concurrent.futures
import os
import re

import numpy as np

import dask
import dask.array as da
import dask.base
import dask.local
import dask.threaded

from . import _numpy_backend as NB
from . import _validation as V
from ._api import _call
from ._objective import _Attributes, _n_classes

__all__ = ["value_and_grad", "grad", "hessp", "Objective", "from_memmap"]

_VG, _VALUE, _HESSP = "value_and_grad", "value", "hessp"


# ---------------------------------------------------------------------------
# what runs in a task (module-level functions: they pickle by reference)


def _cores_per_task(concurrent):
    """The cores available to this process shared by `concurrent` tasks at once."""
    return max(1, V.check_n_threads(None) // max(1, int(concurrent)))


def _task_threads(n_threads):
    """Threads of one task: an int as given; None: cores / concurrent tasks here."""
    if n_threads is not None:
        return n_threads
    slots = 1
    try:
        from distributed import get_worker
        slots = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        pass
    return _cores_per_task(slots)


def _global_index(idx, off):
    return ", ".join(map(str, (idx[0] + off,) + tuple(idx[1:])))


def _globally(check, off, *args):
    """check(*args) of the in-memory API on a row chunk; its ValueError names the
    chunk's row index, which becomes the global one (off + row)."""
    try:
        return check(*args)
    except ValueError as exc:
        msg = re.sub(r"\[(\d+)", lambda mt: f"[{int(mt[1]) + off}", str(exc), count=1)
        raise ValueError(msg) from None


def _check_chunk(yb, wb, off, loss, power=None):
    """The value checks of the in-memory API on one row chunk, with global indices."""
    if loss in V.LOG_LINK:
        found = V.first_outside_domain(yb, loss, power)
        if found is not None:
            idx, msg = found
            raise ValueError(f"{msg}; y[{_global_index(idx, off)}] = {yb[idx]!r}")
    if loss == "logistic" and yb.size:
        bad = (yb < 0) | (yb > 1)
        if bad.any():
            idx = np.unravel_index(int(np.flatnonzero(bad.ravel())[0]), yb.shape)
            raise ValueError(f"y must lie in [0, 1] for loss='logistic'; found "
                             f"y[{_global_index(idx, off)}] = {yb[idx]!r}")
    if wb is not None and wb.size:
        _globally(V.check_sample_weight, off, wb, wb.shape[0], wb.dtype)


def _chunk_partial(Xb, yb, wb, offb, *, coef, v, mode, loss, fit_intercept, n_threads,
                   backend, check, power=None):
    """[sum w l, sum w, sum-reduced gradient or H v (raveled)] of one row chunk, (1, p)."""
    off = int(offb[0])
    if check:
        _check_chunk(yb, wb, off, loss, power)
    hess = mode == _HESSP
    want_grad = mode != _VALUE
    value, g = _call(Xb, yb, coef, v, hess, want_grad, loss, fit_intercept, wb, 0.0,
                     "sum", None, None, _task_threads(n_threads), backend, power)
    res = np.empty((1, 2 + (coef.size if want_grad else 0)))
    res[0, 0] = value
    res[0, 1] = Xb.shape[0] if wb is None else np.sum(wb, dtype=np.float64)
    if want_grad:
        res[0, 2:] = g.ravel()
    return res


def _chunk_stats(Xb, yb, wb, offb, *, loss, check_input, power=None):
    """Objective's one pass at construction: value checks, finiteness, sum of w."""
    off = int(offb[0])
    _check_chunk(yb, wb, off, loss, power)
    if check_input:
        _globally(V.first_nonfinite, off, Xb, "X")
        _globally(V.first_nonfinite, off, yb, "y")
    sw = Xb.shape[0] if wb is None else np.sum(wb, dtype=np.float64)
    return np.full((1, 1), sw, dtype=np.float64)


# ---------------------------------------------------------------------------
# the client side


def _rows_like(a, X, name, dtype):
    """a (dask array or array-like) in dtype, chunked along rows exactly like X."""
    if not isinstance(a, da.Array):
        a = np.asarray(a)
        V.as_dtype(a[:0], dtype, name)           # TypeError for unsupported dtypes
        a = da.from_array(a, chunks=(X.chunks[0],) + tuple((s,) for s in a.shape[1:]))
    else:
        V.as_dtype(np.empty((0,), dtype=a.dtype), dtype, name)
    if a.dtype != dtype:
        a = a.astype(dtype)
    want = (X.chunks[0],) + tuple((s,) for s in a.shape[1:])
    if a.chunks != want:
        a = a.rechunk(want)
    return a


def _prepare(X, y, sample_weight, loss, n_classes=None):
    """X, y, w as dask arrays with the same row chunks (X's columns in one chunk),
    with the shape and dtype errors of the in-memory API.  For the multinomial
    loss with class labels, ``n_classes`` is K (the chunks check the labels)."""
    if not isinstance(X, da.Array):
        raise TypeError(f"X must be a dask.array.Array; got {type(X).__name__} "
                        "(use fastgrad.value_and_grad for NumPy arrays, or wrap it with "
                        "dask.array.from_array(X, chunks=(rows, -1)))")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}")
    if any(c != c for c in X.chunks[0]) or X.shape[1] != X.shape[1]:
        raise ValueError("X has unknown chunk sizes (NaN in X.chunks); call "
                         "X.compute_chunk_sizes() first")
    m, n = X.shape
    dt = V.check_X(np.empty((0, n), dtype=X.dtype)).dtype   # its TypeError, its dtype
    if X.dtype != dt:
        X = X.astype(dt)
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})                               # whole rows per chunk
    y_shape = np.shape(y) if isinstance(y, da.Array) else np.shape(np.asarray(y))
    if loss == "multinomial":
        if len(y_shape) not in (1, 2) or (y_shape and y_shape[0] != m):
            raise ValueError("y must be 1-D class labels (n_samples,) or 2-D probabilities "
                             f"(n_samples, n_classes) with n_samples={m} for "
                             f"loss='multinomial'; got shape {y_shape}")
        if len(y_shape) == 2 and y_shape[1] == 0:
            raise ValueError(f"y must have at least one class column; got shape {y_shape}")
        # integer labels travel as intp (what the core reads: no conversion in
        # the tasks), float labels in X's dtype (each chunk's call checks that
        # they are whole numbers); each chunk's call checks them against K, and
        # probabilities as well
        ydt = y.dtype if hasattr(y, "dtype") else np.asarray(y).dtype
        integer = len(y_shape) == 1 and ydt.kind in "iub"
        Y = _rows_like(y, X, "y", np.dtype(np.intp) if integer else dt)
        k = n_classes if len(y_shape) == 1 else y_shape[1]
        single = False
    else:
        # the in-memory shape checks, on a zero-strided stand-in of y's shape
        yy = V.check_y(np.broadcast_to(np.zeros((), dt), y_shape), m, "squared", dt)
        Y = _rows_like(y, X, "y", dt)
        single = yy.ndim == 1
        k = 1 if single else yy.shape[1]
    W = None
    if sample_weight is not None:
        w_shape = np.shape(sample_weight)
        if len(w_shape) != 1 or w_shape[0] != m:
            raise ValueError(f"sample_weight must have shape ({m},) to match X's "
                             f"n_samples={m}; got shape {w_shape}")
        W = _rows_like(sample_weight, X, "sample_weight", dt)
    return X, Y, W, m, n, k, single, dt


def _offsets(X):
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(np.int64)
    return da.from_array(starts, chunks=1)


def _per_chunk(func, X, Y, W, width, **kwargs):
    """blockwise: one task per row chunk of X, each returning a (1, width) row."""
    args = [X, "ij", Y, "i" if Y.ndim == 1 else "ik"]
    args += [None, None] if W is None else [W, "i"]
    args += [_offsets(X), "i"]
    return da.blockwise(func, "ij", *args, align_arrays=False, concatenate=True,
                        adjust_chunks={"i": 1, "j": width}, dtype=np.float64,
                        meta=np.empty((0, 0), dtype=np.float64), **kwargs)


def _threads_for_graph(n_threads, X):
    """n_threads for the tasks: an int, or None to let each task decide (distributed)."""
    if n_threads is not None:
        return V.check_n_threads(n_threads)
    sched = dask.base.get_scheduler(collections=[X])
    if sched is dask.threaded.get:
        pool = dask.config.get("num_workers", None) or dask.threaded.CPU_COUNT
        return _cores_per_task(pool)
    if sched is dask.local.get_sync:
        return V.check_n_threads(None)
    return None          # a distributed client (or processes): each task decides


def _compute(arr):
    try:
        return np.asarray(arr.compute(), dtype=np.float64)
    except concurrent.futures.CancelledError as exc:
        raise RuntimeError(
            "fastgrad.dask: the computation was cancelled, or data it needed was lost "
            f"({type(exc).__name__}: {exc}); for an Objective whose workers were "
            "restarted, build the Objective again") from exc


def _denominator(reduction, W, m, sw):
    if reduction == "sum":
        return 1.0
    if W is None or m == 0:
        return V.denominator(None, None, m, reduction)
    return V.denominator(np.array([sw]), None, m, reduction)


def _finish(tot, mode, c, vv, D, l2, n, fit_intercept, dt, out, rshape):
    """The summed partials divided by D, plus the l2 terms (the NumPy backend's
    finishing step); loss (float, None for hessp) and result (of shape rshape:
    coef's, flat when coef came flat as scipy passes it; None for the value)."""
    hess, want_grad = mode == _HESSP, mode != _VALUE
    c2 = c.reshape(c.shape[0], -1)
    base = (vv.reshape(c2.shape) if hess else c2)[:n].astype(np.float64)
    G = gb = res = None
    if want_grad:
        G = tot[2:].reshape(c2.shape)
        G, gb = G[:n], (G[n] if fit_intercept else None)
        res = np.empty(rshape, dtype=dt) if out is None else out
    value = NB._finish(G, gb, tot[0], res, base, fit_intercept, hess, want_grad, l2, D)
    return (None if hess else float(value)), res


def _functional(mode, X, y, coef, v, loss, fit_intercept, sample_weight, l2, reduction,
                out, n_threads, backend, power=None):
    loss = V.check_loss(loss)
    power = V.check_power(loss, power)
    reduction = V.check_reduction(reduction)
    backend = V.check_backend(backend)
    l2 = V.check_l2(l2)
    nt = _threads_for_graph(n_threads, X) if isinstance(X, da.Array) else None
    fit_intercept = bool(fit_intercept)
    K = V.n_classes_of(coef) if loss == "multinomial" and np.ndim(y) == 1 else None
    X, Y, W, m, n, k, single, dt = _prepare(X, y, sample_weight, loss, K)
    c = V.check_coef(coef, n, k, single, fit_intercept, dt)
    vv = V.check_coef(v, n, k, single, fit_intercept, dt, name="v") if mode == _HESSP \
        else None
    if reduction == "mean" and (m == 0 or W is None):
        V.denominator(None, None, m, reduction)          # ValueError with no rows
    rshape = c.shape if c.ndim == np.ndim(coef) else (c.size,)
    if mode != _VALUE and out is not None:
        others = (("coef", coef),) + ((("v", v),) if mode == _HESSP else ())
        V.check_out(out, rshape, dt, others)
    width = 2 + (c.size if mode != _VALUE else 0)
    S = _per_chunk(_chunk_partial, X, Y, W, width, coef=c, v=vv, mode=mode, loss=loss,
                   fit_intercept=fit_intercept, n_threads=nt, backend=backend, check=True,
                   power=power)
    tot = _compute(S.sum(axis=0))
    D = _denominator(reduction, W, m, tot[1])
    return _finish(tot, mode, c, vv, D, l2, n, fit_intercept, dt, out, rshape)


def value_and_grad(X, y, coef, *, loss="squared", fit_intercept=False, sample_weight=None,
                   l2=0.0, reduction="mean", out=None, n_threads=None, backend="auto",
                   power=None):
    """Loss and gradient over a dask array X, as ``fastgrad.value_and_grad``.

    One task per row chunk reads that chunk once; returns ``(float, ndarray)``.
    ``reduction="mean"`` divides by the global sum of the weights.
    """
    return _functional(_VG, X, y, coef, None, loss, fit_intercept, sample_weight, l2,
                       reduction, out, n_threads, backend, power)


def grad(X, y, coef, *, loss="squared", fit_intercept=False, sample_weight=None, l2=0.0,
         reduction="mean", out=None, n_threads=None, backend="auto", power=None):
    """Gradient over a dask array X (see :func:`value_and_grad`)."""
    return _functional(_VG, X, y, coef, None, loss, fit_intercept, sample_weight, l2,
                       reduction, out, n_threads, backend, power)[1]


def hessp(X, y, coef, v, *, loss="squared", fit_intercept=False, sample_weight=None,
          l2=0.0, reduction="mean", out=None, n_threads=None, backend="auto",
          power=None):
    """Hessian-vector product ``H(coef) @ v`` over a dask array X; shape of coef."""
    return _functional(_HESSP, X, y, coef, v, loss, fit_intercept, sample_weight, l2,
                       reduction, out, n_threads, backend, power)[1]


class Objective(_Attributes):
    """The loss of a linear model on dask arrays, for training loops.

    At construction X, y and sample_weight are checked (y range, weights; with
    ``check_input=True`` also NaN/inf in X and y), persisted once on the workers
    (``dask.persist``: the active distributed client, else the local scheduler),
    and ``D = sum(sample_weight)`` is computed. Each call then ships only coef to
    the tasks and (loss, gradient) partials back, and returns NumPy results, so
    ``scipy.optimize.minimize(obj, x0, jac=True, hessp=obj.hessp)`` works as with
    ``fastgrad.Objective``. ``rows=`` is not supported.

    If the workers holding the persisted chunks are restarted
    (``client.restart()``), the next call raises a ``RuntimeError`` saying so;
    build the Objective again. A worker lost in the middle of a call is handled by
    dask (its chunks are recomputed from the graph), never by a partial result.
    """

    def __init__(self, X, y, *, loss="squared", fit_intercept=False, sample_weight=None,
                 l2=0.0, reduction="mean", n_threads=None, backend="auto",
                 check_input=True, n_classes=None, power=None):
        self._loss = V.check_loss(loss)
        self._power = V.check_power(self._loss, power)
        self._reduction = V.check_reduction(reduction)
        self._backend_name = V.check_backend(backend)
        self._l2 = V.check_l2(l2)
        if n_threads is not None:
            V.check_n_threads(n_threads)
        self._n_threads = n_threads
        self._fit_intercept = bool(fit_intercept)
        # K: n_classes, or one pass over the labels for the largest
        K = _n_classes(self._loss, y, n_classes, largest=lambda a: _compute(
            da.max(a) if isinstance(a, da.Array) else np.max(a)))
        X, Y, W, m, n, k, single, dt = _prepare(X, y, sample_weight, self._loss, K)
        if self._reduction == "mean" and m == 0:
            V.denominator(None, None, 0, "mean")
        if W is None:
            X, Y = dask.persist(X, Y)
        else:
            X, Y, W = dask.persist(X, Y, W)
        self._X, self._Y, self._W = X, Y, W
        self._m, self._n, self._k, self._single, self._dt = m, n, k, single, dt
        self._coef_shape = V.expected_coef_shape(n, k, single, self._fit_intercept)
        stats = _per_chunk(_chunk_stats, X, Y, W, 1, loss=self._loss,
                           check_input=bool(check_input), power=self._power)
        sw = float(_compute(stats.sum(axis=0))[0])
        self._D = _denominator(self._reduction, W, m, sw)

    # the attributes of fastgrad.Objective (the rest come from _Attributes)
    n_samples = property(lambda self: self._m, doc="rows of X")
    n_features = property(lambda self: self._n, doc="columns of X")
    dtype = property(lambda self: self._dt, doc="X's dtype: results are in it")
    X = property(lambda self: self._X, doc="the persisted dask array X")

    def __repr__(self):
        return (f"fastgrad.dask.Objective(loss={self._loss!r}, n_samples={self._m}, "
                f"n_features={self._n}, n_outputs={self._k}, dtype={self._dt}, "
                f"fit_intercept={self._fit_intercept}, l2={self._l2}, "
                f"reduction={self._reduction!r}, backend={self._backend_name!r}, "
                f"chunks={len(self._X.chunks[0])})")

    def _run(self, mode, coef, v=None, out=None):
        c = V.check_coef(coef, self._n, self._k, self._single, self._fit_intercept,
                         self._dt)
        vv = None
        if mode == _HESSP:
            vv = V.check_coef(v, self._n, self._k, self._single, self._fit_intercept,
                              self._dt, "v")
        rshape = c.shape if c.ndim == np.ndim(coef) else (c.size,)
        if out is not None:
            others = (("coef", coef),) + ((("v", v),) if mode == _HESSP else ())
            V.check_out(out, rshape, self._dt, others)
        nt = _threads_for_graph(self._n_threads, self._X)
        width = 2 + (c.size if mode != _VALUE else 0)
        S = _per_chunk(_chunk_partial, self._X, self._Y, self._W, width, coef=c, v=vv,
                       mode=mode, loss=self._loss, fit_intercept=self._fit_intercept,
                       n_threads=nt, backend=self._backend_name, check=False,
                       power=self._power)
        tot = _compute(S.sum(axis=0))
        return _finish(tot, mode, c, vv, self._D, self._l2, self._n, self._fit_intercept,
                       self._dt, out, rshape)

    def value_and_grad(self, coef, *, out=None):
        """(loss, gradient) at coef: one pass over the persisted chunks."""
        return self._run(_VG, coef, out=out)

    __call__ = value_and_grad

    def grad(self, coef, *, out=None):
        """Gradient at coef."""
        return self._run(_VG, coef, out=out)[1]

    def value(self, coef):
        """Loss at coef (no gradient work in the tasks)."""
        return self._run(_VALUE, coef)[0]

    def hessp(self, coef, v, *, out=None):
        """Hessian-vector product H(coef) @ v."""
        return self._run(_HESSP, coef, v, out=out)[1]


# ---------------------------------------------------------------------------
# a memory-mapped X for worker processes


class _MemmapRows:
    """An array-like over a raw file of rows, opened (``np.memmap``, read-only) in
    the process that indexes it: it pickles as its file name, not its data."""

    def __init__(self, filename, shape, dtype, offset):
        self.filename, self.shape, self.dtype = str(filename), tuple(shape), np.dtype(dtype)
        self.offset, self.ndim, self._map = int(offset), len(shape), None

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_map"}

    def __setstate__(self, state):
        self.__dict__.update(state, _map=None)

    def __getitem__(self, index):
        if self._map is None:
            self._map = np.memmap(self.filename, dtype=self.dtype, mode="r",
                                  shape=self.shape, offset=self.offset)
        return np.array(self._map[index])


def from_memmap(filename, shape, dtype=np.float64, *, chunk_rows, offset=0):
    """A dask array over a C-ordered raw file of ``shape`` (rows, cols), in row chunks.

    Each task opens the file itself (``np.memmap``, read-only) and reads its rows, so
    only the file name travels to worker processes (which must see the same path).
    ``dask.array.from_array(np.memmap(...))`` is the same on the threaded scheduler,
    but with worker processes dask would send the whole array through the scheduler.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2:
        raise ValueError(f"shape must be (n_samples, n_features); got {shape}")
    src = _MemmapRows(filename, shape, dtype, offset)
    np.memmap(src.filename, dtype=src.dtype, mode="r", shape=shape, offset=src.offset)
    token = dask.base.tokenize(src.filename, os.path.getmtime(src.filename), shape,
                               str(src.dtype), src.offset, chunk_rows)
    return da.from_array(src, chunks=(int(chunk_rows), shape[1]), asarray=False,
                         meta=np.empty((0, 0), dtype=src.dtype),
                         name=f"fastgrad-memmap-{token}")
