"""The log-link losses (poisson, gamma, tweedie with power=p) against the closed
forms of API.md (conftest.reference), scikit-learn's HalfPoissonLoss /
HalfGammaLoss / HalfTweedieLoss, central differences, and at extreme z."""
import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize

import fastgrad
from conftest import (DTYPE_IDS, DTYPES, GLM_IDS, GLM_LOSSES, REDUCTIONS, as_layout,
                      assert_grad_matches, assert_matches_ref, assert_unchanged, glm_power,
                      make_problem, reference, reference_hessp, rtol_for, skip_if_no_native,
                      snapshot)

sk_loss = pytest.importorskip("sklearn._loss.loss")

M, N, K = 37, 7, 3
LAYOUTS3 = ["C", "F", "strided"]


def _sk(loss, power):
    if loss == "poisson":
        return sk_loss.HalfPoissonLoss()
    if loss == "gamma":
        return sk_loss.HalfGammaLoss()
    return sk_loss.HalfTweedieLoss(power=power)


def _kw(loss, power, **kw):
    return dict(kw, loss=loss, **({} if power is None else {"power": power}))


def _y_for(loss, power, z, rng):
    """y in the loss's domain, of z's shape."""
    p = glm_power(loss, power)
    if p < 0:
        return rng.standard_normal(z.shape) * 3
    if p < 2:
        y = rng.poisson(2.0, z.shape).astype(float)
        y[::3] = rng.uniform(0, 5, y[::3].shape)
        return y
    return rng.gamma(2.0, 1.0, z.shape) + 1e-3


# ---------------------------------------------------------------------------
# pointwise: against scikit-learn's own classes on the same raw predictions


@pytest.mark.parametrize("loss,power", GLM_LOSSES + [("tweedie", 0.0), ("tweedie", 1.0),
                                                     ("tweedie", 2.0), ("tweedie", 1.2)],
                         ids=GLM_IDS + ["tweedie0", "tweedie1", "tweedie2", "tweedie1.2"])
def test_pointwise_equals_sklearn(backend, loss, power):
    """X = I and coef = z: the gradient is l'(z, y), H 1 is l''(z, y), and the loss
    of row i alone (rows=[i], reduction="sum") is l(z_i, y_i); all equal to
    scikit-learn's loss / gradient / gradient_hessian to 1e-12 in float64."""
    rng = np.random.default_rng(3)
    z = np.r_[np.linspace(-30, 30, 61), rng.uniform(-3, 3, 40)]
    y = _y_for(loss, power, z, rng)
    m = z.size
    X = np.eye(m)
    kw = _kw(loss, power, reduction="sum", backend=backend)
    sk = _sk(loss, power)
    ls = sk.loss(y, z)
    if glm_power(loss, power) == 0.0:
        ls = ls - 0.5 * y * y        # scikit-learn keeps y^2/2 at power=0; API.md drops it
    gs, hs = sk.gradient_hessian(y, z)
    np.testing.assert_allclose(sk.gradient(y, z), gs, rtol=1e-15)

    g = fastgrad.grad(X, y, z, **kw)
    h = fastgrad.hessp(X, y, z, np.ones(m), **kw)
    obj = fastgrad.Objective(X, y, **kw)
    lv = np.array([obj.value(z, rows=[i]) for i in range(m)])
    # magnitudes of the terms (the loss cancels near its minimum, as in sklearn)
    p = glm_power(loss, power)
    a, b = np.exp((2 - p) * z), np.abs(y) * np.exp((1 - p) * z)
    scale = a + b + (np.abs(y * z) + np.abs(z) if p in (1.0, 2.0) else 0.0)
    # (at power 0, sklearn's 0.5 (e^z - y)^2 minus y^2/2 cancels on the scale y^2)
    lscale = scale + (y * y if p == 0.0 else 0.0)
    assert np.all(np.abs(lv - ls) <= 1e-12 * lscale), np.max(np.abs(lv - ls) / lscale)
    assert np.all(np.abs(g - gs) <= 1e-12 * (a + b))
    assert np.all(np.abs(h - hs) <= 1e-12 * (np.abs(2 - p) * a + np.abs(1 - p) * b))
    # and the sum over all rows is value_and_grad's loss
    L = fastgrad.value_and_grad(X, y, z, **kw)[0]
    np.testing.assert_allclose(L, ls.sum(), rtol=1e-12, atol=1e-12 * lscale.sum())


@pytest.mark.parametrize("loss,power", GLM_LOSSES, ids=GLM_IDS)
def test_extreme_z_no_nan_no_warning(backend, loss, power):
    """z from -700 to +700: finite where the mathematics is, the right inf beyond
    exp's range (z = +-800, and tweedie's both-overflow corners), never NaN; no
    warning (pyproject turns warnings into errors)."""
    rng = np.random.default_rng(5)
    z = np.r_[np.linspace(-700, 700, 141), -800.0, 800.0, -1e5, 1e5]
    y = np.abs(_y_for(loss, power, z, rng)) + 0.5          # in every domain
    # one row per call (X = [[1]], coef = z_i): a sum over rows would meet 0 * inf
    X1, one = np.ones((1, 1)), np.ones(1)
    kw = _kw(loss, power, reduction="sum", backend=backend)
    lv, g, h = (np.array(a) for a in zip(*(
        fastgrad.value_and_grad(X1, y[i:i + 1], z[i:i + 1], **kw)[:1]
        + (fastgrad.grad(X1, y[i:i + 1], z[i:i + 1], **kw)[0],
           fastgrad.hessp(X1, y[i:i + 1], z[i:i + 1], one, **kw)[0])
        for i in range(z.size))))
    for arr in (lv, g, h):
        assert not np.isnan(arr).any()
    p = glm_power(loss, power)
    # the exponents, as numbers: a term overflows where its exponent passes ~709.78
    ea, eb = (2 - p) * z, (1 - p) * z + np.log(y)
    big = np.maximum(ea, eb)
    fin = big < 700
    with np.errstate(all="ignore"):
        sk = _sk(loss, power)
        ls, (gs, hs) = sk.loss(y[fin], z[fin]), sk.gradient_hessian(y[fin], z[fin])
    if p == 0.0:
        ls = ls - 0.5 * y[fin] ** 2
    sc = np.exp(big[fin]) + np.abs(z[fin] * y[fin]) + np.abs(z[fin])
    assert np.all(np.abs(lv[fin] - ls) <= 1e-11 * sc)
    assert np.all(np.abs(g[fin] - gs) <= 1e-11 * sc)
    assert np.all(np.abs(h[fin] - hs) <= 1e-11 * sc * (1 + abs(p)))
    # beyond exp's range: the larger exponential dominates every quantity; the loss
    # and l'' are +inf there (positive terms), l' is +-inf by the dominant term
    over = big > 712
    assert over.any()
    assert np.all(lv[over] == np.inf)
    assert np.all(np.isinf(g[over]))
    assert np.all(h[over] == np.inf)
    sign = np.where(ea > eb, 1.0, -1.0)        # l' = a - y b
    np.testing.assert_array_equal(np.sign(g[over]), sign[over])


# ---------------------------------------------------------------------------
# the sweep: every backend x dtype x layout x keyword, against the closed forms


@pytest.mark.parametrize("loss,power", GLM_LOSSES, ids=GLM_IDS)
@pytest.mark.parametrize("layout", LAYOUTS3)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_sweep_against_closed_forms(backend, dtype, layout, loss, power, to_layout):
    for fit_intercept, weighted, l2, reduction, k in itertools.product(
            [False, True], [False, True], [0.0, 0.7], REDUCTIONS, [None, K]):
        X0, y, coef, w = make_problem(M, N, k, loss=loss, power=power, seed=1,
                                      fit_intercept=fit_intercept, weights=weighted,
                                      dtype=dtype)
        X = to_layout(X0, layout)
        kw = _kw(loss, power, fit_intercept=fit_intercept, sample_weight=w, l2=l2,
                 reduction=reduction)
        what = f"{kw} k={k}"
        ref = reference(X0, y, coef, **kw)
        before = snapshot(X, y, coef, w)
        L, g = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
        assert g.dtype == np.dtype(dtype) and g.shape == coef.shape
        assert_matches_ref(L, g, ref, rtol_for(dtype), what)
        out = np.full(coef.shape, np.nan, dtype=dtype)
        L2, g2 = fastgrad.value_and_grad(X, y, coef, out=out, backend=backend, **kw)
        assert g2 is out and L2 == L
        np.testing.assert_array_equal(out, g)
        np.testing.assert_array_equal(fastgrad.grad(X, y, coef, backend=backend, **kw), g)
        v = np.linspace(-1, 1, coef.size).reshape(coef.shape).astype(dtype)
        Hv, S = reference_hessp(X0, y, coef, v, **kw)
        assert_grad_matches(fastgrad.hessp(X, y, coef, v, backend=backend, **kw), Hv, S,
                            rtol_for(dtype), what + " hessp")
        # Objective: value, value_and_grad, hessp, the same numbers
        obj = fastgrad.Objective(X, y, backend=backend, **kw)
        Lo, go = obj.value_and_grad(coef)
        assert_matches_ref(Lo, go, ref, rtol_for(dtype), what + " Objective")
        assert obj.value(coef) == pytest.approx(Lo, rel=1e-12)
        assert_grad_matches(obj.hessp(coef, v), Hv, S, rtol_for(dtype), what + " obj.hessp")
        assert_unchanged([X, y, coef, w], before)


@pytest.mark.parametrize("loss,power", GLM_LOSSES, ids=GLM_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_rows_and_csr(backend, dtype, loss, power):
    """rows= (negative and repeated indices) equals the call on the selected rows;
    a CSR X equals the dense one; both for the function and the Objective."""
    X, y, coef, w = make_problem(300, 9, None, loss=loss, power=power, seed=2,
                                 fit_intercept=True, weights=True, dtype=dtype)
    X[np.random.default_rng(0).uniform(size=X.shape) < 0.6] = 0
    kw = _kw(loss, power, fit_intercept=True, sample_weight=w, l2=0.1, backend=backend)
    rows = np.r_[np.arange(0, 300, 7), [-1, -1, 3]]
    rk = {k: v for k, v in kw.items() if k != "backend"}
    ref = reference(X, y, coef, rows=rows, **rk)
    rt = rtol_for(dtype)
    assert_matches_ref(*fastgrad.value_and_grad(X, y, coef, rows=rows, **kw), ref, rt, "rows")
    obj = fastgrad.Objective(X, y, **kw)
    assert_matches_ref(*obj.value_and_grad(coef, rows=rows), ref, rt, "obj rows")
    Xs = sp.csr_matrix(X)
    ref_all = reference(X, y, coef, **rk)
    assert_matches_ref(*fastgrad.value_and_grad(Xs, y, coef, **kw), ref_all, rt, "csr")
    assert_matches_ref(*fastgrad.value_and_grad(Xs, y, coef, rows=rows, **kw), ref, rt,
                       "csr rows")
    v = np.linspace(-1, 1, coef.size).astype(dtype)
    Hv, S = reference_hessp(X, y, coef, v, **rk)
    assert_grad_matches(fastgrad.hessp(Xs, y, coef, v, **kw), Hv, S, rt, "csr hessp")
    objs = fastgrad.Objective(Xs, y, **kw)
    assert_matches_ref(*objs.value_and_grad(coef), ref_all, rt, "csr Objective")
    # CSR with several outputs
    X2, y2, c2, _ = make_problem(120, 6, 2, loss=loss, power=power, seed=9, dtype=dtype)
    X2[X2 < 0.3] = 0
    assert_matches_ref(*fastgrad.value_and_grad(sp.csr_matrix(X2), y2, c2,
                                                **_kw(loss, power, backend=backend)),
                       reference(X2, y2, c2, **_kw(loss, power)), rt, "csr k=2")


@pytest.mark.parametrize("loss,power", GLM_LOSSES, ids=GLM_IDS)
def test_large_chunks_and_threads(loss, power):
    """Several chunks (the threaded driver, the F-order column path with blocks, the
    row path from memory): the closed forms, and bitwise equal for n_threads 1, 2."""
    skip_if_no_native("native")
    X, y, coef, _ = make_problem(20000, 40, None, loss=loss, power=power, seed=11,
                                 coef_scale=0.1)
    ref = reference(X, y, coef, **_kw(loss, power))
    for layout in ("C", "F"):
        Xl = as_layout(X, layout)
        r1 = fastgrad.value_and_grad(Xl, y, coef, n_threads=1, backend="native",
                                     **_kw(loss, power))
        r2 = fastgrad.value_and_grad(Xl, y, coef, n_threads=2, backend="native",
                                     **_kw(loss, power))
        assert r1[0] == r2[0]
        np.testing.assert_array_equal(r1[1], r2[1])
        assert_matches_ref(*r1, ref, 1e-11, layout)


# ---------------------------------------------------------------------------
# derivatives


def _central_diff(f, x, h):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g


@pytest.mark.parametrize("k", [None, 2], ids=["single", "multi"])
@pytest.mark.parametrize("loss,power", GLM_LOSSES, ids=GLM_IDS)
def test_grad_and_hessp_are_derivatives(backend, loss, power, k):
    X, y, coef, w = make_problem(40, 5, k, loss=loss, power=power, fit_intercept=True,
                                 weights=True, seed=4)
    kw = _kw(loss, power, fit_intercept=True, sample_weight=w, l2=0.25, backend=backend)
    g = fastgrad.grad(X, y, coef, **kw)
    fd = _central_diff(lambda c: fastgrad.value_and_grad(X, y, c, **kw)[0], coef, 1e-5)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7 * np.abs(fd).max())
    v = np.random.default_rng(1).standard_normal(coef.shape)
    Hv = fastgrad.hessp(X, y, coef, v, **kw)
    h = 1e-5
    fdH = (fastgrad.grad(X, y, coef + h * v, **kw) - fastgrad.grad(X, y, coef - h * v, **kw)) \
        / (2 * h)
    np.testing.assert_allclose(Hv, fdH, rtol=1e-6, atol=1e-7 * np.abs(fdH).max())


# ---------------------------------------------------------------------------
# tweedie with power 1 and 2 is poisson and gamma


@pytest.mark.parametrize("p,name", [(1, "poisson"), (2.0, "gamma")])
def test_tweedie_power_1_2(backend, p, name):
    X, y, coef, w = make_problem(50, 4, None, loss=name, seed=6, weights=True)
    kw = dict(sample_weight=w, backend=backend)
    a = fastgrad.value_and_grad(X, y, coef, loss="tweedie", power=p, **kw)
    b = fastgrad.value_and_grad(X, y, coef, loss=name, **kw)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])
    obj = fastgrad.Objective(X, y, loss="tweedie", power=p, **kw)
    assert obj.loss == "tweedie" and obj.power == float(p)
    assert obj.value(coef) == b[0]


# ---------------------------------------------------------------------------
# accuracy of float32 on many rows


def test_float32_accuracy_tall():
    """4,000,000 x 8 float32: loss and gradient within 1e-5 (relative) of a float64
    reference computed blockwise with NumPy from the closed forms (one call each)."""
    skip_if_no_native("native")
    m, n = 4_000_000, 8
    rng = np.random.default_rng(21)
    X = rng.standard_normal((m, n), dtype=np.float32)
    coef = (0.2 * rng.standard_normal(n)).astype(np.float32)
    z = None
    for loss, power in [("poisson", None), ("tweedie", 1.5)]:
        if z is None:       # float64 (X's values exactly), by blocks: no 256 MB copy
            c64 = coef.astype(np.float64)
            z = np.concatenate([X[s:s + 500_000].astype(np.float64) @ c64
                                for s in range(0, m, 500_000)])
            y = rng.poisson(np.exp(z)).astype(np.float32)
        L, g = fastgrad.value_and_grad(X, y, coef, backend="native", **_kw(loss, power))
        yd = y.astype(np.float64)
        p = glm_power(loss, power)
        a, b = np.exp((2 - p) * z), np.exp((1 - p) * z)
        ell = a - yd * z if p == 1 else a / (2 - p) - yd * b / (1 - p)
        Lr = ell.sum() / m
        d = a - yd * b
        gr = np.zeros(n)
        for s in range(0, m, 500_000):
            gr += X[s:s + 500_000].astype(np.float64).T @ d[s:s + 500_000]
        gr /= m
        assert abs(L - Lr) <= 1e-5 * abs(Lr)
        assert np.max(np.abs(g - gr)) <= 1e-5 * np.max(np.abs(gr))


# ---------------------------------------------------------------------------
# the end-to-end case: scipy's L-BFGS on the Objective fits scikit-learn's model


@pytest.mark.parametrize("name", ["poisson", "gamma", "tweedie"])
def test_lbfgs_fit_matches_sklearn(name):
    from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor
    rng = np.random.default_rng(7)
    X = rng.standard_normal((400, 5))
    mu = np.exp(X @ (0.3 * rng.standard_normal(5)) + 0.2)
    if name == "gamma":
        y, est, kw = rng.gamma(2.0, mu / 2.0), GammaRegressor(alpha=0.1, tol=1e-10), {}
    elif name == "poisson":
        y, est, kw = rng.poisson(mu).astype(float), PoissonRegressor(alpha=0.1, tol=1e-10), {}
    else:
        y = rng.poisson(mu) * rng.gamma(2.0, 0.5, 400)
        est, kw = TweedieRegressor(power=1.5, link="log", alpha=0.1, tol=1e-10), {"power": 1.5}
    est.set_params(max_iter=1000).fit(X, y)
    obj = fastgrad.Objective(X, y, loss=name, fit_intercept=True, l2=0.1, **kw)
    res = minimize(obj, np.zeros(6), jac=True, method="L-BFGS-B",
                   options=dict(gtol=1e-12, ftol=1e-15, maxiter=1000))
    np.testing.assert_allclose(res.x[:5], est.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(res.x[5], est.intercept_, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("loss,power,bad,text", [
    ("poisson", None, -1.0, ">= 0 for loss='poisson'"),
    ("gamma", None, 0.0, "> 0 for loss='gamma'"),
    ("gamma", None, -2.0, "> 0 for loss='gamma'"),
    ("tweedie", 1.5, -0.5, ">= 0 for loss='tweedie' with power=1.5"),
    ("tweedie", 1.0, -0.5, ">= 0 for loss='tweedie' with power=1.0"),
    ("tweedie", 3.0, 0.0, "> 0 for loss='tweedie' with power=3.0"),
])
def test_y_outside_domain(backend, loss, power, bad, text):
    X, y, coef, _ = make_problem(30, 3, None, loss=loss, power=power, seed=1)
    y = y + 1.0
    y[[0, 5]] = np.nan          # NaN propagates; it does not hide the bad value
    y[17] = bad
    y[23] = bad
    out = np.full(coef.shape, 7.0)
    before = snapshot(X, y, coef, out)
    kw = _kw(loss, power, backend=backend)
    for call in (lambda: fastgrad.value_and_grad(X, y, coef, out=out, **kw),
                 lambda: fastgrad.grad(X, y, coef, **kw),
                 lambda: fastgrad.hessp(X, y, coef, coef, **kw),
                 lambda: fastgrad.Objective(X, y, **kw),
                 lambda: fastgrad.value_and_grad(sp.csr_matrix(X), y, coef, **kw)):
        with pytest.raises(ValueError, match="y must be " + text.replace("(", r"\(")) as e:
            call()
        assert "y[17]" in str(e.value)
    assert_unchanged([X, y, coef, out], before)
    # rows=: the index into y is named; rows that avoid the bad values are fine
    with pytest.raises(ValueError, match=r"y\[23\]"):
        fastgrad.value_and_grad(X, y, coef, rows=[1, 23, 17], **kw)
    L, _ = fastgrad.value_and_grad(X, y, coef, rows=[1, 2, 3], **kw)
    assert np.isfinite(L)
    # 2-D y: the (row, column) index
    Y = np.ones((30, 2))
    Y[4, 1] = bad
    with pytest.raises(ValueError, match=r"y\[4, 1\]"):
        fastgrad.value_and_grad(X, Y, np.zeros((3, 2)), **kw)


def test_tweedie_negative_power_takes_any_y(backend):
    X, y, coef, _ = make_problem(30, 3, None, loss="tweedie", power=-1.0, seed=1)
    y[0] = -5.0
    L, g = fastgrad.value_and_grad(X, y, coef, loss="tweedie", power=-1.0, backend=backend)
    assert_matches_ref(L, g, reference(X, y, coef, loss="tweedie", power=-1.0), 1e-11)


@pytest.mark.parametrize("kw,match", [
    (dict(loss="tweedie"), "loss='tweedie' needs power="),
    (dict(loss="tweedie", power=None), "loss='tweedie' needs power="),
    (dict(loss="tweedie", power=0.5), "power=0.5 is not valid"),
    (dict(loss="tweedie", power=0.999), "power=0.999 is not valid"),
    (dict(loss="tweedie", power=np.nan), "power must be finite"),
    (dict(loss="tweedie", power="1.5"), "power must be a real number"),
    (dict(loss="tweedie", power=True), "power must be a real number"),
    (dict(loss="poisson", power=1.0), "power is only for loss='tweedie'"),
    (dict(loss="squared", power=1.5), "power is only for loss='tweedie'"),
    (dict(loss="logistic", power=0.0), "power is only for loss='tweedie'"),
])
def test_power_errors(backend, kw, match):
    X, y, coef, _ = make_problem(20, 3, None, loss="poisson", seed=2)
    y = np.minimum(y, 1.0)                       # valid for every loss listed
    out = np.full(coef.shape, 3.0)
    before = snapshot(X, y, coef, out)
    for call in (lambda: fastgrad.value_and_grad(X, y, coef, out=out, backend=backend, **kw),
                 lambda: fastgrad.grad(X, y, coef, backend=backend, **kw),
                 lambda: fastgrad.hessp(X, y, coef, coef, backend=backend, **kw),
                 lambda: fastgrad.Objective(X, y, backend=backend, **kw)):
        with pytest.raises(ValueError, match=match.replace("(", r"\(")):
            call()
    assert_unchanged([X, y, coef, out], before)


def test_loss_names_listed():
    with pytest.raises(ValueError, match="'poisson', 'gamma', 'tweedie'"):
        fastgrad.value_and_grad(np.ones((2, 1)), np.ones(2), np.ones(1), loss="Poisson")


# ---------------------------------------------------------------------------
# fastgrad.dask


@pytest.mark.parametrize("loss,power", GLM_LOSSES, ids=GLM_IDS)
def test_dask(loss, power):
    da = pytest.importorskip("dask.array")
    import fastgrad.dask as fd
    X, y, coef, w = make_problem(90, 4, None, loss=loss, power=power, seed=3,
                                 fit_intercept=True, weights=True)
    Xd, yd, wd = da.from_array(X, chunks=(25, 4)), da.from_array(y, chunks=25), \
        da.from_array(w, chunks=25)
    kw = _kw(loss, power, fit_intercept=True, l2=0.2)
    ref = reference(X, y, coef, sample_weight=w, **kw)
    assert_matches_ref(*fd.value_and_grad(Xd, yd, coef, sample_weight=wd, **kw), ref, 1e-11)
    obj = fd.Objective(Xd, yd, sample_weight=wd, **kw)
    assert_matches_ref(*obj.value_and_grad(coef), ref, 1e-11, "dask Objective")
    v = np.linspace(-1, 1, coef.size)
    Hv, S = reference_hessp(X, y, coef, v, sample_weight=w, **kw)
    assert_grad_matches(fd.hessp(Xd, yd, coef, v, sample_weight=wd, **kw), Hv, S, 1e-11)
    # a y outside the domain in the third chunk: its global index
    if glm_power(loss, power) >= 1:
        yb = y.copy()
        yb[60] = -1.0
        with pytest.raises(ValueError, match=r"y\[60\]"):
            fd.value_and_grad(Xd, da.from_array(yb, chunks=25), coef, **kw)
    with pytest.raises(ValueError, match="power"):
        fd.value_and_grad(Xd, yd, coef, loss="squared", power=1.5)


@pytest.mark.parametrize("loss,power", [("gamma", None), ("tweedie", 3.0), ("tweedie", -1.0)],
                         ids=["gamma", "tweedie3", "tweedie-1"])
def test_every_kernel_path_hessp_reads_y(backend, loss, power, to_layout):
    """l'' of gamma and tweedie depends on y: every kernel path (the row paths for
    n = 4 NV and other n, the F-order column paths, small n, rows=, float32 and
    float64, one and several outputs) gathers y for hessp as for the gradient."""
    for n, layout, k, use_rows, dtype in itertools.product(
            [1, 2, 4, 8, 12, 16, 33], ["C", "F"], [None, 2], [False, True],
            [np.float64, np.float32]):
        X0, y, coef, w = make_problem(150, n, k, loss=loss, power=power, seed=n,
                                      fit_intercept=True, weights=True, dtype=dtype)
        X = to_layout(X0, layout)
        rows = np.r_[np.arange(0, 150, 3), [7, 7, -2]] if use_rows else None
        kw = _kw(loss, power, fit_intercept=True, sample_weight=w, l2=0.1)
        v = np.cos(np.arange(coef.size)).reshape(coef.shape).astype(dtype)
        Hv, S = reference_hessp(X0, y, coef, v, rows=rows, **kw)
        what = f"n={n} {layout} k={k} rows={use_rows} {np.dtype(dtype)}"
        assert_grad_matches(fastgrad.hessp(X, y, coef, v, rows=rows, backend=backend, **kw),
                            Hv, S, rtol_for(dtype), what)
        if layout == "C":          # and the CSR paths (one and several outputs, rows=)
            assert_grad_matches(fastgrad.hessp(sp.csr_matrix(X0), y, coef, v, rows=rows,
                                               backend=backend, **kw),
                                Hv, S, rtol_for(dtype), what + " CSR")
        assert_matches_ref(*fastgrad.value_and_grad(X, y, coef, rows=rows, backend=backend,
                                                    **kw),
                           reference(X0, y, coef, rows=rows, **kw), rtol_for(dtype), what)


@pytest.mark.parametrize("what,val", [(w, v) for w in ("X", "y", "coef")
                                      for v in (np.nan, np.inf, -np.inf)],
                         ids=[f"{w}-{v}" for w in ("X", "y", "coef")
                              for v in ("nan", "inf", "-inf")])
@pytest.mark.parametrize("loss,power", GLM_LOSSES, ids=GLM_IDS)
def test_nonfinite_propagates(backend, loss, power, what, val):
    """NaN or inf in X, y or coef reaches the gradient (nothing is scanned), without
    a warning; NaN stays NaN.  (The loss may stay finite: an infinite z can be a
    limit where l -> 0, e.g. tweedie p = 3 at z = +inf.  -inf as y is outside
    y >= 0 and y > 0: an error.)"""
    if what == "y" and val == -np.inf and glm_power(loss, power) >= 1:
        pytest.skip("outside the domain: a ValueError (test_y_outside_domain)")
    X, y, coef, _ = make_problem(40, 5, None, loss=loss, power=power, seed=62)
    target = {"X": X, "y": y, "coef": coef}[what]
    target[(3, 2)[:target.ndim]] = val
    kw = _kw(loss, power, backend=backend)
    L, g = fastgrad.value_and_grad(X, y, coef, **kw)
    fastgrad.hessp(X, y, coef, np.ones_like(coef), **kw)     # no warning either
    assert not np.isfinite(g).all()
    if np.isnan(val):
        assert np.isnan(L) and np.isnan(g).any()
    if what == "y" or (what == "coef" and loss != "tweedie"):
        assert not np.isfinite(L)


# ---------------------------------------------------------------------------
# hypothesis: random shapes, powers, keywords and layouts, both backends


@st.composite
def _glm_problems(draw):
    loss = draw(st.sampled_from(["poisson", "gamma", "tweedie"]))
    power = None
    if loss == "tweedie":
        power = draw(st.one_of(st.floats(-3.0, 0.0), st.floats(1.0, 4.0),
                               st.sampled_from([0.0, 1.0, 1.5, 2.0, 3.0])))
    m = draw(st.integers(1, 70))
    n = draw(st.integers(1, 20))
    k = draw(st.sampled_from([None, 1, 3]))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    layout = draw(st.sampled_from(["C", "F", "strided", "negstride"]))
    fit_intercept, weighted = draw(st.booleans()), draw(st.booleans())
    reduction = draw(st.sampled_from(REDUCTIONS))
    scale = draw(st.sampled_from([0.01, 0.5, 3.0]))
    use_rows = draw(st.booleans())
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return (loss, power, m, n, k, dtype, layout, fit_intercept, weighted, reduction, scale,
            use_rows, seed)


@given(_glm_problems())
def test_hypothesis_against_closed_forms(p):
    (loss, power, m, n, k, dtype, layout, fit_intercept, weighted, reduction, scale,
     use_rows, seed) = p
    X0, y, coef, w = make_problem(m, n, k, loss=loss, power=power, seed=seed % 1000,
                                  fit_intercept=fit_intercept, weights=weighted,
                                  dtype=dtype, coef_scale=scale / np.sqrt(n))
    X = as_layout(X0, layout)
    rows = np.random.default_rng(seed).integers(-m, m, 2 * m + 1) if use_rows else None
    kw = _kw(loss, power, fit_intercept=fit_intercept, sample_weight=w, l2=0.3,
             reduction=reduction)
    if reduction == "mean" and weighted:
        ws = w if rows is None else w[rows]
        if not ws.sum() > 0:
            return
    ref = reference(X0, y, coef, rows=rows, **kw)
    v = np.sin(np.arange(coef.size)).reshape(coef.shape).astype(dtype)
    Hv, S = reference_hessp(X0, y, coef, v, rows=rows, **kw)
    for backend in ("native", "numpy"):
        assert_matches_ref(*fastgrad.value_and_grad(X, y, coef, rows=rows, backend=backend,
                                                    **kw), ref, rtol_for(dtype), backend)
        assert_grad_matches(fastgrad.hessp(X, y, coef, v, rows=rows, backend=backend, **kw),
                            Hv, S, rtol_for(dtype), backend + " hessp")
