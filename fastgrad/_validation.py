"""Argument checks and conversions, with the error messages of API.md.

Everything a backend receives has passed through here: X float32/float64 in
native byte order (C, F or any element-aligned strides, never copied when C-
or F-ordered), y and sample_weight in X's dtype, coef/v as C-contiguous
(n_coef, k) arrays, rows as intp indices in [0, m), out checked.  Nothing here
writes to an argument.
"""
import math
import numbers
import os

import numpy as np

from ._backends import omp_max_threads

LOSSES = ("squared", "logistic", "multinomial", "poisson", "gamma", "tweedie")
#: the log-link losses (y has a domain per loss, see check_y)
LOG_LINK = ("poisson", "gamma", "tweedie")
REDUCTIONS = ("mean", "sum")
BACKENDS = ("auto", "native", "numpy")

try:
    _N_CPUS = len(os.sched_getaffinity(0))
except (AttributeError, OSError):  # pragma: no cover - not Linux
    _N_CPUS = os.cpu_count() or 1

#: more threads than this are never started, whatever n_threads says: beyond the
#: cores they only cost (and thousands of them can exhaust the process's limits);
#: the result does not depend on the thread count, so capping it is invisible
MAX_THREADS = max(64, 4 * _N_CPUS)

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_F32, _F64 = _FLOATS
_INF = float("inf")


def _choice(value, valid, name):
    if type(value) is str and value in valid:         # the common case
        return value
    if isinstance(value, str) and value in valid:
        return valid[valid.index(value)]        # the plain str (not a np.str_)
    raise ValueError(f"{name}={value!r} is not valid; expected one of "
                     f"{', '.join(map(repr, valid))}")


def check_loss(loss):
    return _choice(loss, LOSSES, "loss")


def check_power(loss, power):
    """The Tweedie power as a float: required with loss="tweedie" (p <= 0 or p >= 1),
    None for every other loss (where giving it is a ValueError)."""
    if loss != "tweedie":
        if power is not None:
            raise ValueError(f"power is only for loss='tweedie'; got power={power!r} "
                             f"with loss={loss!r}")
        return None
    if power is None:
        raise ValueError("loss='tweedie' needs power= (the Tweedie power p, p <= 0 or "
                         "p >= 1; power=1 is loss='poisson', power=2 is loss='gamma')")
    if isinstance(power, (bool, np.bool_)) or not isinstance(power, numbers.Real):
        raise ValueError(f"power must be a real number for loss='tweedie'; got {power!r}")
    p = float(power)
    if not math.isfinite(p):
        raise ValueError(f"power must be finite for loss='tweedie'; got {power!r}")
    if 0.0 < p < 1.0:
        raise ValueError(f"power={power!r} is not valid for loss='tweedie': no Tweedie "
                         "distribution has 0 < power < 1 (use power <= 0 or power >= 1)")
    return p


def kernel_loss(loss, power):
    """The loss a backend runs: tweedie with power 1 or 2 is poisson or gamma
    (the same numbers, one exp a row instead of two)."""
    if loss == "tweedie":
        if power == 1.0:
            return "poisson"
        if power == 2.0:
            return "gamma"
    return loss


def y_domain(loss, power):
    """(strict, text) for a log-link loss: y > 0 (strict) or y >= 0; None: any y."""
    if loss == "poisson" or (loss == "tweedie" and 1.0 <= power < 2.0):
        return False, ">= 0"
    if loss == "gamma" or (loss == "tweedie" and power >= 2.0):
        return True, "> 0"
    return None


def first_outside_domain(a, loss, power):
    """None, or (index into a, message start) for the first y of a (1-D or 2-D
    y values of a log-link loss) outside the loss's domain.  NaN is not outside
    (it propagates, as for the other losses)."""
    dom = y_domain(loss, power)
    if dom is None or a.size == 0:
        return None
    strict, text = dom
    lo = a.min()
    if (lo > 0) if strict else (lo >= 0):
        return None
    bad = (a <= 0) if strict else (a < 0)      # (NaN made lo NaN: look at each)
    if not bad.any():
        return None
    idx = np.unravel_index(int(np.flatnonzero(bad.ravel())[0]), a.shape)
    what = f"loss='tweedie' with power={power!r}" if loss == "tweedie" else f"loss={loss!r}"
    return idx, f"y must be {text} for {what}"


def check_reduction(reduction):
    return _choice(reduction, REDUCTIONS, "reduction")


def check_backend(backend):
    return _choice(backend, BACKENDS, "backend")


def _asarray(a, name):
    """np.asarray(a), with NumPy's own errors (ragged nesting, ...) naming the argument."""
    try:
        return np.asarray(a)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{name} could not be converted to a numeric array: {exc}") from None


def _real_dtype_or_raise(a, name):
    kind = a.dtype.kind
    if kind in "fiub":
        return
    raise TypeError(f"{name}: dtype {a.dtype} is not supported; expected real numbers "
                    "(float32 or float64; integers and bools are converted)")


def check_X(X):
    """X as a 2-D float32/float64 array in native byte order; no copy when C/F-ordered.

    A scipy.sparse X becomes a ``fastgrad._sparse.CSR`` (see ``_sparse.as_csr``)."""
    if hasattr(X, "tocsr"):             # scipy.sparse (any format) or convertible to it
        from ._sparse import as_csr
        return as_csr(X)                    # a fastgrad._sparse.CSR, not an ndarray
    Xa = X if type(X) is np.ndarray else _asarray(X, "X")
    dt = Xa.dtype
    if (dt is _F64 or dt is _F32) and Xa.ndim == 2:       # the common case
        if Xa.flags.aligned:          # data pointer and strides multiples of the item
            return Xa
    if dt not in _FLOATS:
        _real_dtype_or_raise(Xa, "X")
        if dt.kind == "f" and dt.itemsize < 4:
            Xa = Xa.astype(np.float32)          # float16: exact in float32
        elif dt.kind == "f" and dt.itemsize > 8:
            raise TypeError(f"X: dtype {dt} is not supported; convert to float64 "
                            "(fastgrad computes in float32 or float64)")
        elif dt.kind == "f":                    # byte-swapped float32/float64
            Xa = Xa.astype(dt.newbyteorder("="))
        else:                                   # integers and bools
            Xa = Xa.astype(np.float64)
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {Xa.shape}")
    if not Xa.flags.aligned:    # pointer or strides not a multiple of the item: the
        Xa = np.array(Xa, order="K")    # C core would read misaligned (undefined in C)
    return Xa


def as_dtype(a, dtype, name, contiguous=False):
    """a converted to dtype (real numbers only); copies only when it must."""
    arr = a if type(a) is np.ndarray else _asarray(a, name)
    if arr.dtype is not dtype and arr.dtype != dtype:
        if arr.dtype.kind not in "fiub":
            _real_dtype_or_raise(arr, name)
        arr = arr.astype(dtype)
    if contiguous and not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    if not arr.flags.aligned:                   # a copy is aligned (ascontiguousarray
        arr = np.array(arr, order="C" if contiguous else "K")   # keeps the pointer)
    return arr


def _native_y_in(y, lo, hi):
    """True when the compiled core says every value of the 1-D float y is in
    [lo, hi] (NaN is not); False when it does not, or there is no core (the
    caller then checks with NumPy and builds the message)."""
    if y.ndim != 1 or y.dtype not in (np.float64, np.float32):
        return False
    from . import _backends             # the core as the backends found it (or None)
    nat = _backends._native
    return nat is not None and nat.y_in_range(y, lo, hi)


def check_y(y, m, loss, dtype, rows=None, power=None):
    """y in X's dtype, shape checked; for the logistic loss its values in [0, 1],
    for the log-link losses in their domain (``power``: the tweedie power), only
    the rows a call uses when ``rows`` (checked indices) is given."""
    ya = as_dtype(y, dtype, "y")
    if ya.ndim == 1 and ya.shape[0] == m and loss == "squared" \
            and ya.strides[0] % ya.itemsize == 0:
        return ya                                       # the common case
    if ya.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D (n_samples,) or 2-D (n_samples, n_outputs); "
                         f"got shape {ya.shape}")
    if ya.shape[0] != m:
        raise ValueError(f"y has {ya.shape[0]} rows but X has {m} (y shape {ya.shape}, "
                         f"X has n_samples={m})")
    if ya.ndim == 2 and ya.shape[1] == 0:
        raise ValueError(f"y must have at least one output column; got shape {ya.shape}")
    if ya.strides[0] % ya.itemsize or (ya.ndim == 2 and ya.strides[1] % ya.itemsize):
        ya = np.ascontiguousarray(ya)
    used = ya if rows is None else ya[rows]
    if loss == "logistic" and used.size:
        if _native_y_in(used, 0.0, 1.0):
            return ya                   # one pass in C (min and max: two)
        lo, hi = used.min(), used.max()
        # NaN makes min/max NaN (and propagates as documented); the range check
        # must still see the other values, so then it looks at each one
        if lo < 0 or hi > 1 or lo != lo or hi != hi:
            outside = (used < 0) | (used > 1)
            if outside.any():
                bad = used[outside].flat[0]
                raise ValueError(f"y must lie in [0, 1] for loss='logistic'; found {bad!r} "
                                 f"(min {np.nanmin(used)!r}, max {np.nanmax(used)!r})")
    elif loss in LOG_LINK:
        dom = y_domain(loss, power)
        # one pass in C where y is in the domain (> 0: from the smallest subnormal)
        if dom is not None and _native_y_in(used, 5e-324 if dom[0] else 0.0, np.inf):
            return ya
        found = first_outside_domain(used, loss, power)
        if found is not None:
            idx, msg = found
            # the index into y (through rows= when given)
            where = (int(rows[idx[0]]) if rows is not None else int(idx[0]),) + tuple(
                int(j) for j in idx[1:])
            raise ValueError(f"{msg}; y[{', '.join(map(str, where))}] = {used[idx]!r}")
    return ya


#: rows of multinomial probabilities must sum to 1 within this (relative to 1)
PROBA_RTOL = 1e-6


def n_classes_of(coef):
    """K from coef's shape for multinomial class labels (coef must be 2-D)."""
    shape = np.shape(coef)
    if len(shape) != 2:
        raise ValueError("coef must be 2-D (n_features[+1], n_classes) for "
                         f"loss='multinomial'; got shape {shape}")
    return shape[1]


def check_multinomial_y(y, m, n_classes, dtype, rows=None):
    """Multinomial targets: (m,) class labels -> intp in [0, n_classes), or
    (m, K) probabilities -> X's dtype, non-negative, rows summing to 1.

    ``n_classes``: K for labels (from coef, or the Objective's n_classes), or
    None (only allowed with probabilities).  With ``rows`` only the rows a call
    uses are checked.  Returns (y, K)."""
    ya = y if type(y) is np.ndarray else _asarray(y, "y")
    if ya.ndim == 1:
        if ya.shape[0] != m:
            raise ValueError(f"y has {ya.shape[0]} labels but X has {m} rows "
                             f"(y shape {ya.shape}, X has n_samples={m})")
        kind = ya.dtype.kind
        if kind not in "iubf":
            raise TypeError(f"y: dtype {ya.dtype} is not supported for loss='multinomial'; "
                            "expected integer class labels in [0, n_classes)")
        used = ya if rows is None else ya[rows]
        if kind == "f" and used.size:
            frac = ~np.isfinite(used) | (used != np.floor(used))
            if frac.any():
                raise ValueError("y must hold integer class labels for loss='multinomial'; "
                                 f"found {used[frac].flat[0].item()!r}")
        if n_classes is None:
            raise ValueError("loss='multinomial' with class labels needs the number of "
                             "classes (n_classes=, or coef of shape (n_features, n_classes))")
        if used.size:
            lo, hi = used.min(), used.max()
            if lo < 0 or hi >= n_classes:
                bad = lo if lo < 0 else hi
                raise ValueError(f"y: class label {bad.item()!r} is outside [0, {n_classes}) for "
                                 f"loss='multinomial' with n_classes={n_classes}")
        if ya.dtype != np.intp or ya.strides[0] % ya.itemsize:
            with np.errstate(invalid="ignore"):   # NaN in rows not used: never read
                ya = ya.astype(np.intp)
        return ya, int(n_classes)
    if ya.ndim != 2:
        raise ValueError("y must be 1-D class labels (n_samples,) or 2-D probabilities "
                         f"(n_samples, n_classes) for loss='multinomial'; got shape {ya.shape}")
    ya = as_dtype(ya, dtype, "y")
    if ya.shape[0] != m:
        raise ValueError(f"y has {ya.shape[0]} rows but X has {m} (y shape {ya.shape}, "
                         f"X has n_samples={m})")
    K = ya.shape[1]
    if K == 0:
        raise ValueError(f"y must have at least one class column; got shape {ya.shape}")
    if n_classes is not None and n_classes != K:
        raise ValueError(f"y has {K} probability columns but n_classes={n_classes}")
    if ya.strides[0] % ya.itemsize or ya.strides[1] % ya.itemsize:
        ya = np.ascontiguousarray(ya)
    used = ya if rows is None else ya[rows]
    if used.size:
        neg = used < 0                       # NaN propagates, as for the other losses
        if neg.any():
            i, j = np.argwhere(neg)[0]
            raise ValueError("y: class probabilities must be non-negative for "
                             f"loss='multinomial'; y[{i}, {j}] = {used[i, j]!r}")
        s = used.sum(axis=1, dtype=np.float64)
        off = np.abs(s - 1.0) > PROBA_RTOL
        if off.any():
            i = int(np.flatnonzero(off)[0])
            raise ValueError("y: each row of class probabilities must sum to 1 (within "
                             f"{PROBA_RTOL:g}) for loss='multinomial'; row {i} sums to "
                             f"{float(s[i])!r}")
    return ya, K


def check_sample_weight(sample_weight, m, dtype):
    if sample_weight is None:
        return None
    w = as_dtype(sample_weight, dtype, "sample_weight")
    if w.ndim != 1 or w.shape[0] != m:
        raise ValueError(f"sample_weight must have shape ({m},) to match X's n_samples={m}; "
                         f"got shape {w.shape}")
    if w.strides[0] % w.itemsize:
        w = np.ascontiguousarray(w)
    if w.size:
        if not np.isfinite(w).all():
            i = int(np.flatnonzero(~np.isfinite(w))[0])
            raise ValueError(f"sample_weight must be finite; sample_weight[{i}] = {w[i]!r}")
        if w.min() < 0:
            i = int(np.flatnonzero(w < 0)[0])
            raise ValueError(f"sample_weight must be non-negative; sample_weight[{i}] = {w[i]!r}")
    return w


def check_l2(l2):
    if type(l2) is float and 0.0 <= l2 < _INF:
        return l2
    try:
        val = float(l2)
    except (TypeError, ValueError):
        raise ValueError(f"l2 must be a non-negative finite number; got {l2!r}") from None
    if not (val >= 0.0 and val != float("inf")):
        raise ValueError(f"l2 must be a non-negative finite number; got {l2!r}")
    return val


def check_flag(value, name):
    """True or False (also np.bool_ and the integers 0 and 1); ValueError otherwise."""
    if value is True or value is False:
        return value
    if isinstance(value, (np.bool_, numbers.Integral)) and value in (0, 1):
        return bool(value)
    raise ValueError(f"{name} must be True or False; got {value!r}")


def check_n_threads(n_threads):
    """None: the cores available (OMP_NUM_THREADS, threadpoolctl); else an int >= 1."""
    if n_threads is None:
        t = omp_max_threads()
        return t if 1 <= t <= _N_CPUS else (1 if t < 1 else _N_CPUS)
    if type(n_threads) is int and 1 <= n_threads <= MAX_THREADS:
        return n_threads
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral):
        raise ValueError(f"n_threads must be None or an integer >= 1; got {n_threads!r}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be None or an integer >= 1; got {n_threads!r}")
    return min(int(n_threads), MAX_THREADS)


def expected_coef_shape(n, k, single, fit_intercept):
    rows = n + 1 if fit_intercept else n
    return (rows,) if single else (rows, k)


def check_coef(coef, n, k, single, fit_intercept, dtype, name="coef"):
    """coef as a C-contiguous array of dtype and of coef's expected shape, (n_coef,)
    or (n_coef, k) (also given flat, as n_coef * k values in C order, the way
    scipy.optimize passes it); ValueError naming the shapes otherwise."""
    shape = expected_coef_shape(n, k, single, fit_intercept)
    if type(coef) is np.ndarray and coef.dtype is dtype and coef.shape == shape \
            and coef.flags.c_contiguous and coef.flags.aligned:
        return coef                                   # the common case, no copy
    c = as_dtype(coef, dtype, name, contiguous=True)
    if c.ndim == 1 and len(shape) == 2 and c.shape[0] == shape[0] * shape[1]:
        return c.reshape(shape)       # flat (as scipy.optimize passes it), C order
    if c.shape != shape:
        what = "n_features + 1" if fit_intercept else "n_features"
        outs = "" if single else ", n_outputs"
        raise ValueError(f"{name} must have shape ({what}{outs}) = {shape} for X with "
                         f"n_features={n}{'' if single else f' and y with n_outputs={k}'}"
                         f" (fit_intercept={fit_intercept}); got shape {c.shape}")
    return c


def check_rows(rows, m):
    """rows as intp indices in [0, m) (negatives counted from the end), or None."""
    if rows is None:
        return None
    r = rows if type(rows) is np.ndarray else _asarray(rows, "rows")
    if r.ndim != 1:
        raise ValueError(f"rows must be a 1-D array of row indices; got shape {r.shape}")
    if r.size == 0:
        return np.empty(0, dtype=np.intp)
    if r.dtype.kind not in "iu":
        hint = " (for a boolean mask use np.flatnonzero(mask))" if r.dtype.kind == "b" else ""
        raise TypeError(f"rows must be integer row indices; got dtype {r.dtype}{hint}")
    lo, hi = r.min(), r.max()
    if lo < -m or hi >= m:
        bad = lo if lo < -m else hi
        raise IndexError(f"rows: index {int(bad)} is out of bounds for axis 0 with size {m}")
    r = r.astype(np.intp, copy=False)
    if lo < 0:
        r = np.where(r < 0, r + m, r)
    if not (r.flags.c_contiguous and r.flags.aligned):
        r = np.array(r, order="C")
    return r


def check_out(out, shape, dtype, others):
    """out must be a writeable C-contiguous array of coef's shape and X's dtype,
    sharing no memory with coef, v or the data (``others``: (name, array) pairs)."""
    if not isinstance(out, np.ndarray):
        raise ValueError(f"out must be a numpy array of shape {shape} and dtype {dtype}; "
                         f"got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out must have shape {shape} (the shape of coef); got {out.shape}")
    if out.dtype != dtype:
        raise ValueError(f"out must have dtype {dtype} (X's dtype); got {out.dtype}")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError("out must be writeable; got a read-only array")
    if not out.flags.aligned:
        raise ValueError("out must be aligned (its address a multiple of the item size)")
    for nm, o in others:
        if isinstance(o, np.ndarray) and np.may_share_memory(out, o) \
                and np.shares_memory(out, o):
            raise ValueError(f"out must not overlap {nm}")
    return out


def denominator(w, rows, nrows, reduction):
    """D of API.md: sum of the weights (mean) or 1 (sum)."""
    if reduction == "sum":
        return 1.0
    if w is None:
        if nrows > 0:
            return float(nrows)
        D = 0.0
    else:
        D = float(np.sum(w if rows is None else w[rows], dtype=np.float64))
    if not D > 0:
        raise ValueError(
            "reduction='mean' needs a positive total sample weight; got "
            + ("no rows" if nrows == 0 else f"sum(sample_weight) = {D} over {nrows} rows"))
    return D


def first_nonfinite(a, name, block_rows=8192):
    """ValueError naming the array and the first non-finite entry, if any.

    Scans in blocks of rows, so a large X costs no temporary of its size."""
    if a is None or a.size == 0:
        return
    for s in range(0, a.shape[0], block_rows):
        blk = a[s:s + block_rows]
        ok = np.isfinite(blk)
        if not ok.all():
            idx = np.unravel_index(int(np.flatnonzero(~ok.ravel())[0]), blk.shape)
            idx = (idx[0] + s,) + tuple(idx[1:])
            raise ValueError(f"{name} contains NaN or inf: "
                             f"{name}[{', '.join(map(str, idx))}] = {a[idx]!r}")
