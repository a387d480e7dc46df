"""The functional API: value_and_grad, grad, hessp.

Each call checks and converts its arguments (``_validation``), then hands plain
arrays to one backend (``_backends``), which makes one pass over X.  The common
call (plain float arrays, no sample_weight) is first offered
to the compiled core's ``value_and_grad_common``, which takes it only when those
checks would pass every argument through unchanged (else None: the checks run).
"""
import numpy as np

from . import _backends
from . import _validation as V
from ._backends import resolve

_DOC_KEYWORDS = """
    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        float32 or float64, any layout (C, F, strided, negative strides, read-only,
        ``np.memmap``); C- and F-ordered X is never copied. Integers and bools are
        converted to float64.
    y : array of shape (n_samples,) or (n_samples, n_outputs)
        Targets; in [0, 1] for ``loss="logistic"`` (soft labels allowed); >= 0 for
        ``"poisson"``, > 0 for ``"gamma"``; for ``"tweedie"``: any for power <= 0,
        >= 0 for 1 <= power < 2, > 0 for power >= 2. For
        ``loss="multinomial"``: integer class labels in [0, n_classes) of shape
        (n_samples,), or class probabilities of shape (n_samples, n_classes)
        (non-negative, each row summing to 1 within 1e-6).
    coef : array of shape (n_features,) or (n_features, n_outputs)
        With ``fit_intercept=True`` one more row: the last row is the intercept.
        For ``loss="multinomial"`` always 2-D: (n_features, n_classes).
    loss : {"squared", "logistic", "multinomial", "poisson", "gamma", "tweedie"}
        ``"squared"``: l(z, y) = (z - y)^2 / 2;  ``"logistic"``: log(1 + e^z) - y z;
        ``"multinomial"``: logsumexp(z) - y . z over the n_classes logits of a row
        (gradient ``X.T @ (w * (softmax(Z) - Y)) / D``). Log link, the terms free
        of z dropped (as scikit-learn's HalfPoissonLoss etc.): ``"poisson"``:
        e^z - y z; ``"gamma"``: z + y e^-z; ``"tweedie"``: e^((2-p) z)/(2-p) -
        y e^((1-p) z)/(1-p), p = ``power``.
    power : float, optional
        The Tweedie power p, required with ``loss="tweedie"`` (p <= 0 or p >= 1;
        1 and 2 give ``"poisson"`` and ``"gamma"``), an error with any other loss.
    fit_intercept : bool
    sample_weight : array of shape (n_samples,), optional
        Non-negative, finite per-row weights (default: all ones).
    l2 : float
        Penalty ``l2/2 |coef|^2`` (the intercept is never penalised).
    reduction : {"mean", "sum"}
        Divide the data term by the total weight (``"mean"``) or not (``"sum"``).
    rows : 1-D integer array, optional
        Row indices of a minibatch, used without copying X (NumPy index semantics:
        negatives count from the end, duplicates count twice).
    out : ndarray, optional
        Where to write the result: coef's shape, X's dtype, C-contiguous,
        writeable, not overlapping coef (or v).
    n_threads : int, optional
        Threads of the compiled core (default: the cores available, honouring
        ``OMP_NUM_THREADS`` and threadpoolctl). The result is bitwise identical
        for every value.
    backend : {"auto", "native", "numpy"}
"""


def _check(X, y, coef, v, hess, want_grad, loss, fit_intercept, sample_weight, l2,
           reduction, rows, out, n_threads, backend, power=None, allocate=True):
    """Every argument checked and converted (API.md's errors): the backend, the
    arguments of its run (the loss as the kernel runs it: tweedie with power 1 or
    2 is poisson or gamma), its keywords (power, for tweedie), and the result
    array (None when not allocate)."""
    loss = V.check_loss(loss)
    power = V.check_power(loss, power)
    reduction = V.check_reduction(reduction)
    be = resolve(V.check_backend(backend))
    l2 = V.check_l2(l2)
    nt = V.check_n_threads(n_threads)
    fit_intercept = V.check_flag(fit_intercept, "fit_intercept")
    Xa = V.check_X(X)
    m, n = Xa.shape
    dt = Xa.dtype
    r = V.check_rows(rows, m)
    if loss == "multinomial":
        K = V.n_classes_of(coef) if np.ndim(y) == 1 else None
        ya, k = V.check_multinomial_y(y, m, K, dt, r)
        single = False
    else:
        ya = V.check_y(y, m, loss, dt, r, power)  # with rows, only y[rows] is checked
        single = ya.ndim == 1
        k = 1 if single else ya.shape[1]
    c = V.check_coef(coef, n, k, single, fit_intercept, dt)
    vv = V.check_coef(v, n, k, single, fit_intercept, dt, name="v") if hess else None
    w = V.check_sample_weight(sample_weight, m, dt)
    D = V.denominator(w, r, m if r is None else r.shape[0], reduction)
    res = None
    if want_grad:
        # the result has coef's shape: flat when coef came flat (scipy.optimize)
        flat = c is not coef and c.ndim != np.ndim(coef)
        shape = (c.size,) if flat else c.shape
        if out is None:
            res = np.empty(shape, dtype=dt) if allocate else None
        else:
            res = V.check_out(out, shape, dt, (("coef", coef), ("v", v), ("X", X), ("y", y),
                                               ("sample_weight", sample_weight)))
        if res is not None:
            out = res.reshape(c.shape) if flat else res
    kl = V.kernel_loss(loss, power)
    kw = {"power": power} if kl == "tweedie" else {}
    return be, (Xa, ya, w, r, c, vv, out, kl, fit_intercept, hess, want_grad, l2, D, nt), \
        kw, res


def _call(X, y, coef, v, hess, want_grad, loss, fit_intercept, sample_weight, l2,
          reduction, rows, out, n_threads, backend, power=None):
    be, args, kw, res = _check(X, y, coef, v, hess, want_grad, loss, fit_intercept,
                               sample_weight, l2, reduction, rows, out, n_threads, backend,
                               power)
    Xa = args[0]
    run = be.run if type(Xa) is np.ndarray or isinstance(Xa, np.ndarray) else be.run_csr
    return run(*args, **kw), res


_OPS = ("value_and_grad", "grad", "hessp")


def explain(X, y, coef, *, op="value_and_grad", v=None, loss="squared", fit_intercept=False,
            sample_weight=None, l2=0.0, reduction="mean", rows=None, out=None,
            n_threads=None, backend="auto", power=None):
    """How ``fastgrad.<op>(X, y, coef, ...)`` would run, computing nothing.

    Takes the arguments of the call it explains (``op`` one of "value_and_grad",
    "grad", "hessp"; ``v`` is hessp's vector) and checks them with the call's
    own checks, so it raises exactly the errors the call would.  Returns a dict:
    ``backend`` ("native" or "numpy"), ``path`` (the kernel path, see the README's
    "Kernel paths"), ``isa`` ("avx512", "avx2", "baseline"; None for numpy),
    ``block_rows``, ``block_cols`` (the tile; None where the path has none),
    ``n_threads`` (the threads it will use) and ``reason`` (why, in one sentence).
    The same call explains the same way every time.

    >>> import numpy as np, fastgrad
    >>> d = fastgrad.explain(np.ones((10, 3)), np.ones(10), np.zeros(3), backend="numpy")
    >>> d["backend"], d["path"], d["isa"]
    ('numpy', 'numpy', None)
    """
    if type(op) is not str or op not in _OPS:
        raise ValueError(f"op must be one of {', '.join(map(repr, _OPS))}; got {op!r}")
    hess = op == "hessp"
    if not hess and v is not None:
        raise TypeError(f"v is hessp's vector: pass it only with op='hessp' (op={op!r})")
    be, args, _, _ = _check(X, y, coef, v, hess, True, loss, fit_intercept, sample_weight,
                            l2, reduction, rows, out, n_threads, backend, power,
                            allocate=False)
    from . import _plan
    Xa, ya, w, r, c, vv, _, loss, _, _, want_grad, _, _, nt = args
    k = c.shape[1] if c.ndim == 2 else 1
    nrows = Xa.shape[0] if r is None else r.shape[0]
    mode = _plan.Mode.HESSP if hess else _plan.Mode.GRAD
    lcode = _plan.Loss[loss.upper()]
    if be is not _backends._native:
        p = _plan.plan_numpy(loss, k, not isinstance(Xa, np.ndarray))
    elif isinstance(Xa, np.ndarray):
        isz = Xa.dtype.itemsize
        p = _plan.plan_dense(nrows, Xa.shape[1], k, isz, Xa.strides[0] // isz,
                             Xa.strides[1] // isz, lcode, mode, r is not None, nt)
    else:
        p = _plan.plan_csr(nrows, Xa.shape[0], int(Xa.nnz), Xa.shape[1], k,
                           Xa.data.dtype.itemsize, Xa.indices.dtype.itemsize, lcode, mode,
                           r is not None, nt)
    return p.as_dict()


def value_and_grad(X, y, coef, *, loss="squared", fit_intercept=False, sample_weight=None,
                   l2=0.0, reduction="mean", rows=None, out=None, n_threads=None,
                   backend="auto", power=None):
    """Loss and gradient of a linear model in one pass over X.

    ``L = sum_i w_i l(z_i, y_i) / D + l2/2 |coef|^2`` with ``z = X @ coef (+ intercept)``;
    returns ``(L, dL/dcoef)``: a Python float and an array of coef's shape in X's dtype.
    """
    nat = _backends._native         # (looked up per call: tests replace it)
    if nat is not None and sample_weight is None and power is None:
        # the compiled core's entry for the common call: it takes only arguments
        # that _call's checks would pass through unchanged, so its result is
        # _call's; None (not taken) sends the call on to _call
        res = nat.value_and_grad_common(X, y, coef, rows, out, loss, fit_intercept, l2,
                                        reduction, n_threads, backend)
        if res is not None:
            return res
    value, g = _call(X, y, coef, None, False, True, loss, fit_intercept, sample_weight,
                     l2, reduction, rows, out, n_threads, backend, power)
    return value, g


def grad(X, y, coef, *, loss="squared", fit_intercept=False, sample_weight=None, l2=0.0,
         reduction="mean", rows=None, out=None, n_threads=None, backend="auto", power=None):
    """Gradient of the loss with respect to coef (see ``value_and_grad``)."""
    nat = _backends._native         # (looked up per call: tests replace it)
    if nat is not None and sample_weight is None and power is None:
        # the compiled core's entry for the common call: it takes only arguments
        # that _call's checks would pass through unchanged, so its result is
        # _call's; None (not taken) sends the call on to _call
        res = nat.value_and_grad_common(X, y, coef, rows, out, loss, fit_intercept, l2,
                                        reduction, n_threads, backend)
        if res is not None:
            return res[1]
    return _call(X, y, coef, None, False, True, loss, fit_intercept, sample_weight, l2,
                 reduction, rows, out, n_threads, backend, power)[1]


def hessp(X, y, coef, v, *, loss="squared", fit_intercept=False, sample_weight=None, l2=0.0,
          reduction="mean", rows=None, out=None, n_threads=None, backend="auto", power=None):
    """Hessian-vector product ``H(coef) @ v`` in one pass over X; shape of coef.

    ``H v = X.T @ (w * l''(z) * (X @ v)) / D + l2 v`` (intercept rows likewise, without l2).
    """
    return _call(X, y, coef, v, True, True, loss, fit_intercept, sample_weight, l2,
                 reduction, rows, out, n_threads, backend, power)[1]


for _f in (value_and_grad, grad, hessp):
    _f.__doc__ += _DOC_KEYWORDS
del _f
