"""Fuzzing (issue 7.5): random shapes, strides, dtypes, keywords and values.

Hypothesis throws them at both backends; they must agree (to the tolerances of
conftest, NaN and inf in the same places) or raise the same exception type.
Values include subnormals, +-1e300, NaN and inf, so both may legitimately
produce inf or NaN: agreement is then "same non-finite pattern"; and the
float64 reference of conftest checks the native result wherever it is finite.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastgrad
from conftest import NATIVE_AVAILABLE, reference, rtol_for

pytestmark = pytest.mark.skipif(not NATIVE_AVAILABLE, reason="needs the compiled core")

SPECIAL = [0.0, -0.0, 5e-324, -5e-324, 2.2e-308, 1e-300, -1e-300, 1e300, -1e300,
           1.0, -1.0, 0.5, np.nan, np.inf, -np.inf]


def _values(draw, shape, dtype, rng, special_p):
    a = rng.standard_normal(shape)
    mask = rng.uniform(size=shape) < special_p
    if mask.any():
        a[mask] = rng.choice(np.array(SPECIAL), size=int(mask.sum()))
    with np.errstate(over="ignore"):
        return a.astype(dtype)


def _layout(a, how):
    if a.ndim == 0 or how == "C":
        return a
    if how == "F":
        return np.asfortranarray(a)
    if how == "neg":
        return np.ascontiguousarray(a[(slice(None, None, -1),) * a.ndim])[
            (slice(None, None, -1),) * a.ndim]
    big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)    # every other element
    view = big[(slice(None, None, 2),) * a.ndim]
    view[...] = a
    return view


@st.composite
def problems(draw):
    m = draw(st.integers(0, 40))
    n = draw(st.integers(0, 6))
    k = draw(st.sampled_from([None, 1, 3]))
    loss = draw(st.sampled_from(["squared", "logistic"]))
    fit_intercept = draw(st.booleans())
    xdtype = draw(st.sampled_from([np.float64, np.float32, np.int32, np.bool_]))
    special_p = draw(st.sampled_from([0.0, 0.0, 0.05, 0.3]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    X = _values(draw, (m, n), np.float64, rng, special_p)
    if xdtype in (np.int32, np.bool_):
        X = np.nan_to_num(X, posinf=3, neginf=-3).clip(-3, 3).astype(xdtype)
    else:
        with np.errstate(over="ignore"):
            X = X.astype(xdtype)
    X = _layout(X, draw(st.sampled_from(["C", "F", "neg", "strided"])))
    ys = (m,) if k is None else (m, k)
    if loss == "logistic":
        y = rng.uniform(0, 1, ys)
        if special_p and m:
            y.flat[rng.integers(0, y.size)] = draw(st.sampled_from([0.0, 1.0, 5e-324, np.nan]))
    else:
        y = _values(draw, ys, np.float64, rng, special_p)
    y = _layout(y, draw(st.sampled_from(["C", "neg", "strided"])))
    p = n + fit_intercept
    cs = (p,) if k is None else (p, k)
    coef = _layout(_values(draw, cs, np.float64, rng, special_p),
                   draw(st.sampled_from(["C", "F", "neg", "strided"])))
    v = _values(draw, cs, np.float64, rng, special_p)
    kw = dict(loss=loss, fit_intercept=fit_intercept,
              reduction=draw(st.sampled_from(["mean", "sum"])),
              l2=draw(st.sampled_from([0.0, 0.5, 1e-300, 1e300])))
    if draw(st.booleans()):
        w = rng.uniform(0, 2, m)
        if m and draw(st.booleans()):
            w[rng.integers(0, m)] = draw(st.sampled_from([0.0, 5e-324, 1e300, -1.0, np.nan]))
        kw["sample_weight"] = w
    if m and draw(st.booleans()):
        kw["rows"] = rng.integers(-m, m, draw(st.integers(0, 2 * m)))
    if draw(st.booleans()):
        kw["n_threads"] = draw(st.sampled_from([1, 2, 3, 64]))
    api = draw(st.sampled_from(["value_and_grad", "grad", "hessp", "obj"]))
    return X, y, coef, v, kw, api


def _run(backend, X, y, coef, v, kw, api):
    kw = dict(kw, backend=backend)
    if api == "hessp":
        return fastgrad.hessp(X, y, coef, v, **kw)
    if api == "obj":
        rows = kw.pop("rows", None)
        obj = fastgrad.Objective(X, y, check_input=False, **kw)
        return obj(coef, rows=rows)
    return getattr(fastgrad, api)(X, y, coef, **kw)


def _agree(a, b, rtol):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    # where either side is non-finite the other must be non-finite too; where one
    # is NaN and the other inf, both are "no number" (the order of inf - inf or
    # 0 * inf inside a sum is not specified), so only finiteness must match
    np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b), err_msg="finiteness")
    fin = np.isfinite(a)
    if fin.any():
        scale = max(float(np.max(np.abs(b[fin]))), 1e-300)
        np.testing.assert_allclose(a[fin], b[fin], rtol=rtol, atol=rtol * scale)


@given(problems())
def test_backends_agree(prob):
    X, y, coef, v, kw, api = prob
    results = {}
    for backend in ("native", "numpy"):
        try:
            with np.errstate(all="ignore"):     # casts of 1e300 to float32 warn (NumPy)
                results[backend] = _run(backend, X, y, coef, v, kw, api)
        except (ValueError, TypeError, IndexError) as exc:
            results[backend] = exc
    nat, ref = results["native"], results["numpy"]
    if isinstance(nat, Exception) or isinstance(ref, Exception):
        assert type(nat) is type(ref), (nat, ref)
        return
    dtype = np.float32 if np.asarray(X).dtype == np.float32 else np.float64
    # huge values lose relative accuracy to cancellation: the condition-scaled check
    # against the reference below is the strict one; this is the agreement check
    rtol = 1e3 * rtol_for(dtype)
    if api in ("value_and_grad", "obj"):
        assert isinstance(nat[0], float) and isinstance(ref[0], float)
        _agree(nat[0], ref[0], rtol)
        _agree(nat[1], ref[1], rtol)
    else:
        _agree(nat, ref, rtol)
    # the independent reference, where everything is finite and moderate
    finite = all(np.isfinite(np.asarray(a, dtype=np.float64)).all() and
                 np.abs(np.asarray(a, dtype=np.float64)).max(initial=0) < 1e100
                 for a in (X, y, coef, kw.get("sample_weight", 0.0)))
    if finite and api in ("value_and_grad", "obj") and kw["l2"] < 1e100:
        rkw = {a: b for a, b in kw.items() if a not in ("n_threads",)}
        r = reference(X, y, coef, **rkw)
        tiny = float(np.finfo(dtype).tiny)
        assert abs(nat[0] - r.loss) <= rtol_for(dtype) * r.loss_scale + tiny
        err = np.abs(np.asarray(nat[1], dtype=np.float64) - r.grad)
        assert (err <= rtol_for(dtype) * r.grad_scale + tiny).all()
