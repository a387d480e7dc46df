"""Objective: check and convert the data once, then go straight to the backend."""
import numpy as np

from . import _validation as V
from ._backends import _native, resolve

_native_run = _native.run if _native is not None else None


def _n_classes(loss, y, n_classes, largest=np.max):
    """K for multinomial class labels: n_classes, or the largest label + 1
    (``largest`` computes it: np.max, or a dask reduction).  None for
    probabilities; n_classes with another loss is an error."""
    if loss != "multinomial":
        if n_classes is not None:
            raise ValueError(f"n_classes is only for loss='multinomial'; got "
                             f"n_classes={n_classes!r} with loss={loss!r}")
        return None
    if n_classes is not None:
        if isinstance(n_classes, (bool, np.bool_)) or not isinstance(
                n_classes, (int, np.integer)) or n_classes < 1:
            raise ValueError(f"n_classes must be an integer >= 1; got {n_classes!r}")
        return int(n_classes)
    if not hasattr(y, "dtype"):
        y = V._asarray(y, "y")
    if y.ndim != 1:
        return None                               # probabilities: K from y's shape
    if y.shape[0] == 0:
        raise ValueError("loss='multinomial' with no labels: pass n_classes=")
    if y.dtype.kind not in "iubf":
        return None                               # check_multinomial_y says why
    hi = largest(y)
    return int(hi) + 1 if np.isfinite(hi) and hi >= 0 else 1


class _Attributes:
    """The attributes of API.md that fastgrad.Objective and fastgrad.dask.Objective
    share, read from the checked values each keeps."""

    n_outputs = property(lambda self: self._k,
                         doc="columns of y (1 for 1-D y); classes for multinomial")
    coef_shape = property(lambda self: self._coef_shape, doc="shape of coef and gradient")
    loss = property(lambda self: self._loss)
    power = property(lambda self: self._power, doc="the Tweedie power (None: not tweedie)")
    fit_intercept = property(lambda self: self._fit_intercept)
    reduction = property(lambda self: self._reduction)
    l2 = property(lambda self: self._l2)
    backend = property(lambda self: self._backend_name)


class Objective(_Attributes):
    """The loss of a linear model on fixed data, for training loops.

    ``Objective(X, y, ...)`` checks and converts X, y and sample_weight once
    (with ``check_input=True`` it also rejects NaN or inf, naming the array and
    the first bad index); each call then checks only coef (and rows, out) and
    runs one pass over X. Calling the object returns ``(loss, grad)``, so it
    plugs into ``scipy.optimize.minimize(obj, x0, jac=True, hessp=obj.hessp)``.

    Keywords as in :func:`fastgrad.value_and_grad`. ``n_threads=None`` is
    resolved on every call, so threadpoolctl limits set later are honoured.
    ``n_classes`` (``loss="multinomial"`` with integer class labels only): the
    number of classes K, so that coef is (n_features[+1], K); default: the
    largest label + 1 (pass it when the last classes may be absent from y).
    ``power``: the Tweedie power, required with ``loss="tweedie"`` only.
    """

    def __init__(self, X, y, *, loss="squared", fit_intercept=False, sample_weight=None,
                 l2=0.0, reduction="mean", n_threads=None, backend="auto",
                 check_input=True, n_classes=None, power=None):
        self._loss = V.check_loss(loss)
        self._power = V.check_power(self._loss, power)
        # what the backend runs (tweedie with power 1 or 2: poisson, gamma), and
        # the power it needs (tweedie only)
        self._kloss = V.kernel_loss(self._loss, self._power)
        self._kw = {"power": self._power} if self._kloss == "tweedie" else {}
        self._reduction = V.check_reduction(reduction)
        self._backend_name = V.check_backend(backend)
        self._run = resolve(self._backend_name).run
        self._l2 = V.check_l2(l2)
        nt = V.check_n_threads(n_threads)         # an int, capped; None resolves per call
        self._n_threads = None if n_threads is None else nt
        self._fit_intercept = V.check_flag(fit_intercept, "fit_intercept")
        X = V.check_X(X)
        m, n = X.shape
        K = _n_classes(self._loss, y, n_classes)
        if self._loss == "multinomial":
            y, self._k = V.check_multinomial_y(y, m, K, X.dtype)
            self._single = False
        else:
            y = V.check_y(y, m, self._loss, X.dtype, power=self._power)
            self._single = y.ndim == 1
            self._k = 1 if self._single else y.shape[1]
        w = V.check_sample_weight(sample_weight, m, X.dtype)
        if not isinstance(X, np.ndarray):       # sparse X, converted to CSR once
            from . import _sparse
            self._run = resolve(self._backend_name).run_csr
            if check_input:
                _sparse.check_input(X)          # the whole structure, NaN/inf values
        elif check_input:
            V.first_nonfinite(X, "X")
        if check_input and y.dtype.kind == "f":    # (class labels were checked above)
            V.first_nonfinite(y, "y")
        self._X, self._y, self._w = X, y, w
        self._coef_shape = V.expected_coef_shape(n, self._k, self._single,
                                                 self._fit_intercept)
        self._D = V.denominator(w, None, m, self._reduction)
        # the compiled core's plan of this problem's calls (made once): per call
        # it runs coef, rows, out already in their checked form, for calls of
        # one chunk or with the thread count resolved, else returns None; None
        # for the NumPy backend and sparse X
        self._native_plan = None
        if self._run is _native_run and (X.dtype is V._F64 or X.dtype is V._F32):
            self._native_plan = _native.ObjectivePlan(
                X, y, w, self._kloss, self._kw.get("power", 0.0), self._fit_intercept,
                len(self._coef_shape), self._k, self._l2, self._D,
                self._reduction == "mean")

    # -- attributes of API.md (and those of _Attributes) ------------------
    n_samples = property(lambda self: self._X.shape[0], doc="rows of X")
    n_features = property(lambda self: self._X.shape[1], doc="columns of X")
    dtype = property(lambda self: self._X.dtype, doc="X's dtype: results are in it")

    def __repr__(self):
        pw = f", power={self._power!r}" if self._power is not None else ""
        return (f"Objective(loss={self._loss!r}{pw}, n_samples={self.n_samples}, "
                f"n_features={self.n_features}, n_outputs={self._k}, "
                f"dtype={self.dtype}, fit_intercept={self._fit_intercept}, "
                f"l2={self._l2}, reduction={self._reduction!r}, backend={self._backend_name!r})")

    # -- per call ----------------------------------------------------------
    def _coef(self, coef, name="coef"):
        return V.check_coef(coef, self._X.shape[1], self._k, self._single,
                            self._fit_intercept, self._X.dtype, name)

    def _rows_and_D(self, rows):
        if rows is None:
            return None, self._D
        r = V.check_rows(rows, self._X.shape[0])
        return r, V.denominator(self._w, r, r.shape[0], self._reduction)

    def _out(self, out, c, coef, others):
        """(result, the (n_coef[, k]) view of it the backend fills): the result
        has coef's shape, flat when coef came flat (as scipy.optimize passes it)."""
        flat = c is not coef and c.ndim != np.ndim(coef)
        shape = (c.size,) if flat else c.shape
        if out is None:
            res = np.empty(shape, dtype=self._X.dtype)
        else:
            others += (("X", self._X), ("y", self._y), ("sample_weight", self._w))
            res = V.check_out(out, shape, self._X.dtype, others)
        return res, (res.reshape(c.shape) if flat else res)

    def _threads(self):
        return V.check_n_threads(self._n_threads)

    def value_and_grad(self, coef, *, rows=None, out=None):
        """(loss, gradient) at coef; gradient has ``coef_shape`` and X's dtype."""
        plan = self._native_plan
        if plan is not None:
            res = plan.value_and_grad(coef, rows, out)
            if res is not None:
                return res
            # more than one chunk (or work for the checks: then None again)
            res = plan.threaded(coef, rows, out, True, self._threads())
            if res is not None:
                return res
        c = self._coef(coef)
        r, D = self._rows_and_D(rows)
        res, out = self._out(out, c, coef, (("coef", coef),))
        value = self._run(self._X, self._y, self._w, r, c, None, out, self._kloss,
                          self._fit_intercept, False, True, self._l2, D, self._threads(),
                          **self._kw)
        return value, res

    __call__ = value_and_grad

    def grad(self, coef, *, rows=None, out=None):
        """Gradient at coef."""
        return self.value_and_grad(coef, rows=rows, out=out)[1]

    def value(self, coef, *, rows=None):
        """Loss at coef (one pass over X, no gradient work)."""
        plan = self._native_plan
        if plan is not None:
            res = plan.value(coef, rows)
            if res is not None:
                return res
            res = plan.threaded(coef, rows, None, False, self._threads())
            if res is not None:
                return res
        c = self._coef(coef)
        r, D = self._rows_and_D(rows)
        return self._run(self._X, self._y, self._w, r, c, None, None, self._kloss,
                         self._fit_intercept, False, False, self._l2, D, self._threads(),
                         **self._kw)

    def hessp(self, coef, v, *, rows=None, out=None):
        """Hessian-vector product H(coef) @ v in one pass over X."""
        c = self._coef(coef)
        vv = self._coef(v, "v")
        r, D = self._rows_and_D(rows)
        res, out = self._out(out, c, coef, (("coef", coef), ("v", v)))
        self._run(self._X, self._y, self._w, r, c, vv, out, self._kloss,
                  self._fit_intercept, True, True, self._l2, D, self._threads(), **self._kw)
        return res
