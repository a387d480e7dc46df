"""Numerical robustness: extreme logistic z, float32 accuracy over many rows, NaN/inf."""
import warnings

import numpy as np
import pytest

import fastgrad
from conftest import (DTYPE_IDS, DTYPES, LOSSES, assert_matches_ref, pointwise, reference,
                      reference_hessp, rtol_for)

Z_EXTREME = np.array([-1e4, -3000.0, -1000.0, -746.0, -710.0, -100.0, -40.0, -37.0, -20.0,
                      -1.0, -1e-8, 0.0, 1e-8, 1.0, 20.0, 37.0, 40.0, 100.0, 710.0, 746.0,
                      1000.0, 3000.0, 1e4])
Y_LABELS = [0.0, 0.3, 1.0]


@pytest.mark.parametrize("y", Y_LABELS, ids=lambda y: f"y={y}")
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["noicpt", "icpt"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_logistic_extreme_z_pointwise(backend, dtype, fit_intercept, y):
    """One row at a time, so the loss is l(z, y) itself: compare relatively."""
    X = np.array([[1.0]], dtype=dtype)
    ya = np.array([y], dtype=dtype)
    yd = float(ya[0])
    for z in Z_EXTREME.astype(dtype):
        # z either through the coefficient or through the intercept
        coef = np.array([0.0, z] if fit_intercept else [z], dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(all="raise"):
                L, g = fastgrad.value_and_grad(X, ya, coef, loss="logistic",
                                               fit_intercept=fit_intercept,
                                               backend=backend)
                hv = fastgrad.hessp(X, ya, coef, np.ones_like(coef), loss="logistic",
                                    fit_intercept=fit_intercept, backend=backend)
        zd = np.array([[float(z)]])
        ell, d, h = (float(a[0, 0]) for a in pointwise("logistic", zd, np.array([[yd]])))
        msg = f"z={float(z)!r}, y={yd!r}"
        assert np.isfinite(L), msg
        assert L >= -4 * np.finfo(np.float64).eps * max(1.0, abs(float(z))), msg
        # the loss is accumulated in float64 whatever X's dtype
        assert L == pytest.approx(ell, rel=1e-13, abs=1e-300), msg
        assert np.isfinite(g).all() and np.isfinite(hv).all(), msg
        rt = 1e-13 if dtype == np.float64 else 1e-6
        tiny = float(np.finfo(dtype).tiny)     # below it the result is subnormal
        gexp = [d, d] if fit_intercept else [d]        # x = 1: both rows are l'
        np.testing.assert_allclose(g.astype(np.float64), gexp, rtol=rt, atol=tiny,
                                   err_msg=msg)
        # v = 1: X v (+ v_b) is 1 (2 with the intercept), H v = l'' * that per row
        hexp = [2 * h, 2 * h] if fit_intercept else [h]
        np.testing.assert_allclose(hv.astype(np.float64), hexp, rtol=rt, atol=tiny,
                                   err_msg=msg)
        assert (hv >= 0).all(), msg


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_logistic_extreme_z_batch(backend, dtype, layout, to_layout):
    """All extreme z in one call, mixed labels, multi-output, weights, l2."""
    rng = np.random.default_rng(60)
    nz = Z_EXTREME.size
    m = 3 * nz
    X0 = np.zeros((m, 3))
    X0[:, 0] = np.tile(Z_EXTREME, 3)       # coef[0] = 1: z_i = X[i, 0] (+ small)
    X0[:, 1] = rng.standard_normal(m)
    X0[:, 2] = rng.uniform(-1, 1, m)
    y = np.stack([np.repeat(Y_LABELS, nz), np.repeat(Y_LABELS[::-1], nz)], axis=1)
    coef = np.array([[1.0, -1.0], [0.25, 0.5], [-0.5, 0.125], [0.0, 0.0]])
    w = rng.uniform(0.5, 2.0, m)
    X0, y, coef, w = (a.astype(dtype) for a in (X0, y, coef, w))
    X = to_layout(X0, layout)
    kw = dict(loss="logistic", fit_intercept=True, sample_weight=w, l2=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L, g = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
        v = np.ones_like(coef)
        hv = fastgrad.hessp(X, y, coef, v, backend=backend, **kw)
    assert np.isfinite(L) and L >= 0
    assert np.isfinite(g).all() and np.isfinite(hv).all()
    assert_matches_ref(L, g, reference(X0, y, coef, **kw), rtol_for(dtype))
    exp, _ = reference_hessp(X0, y, coef, v, **kw)
    np.testing.assert_allclose(hv, exp, rtol=rtol_for(dtype) * 10,
                               atol=rtol_for(dtype) * np.abs(exp).max())


def test_logistic_loss_nonnegative_random_huge(backend):
    """Every row with |z| huge and y in {0, 1}, agreeing with y: loss ~ 0, never < 0."""
    rng = np.random.default_rng(61)
    m = 500
    z = rng.choice([-1, 1], m) * 10 ** rng.uniform(1.5, 4, m)
    y = (z > 0).astype(np.float64)
    X = z[:, None]
    L, g = fastgrad.value_and_grad(X, y, np.ones(1), loss="logistic", backend=backend)
    assert 0.0 <= L < 1e-12
    assert np.isfinite(g).all() and abs(g[0]) < 1e-10


# ---------------------------------------------------------------------------
# float32 accuracy over many rows


@pytest.fixture(scope="module")
def big_f32():
    rng = np.random.default_rng(12345)
    m, n = 4_000_000, 8
    X = rng.standard_normal((m, n), dtype=np.float32)
    y_sq = (X[:, :4].sum(axis=1) + rng.standard_normal(m, dtype=np.float32)).astype(
        np.float32)
    y_lo = (rng.uniform(size=m) < 0.3).astype(np.float32)
    coef = rng.standard_normal(n).astype(np.float32)
    return X, y_sq, y_lo, coef, {}


def _f64_blocked(X, y, coef, loss, block=500_000):
    """Loss and gradient (mean) in float64 on the same float32 values, by blocks."""
    c = coef.astype(np.float64)
    g = np.zeros(X.shape[1])
    total = 0.0
    for s in range(0, X.shape[0], block):
        Xb = X[s:s + block].astype(np.float64)
        yb = y[s:s + block].astype(np.float64)
        ell, d, _ = pointwise(loss, Xb @ c, yb)
        total += ell.sum()
        g += Xb.T @ d
    m = X.shape[0]
    return total / m, g / m


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("loss", LOSSES)
def test_float32_accuracy_4M_rows(backend, loss, layout, big_f32):
    X, y_sq, y_lo, coef, cache = big_f32
    y = y_sq if loss == "squared" else y_lo
    if layout == "F":
        if "F" not in cache:
            cache["F"] = np.asfortranarray(X)
        X = cache["F"]
    L, g = fastgrad.value_and_grad(X, y, coef, loss=loss, backend=backend)
    if loss not in cache:                       # the reference once per loss
        cache[loss] = _f64_blocked(X, y, coef, loss)
    L64, g64 = cache[loss]
    assert g.dtype == np.float32
    rel = np.abs(g.astype(np.float64) - g64).max() / np.abs(g64).max()
    assert rel <= 1e-6, rel
    assert abs(L - L64) / abs(L64) <= 1e-6


def test_float32_constant_sum_4M_rows(backend):
    """A naive float32 running sum of 4e6 × 0.1 is off by ~1e-3; accumulation must not be."""
    m = 4_000_000
    X = np.ones((m, 1), dtype=np.float32)
    y = np.full(m, 0.1, dtype=np.float32)
    yv = float(np.float32(0.1))
    L, g = fastgrad.value_and_grad(X, y, np.zeros(1, dtype=np.float32), backend=backend)
    assert g[0] == np.float32(-yv)
    assert L == pytest.approx(0.5 * yv * yv, rel=1e-9)
    L, g = fastgrad.value_and_grad(X, y, np.zeros(2, dtype=np.float32), fit_intercept=True,
                                   reduction="sum", backend=backend)
    assert g[1] == np.float32(-yv * m)
    assert L == pytest.approx(0.5 * yv * yv * m, rel=1e-9)


# ---------------------------------------------------------------------------
# NaN and inf propagate (functional API: nothing is scanned)


# (inf as a logistic label is outside [0, 1]: an error, see test_errors)
NONFINITE = [(loss, what, val) for loss in LOSSES for what in ("X", "y", "coef")
             for val in (np.nan, np.inf, -np.inf)
             if not (loss == "logistic" and what == "y" and np.isinf(val))]


@pytest.mark.parametrize("loss,what,val", NONFINITE,
                         ids=[f"{lo}-{w}-{v}" for lo, w, v in NONFINITE])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_nonfinite_propagates(backend, dtype, loss, what, val):
    rng = np.random.default_rng(62)
    X = rng.standard_normal((40, 5)).astype(dtype)
    y = rng.uniform(0, 1, 40).astype(dtype)
    coef = rng.standard_normal(5).astype(dtype)
    target = {"X": X, "y": y, "coef": coef}[what]
    target[(3, 2)[:target.ndim]] = val
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L, g = fastgrad.value_and_grad(X, y, coef, loss=loss, backend=backend)
        hv = fastgrad.hessp(X, y, coef, np.ones_like(coef), loss=loss, backend=backend)
    assert not np.isfinite(L)
    assert not np.isfinite(g).all()
    if np.isnan(val):
        assert np.isnan(L) and np.isnan(g).any()
    # H v depends on X always, on coef only through l''(z) (logistic; l'' -> 0 as
    # |z| -> inf), never on y
    if what == "X" or (what == "coef" and loss == "logistic" and np.isnan(val)):
        assert not np.isfinite(hv).all()


def test_float32_hessp_accuracy_4M_rows(backend, big_f32):
    from scipy.special import expit
    X, _, y_lo, coef, cache = big_f32
    n = X.shape[1]
    c = np.append(coef, np.float32(0.1))
    v = np.linspace(-1, 1, n + 1).astype(np.float32)
    hv = fastgrad.hessp(X, y_lo, c, v, loss="logistic", fit_intercept=True,
                        backend=backend)
    if "H" not in cache:
        cd, vd = c.astype(np.float64), v.astype(np.float64)
        H = np.zeros(n + 1)
        for s in range(0, X.shape[0], 500_000):
            Xb = X[s:s + 500_000].astype(np.float64)
            z = Xb @ cd[:n] + cd[n]
            t = expit(z) * expit(-z) * (Xb @ vd[:n] + vd[n])
            H[:n] += Xb.T @ t
            H[n] += t.sum()
        cache["H"] = H / X.shape[0]
    H = cache["H"]
    assert hv.dtype == np.float32
    assert np.abs(hv.astype(np.float64) - H).max() / np.abs(H).max() <= 1e-6


def test_native_log1pexp_sigmoid_against_libm():
    """The compiled exp/log1p polynomials (fg_expneg, fg_log1p_s) against the C
    library's, on a dense grid of z and on the extremes: a few ulp at most, and
    below e^-708 (subnormal results, flushed to 0 by design) 3e-308 absolute."""
    import math

    from fastgrad import _native
    zs = np.concatenate([np.linspace(-50.0, 50.0, 20001), np.linspace(-745.0, 745.0, 4001),
                         Z_EXTREME, -np.logspace(-300, 2.8, 400), np.logspace(-300, 2.8, 400)])
    for z in zs:
        z = float(z)
        ref = max(z, 0.0) + math.log1p(math.exp(-abs(z)))     # libm, no cancellation
        got = _native.log1pexp(z)
        assert abs(got - ref) <= 8 * np.finfo(float).eps * ref + 3e-308, (z, got, ref)
        e = math.exp(-abs(z))
        sref = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
        sgot = _native.sigmoid(z)
        assert abs(sgot - sref) <= 8 * np.finfo(float).eps * sref + 3e-308, (z, sgot, sref)
