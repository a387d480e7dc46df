"""Hessian-vector products: explicit Hessian, finite differences of grad, Objective."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import fastgrad
from conftest import (DTYPE_IDS, DTYPES, LOSSES, NATIVE_AVAILABLE, REDUCTIONS, as_layout,
                      assert_grad_matches, explicit_hessian, make_problem, reference_hessp,
                      rtol_for)


def _kw(loss, fit_intercept, w, l2, reduction):
    return dict(loss=loss, fit_intercept=fit_intercept, sample_weight=w, l2=l2,
                reduction=reduction)


def _v(coef, seed):
    return np.random.default_rng(seed).standard_normal(coef.shape).astype(coef.dtype)


@pytest.mark.parametrize("k", [None, 3], ids=["single", "multi"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("l2", [0.0, 0.6], ids=["l2=0", "l2=0.6"])
@pytest.mark.parametrize("weighted", [False, True], ids=["w=None", "w"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["noicpt", "icpt"])
@pytest.mark.parametrize("loss", LOSSES)
def test_hessp_equals_explicit_hessian(backend, loss, fit_intercept, weighted, l2,
                                       reduction, k):
    X, y, coef, w = make_problem(31, 6, k, loss=loss, fit_intercept=fit_intercept,
                                 weights=weighted, seed=20)
    kw = _kw(loss, fit_intercept, w, l2, reduction)
    H = explicit_hessian(X, y, coef, **kw)
    assert np.allclose(H, H.T)
    for seed in range(3):
        v = _v(coef, seed)
        expected = (H @ v.ravel()).reshape(coef.shape)
        hv = fastgrad.hessp(X, y, coef, v, backend=backend, **kw)
        assert hv.shape == coef.shape and hv.dtype == coef.dtype
        np.testing.assert_allclose(hv, expected, rtol=1e-11,
                                   atol=1e-12 * np.abs(expected).max())
    # the unit vectors give the columns of H
    e = np.zeros(coef.size)
    e[-1] = 1.0
    hv = fastgrad.hessp(X, y, coef, e.reshape(coef.shape), backend=backend, **kw)
    np.testing.assert_allclose(hv.ravel(), H[:, -1], rtol=1e-11,
                               atol=1e-12 * np.abs(H).max())


@pytest.mark.parametrize("k", [None, 2], ids=["single", "multi"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["noicpt", "icpt"])
@pytest.mark.parametrize("loss", LOSSES)
def test_hessp_is_derivative_of_grad(backend, loss, fit_intercept, reduction, k):
    X, y, coef, w = make_problem(45, 5, k, loss=loss, fit_intercept=fit_intercept,
                                 weights=True, seed=21)
    kw = dict(_kw(loss, fit_intercept, w, 0.3, reduction), backend=backend)
    v = _v(coef, 1)
    h = 1e-5
    fd = (fastgrad.grad(X, y, coef + h * v, **kw)
          - fastgrad.grad(X, y, coef - h * v, **kw)) / (2 * h)
    hv = fastgrad.hessp(X, y, coef, v, **kw)
    np.testing.assert_allclose(hv, fd, rtol=1e-6, atol=1e-7 * np.abs(fd).max())


@pytest.mark.parametrize("use_out", [False, True], ids=["out=None", "out=prealloc"])
@pytest.mark.parametrize("layout", ["C", "F", "strided", "negstride", "readonly", "memmap"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_hessp_layouts_dtypes(backend, dtype, loss, layout, use_out, to_layout):
    X0, y, coef, w = make_problem(53, 9, 2, loss=loss, fit_intercept=True, weights=True,
                                  dtype=dtype, seed=22)
    X = to_layout(X0, layout)
    v = _v(coef, 2)
    kw = _kw(loss, True, w, 0.2, "mean")
    exp, scale = reference_hessp(X0, y, coef, v, **kw)
    out = np.full(coef.shape, np.nan, dtype=dtype) if use_out else None
    hv = fastgrad.hessp(X, y, coef, v, out=out, backend=backend, **kw)
    if use_out:
        assert hv is out
    assert hv.dtype == np.dtype(dtype)
    assert_grad_matches(hv, exp, scale, rtol_for(dtype))


@pytest.mark.parametrize("shape", [(20000, 13), (3000, 300)], ids=["20000x13", "3000x300"])
@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_hessp_many_rows(backend, dtype, layout, shape, to_layout):
    m, n = shape
    X0, y, coef, w = make_problem(m, n, None, loss="logistic", fit_intercept=True,
                                  weights=True, dtype=dtype, seed=23,
                                  coef_scale=1 / np.sqrt(n))
    X = to_layout(X0, layout)
    v = _v(coef, 3)
    kw = _kw("logistic", True, w, 0.01, "sum")
    exp, scale = reference_hessp(X0, y, coef, v, **kw)
    hv = fastgrad.hessp(X, y, coef, v, backend=backend, **kw)
    assert_grad_matches(hv, exp, scale, rtol_for(dtype))


@pytest.mark.parametrize("loss", LOSSES)
def test_hessp_is_linear_in_v(backend, loss):
    X, y, coef, w = make_problem(40, 4, None, loss=loss, fit_intercept=True, weights=True,
                                 seed=24)
    kw = dict(_kw(loss, True, w, 0.5, "mean"), backend=backend)
    v1, v2 = _v(coef, 4), _v(coef, 5)
    h1 = fastgrad.hessp(X, y, coef, v1, **kw)
    h2 = fastgrad.hessp(X, y, coef, v2, **kw)
    h12 = fastgrad.hessp(X, y, coef, 2.0 * v1 - 3.0 * v2, **kw)
    np.testing.assert_allclose(h12, 2.0 * h1 - 3.0 * h2, rtol=1e-12,
                               atol=1e-13 * np.abs(h12).max())
    np.testing.assert_array_equal(fastgrad.hessp(X, y, coef, np.zeros_like(coef), **kw),
                                  np.zeros_like(coef))


@pytest.mark.parametrize("k", [None, 2], ids=["single", "multi"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_objective_hessp(backend, dtype, loss, k):
    X, y, coef, w = make_problem(70, 8, k, loss=loss, fit_intercept=True, weights=True,
                                 dtype=dtype, seed=25)
    kw = _kw(loss, True, w, 0.4, "mean")
    obj = fastgrad.Objective(X, y, backend=backend, **kw)
    v = _v(coef, 6)
    hv = obj.hessp(coef, v)
    exp, scale = reference_hessp(X, y, coef, v, **kw)
    assert hv.shape == coef.shape and hv.dtype == np.dtype(dtype)
    assert_grad_matches(hv, exp, scale, rtol_for(dtype))
    np.testing.assert_array_equal(hv, fastgrad.hessp(X, y, coef, v, backend=backend, **kw))
    out = np.empty_like(coef)
    assert obj.hessp(coef, v, out=out) is out
    np.testing.assert_array_equal(out, hv)
    if dtype == np.float64:
        H = explicit_hessian(X, y, coef, **kw)
        np.testing.assert_allclose(hv.ravel(), H @ v.ravel(), rtol=1e-11,
                                   atol=1e-12 * np.abs(hv).max())


def test_squared_hessp_independent_of_coef_and_y(backend):
    """For the squared loss H = XᵀWX/D + l2 I does not depend on coef or y."""
    X, y, coef, w = make_problem(30, 5, None, fit_intercept=True, weights=True, seed=26)
    v = _v(coef, 7)
    kw = dict(fit_intercept=True, sample_weight=w, l2=0.1, backend=backend)
    h1 = fastgrad.hessp(X, y, coef, v, **kw)
    h2 = fastgrad.hessp(X, 3 * y + 1, -5 * coef, v, **kw)
    np.testing.assert_allclose(h1, h2, rtol=1e-13, atol=1e-14 * np.abs(h1).max())


# ---------------------------------------------------------------------------
# hypothesis: both backends against the reference on random problems


@st.composite
def hessp_problems(draw):
    m = draw(st.integers(1, 60))
    n = draw(st.integers(1, 17))
    k = draw(st.sampled_from([None, 1, 3]))
    loss = draw(st.sampled_from(LOSSES))
    fi = draw(st.booleans())
    dtype = draw(st.sampled_from(DTYPES))
    layout = draw(st.sampled_from(["C", "F", "strided", "negstride"]))
    el = st.floats(-6, 6, width=32)
    X = draw(hnp.arrays(np.float64, (m, n), elements=el))
    y = draw(hnp.arrays(np.float64, (m,) if k is None else (m, k),
                        elements=st.floats(0, 1, width=32)))
    p = n + 1 if fi else n
    cs = (p,) if k is None else (p, k)
    coef = draw(hnp.arrays(np.float64, cs, elements=st.floats(-2, 2, width=32)))
    v = draw(hnp.arrays(np.float64, cs, elements=st.floats(-3, 3, width=32)))
    w = draw(st.none() | hnp.arrays(np.float64, (m,), elements=st.floats(0, 3, width=32)))
    if w is not None and not w.any():
        w[-1] = 0.5
    kw = _kw(loss, fi, None if w is None else w.astype(dtype),
             draw(st.sampled_from([0.0, 0.25])), draw(st.sampled_from(REDUCTIONS)))
    return (X.astype(dtype), layout, y.astype(dtype), coef.astype(dtype), v.astype(dtype),
            kw)


@given(hessp_problems())
def test_property_hessp(prob):
    X0, layout, y, coef, v, kw = prob
    X = as_layout(X0, layout)
    exp, scale = reference_hessp(X0, y, coef, v, **kw)
    for be in ["numpy"] + (["native"] if NATIVE_AVAILABLE else []):
        hv = fastgrad.hessp(X, y, coef, v, backend=be, **kw)
        assert hv.dtype == X0.dtype and hv.shape == coef.shape
        assert_grad_matches(hv, exp, scale, rtol_for(X0.dtype), be)
