"""Objective: attributes, agreement with the functional API, check_input, scipy."""
import itertools

import numpy as np
import pytest
import scipy.optimize

import fastgrad
from conftest import (DTYPE_IDS, DTYPES, LAYOUTS, LOSSES, assert_matches_ref,
                      make_problem, reference, rtol_for)


# ---------------------------------------------------------------------------
# attributes


@pytest.mark.parametrize("k", [None, 1, 4], ids=["single", "k=1", "k=4"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["noicpt", "icpt"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_attributes(backend, dtype, fit_intercept, k):
    X, y, _, _ = make_problem(23, 6, k, dtype=dtype, seed=40)
    obj = fastgrad.Objective(X, y, fit_intercept=fit_intercept, backend=backend)
    assert obj.n_samples == 23
    assert obj.n_features == 6
    assert obj.n_outputs == (1 if k is None else k)
    p = 7 if fit_intercept else 6
    assert obj.coef_shape == ((p,) if k is None else (p, k))
    assert obj.dtype == np.dtype(dtype)
    L, g = obj(np.zeros(obj.coef_shape))
    assert isinstance(L, float)
    assert g.shape == obj.coef_shape and g.dtype == obj.dtype


@pytest.mark.parametrize("xdtype", [np.int64, np.int32, np.bool_])
def test_attributes_integer_X_is_float64(xdtype):
    X = (np.arange(30).reshape(10, 3) % 4).astype(xdtype)
    y = np.linspace(0, 1, 10)
    obj = fastgrad.Objective(X, y)
    assert obj.dtype == np.float64
    L, g = obj(np.ones(3))
    ref = reference(X.astype(np.float64), y, np.ones(3))
    assert_matches_ref(L, g, ref, rtol_for(np.float64))


# ---------------------------------------------------------------------------
# the methods and the functional API


KEYWORDS = list(itertools.product(
    LOSSES, [False, True], [False, True], [0.0, 0.5], ["mean", "sum"], [None, 2]))


@pytest.mark.parametrize(
    "loss,fit_intercept,weighted,l2,reduction,k", KEYWORDS,
    ids=[f"{lo}-{'icpt' if fi else 'noicpt'}-{'w' if wt else 'now'}-l2={l2}-{red}-k={k}"
         for lo, fi, wt, l2, red, k in KEYWORDS])
def test_matches_functional_api(backend, loss, fit_intercept, weighted, l2, reduction, k):
    X, y, coef, w = make_problem(41, 5, k, loss=loss, fit_intercept=fit_intercept,
                                 weights=weighted, seed=41)
    kw = dict(loss=loss, fit_intercept=fit_intercept, sample_weight=w, l2=l2,
              reduction=reduction, backend=backend)
    obj = fastgrad.Objective(X, y, **kw)
    L, g = obj.value_and_grad(coef)
    Lf, gf = fastgrad.value_and_grad(X, y, coef, **kw)
    assert L == Lf
    np.testing.assert_array_equal(g, gf)
    Lc, gc = obj(coef)                                   # __call__ is value_and_grad
    assert Lc == L
    np.testing.assert_array_equal(gc, g)
    np.testing.assert_array_equal(obj.grad(coef), fastgrad.grad(X, y, coef, **kw))
    v = np.cos(np.arange(coef.size)).reshape(coef.shape)
    np.testing.assert_array_equal(obj.hessp(coef, v), fastgrad.hessp(X, y, coef, v, **kw))
    # value is the loss of value_and_grad (computed without the gradient)
    val = obj.value(coef)
    assert isinstance(val, float)
    np.testing.assert_allclose(val, L, rtol=1e-14)
    out = np.empty_like(coef)
    L2, g2 = obj.value_and_grad(coef, out=out)
    assert g2 is out and L2 == L
    np.testing.assert_array_equal(out, g)
    out2 = np.empty_like(coef)
    assert obj.grad(coef, out=out2) is out2
    np.testing.assert_array_equal(out2, g)
    assert_matches_ref(L, g, reference(X, y, coef, **{a: b for a, b in kw.items()
                                                      if a != "backend"}),
                       rtol_for(np.float64))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_objective_layouts(backend, dtype, layout, to_layout):
    X0, y, coef, w = make_problem(64, 9, 2, loss="logistic", fit_intercept=True,
                                  weights=True, dtype=dtype, seed=42)
    X = to_layout(X0, layout)
    kw = dict(loss="logistic", fit_intercept=True, sample_weight=w, l2=0.1)
    obj = fastgrad.Objective(X, y, backend=backend, **kw)
    L, g = obj(coef)
    assert_matches_ref(L, g, reference(X0, y, coef, **kw), rtol_for(dtype))
    np.testing.assert_allclose(obj.value(coef), L, rtol=1e-14)


def test_objective_coef_may_be_list_and_other_dtype(backend):
    X, y, coef, _ = make_problem(20, 3, dtype=np.float32, seed=43)
    obj = fastgrad.Objective(X, y, backend=backend)
    L1, g1 = obj(coef)
    L2, g2 = obj(coef.astype(np.float64).tolist())
    assert L1 == L2 and g2.dtype == np.float32
    np.testing.assert_array_equal(g1, g2)


# ---------------------------------------------------------------------------
# check_input


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("layout", ["C", "F"])
def test_check_input_X(backend, layout, bad, to_layout):
    X, y, _, _ = make_problem(30, 4, seed=44)
    X[3, 2] = bad
    X[5, 0] = bad               # first in row order is (3, 2)
    X = to_layout(X, layout)
    with pytest.raises(ValueError, match=r"\bX\b.*\b3\b.*\b2\b"):
        fastgrad.Objective(X, y, backend=backend)


@pytest.mark.parametrize("k", [None, 3], ids=["1d", "2d"])
@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_check_input_y(backend, bad, k):
    X, y, _, _ = make_problem(30, 4, k, seed=45)
    if k is None:
        y[17] = bad
        y[20] = bad
        pat = r"\by\b.*\b17\b"
    else:
        y[17, 1] = bad
        y[20, 0] = bad
        pat = r"\by\b.*\b17\b.*\b1\b"
    with pytest.raises(ValueError, match=pat):
        fastgrad.Objective(X, y, backend=backend)


def test_check_input_large_X_late_bad_index(backend):
    """The scan covers every row (past any internal block size)."""
    X, y, _, _ = make_problem(20000, 3, seed=46)
    X[19998, 1] = np.nan
    with pytest.raises(ValueError, match=r"\bX\b.*19998.*\b1\b"):
        fastgrad.Objective(X, y, backend=backend)


@pytest.mark.parametrize("where", ["X", "y"])
def test_check_input_false_does_not_scan(backend, where, monkeypatch):
    X, y, coef, _ = make_problem(30, 4, seed=47)
    (X if where == "X" else y)[4, ...] = np.nan
    # no scan: nothing raises, and np.isfinite is never called over X or y
    calls = []
    real = np.isfinite

    def spy(a, *args, **kwargs):
        calls.append(np.shape(a))
        return real(a, *args, **kwargs)

    monkeypatch.setattr(np, "isfinite", spy)
    obj = fastgrad.Objective(X, y, check_input=False, backend=backend)
    monkeypatch.undo()
    assert X.shape not in calls and y.shape not in calls
    L, g = obj(coef)
    assert np.isnan(L)
    assert np.isnan(g).any()


def test_check_input_does_not_cover_coef(backend):
    """coef is not part of the construction: NaN in it propagates from calls."""
    X, y, coef, _ = make_problem(30, 4, seed=48)
    obj = fastgrad.Objective(X, y, backend=backend)
    coef[1] = np.nan
    L, g = obj(coef)
    assert np.isnan(L) and np.isnan(g).all()


# ---------------------------------------------------------------------------
# scipy.optimize


def _ridge_solution(X, y, w, l2, fit_intercept):
    """argmin of sum w (Xθ + b − y)²/(2 Σw) + l2/2 |θ|²  (normal equations)."""
    Xd = np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X
    w = np.ones(X.shape[0]) if w is None else w
    D = w.sum()
    A = (Xd * w[:, None]).T @ Xd / D
    pen = np.ones(Xd.shape[1])
    if fit_intercept:
        pen[-1] = 0.0
    A += l2 * np.diag(pen)
    return np.linalg.solve(A, Xd.T @ (w * y) / D)


@pytest.mark.parametrize("fit_intercept,weighted", [(False, False), (True, True)],
                         ids=["plain", "icpt+w"])
def test_lbfgs_ridge_closed_form(backend, fit_intercept, weighted):
    X, y, _, w = make_problem(300, 8, weights=weighted, seed=49)
    y = y + X @ np.arange(8) / 4.0 + 2.0
    l2 = 0.3
    obj = fastgrad.Objective(X, y, l2=l2, fit_intercept=fit_intercept, sample_weight=w,
                             backend=backend)
    x0 = np.zeros(obj.coef_shape)
    res = scipy.optimize.minimize(obj, x0, jac=True, method="L-BFGS-B",
                                  options=dict(gtol=1e-12, ftol=1e-15, maxiter=1000))
    assert res.success, res.message
    assert np.abs(obj.grad(res.x)).max() < 1e-7
    if not fit_intercept and not weighted:    # the documented closed form
        m = X.shape[0]
        sol = np.linalg.solve(X.T @ X / m + l2 * np.eye(8), X.T @ y / m)
        np.testing.assert_allclose(_ridge_solution(X, y, None, l2, False), sol, rtol=1e-12)
    sol = _ridge_solution(X, y, w, l2, fit_intercept)
    np.testing.assert_allclose(res.x, sol, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("method", ["trust-ncg", "Newton-CG"])
def test_newton_methods_logistic(backend, method):
    X, y, _, w = make_problem(400, 6, loss="logistic", fit_intercept=True, weights=True,
                              seed=50)
    obj = fastgrad.Objective(X, y, loss="logistic", fit_intercept=True, sample_weight=w,
                             l2=0.05, backend=backend)
    x0 = np.zeros(obj.coef_shape)
    opts = {"xtol": 1e-12} if method == "Newton-CG" else {"gtol": 1e-10}
    res = scipy.optimize.minimize(obj, x0, jac=True, hessp=obj.hessp, method=method,
                                  options=opts)
    assert np.abs(obj.grad(res.x)).max() < 1e-8
    ref = scipy.optimize.minimize(obj, x0, jac=True, method="L-BFGS-B",
                                  options=dict(gtol=1e-12, ftol=1e-15, maxiter=1000))
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-5, atol=1e-6)
    assert obj.value(res.x) <= obj.value(ref.x) + 1e-12


def test_newton_cg_ridge_exact(backend):
    """One Newton step solves the squared loss: the result is the closed form."""
    X, y, _, _ = make_problem(200, 5, seed=51)
    obj = fastgrad.Objective(X, y, l2=0.2, backend=backend)
    res = scipy.optimize.minimize(obj, np.zeros(5), jac=True, hessp=obj.hessp,
                                  method="trust-ncg", options={"gtol": 1e-12})
    m = X.shape[0]
    sol = np.linalg.solve(X.T @ X / m + 0.2 * np.eye(5), X.T @ y / m)
    np.testing.assert_allclose(res.x, sol, rtol=1e-9, atol=1e-11)


def test_multi_output_flattened_for_scipy(backend):
    """A (n, k) problem driven through a flat vector, as scipy does."""
    X, y, _, _ = make_problem(150, 4, 3, seed=52)
    obj = fastgrad.Objective(X, y, l2=0.1, backend=backend)

    def fun(x):
        L, g = obj(x.reshape(obj.coef_shape))
        return L, g.ravel()

    res = scipy.optimize.minimize(fun, np.zeros(12), jac=True, method="L-BFGS-B",
                                  options=dict(gtol=1e-12, ftol=1e-15))
    m = X.shape[0]
    sol = np.linalg.solve(X.T @ X / m + 0.1 * np.eye(4), X.T @ y / m)
    np.testing.assert_allclose(res.x.reshape(4, 3), sol, rtol=1e-6, atol=1e-7)
