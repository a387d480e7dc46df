"""fastgrad.sklearn: scikit-learn's LinearModelLoss served by fastgrad.

The reference everywhere is scikit-learn itself: the original methods (saved by
the patch, called directly) for the method-level comparisons, and stock fits
(patch off) for the estimator-level ones.  Every comparison also asserts that
the call was served natively (else it would compare scikit-learn with itself).
"""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
sp = pytest.importorskip("scipy.sparse")

import fastgrad  # noqa: E402
import fastgrad.sklearn as fsk  # noqa: E402
from fastgrad.sklearn import _patch  # noqa: E402
from sklearn._loss.loss import (HalfBinomialLoss, HalfMultinomialLoss,  # noqa: E402
                                HalfSquaredError, HalfTweedieLossIdentity,
                                HalfPoissonLoss, HalfGammaLoss, HalfTweedieLoss)
from sklearn.linear_model import (LogisticRegression, LogisticRegressionCV,  # noqa: E402
                                  TweedieRegressor)
from sklearn.linear_model._linear_loss import LinearModelLoss  # noqa: E402

from conftest import NATIVE_AVAILABLE  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METHODS = ("loss", "loss_gradient", "gradient", "gradient_hessian_product")
TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 2e-5}


@pytest.fixture
def patched_sk():
    """The patch applied for one test (counts reset), removed afterwards."""
    if not NATIVE_AVAILABLE:
        pytest.skip("fastgrad._native is not importable in this build")
    assert not fsk.is_patched()
    fsk.patch()
    fsk.reset_stats()
    try:
        yield fsk
    finally:
        fsk.unpatch()
        _patch.S.backend = "native"


def _originals():
    return {name: _patch.S.originals[name] for name in METHODS}


# -- every served case against the original method ---------------------------------

LOSSES = {
    "binomial": lambda: HalfBinomialLoss(),
    "multinomial": lambda: HalfMultinomialLoss(n_classes=3),
    "squared": lambda: HalfSquaredError(),
    "tweedie_identity0": lambda: HalfTweedieLossIdentity(power=0),
    "poisson": lambda: HalfPoissonLoss(),
    "gamma": lambda: HalfGammaLoss(),
    "tweedie15": lambda: HalfTweedieLoss(power=1.5),
    "tweedie_neg1": lambda: HalfTweedieLoss(power=-1.0),
}


def _data(kind, dtype, layout, weighted, fit_intercept, coef_form, seed=0):
    rng = np.random.default_rng(seed)
    m, n = 40, 5
    X = rng.standard_normal((m, n))
    if kind == "binomial":
        y = (rng.uniform(size=m) < 0.5).astype(float)
    elif kind == "multinomial":
        y = rng.integers(0, 3, m).astype(float)
    elif kind in ("poisson", "gamma", "tweedie15"):
        y = rng.gamma(2.0, 1.0, m)          # > 0: in every log-link domain
    else:
        y = rng.standard_normal(m) * 2
    n_dof = n + int(fit_intercept)
    if kind == "multinomial":
        coef = np.asfortranarray(0.4 * rng.standard_normal((3, n_dof)))
        v = np.asfortranarray(rng.standard_normal((3, n_dof)))
        if coef_form == "flat":
            coef, v = coef.ravel(order="F"), v.ravel(order="F")
        elif coef_form == "C":
            coef, v = np.ascontiguousarray(coef), np.ascontiguousarray(v)
    else:
        coef = 0.4 * rng.standard_normal(n_dof)
        v = rng.standard_normal(n_dof)
    w = rng.uniform(0.0, 2.0, m) if weighted else None
    X = X.astype(dtype)
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        base = np.zeros((2 * m, 2 * n), dtype=dtype)
        base[::2, ::2] = X
        X = base[::2, ::2]
    elif layout == "csr":
        X[rng.uniform(size=X.shape) < 0.6] = 0
        X = sp.csr_matrix(X)
    cast = (lambda a: None if a is None else a.astype(dtype))
    return X, cast(y), cast(coef), cast(w), cast(v)


def _close(got, want, dtype, what):
    tol = TOL[np.dtype(dtype)]
    want = np.asarray(want, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=tol,
                               atol=tol * scale, err_msg=what)


def _check_array(got, want, dtype, what):
    assert type(got) is np.ndarray, what
    assert got.shape == want.shape and got.dtype == want.dtype, \
        (what, got.shape, want.shape, got.dtype, want.dtype)
    if want.ndim == 2:      # the multinomial (K, n_dof) gradient is F-ordered
        assert got.flags.f_contiguous == want.flags.f_contiguous, what
    _close(got, want, dtype, what)


@pytest.mark.parametrize("backend", ["native", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("layout", ["C", "F", "strided", "csr"])
@pytest.mark.parametrize("weighted,l2", [(False, 0.0), (True, 0.7)], ids=["plain", "w_l2"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["icpt", "noicpt"])
@pytest.mark.parametrize("kind,coef_form", [
    ("binomial", None), ("squared", None), ("tweedie_identity0", None),
    ("poisson", None), ("gamma", None), ("tweedie15", None), ("tweedie_neg1", None),
    ("multinomial", "flat"), ("multinomial", "F"), ("multinomial", "C")])
def test_served_methods_match_original(patched_sk, backend, dtype, layout, weighted, l2,
                                       fit_intercept, kind, coef_form):
    _patch.S.backend = backend
    X, y, coef, w, v = _data(kind, dtype, layout, weighted, fit_intercept, coef_form)
    lml = LinearModelLoss(base_loss=LOSSES[kind](), fit_intercept=fit_intercept)
    orig = _originals()
    # the reference: scikit-learn's own methods; in float32 on the float64 data,
    # where they are more accurate than scikit-learn's own float32 arithmetic
    ref_args = tuple(None if a is None else a.astype(np.float64) for a in (X, y, coef, w))
    Xr, yr, cr, wr = ref_args
    vr = v.astype(np.float64)
    X0, y0, c0 = X.copy(), y.copy(), coef.copy()

    got = lml.loss(coef, X, y, w, l2)
    assert type(got) is float
    _close(got, orig["loss"](lml, cr, Xr, yr, wr, l2), dtype, "loss")

    gl, gg = lml.loss_gradient(coef, X, y, w, l2)
    want = orig["loss_gradient"](lml, coef, X, y, w, l2)[1]   # dtype/shape/order
    wl, wg = orig["loss_gradient"](lml, cr, Xr, yr, wr, l2)
    assert type(gl) is float
    _close(gl, wl, dtype, "loss_gradient value")
    _check_array(gg, want, dtype, "loss_gradient gradient (layout)")
    _close(gg, wg, dtype, "loss_gradient gradient")

    g = lml.gradient(coef, X, y, w, l2)
    _check_array(g, want, dtype, "gradient")
    _close(g, wg, dtype, "gradient values")

    g2, hessp = lml.gradient_hessian_product(coef, X, y, w, l2)
    want2, want_hessp = orig["gradient_hessian_product"](lml, coef, X, y, w, l2)
    ref_hessp = orig["gradient_hessian_product"](lml, cr, Xr, yr, wr, l2)[1]
    _check_array(g2, want2, dtype, "gradient_hessian_product gradient")
    _close(g2, wg, dtype, "gradient_hessian_product gradient values")
    for s in (v, v.astype(np.float64)):     # scipy's solvers pass float64 vectors
        h = hessp(s)
        _check_array(h, want_hessp(s), dtype, f"hessp({s.dtype})")
        _close(h, ref_hessp(vr), dtype, f"hessp({s.dtype}) values")

    st = fsk.stats()
    assert st["fallback"] == 0, st
    assert st["native_by_method"] == {"loss": 1, "loss_gradient": 1, "gradient": 1,
                                      "gradient_hessian_product": 1, "hessp": 2}, st
    # the inputs are never written to
    for a, a0 in ((X, X0), (y, y0), (coef, c0)):
        if sp.issparse(a):
            a, a0 = a.toarray(), a0.toarray()
        np.testing.assert_array_equal(a, a0)


def test_hessp_against_finite_differences(patched_sk):
    """hessp of the multinomial loss with intercept: central differences of gradient."""
    X, y, coef, w, v = _data("multinomial", np.float64, "C", True, True, "flat", seed=3)
    lml = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=3), fit_intercept=True)
    _, hessp = lml.gradient_hessian_product(coef, X, y, w, 0.3)
    eps = 1e-5
    fd = (lml.gradient(coef + eps * v, X, y, w, 0.3)
          - lml.gradient(coef - eps * v, X, y, w, 0.3)) / (2 * eps)
    np.testing.assert_allclose(hessp(v), fd, rtol=1e-7, atol=1e-8)
    assert fsk.stats()["fallback"] == 0


# -- fits: patched against stock ---------------------------------------------------

def _fit_problem(m=600, n=8, k=2, seed=0, dtype=np.float64, order="C", weighted=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    W = rng.standard_normal((n, k))
    y = np.argmax(X @ W + 1.5 * rng.standard_normal((m, k)), axis=1)
    X = np.asarray(X, dtype=dtype, order=order)
    w = rng.uniform(0.2, 2.0, m) if weighted else None
    return X, y, w


def _compare_fits(make, X, y, w=None, rtol=1e-6):
    stock = make().fit(X, y, sample_weight=w)
    with fsk.patched():
        fsk.reset_stats()
        fast = make().fit(X, y, sample_weight=w)
        st = fsk.stats()
    assert st["native"] > 0 and st["fallback"] == 0, st
    a = np.concatenate([np.ravel(stock.coef_), np.ravel(stock.intercept_)])
    b = np.concatenate([np.ravel(fast.coef_), np.ravel(fast.intercept_)])
    assert np.linalg.norm(a - b) <= rtol * np.linalg.norm(a), (a, b)
    ni, nf = np.max(stock.n_iter_), np.max(fast.n_iter_)
    assert abs(int(ni) - int(nf)) <= max(1, 0.1 * ni), (ni, nf)
    return st


@pytest.mark.parametrize("case", [
    "binary_lbfgs", "multinomial_lbfgs", "binary_newton_cg", "multinomial_newton_cg",
    "weighted_F", "float32", "sparse", "no_intercept"])
def test_logistic_regression_fits_match_stock(case):
    if not NATIVE_AVAILABLE:
        pytest.skip("fastgrad._native is not importable in this build")
    solver = "newton-cg" if "newton" in case else "lbfgs"
    k = 4 if "multinomial" in case else 2
    X, y, w = _fit_problem(k=k, order="F" if case == "weighted_F" else "C",
                           dtype=np.float32 if case == "float32" else np.float64,
                           weighted=case == "weighted_F")
    if case == "sparse":
        X = sp.csr_matrix(np.where(np.abs(X) < 0.5, 0.0, X))
    # float32: below ~1e-6 the stopping test sees float32 rounding, not the optimum
    # (stock and patched then stop at different iterations of the same plateau)
    rtol, tol = (1e-5, 1e-5) if case == "float32" else (1e-6, 1e-10)

    def make():
        return LogisticRegression(solver=solver, tol=tol, C=0.5, max_iter=1000,
                                  fit_intercept=case != "no_intercept")

    st = _compare_fits(make, X, y, w, rtol=rtol)
    if solver == "newton-cg":
        assert st["native_by_method"].get("hessp", 0) > 0, st


@pytest.mark.filterwarnings("ignore::FutureWarning")   # LogisticRegressionCV's defaults
def test_logistic_regression_cv_and_tweedie_fit_match_stock():
    if not NATIVE_AVAILABLE:
        pytest.skip("fastgrad._native is not importable in this build")
    X, y, _ = _fit_problem(m=300, n=5)
    _compare_fits(lambda: LogisticRegressionCV(Cs=3, cv=3, tol=1e-10), X, y)
    rng = np.random.default_rng(1)
    yr = X @ rng.standard_normal(X.shape[1]) + 0.3 * rng.standard_normal(X.shape[0])
    w = rng.uniform(0.5, 1.5, X.shape[0])
    _compare_fits(lambda: TweedieRegressor(power=0, alpha=0.1, link="identity",
                                           solver="lbfgs", tol=1e-10), X, yr, w)


def test_concurrent_fits_in_threads(patched_sk):
    problems = [_fit_problem(m=300, n=6, k=2 + i % 2, seed=i) for i in range(4)]
    fsk.unpatch()
    stock = [LogisticRegression(tol=1e-10).fit(X, y).coef_ for X, y, _ in problems]
    fsk.patch()
    results = [None] * len(problems)
    errors = []

    def run(i):
        try:
            for _ in range(2):
                X, y, _ = problems[i]
                results[i] = LogisticRegression(tol=1e-10).fit(X, y).coef_
        except Exception as exc:    # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(problems))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for a, b in zip(stock, results):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-8)
    st = fsk.stats()
    assert st["fallback"] == 0 and st["native"] > 0


# -- fallbacks, each reason ----------------------------------------------------------

def _small(kind="binomial", dtype=np.float64):
    return _data(kind, dtype, "C", True, True, "F", seed=5)


class SubLoss(LinearModelLoss):
    pass


class MyArray(np.ndarray):
    pass


def _fallback_cases():
    """(reason, call(originals) -> (patched result, original result))."""
    X, y, coef, w, v = _small()
    binom = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)

    def same_call(lml, *args, method="loss_gradient", **kw):
        def run(orig):
            return getattr(lml, method)(*args, **kw), orig[method](lml, *args, **kw)
        return run

    tweedie15 = LinearModelLoss(base_loss=HalfTweedieLossIdentity(power=1.5),
                                fit_intercept=True)
    ypos = np.abs(y) + 0.5
    coef_pos = np.abs(coef) * 0.1
    coef_pos[-1] = 2.0
    Xs = X.view(MyArray)
    yield "loss not served", same_call(tweedie15, coef_pos, X, ypos, w, 0.1)
    yield "LinearModelLoss subclass", same_call(
        SubLoss(base_loss=HalfBinomialLoss(), fit_intercept=True), coef, X, y, w, 0.1)
    raw = X @ coef[:-1] + coef[-1]
    yield "raw_prediction passed", same_call(binom, coef, X, y, w, 0.1,
                                             raw_prediction=raw)
    yield "array API input", same_call(binom, coef, Xs, y, w, 0.1)
    yield "dtype not served", same_call(binom, coef.astype(np.float32), X, y, w, 0.1)
    yield "layout not served", same_call(binom, coef, sp.csc_matrix(X), y, w, 0.1)
    yield "keyword not served", same_call(binom, coef, X, y, w, -0.5)
    yb = y.copy()
    yb[0] = 2.0             # outside [0, 1]: fastgrad refuses, scikit-learn computes
    yield "backend error", same_call(binom, coef, X, yb, w, 0.1)


@pytest.mark.parametrize("reason", [r for r, _ in _fallback_cases()])
def test_fallback_reasons(patched_sk, reason, caplog):
    assert reason in fsk.REASONS
    run = dict(_fallback_cases())[reason]
    with caplog.at_level("DEBUG", logger="fastgrad.sklearn"):
        got, want = run(_originals())
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[1].dtype == want[1].dtype
    st = fsk.stats()
    assert st["native"] == 0 and st["fallback_by_reason"] == {reason: 1}, st
    assert any(reason in r.getMessage() and r.name == "fastgrad.sklearn"
               for r in caplog.records)


def test_fallback_unknown_keyword_keeps_sklearns_error(patched_sk):
    X, y, coef, w, v = _small()
    lml = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)
    for method in METHODS:
        with pytest.raises(TypeError, match="unexpected keyword"):
            getattr(lml, method)(coef, X, y, w, 0.1, bogus=1)
    assert fsk.stats()["fallback_by_reason"] == {"unknown keyword": 4}


def test_fallback_reduction_not_recognised(patched_sk, monkeypatch):
    monkeypatch.setattr(_patch.S, "served", {})
    monkeypatch.setattr(_patch.S, "reduction", None)
    X, y, coef, w, v = _small()
    lml = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)
    assert lml.loss(coef, X, y, w, 0.1) == _originals()["loss"](lml, coef, X, y, w, 0.1)
    assert fsk.stats()["fallback_by_reason"] == {"reduction not recognised": 1}


def test_fallback_when_hessp_fails(patched_sk, monkeypatch):
    """An error inside fastgrad's hessp: the original's Hessian product answers."""
    X, y, coef, w, v = _small("multinomial")
    lml = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=3), fit_intercept=True)
    _, hessp = lml.gradient_hessian_product(coef, X, y, w, 0.2)

    def broken(*a, **k):
        raise RuntimeError("injected")

    monkeypatch.setattr(fastgrad.Objective, "hessp", broken)
    want = _originals()["gradient_hessian_product"](lml, coef, X, y, w, 0.2)[1](v)
    np.testing.assert_array_equal(hessp(v), want)
    np.testing.assert_array_equal(hessp(v), want)
    st = fsk.stats()
    assert st["fallback_by_reason"] == {"backend error": 2}
    assert st["fallback_by_method"] == {"hessp": 2}


def test_fallback_keeps_sklearns_errors(patched_sk):
    """Shapes scikit-learn refuses are refused by scikit-learn itself."""
    X, y, coef, w, v = _small()
    lml = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)
    orig = _originals()
    for bad in (coef[:-2], np.ones((2, coef.size))):
        with pytest.raises(Exception) as stock:
            orig["loss_gradient"](lml, bad, X, y, w, 0.1)
        with pytest.raises(type(stock.value)):
            lml.loss_gradient(bad, X, y, w, 0.1)
    assert fsk.stats()["native"] == 0


def test_log_link_losses_follow_fastgrad(patched_sk):
    """Poisson, gamma and Tweedie (log link) are served exactly when fastgrad knows
    the loss (a capability probe at patch time), else they fall back."""
    from sklearn._loss.loss import HalfPoissonLoss
    try:
        fastgrad.value_and_grad(np.ones((1, 1)), np.ones(1), np.zeros(1), loss="poisson")
        has_poisson = True
    except ValueError:
        has_poisson = False
    assert ("HalfPoissonLoss" in fsk.stats()["losses_served"]) is has_poisson
    X, y, coef, w, v = _small()
    lml = LinearModelLoss(base_loss=HalfPoissonLoss(), fit_intercept=True)
    got = lml.loss_gradient(coef * 0.1, X, np.abs(y), w, 0.1)
    want = _originals()["loss_gradient"](lml, coef * 0.1, X, np.abs(y), w, 0.1)
    _close(got[0], want[0], np.float64, "poisson loss")
    _close(got[1], want[1], np.float64, "poisson gradient")
    st = fsk.stats()
    if has_poisson:
        assert st["native"] == 1
    else:
        assert st["fallback_by_reason"] == {"loss not served": 1}


@pytest.mark.parametrize("estimator", ["poisson", "gamma", "tweedie15"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_glm_regressor_fits_match_stock(estimator, order):
    """PoissonRegressor, GammaRegressor and TweedieRegressor(link="log") fitted on the
    patched core: the same coef (1e-6) and n_iter (10%) as stock scikit-learn."""
    if not NATIVE_AVAILABLE:
        pytest.skip("fastgrad._native is not importable in this build")
    from sklearn.linear_model import GammaRegressor, PoissonRegressor
    rng = np.random.default_rng(3)
    m, n = 500, 6
    X = np.asarray(rng.standard_normal((m, n)), order=order)
    mu = np.exp(0.3 * X @ rng.standard_normal(n) + 0.5)
    w = rng.uniform(0.5, 1.5, m)
    if estimator == "poisson":
        y, make = rng.poisson(mu).astype(float), \
            (lambda: PoissonRegressor(alpha=0.01, tol=1e-10, max_iter=1000))
    elif estimator == "gamma":
        y, make = rng.gamma(2.0, mu / 2.0), \
            (lambda: GammaRegressor(alpha=0.01, tol=1e-10, max_iter=1000))
    else:
        y, make = rng.gamma(2.0, mu / 2.0) * (rng.uniform(size=m) < 0.8), \
            (lambda: TweedieRegressor(power=1.5, link="log", alpha=0.01, tol=1e-10,
                                      max_iter=1000))
    _compare_fits(make, X, y, w)


def test_log_link_tweedie_power_zero_falls_back(patched_sk):
    """HalfTweedieLoss(power=0) keeps y**2/2 in its loss, fastgrad's tweedie drops it:
    that case goes to scikit-learn's own method (same value), counted as not served."""
    from sklearn._loss.loss import HalfTweedieLoss as HTL
    X, y, coef, w, v = _small("squared")
    lml = LinearModelLoss(base_loss=HTL(power=0.0), fit_intercept=True)
    got = lml.loss_gradient(coef * 0.1, X, y, w, 0.1)
    want = _originals()["loss_gradient"](lml, coef * 0.1, X, y, w, 0.1)
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])
    assert fsk.stats()["fallback_by_reason"] == {"loss not served": 1}


# -- patch, unpatch, idempotence, threads, versions ----------------------------------

def test_unpatch_restores_the_original_function_objects():
    if not NATIVE_AVAILABLE:
        pytest.skip("fastgrad._native is not importable in this build")
    before = {name: LinearModelLoss.__dict__[name] for name in METHODS}
    fsk.patch()
    try:
        assert fsk.is_patched()
        for name in METHODS:
            assert LinearModelLoss.__dict__[name] is not before[name]
        wrappers = {name: LinearModelLoss.__dict__[name] for name in METHODS}
        fsk.patch()                 # idempotent: nothing wrapped twice
        fsk.patch(n_threads=1)
        for name in METHODS:
            assert LinearModelLoss.__dict__[name] is wrappers[name]
    finally:
        fsk.unpatch()
    assert not fsk.is_patched()
    for name in METHODS:
        assert LinearModelLoss.__dict__[name] is before[name]
    fsk.unpatch()                   # a no-op when not patched
    for name in METHODS:
        assert LinearModelLoss.__dict__[name] is before[name]
    # "gradient_hessian" is scikit-learn's own, untouched
    assert not getattr(LinearModelLoss.gradient_hessian, "_fastgrad_wrapper", False)


def test_patched_context_manager_restores_state():
    if not NATIVE_AVAILABLE:
        pytest.skip("fastgrad._native is not importable in this build")
    before = LinearModelLoss.__dict__["loss"]
    with fsk.patched(n_threads=1):
        assert fsk.is_patched()
        with fsk.patched():
            assert fsk.is_patched()
        assert fsk.is_patched() and _patch.S.n_threads == 1
    assert not fsk.is_patched() and LinearModelLoss.__dict__["loss"] is before
    with pytest.raises(ZeroDivisionError):
        with fsk.patched():
            1 / 0
    assert not fsk.is_patched()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_patch_rejects_bad_n_threads(bad):
    with pytest.raises(ValueError, match="n_threads"):
        fsk.patch(n_threads=bad)
    assert not fsk.is_patched()


def test_threads_within_threadpool_limits(patched_sk, monkeypatch):
    """patch(n_threads=k) is capped by the caller's threadpoolctl limit; n_threads=None
    is fastgrad's default, which honours it too."""
    from threadpoolctl import threadpool_limits
    seen = []
    real = fastgrad.value_and_grad

    def spy(*a, **kw):
        seen.append(kw["n_threads"])
        return real(*a, **kw)

    monkeypatch.setattr(fastgrad, "value_and_grad", spy)
    X, y, coef, w, v = _small()
    lml = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)
    fsk.patch(n_threads=2)
    with threadpool_limits(limits=1):
        lml.loss_gradient(coef, X, y, w, 0.1)
    assert seen[-1] == 1
    fsk.patch(n_threads=None)
    lml.loss_gradient(coef, X, y, w, 0.1)
    assert seen[-1] is None            # fastgrad resolves it (test_threads checks how)


def test_old_sklearn_version_is_refused(monkeypatch):
    monkeypatch.setattr(sklearn, "__version__", "1.2.2")
    with pytest.raises(ImportError, match="1.2.2"):
        fsk.patch()
    assert not fsk.is_patched()


def test_reduction_is_detected_from_behaviour():
    class SumLoss:
        def __init__(self, base_loss, fit_intercept):
            self.base_loss = base_loss

    def loss_sum(self, coef, X, y, sample_weight, l2, n_threads):
        return float(np.sum(sample_weight * 0.5 * (y - X @ coef) ** 2))

    def loss_mean(self, coef, X, y, sample_weight, l2, n_threads):
        return loss_sum(self, coef, X, y, sample_weight, l2, n_threads) / sample_weight.sum()

    assert _patch._detect_reduction(SumLoss, {"loss": loss_sum}) == "sum"
    assert _patch._detect_reduction(SumLoss, {"loss": loss_mean}) == "mean"
    assert _patch._detect_reduction(SumLoss, {"loss": lambda *a: 7.0}) is None


def test_stats_and_reset(patched_sk):
    X, y, coef, w, v = _small()
    lml = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)
    lml.loss(coef, X, y, w, 0.1)
    lml.loss(coef, X, y, w, 0.1, raw_prediction=X @ coef[:-1] + coef[-1])
    st = fsk.stats()
    assert st["native"] == 1 and st["fallback"] == 1 and st["patched"]
    assert st["native_by_method"] == {"loss": 1}
    assert st["fallback_by_method"] == {"loss": 1}
    fsk.reset_stats()
    st = fsk.stats()
    assert st["native"] == 0 and st["fallback"] == 0
    assert {"HalfBinomialLoss", "HalfMultinomialLoss", "HalfSquaredError",
            "HalfTweedieLossIdentity"} <= set(st["losses_served"])


# -- the command line and the pytest plugin ------------------------------------------

def test_main_runs_a_script_patched(tmp_path, monkeypatch, capsys):
    if not NATIVE_AVAILABLE:
        pytest.skip("fastgrad._native is not importable in this build")
    from fastgrad.sklearn.__main__ import main
    script = tmp_path / "fit.py"
    script.write_text(textwrap.dedent("""
        import sys
        import numpy as np
        import fastgrad.sklearn
        from sklearn.linear_model import LogisticRegression
        rng = np.random.default_rng(0)
        X = rng.standard_normal((200, 4)); y = (X[:, 0] > 0).astype(int)
        LogisticRegression().fit(X, y)
        print("argv", sys.argv[1:], "name", __name__,
              "patched", fastgrad.sklearn.is_patched(),
              "native", fastgrad.sklearn.stats()["native"] > 0)
    """))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        assert main(["--stats", str(script), "a", "--b"]) == 0
    finally:
        fsk.unpatch()
    out = capsys.readouterr()
    assert "argv ['a', '--b'] name __main__ patched True native True" in out.out
    assert "calls served natively" in out.err
    with pytest.raises(SystemExit):
        main([str(tmp_path / "missing.py")])
    fsk.unpatch()
    assert "missing.py" in capsys.readouterr().err


def test_main_as_a_command(tmp_path):
    """The module runs as ``python -m fastgrad.sklearn`` (one subprocess)."""
    script = tmp_path / "hello.py"
    script.write_text("import fastgrad.sklearn\nprint('patched', fastgrad.sklearn.is_patched())\n")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "fastgrad.sklearn", str(script)], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "patched True" in r.stdout


def test_pytest_plugin(tmp_path, monkeypatch, capsys):
    """The plugin in a nested pytest session: counts printed; a session in which
    nothing was served natively fails."""
    if not NATIVE_AVAILABLE:
        pytest.skip("fastgrad._native is not importable in this build")
    (tmp_path / "test_fits.py").write_text(textwrap.dedent("""
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        def test_fit():
            rng = np.random.default_rng(0)
            X = rng.standard_normal((100, 3)); y = (X[:, 0] > 0).astype(int)
            LogisticRegression().fit(X, y)
    """))
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    monkeypatch.chdir(tmp_path)
    base = ["-q", "-p", "no:cacheprovider", "-p", "fastgrad.sklearn.pytest_plugin",
            "--rootdir", str(tmp_path), "-c", os.devnull]
    assert pytest.main(base + ["test_fits.py"]) == 0
    assert not fsk.is_patched()                 # unpatched at the end of the session
    assert "served natively" in capsys.readouterr().out
    assert pytest.main(base + ["test_nothing.py"]) == 1
    assert "no call was served natively" in capsys.readouterr().out
    assert not fsk.is_patched()


def test_bench_sklearn_cases(capsys):
    """python -m fastgrad bench --sklearn: its case list and its error for a bad name
    (the timings themselves are benchmarks, not tests)."""
    from fastgrad._bench import main
    assert main(["--sklearn", "--list-cases"]) == 0
    out = capsys.readouterr().out
    for name in ("lr_binary_500000x100_f64", "lr_multinomial10_200000x100",
                 "tweedie0_500000x100", "lr_small_1000x20", "lrcv_5000x20"):
        assert name in out
    with pytest.raises(SystemExit) as exc:
        main(["--sklearn", "--cases", "nonsense"])
    assert exc.value.code == 2
    assert "nonsense" in capsys.readouterr().err
