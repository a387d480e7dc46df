"""Shared fixtures and the independent float64 reference of the tests.

Nothing here imports fastgrad's arithmetic: the reference below is written from
the formulas of API.md only (closed forms in float64, ``np.logaddexp``,
``scipy.special.expit``), so it can disagree with both backends.
"""
import itertools
import os
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from scipy.special import expit

# ---------------------------------------------------------------------------
# hypothesis: a bounded profile (the whole suite must stay well under 3 min on
# 2 cores); HYPOTHESIS_PROFILE=thorough for a longer local run.
settings.register_profile(
    "fastgrad",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
    print_blob=True,
)
settings.register_profile("thorough", parent=settings.get_profile("fastgrad"),
                          max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fastgrad"))


def pytest_configure(config):
    # hypothesis formats a falsifying example with black when it is installed, and
    # black's import of mypy_extensions warns; under filterwarnings=error that
    # would hide the failure report behind an INTERNALERROR
    config.addinivalue_line(
        "filterwarnings",
        "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")

# ---------------------------------------------------------------------------
# backends, dtypes, layouts


def _native_available():
    try:
        from fastgrad import _native  # noqa: F401
    except ImportError:
        return False
    return True


NATIVE_AVAILABLE = _native_available()
BACKENDS = ["native", "numpy"]
DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]
LAYOUTS = ["C", "F", "strided", "negstride", "readonly", "memmap"]
LOSSES = ["squared", "logistic"]
#: the log-link losses as (loss, power): power None except for tweedie; the powers
#: cover 1 < p < 2 (y >= 0), p > 2 (y > 0) and p < 0 (any y)
GLM_LOSSES = [("poisson", None), ("gamma", None), ("tweedie", 1.5), ("tweedie", 3.0),
              ("tweedie", -1.0)]
GLM_IDS = ["poisson", "gamma", "tweedie1.5", "tweedie3", "tweedie-1"]
REDUCTIONS = ["mean", "sum"]

#: tolerances relative to the condition scale of ``Ref`` (measured on the
#: sweep and on 20000 x 13 / 3000 x 300: float64 errors are <= 1e-15 of the
#: scale; float32 gradients <= 5e-8 (z and the sums are accumulated in float64,
#: the result rounded once to float32), float32 losses <= 1e-14)
RTOL = {np.dtype(np.float64): 1e-11, np.dtype(np.float32): 1e-6}


def rtol_for(dtype):
    return RTOL[np.dtype(dtype)]


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param == "native" and not NATIVE_AVAILABLE:
        pytest.skip("fastgrad._native is not importable in this build")
    return request.param


def skip_if_no_native(backend):
    if backend == "native" and not NATIVE_AVAILABLE:
        pytest.skip("fastgrad._native is not importable in this build")


def as_layout(A, layout, tmpdir=None):
    """A copy of the 2-D array A (its dtype and values) in the given memory layout."""
    A = np.asarray(A)
    m, n = A.shape
    if layout == "C":
        out = np.ascontiguousarray(A).copy()
    elif layout == "F":
        out = np.asfortranarray(A).copy()
    elif layout == "strided":
        # every other column and row of a larger buffer: no axis is contiguous
        base = np.full((2 * m + 1, 2 * n + 1), np.nan, dtype=A.dtype)
        out = base[1::2, ::2][:m, :n]
        out[...] = A
    elif layout == "negstride":
        base = np.ascontiguousarray(A[::-1, ::-1])
        out = base[::-1, ::-1]
    elif layout == "readonly":
        out = np.array(A, copy=True)
        out.flags.writeable = False
    elif layout == "memmap":
        assert tmpdir is not None, "memmap layout needs a directory"
        fname = os.path.join(str(tmpdir), f"X_{next(_MEMMAP_COUNTER)}.dat")
        mm = np.memmap(fname, dtype=A.dtype, mode="w+", shape=A.shape)
        mm[...] = A
        mm.flush()
        del mm
        out = np.memmap(fname, dtype=A.dtype, mode="r", shape=A.shape)
    else:
        raise ValueError(layout)
    assert out.shape == A.shape and out.dtype == A.dtype
    np.testing.assert_array_equal(out, A)
    if layout == "strided" and m > 1 and n > 1:      # size-1 axes are contiguous
        assert not out.flags.c_contiguous and not out.flags.f_contiguous
    if layout == "negstride" and m > 1 and n > 1:
        assert out.strides[0] < 0 and out.strides[1] < 0
    return out


_MEMMAP_COUNTER = itertools.count()


@pytest.fixture(scope="session")
def memmap_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("memmaps")


@pytest.fixture
def make_X(memmap_dir):
    """make_X(m, n, dtype, layout, seed=0, scale=1.0) -> X in that layout."""

    def _make(m, n, dtype=np.float64, layout="C", seed=0, scale=1.0):
        rng = np.random.default_rng(seed)
        A = (scale * rng.standard_normal((m, n))).astype(dtype)
        return as_layout(A, layout, memmap_dir)

    return _make


@pytest.fixture
def to_layout(memmap_dir):
    """to_layout(A, layout): A's values in that layout (memmaps in a temp dir)."""
    return lambda A, layout: as_layout(A, layout, memmap_dir)


def glm_power(loss, power):
    """The Tweedie power of a log-link loss: 1 for poisson, 2 for gamma."""
    return {"poisson": 1.0, "gamma": 2.0}.get(loss, power)


def make_problem(m, n, k=None, *, loss="squared", fit_intercept=False, weights=False,
                 dtype=np.float64, seed=0, coef_scale=0.5, power=None):
    """Random (X, y, coef, sample_weight) as C-ordered arrays of ``dtype``.

    k=None: single output (y (m,), coef (n[+1],)); else y (m, k), coef (n[+1], k).
    Logistic targets mix hard 0/1 labels and soft labels in [0, 1]. Log-link
    targets lie in the loss's domain: counts with zeros (y >= 0), gamma draws
    (y > 0), or normals (tweedie with power < 0).
    Weights are in [0, 2] with some exact zeros.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)).astype(dtype)
    shape_y = (m,) if k is None else (m, k)
    p = n + 1 if fit_intercept else n
    shape_c = (p,) if k is None else (p, k)
    if loss == "squared":
        y = rng.standard_normal(shape_y)
    elif loss in ("poisson", "gamma", "tweedie"):
        pw = glm_power(loss, power)
        if pw < 0:
            y = rng.standard_normal(shape_y)
        elif pw < 2:
            y = rng.poisson(1.5, shape_y) * rng.uniform(0.5, 1.5, shape_y)
        else:
            y = rng.gamma(2.0, 0.7, shape_y)
    else:
        y = rng.uniform(0.0, 1.0, shape_y)
        hard = rng.uniform(size=shape_y) < 0.5
        y[hard] = np.round(y[hard])
    coef = coef_scale * rng.standard_normal(shape_c)
    w = None
    if weights:
        w = rng.uniform(0.0, 2.0, m)
        w[rng.uniform(size=m) < 0.2] = 0.0
        if m and not w.any():
            w[0] = 1.0
    return (X, y.astype(dtype), coef.astype(dtype),
            None if w is None else w.astype(dtype))


# ---------------------------------------------------------------------------
# the independent float64 reference


class Ref(NamedTuple):
    loss: float
    grad: np.ndarray          # coef's shape
    loss_scale: float         # sum of magnitudes of what the loss adds up
    grad_scale: np.ndarray    # elementwise: magnitudes of what each entry adds up


def _design(X, fit_intercept):
    X = np.asarray(X, dtype=np.float64)
    if fit_intercept:
        X = np.hstack([X, np.ones((X.shape[0], 1))])
    return X


def _penalty_mask(p, fit_intercept, k):
    mask = np.ones((p, k))
    if fit_intercept:
        mask[-1] = 0.0
    return mask


def _softplus(z):
    return np.logaddexp(0.0, z)


def glm_pointwise(loss, z, y, power=None):
    """(l, l', l'') of the log-link losses, the closed forms of API.md's table
    written as they stand (for moderate z), and the magnitudes (lmag, dmag, hmag)
    of their terms, the scales that rounding works on (the terms, and what an
    error of one unit in z does to them)."""
    p = glm_power(loss, power)
    a, b = np.exp((2.0 - p) * z), np.exp((1.0 - p) * z)
    if p == 1.0:                                  # poisson (or tweedie power=1)
        ell = a - y * z
        lterms = np.abs(a) + np.abs(y * z)
    elif p == 2.0:                                # gamma (or tweedie power=2)
        ell = z + y * b
        lterms = np.abs(z) + np.abs(y * b)
    else:
        ell = a / (2.0 - p) - y * b / (1.0 - p)
        lterms = np.abs(a / (2.0 - p)) + np.abs(y * b / (1.0 - p))
    d = a - y * b
    h = (2.0 - p) * a - (1.0 - p) * y * b
    dterms = np.abs(a) + np.abs(y * b)
    hterms = np.abs((2.0 - p) * a) + np.abs((1.0 - p) * y * b)
    h3 = np.abs((2.0 - p) ** 2 * a) + np.abs((1.0 - p) ** 2 * y * b)
    return ell, d, h, (lterms, dterms, hterms, h3)


def pointwise(loss, z, y, power=None):
    """(l, l', l'') in float64 from the table of API.md, stable for every finite z."""
    if loss in ("poisson", "gamma", "tweedie"):
        return glm_pointwise(loss, z, y, power)[:3]
    if loss == "squared":
        r = z - y
        return 0.5 * r * r, r, np.ones_like(z)
    # log(1+e^z) - y z == (1-y) softplus(z) + y softplus(-z): two terms >= 0
    ell = (1.0 - y) * _softplus(z) + y * _softplus(-z)
    s, sm = expit(z), expit(-z)          # sigma(z), 1 - sigma(z), both accurate
    d = (1.0 - y) * s - y * sm           # sigma(z) - y
    return ell, d, s * sm


def _prep(X, y, coef, sample_weight, fit_intercept, reduction, rows):
    Xd = _design(X, fit_intercept)
    yd = np.asarray(y, dtype=np.float64)
    cd = np.asarray(coef, dtype=np.float64)
    m = Xd.shape[0]
    wd = np.ones(m) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if rows is not None:
        rows = np.asarray(rows, dtype=np.intp)
        Xd, yd, wd = Xd[rows], yd[rows], wd[rows]
    single = yd.ndim == 1
    Y = yd[:, None] if single else yd
    C = cd[:, None] if single else cd
    D = wd.sum() if reduction == "mean" else 1.0
    return Xd, Y, C, wd, D, single


def reference(X, y, coef, *, loss="squared", fit_intercept=False, sample_weight=None,
              l2=0.0, reduction="mean", rows=None, power=None):
    """Loss and gradient of API.md, computed in float64 with plain NumPy."""
    Xd, Y, C, w, D, single = _prep(X, y, coef, sample_weight, fit_intercept, reduction,
                                   rows)
    p, k = C.shape
    mask = _penalty_mask(p, fit_intercept, k)
    with np.errstate(all="ignore"):
        Z = Xd @ C
        ell, d, _ = pointwise(loss, Z, Y, power)
        W = w[:, None]
        # the intercept is not penalised: left out (0 * inf would be NaN), not times 0
        pen = np.where(mask > 0, C, 0.0)
        L = float(np.sum(W * ell) / D + 0.5 * l2 * np.sum(pen ** 2))
        G = Xd.T @ (W * d) / D + l2 * pen
        # condition scales: what rounding in z, l, l' and the sums can cost
        absX = np.abs(Xd)
        zmag = absX @ np.abs(C) + np.abs(Y)
        dmag = np.abs(d) + zmag
        lmag = np.abs(ell) + np.abs(Y * Z) + (np.abs(d) + 1.0) * zmag
        if loss in ("poisson", "gamma", "tweedie"):
            lt, dt, ht, _ = glm_pointwise(loss, Z, Y, power)[3]
            lmag = lt + (dt + 1.0) * zmag
            dmag = dt + ht * zmag
        Ls = float(np.sum(W * lmag) / D + 0.5 * l2 * np.sum(C ** 2) + 1e-300)
        Gs = absX.T @ (W * dmag) / D + l2 * np.abs(C) + 1e-300
    if single:
        G, Gs = G[:, 0], Gs[:, 0]
    return Ref(L, G, Ls, Gs)


def reference_hessp(X, y, coef, v, *, loss="squared", fit_intercept=False,
                    sample_weight=None, l2=0.0, reduction="mean", rows=None, power=None):
    """(H v, scale) with H v = Xᵀ(w l'' (X v))/D + l2 v (intercept rows unpenalised)."""
    Xd, Y, C, w, D, single = _prep(X, y, coef, sample_weight, fit_intercept, reduction,
                                   rows)
    V = np.asarray(v, dtype=np.float64)
    V = V[:, None] if single else V
    p, k = C.shape
    mask = _penalty_mask(p, fit_intercept, k)
    with np.errstate(all="ignore"):
        _, _, h = pointwise(loss, Xd @ C, Y, power)
        W = w[:, None]
        Hv = Xd.T @ (W * h * (Xd @ V)) / D + l2 * np.where(mask > 0, V, 0.0)
        absX = np.abs(Xd)
        # h itself carries the rounding of z for the logistic loss (|h'| <= 0.1)
        hmag = h + (0.0 if loss == "squared" else 0.1 * (absX @ np.abs(C)))
        if loss in ("poisson", "gamma", "tweedie"):
            _, _, ht, h3 = glm_pointwise(loss, Xd @ C, Y, power)[3]
            hmag = ht + h3 * (absX @ np.abs(C) + 1.0)
        S = absX.T @ (W * hmag * (absX @ np.abs(V))) / D + l2 * np.abs(V) + 1e-300
    if single:
        Hv, S = Hv[:, 0], S[:, 0]
    return Hv, S


def explicit_hessian(X, y, coef, *, loss="squared", fit_intercept=False,
                     sample_weight=None, l2=0.0, reduction="mean"):
    """The full Hessian of L in the flattened (C-order) coef, built from the formulas.

    For k outputs the columns are independent: H[(a, j), (b, l)] = δ_jl H_j[a, b],
    H_j = Xᵀ diag(w l''(z_j)) X / D + l2 diag(mask).
    """
    Xd, Y, C, w, D, single = _prep(X, y, coef, sample_weight, fit_intercept, reduction,
                                   None)
    p, k = C.shape
    mask = _penalty_mask(p, fit_intercept, k)
    _, _, h = pointwise(loss, Xd @ C, Y)
    H = np.zeros((p, k, p, k))
    for j in range(k):
        Hj = (Xd * (w * h[:, j])[:, None]).T @ Xd / D + l2 * np.diag(mask[:, j])
        H[:, j, :, j] = Hj
    return H.reshape(p * k, p * k)


def assert_matches_ref(loss, g, ref, rtol, what=""):
    """|loss - ref.loss| <= rtol * scale and |g - ref.grad| <= rtol * scale, elementwise."""
    assert isinstance(loss, float), type(loss)
    assert np.shape(g) == ref.grad.shape, (np.shape(g), ref.grad.shape)
    err = abs(loss - ref.loss)
    assert err <= rtol * ref.loss_scale, (
        f"{what} loss {loss!r} vs reference {ref.loss!r}: error {err:.3g} > "
        f"{rtol:g} * scale {ref.loss_scale:.3g}")
    assert_grad_matches(g, ref.grad, ref.grad_scale, rtol, what)


def assert_grad_matches(g, expected, scale, rtol, what=""):
    g = np.asarray(g)
    # results below the smallest normal number of their dtype lose relative precision
    tiny = float(np.finfo(g.dtype).tiny) if g.dtype.kind == "f" else 0.0
    g64 = g.astype(np.float64)
    assert g64.shape == expected.shape, (g64.shape, expected.shape)
    err = np.abs(g64 - expected)
    ok = err <= rtol * scale + tiny
    if not ok.all():
        i = np.unravel_index(int(np.argmax(err / (rtol * scale + tiny))), err.shape)
        raise AssertionError(
            f"{what} gradient mismatch at {i}: got {g64[i]!r}, reference {expected[i]!r}, "
            f"error {err[i]:.3g} > {rtol:g} * scale {scale[i]:.3g} "
            f"({int((~ok).sum())} of {ok.size} entries)")


def snapshot(*arrays):
    """Copies of the arrays (None kept) to compare against after a call."""
    return [None if a is None else np.array(a, copy=True) for a in arrays]


def assert_unchanged(arrays, copies):
    for a, c in zip(arrays, copies):
        if a is None:
            continue
        a = np.asarray(a)
        assert a.dtype == c.dtype and a.shape == c.shape
        np.testing.assert_array_equal(a, c, err_msg="an argument was modified")
        # NaN-aware bitwise comparison (assert_array_equal treats NaN == NaN)
        assert a.tobytes() == np.ascontiguousarray(c).tobytes()
