"""Models fitted with scipy on fastgrad objectives match scikit-learn's solutions.

scikit-learn is a test-only dependency (the [test] extra); these tests skip without it.

How the objectives map (w: sample weights, Σw their sum, ℓ the pointwise loss):

- ``LogisticRegression(C)`` minimises ``C·Σ wᵢ ℓᵢ + ½‖coef‖²`` (intercept not penalised).
  Dividing by C: fastgrad ``reduction="sum"`` with ``l2 = 1/C``; dividing by C·Σw:
  ``reduction="mean"`` with ``l2 = 1/(C·Σw)``. Same minimiser.
- ``Ridge(alpha)`` minimises ``Σ wᵢ (yᵢ − xᵢ·coef − b)² + alpha‖coef‖²``, which is
  2 × fastgrad's squared ``reduction="sum"`` objective with ``l2 = alpha``, or
  2·Σw × ``reduction="mean"`` with ``l2 = alpha/Σw``.

Each fit (scipy L-BFGS-B with jac=True, and trust-ncg with hessp=obj.hessp) runs on both
backends, with and without sample weights, both reductions, on a well-conditioned
500 × 10 problem with tight optimizer tolerances, and is compared by the relative norm
‖a − b‖/‖b‖ of (coef, intercept).

Tolerances:
- float64: 1e-6 relative to scikit-learn (observed <= 3e-8, limited mostly by the
  optimizers' stopping rules).
- float32: 1e-5 (observed <= 1e-7). scikit-learn is fitted in float64 on the float32 data
  cast to float64 (so both fit the very same numbers); fastgrad evaluates loss and gradient
  in float32 arithmetic (~3e-8 relative), and coef is rounded to float32 on every call, so
  the minimiser is only determined to about that precision times the conditioning; the
  margin leaves room for kernels that round differently.
  For trust-ncg the float32 gradient and Hessian products are cast to float64 before
  scipy sees them: scipy's Steihaug CG runs in the gradient's dtype, and in float32 it stops
  early ("A bad approximation caused failure to predict improvement", ~1e-4 away).
"""
import functools

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")
from scipy.optimize import minimize  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402

import fastgrad  # noqa: E402

M, N = 500, 10
C = 0.5          # LogisticRegression
ALPHA = 3.0      # Ridge
RTOL = {np.float64: 1e-6, np.float32: 1e-5}
#: ‖∇L(fit)‖ / ‖∇L(0)‖ must be below this
GTOL = {np.float64: 1e-6, np.float32: 1e-5}

BACKENDS = ["native", "numpy"]
DTYPES = [np.float64, np.float32]
METHODS = ["L-BFGS-B", "trust-ncg"]


@functools.lru_cache(maxsize=None)
def _data(loss, dtype, weighted):
    """X (in dtype), y, sample_weight or None: seeded, well conditioned."""
    rng = np.random.default_rng(20240611)
    X = rng.standard_normal((M, N))
    coef = rng.standard_normal(N)
    z = X @ coef + 0.5
    if loss == "logistic":
        y = (rng.random(M) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    else:
        y = z + 0.3 * rng.standard_normal(M)
    w = rng.uniform(0.2, 3.0, size=M) if weighted else None
    X = X.astype(dtype)
    for a in (X, y) + ((w,) if w is not None else ()):
        a.flags.writeable = False
    return X, y, w


@functools.lru_cache(maxsize=None)
def _sklearn(loss, dtype, weighted):
    """scikit-learn's (coef, intercept), fitted in float64 on the same numbers."""
    X, y, w = _data(loss, dtype, weighted)
    X = X.astype(np.float64)
    if loss == "logistic":
        model = LogisticRegression(C=C, fit_intercept=True, tol=1e-12, max_iter=10000)
    else:
        model = Ridge(alpha=ALPHA, fit_intercept=True, solver="cholesky")
    model.fit(X, y, sample_weight=w)
    return np.r_[np.ravel(model.coef_), np.ravel(model.intercept_)]


def _objective(loss, dtype, weighted, reduction, backend):
    X, y, w = _data(loss, dtype, weighted)
    sw = M if w is None else w.sum()
    if loss == "logistic":
        l2 = 1.0 / C if reduction == "sum" else 1.0 / (C * sw)
    else:
        l2 = ALPHA if reduction == "sum" else ALPHA / sw
    return fastgrad.Objective(X, y, loss=loss, fit_intercept=True, sample_weight=w, l2=l2,
                              reduction=reduction, backend=backend)


def _fit(obj, method):
    x0 = np.zeros(obj.coef_shape)
    if method == "L-BFGS-B":
        res = minimize(obj, x0, jac=True, method="L-BFGS-B",
                       options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10000,
                                "maxfun": 20000})
    else:
        fun, hessp = obj, obj.hessp
        if obj.dtype == np.float32:  # see the module docstring
            def fun(c):
                value, g = obj(c)
                return value, g.astype(np.float64)

            def hessp(c, v):
                return obj.hessp(c, v).astype(np.float64)
        res = minimize(fun, x0, jac=True, hessp=hessp, method="trust-ncg",
                       options={"gtol": 1e-12, "maxiter": 1000})
    return res.x


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", ["logistic", "squared"])
def test_fit_matches_sklearn(loss, backend, dtype, weighted, reduction, method):
    obj = _objective(loss, dtype, weighted, reduction, backend)
    x = _fit(obj, method)
    ref = _sklearn(loss, dtype, weighted)
    rel = _rel(x, ref)
    assert rel < RTOL[dtype], (
        f"{loss} {method} {backend} {np.dtype(dtype).name} weighted={weighted} "
        f"reduction={reduction}: relative difference to scikit-learn {rel:.2e}")
    # the fitted point is stationary
    g = obj.grad(x)
    g0 = obj.grad(np.zeros(obj.coef_shape))
    assert g.dtype == dtype
    assert np.linalg.norm(g) <= GTOL[dtype] * np.linalg.norm(g0), (
        f"|grad| at the fit {np.linalg.norm(g):.2e}, at 0 {np.linalg.norm(g0):.2e}")
    # and so is scikit-learn's solution, in fastgrad's objective (float64 only: in float32
    # the gradient's rounding is itself about this size)
    if dtype == np.float64:
        assert np.linalg.norm(obj.grad(ref)) <= 1e-5 * np.linalg.norm(g0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sklearn_mapping_is_the_same_objective(backend):
    """The l2 / reduction mapping is exact: scaled fastgrad losses equal sklearn's objective."""
    rng = np.random.default_rng(3)
    coef = rng.standard_normal(N + 1)
    # logistic: C·Σ wᵢ ℓᵢ + ½‖coef‖², computed directly
    X, y, w = _data("logistic", np.float64, True)
    z = X @ coef[:N] + coef[N]
    direct = C * np.sum(w * (np.logaddexp(0.0, z) - y * z)) + 0.5 * coef[:N] @ coef[:N]
    for reduction, scale in (("sum", C), ("mean", C * w.sum())):
        obj = _objective("logistic", np.float64, True, reduction, backend)
        assert scale * obj.value(coef) == pytest.approx(direct, rel=1e-12)
    # ridge: Σ wᵢ (yᵢ − zᵢ)² + alpha‖coef‖²
    X, y, w = _data("squared", np.float64, True)
    z = X @ coef[:N] + coef[N]
    direct = np.sum(w * (y - z) ** 2) + ALPHA * coef[:N] @ coef[:N]
    for reduction, scale in (("sum", 2.0), ("mean", 2.0 * w.sum())):
        obj = _objective("squared", np.float64, True, reduction, backend)
        assert scale * obj.value(coef) == pytest.approx(direct, rel=1e-12)
