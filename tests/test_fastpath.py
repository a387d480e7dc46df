"""The lean per-call paths against the general path.

``value_and_grad``/``grad`` first offer the call to the compiled core's
``value_and_grad_common``, and ``Objective`` to the plan it made once
(``_native.ObjectivePlan``); both take only arguments that the general path's
checks would pass through unchanged, and calls of one chunk, else return None.  Here: what they take
gives bit for bit the general path's result (and agrees with the NumPy
backend), and what they leave to the general path still raises its errors,
leaving the arguments as they were.
"""
import pickle

import numpy as np
import pytest

import fastgrad
from fastgrad import _backends

from conftest import (DTYPE_IDS, DTYPES, NATIVE_AVAILABLE, assert_matches_ref, make_problem,
                      reference, rtol_for, snapshot, assert_unchanged)

pytestmark = pytest.mark.skipif(not NATIVE_AVAILABLE, reason="needs fastgrad._native")

M, N = 37, 9          # rows not a multiple of 4: the row kernels' tails too


def _general(monkeypatch):
    """Make value_and_grad/grad skip the lean entry (the general path only)."""
    monkeypatch.setattr(_backends._native, "value_and_grad_common",
                        lambda *args: None)


def _common(X, y, coef, rows=None, loss="squared", fit_intercept=False, l2=0.0,
            reduction="mean", n_threads=None, backend="auto", out=None):
    return _backends._native.value_and_grad_common(X, y, coef, rows, out, loss,
                                                   fit_intercept, l2, reduction, n_threads,
                                                   backend)


def _layout(X, layout):
    if layout == "C":
        return np.ascontiguousarray(X)
    if layout == "F":
        return np.asfortranarray(X)
    if layout == "strided":
        base = np.zeros((2 * X.shape[0], 2 * X.shape[1]), dtype=X.dtype)
        out = base[::2, ::2]
        out[...] = X
        return out
    if layout == "negstride":
        return np.ascontiguousarray(X[::-1, ::-1])[::-1, ::-1]
    raise ValueError(layout)


def _same(a, b):
    """Bitwise equal (loss, gradient) pairs."""
    assert type(a[0]) is float and type(b[0]) is float
    assert a[0] == b[0] or (a[0] != a[0] and b[0] != b[0])
    assert a[1].dtype == b[1].dtype and a[1].shape == b[1].shape
    assert a[1].tobytes() == b[1].tobytes()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("layout", ["C", "F", "strided", "negstride"])
@pytest.mark.parametrize("loss", ["squared", "logistic", "poisson", "gamma"])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("with_rows", [False, True])
def test_common_call_is_the_general_path(monkeypatch, dtype, layout, loss, fit_intercept,
                                         reduction, with_rows):
    X, y, coef, _ = make_problem(M, N, loss=loss, fit_intercept=fit_intercept,
                                 dtype=dtype, seed=1)
    X = _layout(X, layout)
    rows = np.array([3, 0, 36, 3, 17, 5, 5, 20, 9], dtype=np.intp) if with_rows else None
    kw = dict(loss=loss, fit_intercept=fit_intercept, reduction=reduction, l2=0.25,
              rows=rows, n_threads=2)
    # the lean entry takes this call
    assert _common(X, y, coef, rows, loss, fit_intercept, 0.25, reduction, 2) is not None
    copies = snapshot(X, y, coef)
    fast = fastgrad.value_and_grad(X, y, coef, **kw)
    fast_g = fastgrad.grad(X, y, coef, **kw)
    assert_unchanged((X, y, coef), copies)
    with monkeypatch.context() as mp:
        _general(mp)
        slow = fastgrad.value_and_grad(X, y, coef, **kw)
        slow_g = fastgrad.grad(X, y, coef, **kw)
    _same(fast, slow)
    assert fast_g.tobytes() == slow_g.tobytes()
    # and the NumPy backend and the float64 reference agree
    Xr = X if rows is None else X[rows]
    yr = y if rows is None else y[rows]
    L, g = fastgrad.value_and_grad(X, y, coef, backend="numpy", **kw)
    np.testing.assert_allclose(fast[1], g, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-5 if dtype == np.float32 else 1e-12)
    assert_matches_ref(*fast, reference(Xr, yr, coef, loss=loss, fit_intercept=fit_intercept,
                                        reduction=reduction, l2=0.25), rtol_for(dtype))


def test_common_call_defaults_and_thread_counts(monkeypatch):
    X, y, coef, _ = make_problem(64, 32, seed=2)
    counts = (None, 1, 3, 10**6, np.int64(2), np.uint8(1))
    # every valid count is taken (one chunk: the count does not matter)
    for t in counts:
        assert _common(X, y, coef, n_threads=t) is not None
    fast = [fastgrad.value_and_grad(X, y, coef, n_threads=t) for t in counts]
    with monkeypatch.context() as mp:
        _general(mp)
        slow = fastgrad.value_and_grad(X, y, coef)
    for f in fast:
        _same(f, slow)


@pytest.mark.parametrize("case", [
    "X_subclass", "X_int", "X_byteswapped", "X_unaligned", "X_list", "y_other_dtype",
    "y_2d", "y_strided_unaligned", "coef_other_dtype", "coef_strided", "coef_2d_flat",
    "coef_list", "loss_np_str", "loss_multinomial", "reduction_np_str", "l2_int",
    "fit_intercept_int", "backend_numpy", "rows_negative",
    "rows_int32", "rows_empty", "rows_strided", "logistic_y_nan", "no_rows_of_X",
])
def test_what_the_common_call_leaves_to_the_general_path(monkeypatch, case):
    """Each of these is not taken by the lean entry, and the call's result is the
    general path's (which converts, copies or checks)."""
    X, y, coef, _ = make_problem(M, N, seed=3)
    kw = {}
    if case == "X_subclass":
        X = X.view(np.matrix)
        X = np.asarray(X).view(type("Sub", (np.ndarray,), {}))
    elif case == "X_int":
        X = (10 * X).astype(np.int64)
    elif case == "X_byteswapped":
        X = X.astype(X.dtype.newbyteorder())
    elif case == "X_unaligned":
        buf = np.zeros(X.size * 8 + 1, dtype=np.uint8)
        X2 = buf[1:].view(np.float64).reshape(X.shape)
        X2[...] = X
        X = X2
    elif case == "X_list":
        X = X.tolist()
    elif case == "y_other_dtype":
        y = y.astype(np.float32)
    elif case == "y_2d":
        y = y[:, None]
        coef = coef[:, None]
    elif case == "y_strided_unaligned":
        buf = np.zeros(y.size * 8 + 3, dtype=np.uint8)
        y2 = buf[3:].view(np.float64)
        y2[...] = y
        y = y2
    elif case == "coef_other_dtype":
        coef = coef.astype(np.float32)
    elif case == "coef_strided":
        coef = np.repeat(coef, 2)[::2]
    elif case == "coef_2d_flat":
        coef = coef[:, None]
        y = y[:, None]
        coef = coef.ravel()           # flat coef for 2-D y: reshaped by check_coef
    elif case == "coef_list":
        coef = coef.tolist()
    elif case == "loss_np_str":
        kw["loss"] = np.str_("squared")
    elif case == "loss_multinomial":
        kw["loss"] = "multinomial"
        y = (np.abs(y) * 2).astype(np.int64) % 3
        coef = np.zeros((N, 3))
    elif case == "reduction_np_str":
        kw["reduction"] = np.str_("sum")
    elif case == "l2_int":
        kw["l2"] = 1
    elif case == "fit_intercept_int":
        kw["fit_intercept"] = 1
        coef = np.append(coef, 0.5)
    elif case == "backend_numpy":
        kw["backend"] = "numpy"
    elif case == "rows_negative":
        kw["rows"] = np.array([-1, 0, -M, 5])
    elif case == "rows_int32":
        kw["rows"] = np.array([1, 0, 5], dtype=np.int32)
    elif case == "rows_empty":
        kw["rows"] = np.array([], dtype=np.intp)
        kw["reduction"] = "sum"
    elif case == "rows_strided":
        kw["rows"] = np.arange(10)[::2]
    elif case == "logistic_y_nan":
        kw["loss"] = "logistic"
        y = np.clip(y, 0, 1)
        y[4] = np.nan
    elif case == "no_rows_of_X":
        X, y = X[:0], y[:0]
        kw["reduction"] = "sum"
    fi = kw.get("fit_intercept", False)
    assert _common(X, y, coef, kw.get("rows"), kw.get("loss", "squared"), fi,
                   kw.get("l2", 0.0), kw.get("reduction", "mean"),
                   kw.get("n_threads"), kw.get("backend", "auto")) is None
    a = fastgrad.value_and_grad(X, y, coef, **kw)
    with monkeypatch.context() as mp:
        _general(mp)
        b = fastgrad.value_and_grad(X, y, coef, **kw)
    _same(a, b)


def _chunks(X, loss, rows=None):
    """The chunks the compiled core cuts a value_and_grad call into."""
    from fastgrad import _plan
    nat = _backends._native
    m = X.shape[0] if rows is None else len(rows)
    return nat.plan_of_call(X, m, 1, int(_plan.Loss[loss.upper()]), False, True,
                            rows is not None)[4]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("n", [8, 37])
@pytest.mark.parametrize("loss", ["squared", "logistic", "poisson", "gamma"])
def test_common_call_of_many_chunks(monkeypatch, dtype, layout, n, loss):
    """A call of several chunks is taken too, on the thread count the general
    path would use (None: the default count; 1; 2), with the same result bit
    for bit.  Its y range (logistic, poisson, gamma) is checked by the kernels
    in the pass itself: a bad y in the first row, inside a middle chunk or in
    the last row stops the pass before out= is written, and the general path
    raises naming the loss and the index; the arguments stay as they were."""
    from fastgrad import _plan
    isz = np.dtype(dtype).itemsize
    m0 = 3 * _plan.STREAM_BYTES // (n * isz)
    lc = _plan.Loss[loss.upper()]
    m = 37 + 3 * max(_plan.plan_dense(m0, n, 1, isz, sr, sc, lc, _plan.Mode.GRAD, False,
                                      1).chunk_rows for sr, sc in ((n, 1), (1, m0)))
    X, y, coef, _ = make_problem(m, n, loss=loss, fit_intercept=True, dtype=dtype, seed=5,
                                 coef_scale=0.1)
    X = _layout(X, layout)
    assert _chunks(X, loss) >= 3
    kw = dict(loss=loss, fit_intercept=True, l2=0.05)
    with monkeypatch.context() as mp:
        _general(mp)
        slow = fastgrad.value_and_grad(X, y, coef, n_threads=2, **kw)
    for t in (None, 1, 2):
        fast = _common(X, y, coef, None, loss, True, 0.05, "mean", t, "auto")
        assert fast is not None, t
        _same(fast, slow)
    if loss == "squared":
        return
    for at in (0, m // 2 + 3, m - 1):
        yb = y.copy()
        yb[at] = -1.0
        out = np.full_like(coef, 7.0)
        copies = snapshot(X, yb, coef)
        # (the logistic message names the value, the log-link ones the index)
        match = r"\[0, 1\].*logistic.*-1" if loss == "logistic" else rf"{loss}.*y\[{at}\]"
        for t in (1, 2):
            assert _common(X, yb, coef, None, loss, True, 0.05, "mean", t, "auto",
                           out=out) is None
            with pytest.raises(ValueError, match=match):
                fastgrad.value_and_grad(X, yb, coef, out=out, n_threads=t, **kw)
            assert (out == 7.0).all()
        assert_unchanged((X, yb, coef), copies)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("y_layout", ["contiguous", "strided"])
@pytest.mark.parametrize("bad", [np.nan, -0.25, 1.5, np.inf, -np.inf])
@pytest.mark.parametrize("at", [0, 1023, 1024, 2999])
def test_logistic_y_range_check_of_the_lean_entry(dtype, y_layout, bad, at):
    """The compiled range check (blocks of 1024 rows) sees one bad y wherever it
    is, in a y read with a stride too; with rows=, only the rows used count."""
    m = 3000
    X, y, coef, _ = make_problem(m, 5, seed=7)
    X, coef = X.astype(dtype), coef.astype(dtype)
    y01 = (y > 0).astype(dtype)
    if y_layout == "strided":
        holder = np.zeros(2 * m, dtype=dtype)
        holder[::2] = y01
        y01 = holder[::2]
    y01[at] = bad
    copies = snapshot(X, y01, coef)
    assert _common(X, y01, coef, loss="logistic") is None      # left to the general path
    if np.isnan(bad):   # the general path lets NaN through, as NumPy would
        loss, g = fastgrad.value_and_grad(X, y01, coef, loss="logistic")
        assert np.isnan(loss) and np.isnan(g).all()
    else:
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            fastgrad.value_and_grad(X, y01, coef, loss="logistic")
    # rows that skip the bad y: the lean entry takes the call, and agrees with
    # the same call on a copy of those rows
    rows = np.r_[np.arange(at), np.arange(at + 1, m)][::-1].copy()
    a = _common(X, y01, coef, rows=rows, loss="logistic")
    assert a is not None
    b = fastgrad.value_and_grad(X[rows], np.ascontiguousarray(y01[rows]), coef,
                                loss="logistic")
    assert np.isfinite(a[0])
    np.testing.assert_allclose(a[0], b[0], rtol=rtol_for(dtype))
    np.testing.assert_allclose(a[1], b[1], rtol=rtol_for(dtype), atol=1e-6)
    # rows that include it: declined again
    assert _common(X, y01, coef, rows=np.array([at, 0]), loss="logistic") is None
    assert_unchanged((X, y01, coef), copies)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("loss, bads", [("poisson", [-1e-30, -np.inf]),
                                        ("gamma", [0.0, -0.0, -2.0, -np.inf])])
@pytest.mark.parametrize("at", [0, 1024, 2999])
def test_log_link_y_domain_check_of_the_lean_entry(dtype, loss, bads, at):
    """The log-link losses' y domain (>= 0, > 0) in the lean entry's one pass: a
    y outside it anywhere is declined, and the general path raises naming the
    loss and the index; a NaN is declined and propagates (the general path's
    rule); rows that skip the bad y are taken, and agree with the same call on a
    copy of those rows."""
    m = 3000
    X, y, coef, _ = make_problem(m, 5, loss=loss, dtype=dtype, seed=8)
    rows = np.r_[np.arange(at), np.arange(at + 1, m)][::-1].copy()
    b = fastgrad.value_and_grad(X[rows], np.ascontiguousarray(y[rows]), coef, loss=loss)
    for bad in bads + [np.nan]:
        yb = y.copy()
        yb[at] = bad
        copies = snapshot(X, yb, coef)
        assert _common(X, yb, coef, loss=loss) is None
        if np.isnan(bad):
            L, g = fastgrad.value_and_grad(X, yb, coef, loss=loss)
            assert np.isnan(L) and np.isnan(g).all()
        else:
            with pytest.raises(ValueError, match=rf"{loss}.*y\[{at}\]"):
                fastgrad.value_and_grad(X, yb, coef, loss=loss)
        a = _common(X, yb, coef, rows=rows, loss=loss)
        assert a is not None
        np.testing.assert_allclose(a[0], b[0], rtol=rtol_for(dtype))
        np.testing.assert_allclose(a[1], b[1], rtol=rtol_for(dtype), atol=1e-6)
        assert _common(X, yb, coef, rows=np.array([at, 0]), loss=loss) is None
        assert_unchanged((X, yb, coef), copies)
    # the smallest positive y is in gamma's domain, in either dtype
    yb = y.copy()
    yb[at] = np.finfo(dtype).smallest_subnormal
    assert _common(X, yb, coef, loss=loss) is not None


@pytest.mark.parametrize("kw, exc, match", [
    (dict(loss="bogus"), ValueError, "loss="),
    (dict(reduction="avg"), ValueError, "reduction="),
    (dict(backend="gpu"), ValueError, "backend="),
    (dict(l2=-1.0), ValueError, "l2"),
    (dict(l2=float("inf")), ValueError, "l2"),
    (dict(l2=float("nan")), ValueError, "l2"),
    (dict(n_threads=0), ValueError, "n_threads"),
    (dict(n_threads=True), ValueError, "n_threads"),
    (dict(fit_intercept=2), ValueError, "fit_intercept"),
    (dict(fit_intercept=True), ValueError, "coef must have shape"),
    (dict(rows=np.array([0, M])), IndexError, "out of bounds"),
    (dict(rows=np.array([-M - 1])), IndexError, "out of bounds"),
    (dict(rows=np.array([[0, 1]])), ValueError, "1-D"),
    (dict(rows=np.array([0.0, 1.0])), TypeError, "integer"),
    (dict(rows=np.array([], dtype=np.intp)), ValueError, "positive total"),
    (dict(loss="logistic"), ValueError, r"\[0, 1\]"),
    (dict(loss="poisson"), ValueError, r"y must be >= 0 for loss='poisson'; y\[\d+\]"),
    (dict(loss="gamma"), ValueError, r"y must be > 0 for loss='gamma'; y\[\d+\]"),
])
def test_errors_of_calls_the_lean_entry_declines(kw, exc, match):
    X, y, coef, _ = make_problem(M, N, seed=4)
    y = y * 3.0           # outside [0, 1], some < 0: only the logistic and log-link cases care
    copies = snapshot(X, y, coef)
    for f in (fastgrad.value_and_grad, fastgrad.grad):
        with pytest.raises(exc, match=match):
            f(X, y, coef, **kw)
    assert_unchanged((X, y, coef), copies)


@pytest.mark.parametrize("others", [
    dict(), dict(loss="bogus"), dict(reduction="avg"), dict(backend="gpu"), dict(l2=-1.0),
    dict(fit_intercept=2), dict(coef="short"), dict(rows=np.array([0, M])),
    dict(loss="logistic"), dict(out=np.empty(N + 1)),
])
@pytest.mark.parametrize("n_threads", [0, -3, True, 2.0, "2", np.int64(0)])
def test_invalid_n_threads_among_other_errors(monkeypatch, others, n_threads):
    """The lean entry hands n_threads to _validation.check_n_threads after loss,
    reduction, backend and l2 (the arguments _check validates before it), so the
    error is the general path's whatever else is wrong, and nothing is written."""
    X, y, coef, _ = make_problem(M, N, seed=4)
    kw = dict(others, n_threads=n_threads)
    if kw.get("coef") == "short":
        del kw["coef"]
        coef = coef[:-1]
    if kw.get("loss") == "logistic":
        y = y * 3.0                              # outside [0, 1]
    copies = snapshot(X, y, coef)

    def error(**patch):
        with monkeypatch.context() as mp:
            if patch:
                _general(mp)
            with pytest.raises(Exception) as info:
                fastgrad.value_and_grad(X, y, coef, **kw)
        return type(info.value), str(info.value)

    assert error() == error(general=True)
    assert error()[0] is ValueError
    assert_unchanged((X, y, coef), copies)


@pytest.mark.parametrize("bad", ["y_short", "coef_short", "X_1d", "X_complex"])
def test_shape_and_type_errors_unchanged(bad):
    X, y, coef, _ = make_problem(M, N, seed=5)
    exc = ValueError
    if bad == "y_short":
        y = y[:-1]
    elif bad == "coef_short":
        coef = coef[:-1]
    elif bad == "X_1d":
        X = X[:, 0]
    else:
        X = X.astype(np.complex128)
        exc = TypeError
    with pytest.raises(exc):
        fastgrad.value_and_grad(X, y, coef)


# ---------------------------------------------------------------------------
# Objective's prepared problem


def _objective_pair(X, y, **kw):
    fast = fastgrad.Objective(X, y, **kw)
    slow = fastgrad.Objective(X, y, **kw)
    slow._native_plan = None              # the general path only
    return fast, slow


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("layout", ["C", "F", "strided", "negstride"])
@pytest.mark.parametrize("loss", ["squared", "logistic", "multinomial"])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_objective_plan_is_the_general_path(dtype, layout, loss, fit_intercept, weights,
                                            reduction):
    if loss == "multinomial":
        X, _, _, w = make_problem(M, N, weights=weights, dtype=dtype, seed=6)
        y = np.random.default_rng(6).integers(0, 3, M)
        coef = np.random.default_rng(7).standard_normal((N + fit_intercept, 3)).astype(dtype)
    else:
        X, y, coef, w = make_problem(M, N, loss=loss, fit_intercept=fit_intercept,
                                     weights=weights, dtype=dtype, seed=6)
    X = _layout(X, layout)
    fast, slow = _objective_pair(X, y, loss=loss, fit_intercept=fit_intercept,
                                 sample_weight=w, l2=0.5, reduction=reduction)
    assert fast._native_plan is not None
    rows = np.array([4, 4, 0, 36, 11, 2, 30], dtype=np.intp)
    copies = snapshot(X, y, coef)
    _same(fast(coef), slow(coef))
    _same(fast.value_and_grad(coef, rows=rows), slow.value_and_grad(coef, rows=rows))
    assert fast.grad(coef).tobytes() == slow.grad(coef).tobytes()
    assert fast.value(coef) == slow.value(coef)
    assert fast.value(coef, rows=rows) == slow.value(coef, rows=rows)
    assert_unchanged((X, y, coef), copies)
    # the prepared problem took the plain coef (None: the general path)
    assert fast._native_plan.value_and_grad(coef, None) is not None
    # and the NumPy backend agrees
    L, g = fastgrad.Objective(X, y, loss=loss, fit_intercept=fit_intercept, sample_weight=w,
                              l2=0.5, reduction=reduction, backend="numpy")(coef)
    np.testing.assert_allclose(fast(coef)[1], g, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("case", ["coef_other_dtype", "coef_strided", "coef_list", "coef_flat",
                                  "coef_subclass", "rows_negative", "rows_int32",
                                  "rows_weighted_mean", "out"])
def test_objective_what_the_plan_leaves_to_the_general_path(case):
    X, y, coef, w = make_problem(M, N, k=2, weights=True, seed=8)
    kw, rows = {}, None
    fast, slow = _objective_pair(X, y, sample_weight=w if case == "rows_weighted_mean" else None)
    if case == "coef_other_dtype":
        coef = coef.astype(np.float32)
    elif case == "coef_strided":
        coef = np.asfortranarray(coef)
    elif case == "coef_list":
        coef = coef.tolist()
    elif case == "coef_flat":
        coef = coef.ravel()           # as scipy.optimize passes it: a flat gradient back
    elif case == "coef_subclass":
        coef = coef.view(type("Sub", (np.ndarray,), {}))
    elif case == "rows_negative":
        rows = np.array([-1, 3, -M])
    elif case == "rows_int32":
        rows = np.array([1, 3], dtype=np.int32)
    elif case == "rows_weighted_mean":
        rows = np.array([1, 3, 3])
    elif case == "out":
        kw["out"] = np.empty((N, 2))
    if rows is not None:
        kw["rows"] = rows
        assert fast._native_plan.value_and_grad(coef, rows) is None
    elif case != "out":
        assert fast._native_plan.value_and_grad(coef, None) is None
    a = fast.value_and_grad(coef, **kw)
    if case == "out":
        kw["out"] = np.empty((N, 2))
    b = slow.value_and_grad(coef, **kw)
    _same(a, b)
    if case == "coef_flat":
        assert a[1].shape == (2 * N,)


@pytest.mark.parametrize("kw, exc, match", [
    (dict(rows=np.array([0, M])), IndexError, "out of bounds"),
    (dict(rows=np.array([0.5])), TypeError, "integer"),
    (dict(rows=np.array([], dtype=np.intp)), ValueError, "positive total"),
    (dict(coef_shape=(N + 1,)), ValueError, "coef must have shape"),
    (dict(coef_shape=(N, 1)), ValueError, "coef must have shape"),
])
def test_objective_errors_unchanged(kw, exc, match):
    X, y, coef, _ = make_problem(M, N, seed=9)
    obj = fastgrad.Objective(X, y)
    if "coef_shape" in kw:
        coef = np.zeros(kw.pop("coef_shape"))
    out = np.full(coef.shape if coef.shape == (N,) else (N,), 7.0)
    for call in (lambda: obj.value_and_grad(coef, **kw),
                 lambda: obj.value_and_grad(coef, out=out, **kw),
                 lambda: obj.value(coef, **kw)):
        with pytest.raises(exc, match=match):
            call()
    assert (out == 7.0).all()


def test_objective_threads_and_pickle(monkeypatch):
    X, y, coef, _ = make_problem(70_000, 16, loss="logistic", seed=10)   # several chunks
    objs = [fastgrad.Objective(X, y, loss="logistic", n_threads=t) for t in (None, 1, 2, 3)]
    # more than one chunk: the plan runs the call only with a thread count
    # (resolved by _validation.check_n_threads, which the Objective calls)
    plan = objs[0]._native_plan
    assert plan.value_and_grad(coef) is None and plan.value(coef) is None
    assert plan.value_and_grad(coef, np.arange(100)) is not None      # one chunk
    ref = objs[1](coef)
    for t in (1, 2, 3):
        _same(plan.threaded(coef, None, None, True, t), ref)
        assert plan.threaded(coef, None, None, False, t) == ref[0]
    for o in objs:
        _same(o(coef), ref)
    o2 = pickle.loads(pickle.dumps(objs[0]))
    _same(o2(coef), ref)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")   # None is resolved per call
    _same(objs[0](coef), ref)


# ---------------------------------------------------------------------------
# out=


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("with_rows", [False, True])
def test_out_taken_by_both_lean_paths(monkeypatch, dtype, with_rows):
    X, y, coef, _ = make_problem(M, N, loss="logistic", dtype=dtype, seed=11)
    rows = np.array([5, 1, 1, 30], dtype=np.intp) if with_rows else None
    kw = dict(loss="logistic", rows=rows)
    out = np.full(N, 7.0, dtype=dtype)
    assert _common(X, y, coef, rows, "logistic", out=out) is not None
    L, g = fastgrad.value_and_grad(X, y, coef, out=out, **kw)
    assert g is out
    with monkeypatch.context() as mp:
        _general(mp)
        out2 = np.empty_like(out)
        ref = fastgrad.value_and_grad(X, y, coef, out=out2, **kw)
    _same((L, g), ref)
    assert fastgrad.grad(X, y, coef, out=out, **kw) is out
    fast, slow = _objective_pair(X, y, loss="logistic")
    assert fast._native_plan.value_and_grad(coef, rows, out) is not None
    g1 = fast.grad(coef, rows=rows, out=out)
    assert g1 is out
    _same(fast.value_and_grad(coef, rows=rows, out=out),
          slow.value_and_grad(coef, rows=rows, out=np.empty_like(out)))


@pytest.mark.parametrize("case", ["overlaps_coef", "overlaps_X", "overlaps_y", "readonly",
                                  "other_dtype", "wrong_shape", "strided", "subclass",
                                  "list"])
def test_out_the_lean_paths_decline(case):
    """These outs go to the general path: its errors, or its result for a
    subclass (check_out takes any ndarray) and for bounds that merely interleave."""
    X, y, coef, _ = make_problem(M, N, seed=12)
    big = np.zeros(2 * N)
    out, match = np.empty(N), None
    if case == "overlaps_coef":
        out, match = coef, "overlap coef"
    elif case == "overlaps_X":
        out, match = X[0], "overlap X"
    elif case == "overlaps_y":
        out, match = y[:N], "overlap y"
    elif case == "readonly":
        out.flags.writeable = False
        match = "writeable"
    elif case == "other_dtype":
        out, match = np.empty(N, dtype=np.float32), "dtype"
    elif case == "wrong_shape":
        out, match = np.empty(N + 1), "shape"
    elif case == "strided":
        out, match = big[::2], "C-contiguous"
    elif case == "subclass":
        out = out.view(type("Sub", (np.ndarray,), {}))
    elif case == "list":
        out, match = [0.0] * N, "numpy array"
    assert _common(X, y, coef, out=out) is None
    obj = fastgrad.Objective(X, y)
    assert obj._native_plan.value_and_grad(coef, None, out) is None
    before = np.array(out, copy=True)
    for call in (lambda: fastgrad.value_and_grad(X, y, coef, out=out),
                 lambda: obj.value_and_grad(coef, out=out)):
        if match is None:
            L, g = call()
            assert g is out
            _same((L, np.asarray(g)), fastgrad.value_and_grad(X, y, coef))
        else:
            with pytest.raises(ValueError, match=match):
                call()
            np.testing.assert_array_equal(np.asarray(out), before)
