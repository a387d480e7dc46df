"""rows=: a minibatch equals the call on X[rows], y[rows], sample_weight[rows]."""
import numpy as np
import pytest

import fastgrad
from conftest import (DTYPE_IDS, DTYPES, LOSSES, assert_grad_matches, assert_matches_ref,
                      assert_unchanged, make_problem, reference, reference_hessp, rtol_for,
                      snapshot)

M = 50
ROWS = {
    "sorted": np.array([0, 3, 4, 10, 49]),
    "unsorted": np.array([17, 2, 40, 5, 33, 8]),
    "duplicates": np.array([7, 7, 7, 1, 1, 30]),
    "negative": np.array([-1, -50, 3, -7, 12]),
    "all-permuted": np.random.default_rng(0).permutation(M),
    "single": np.array([13]),
    "int32": np.array([4, 9, 4, 44], dtype=np.int32),
    "uint64": np.array([1, 2, 3, 48], dtype=np.uint64),
    "strided-view": np.arange(M)[::-3],
}


def _kw(loss, fit_intercept, w, l2, reduction):
    return dict(loss=loss, fit_intercept=fit_intercept, sample_weight=w, l2=l2,
                reduction=reduction)


def _sliced(X, y, w, rows):
    r = np.asarray(rows).astype(np.intp)
    return X[r], y[r], (None if w is None else w[r])


@pytest.mark.parametrize("rows_id", list(ROWS))
@pytest.mark.parametrize("layout", ["C", "F", "strided", "negstride"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_rows_equal_slicing(backend, dtype, loss, layout, rows_id, to_layout):
    rows = ROWS[rows_id]
    X0, y, coef, w = make_problem(M, 7, 2, loss=loss, fit_intercept=True, weights=True,
                                  dtype=dtype, seed=30)
    w = w + dtype(0.1)           # every minibatch has positive weight
    X = to_layout(X0, layout)
    kw = _kw(loss, True, w, 0.3, "mean")
    before = snapshot(X, y, coef, w, rows)
    L, g = fastgrad.value_and_grad(X, y, coef, rows=rows, backend=backend, **kw)
    assert_unchanged([X, y, coef, w, rows], before)
    Xs, ys, ws = _sliced(X0, y, w, rows)
    Ls, gs = fastgrad.value_and_grad(Xs, ys, coef, backend=backend,
                                     **_kw(loss, True, ws, 0.3, "mean"))
    rt = rtol_for(dtype)
    ref = reference(X0, y, coef, rows=rows, **kw)
    assert_matches_ref(L, g, ref, rt)
    assert abs(L - Ls) <= 2 * rt * ref.loss_scale
    assert_grad_matches(g, gs.astype(np.float64), ref.grad_scale, 2 * rt)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss", LOSSES)
def test_rows_as_list_and_duplicates_count_twice(backend, loss, reduction):
    X, y, coef, w = make_problem(M, 4, None, loss=loss, weights=False, seed=31)
    kw = dict(_kw(loss, False, None, 0.0, reduction), backend=backend)
    rows = [5, 9, 5, -2]
    La, ga = fastgrad.value_and_grad(X, y, coef, rows=rows, **kw)
    Lb, gb = fastgrad.value_and_grad(X, y, coef, rows=np.array(rows), **kw)
    assert La == Lb
    np.testing.assert_array_equal(ga, gb)
    # with duplicates: the same as weighting the row twice
    w2 = np.zeros(M)
    w2[[5, 9, M - 2]] = [2.0, 1.0, 1.0]
    Lw, gw = fastgrad.value_and_grad(X, y, coef, **dict(kw, sample_weight=w2))
    np.testing.assert_allclose(La, Lw, rtol=1e-12)
    np.testing.assert_allclose(ga, gw, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fit_intercept", [False, True], ids=["noicpt", "icpt"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_empty_rows_sum_is_penalty(backend, dtype, fit_intercept):
    X, y, coef, w = make_problem(M, 5, 2, fit_intercept=fit_intercept, weights=True,
                                 dtype=dtype, seed=32)
    l2 = 0.75
    for rows in (np.array([], dtype=np.intp), [], np.array([], dtype=np.int64)):
        L, g = fastgrad.value_and_grad(X, y, coef, rows=rows, l2=l2, reduction="sum",
                                       fit_intercept=fit_intercept, sample_weight=w,
                                       backend=backend)
        c = coef.astype(np.float64)
        pen = c[:-1] if fit_intercept else c
        np.testing.assert_allclose(L, 0.5 * l2 * np.sum(pen ** 2), rtol=rtol_for(dtype))
        exp = l2 * c
        if fit_intercept:
            exp[-1] = 0.0
        np.testing.assert_allclose(g, exp, rtol=rtol_for(dtype), atol=0)
        obj = fastgrad.Objective(X, y, l2=l2, reduction="sum", fit_intercept=fit_intercept,
                                 sample_weight=w, backend=backend)
        Lo, go = obj(coef, rows=rows)
        assert Lo == L
        np.testing.assert_array_equal(go, g)
        assert obj.value(coef, rows=rows) == L
        hv = obj.hessp(coef, coef, rows=rows)          # H = l2 I (intercept: 0)
        np.testing.assert_allclose(hv, exp, rtol=rtol_for(dtype), atol=0)


def test_empty_rows_mean_raises(backend):
    X, y, coef, _ = make_problem(M, 3, seed=33)
    with pytest.raises(ValueError, match="rows|weight"):
        fastgrad.value_and_grad(X, y, coef, rows=[], backend=backend)


def test_rows_with_zero_total_weight_mean_raises(backend):
    X, y, coef, _ = make_problem(M, 3, seed=34)
    w = np.ones(M)
    w[[3, 4]] = 0.0
    with pytest.raises(ValueError, match="weight"):
        fastgrad.value_and_grad(X, y, coef, rows=[3, 4, 3], sample_weight=w,
                                backend=backend)


@pytest.mark.parametrize("bad", [[0, M], [-M - 1], [3, 10**9], [-(10**9)]],
                         ids=["m", "-m-1", "huge", "-huge"])
@pytest.mark.parametrize("api", ["value_and_grad", "grad", "hessp"])
def test_rows_out_of_range(backend, api, bad):
    X, y, coef, w = make_problem(M, 4, None, weights=True, seed=35)
    out = np.full_like(coef, 123.0)
    args = [X, y, coef] + ([coef * 0.5] if api == "hessp" else [])
    before = snapshot(*args, w, out)
    with pytest.raises(IndexError, match="rows|out of bounds"):
        getattr(fastgrad, api)(*args, sample_weight=w, rows=np.array(bad), out=out,
                               backend=backend)
    assert_unchanged(args + [w, out], before)


@pytest.mark.parametrize("method", ["value_and_grad", "grad", "hessp", "value"])
def test_objective_rows_out_of_range(backend, method):
    X, y, coef, w = make_problem(M, 4, None, weights=True, seed=36)
    obj = fastgrad.Objective(X, y, sample_weight=w, backend=backend)
    out = np.full_like(coef, 7.0)
    args = [coef] + ([coef * 0.5] if method == "hessp" else [])
    kw = {} if method == "value" else {"out": out}
    before = snapshot(X, y, w, out, *args)
    with pytest.raises(IndexError):
        getattr(obj, method)(*args, rows=[1, M], **kw)
    assert_unchanged([X, y, w, out] + args, before)


@pytest.mark.parametrize("rows_id", ["unsorted", "duplicates", "negative"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_objective_rows(backend, dtype, loss, rows_id):
    rows = ROWS[rows_id]
    X, y, coef, w = make_problem(M, 6, None, loss=loss, fit_intercept=True, weights=True,
                                 dtype=dtype, seed=37)
    w = w + dtype(0.1)
    kw = _kw(loss, True, w, 0.2, "mean")
    obj = fastgrad.Objective(X, y, backend=backend, **kw)
    Xs, ys, ws = _sliced(X, y, w, rows)
    kws = dict(_kw(loss, True, ws, 0.2, "mean"), backend=backend)
    rt = rtol_for(dtype)
    ref = reference(X, y, coef, rows=rows, **kw)

    L, g = obj.value_and_grad(coef, rows=rows)
    assert_matches_ref(L, g, ref, rt)
    Ls, gs = fastgrad.value_and_grad(Xs, ys, coef, **kws)
    assert abs(L - Ls) <= 2 * rt * ref.loss_scale
    assert_grad_matches(g, gs.astype(np.float64), ref.grad_scale, 2 * rt)

    L2, g2 = obj(coef, rows=list(rows))
    assert L2 == L
    np.testing.assert_array_equal(g2, g)
    np.testing.assert_array_equal(obj.grad(coef, rows=rows), g)
    assert abs(obj.value(coef, rows=rows) - ref.loss) <= rt * ref.loss_scale

    v = np.linspace(-1, 1, coef.size).astype(dtype)
    hv = obj.hessp(coef, v, rows=rows)
    exp, scale = reference_hessp(X, y, coef, v, rows=rows, **kw)
    assert_grad_matches(hv, exp, scale, rt)
    hvs = fastgrad.hessp(Xs, ys, coef, v, **kws)
    assert_grad_matches(hv, hvs.astype(np.float64), scale, 2 * rt)
    # the functional API agrees with Objective bit for bit
    np.testing.assert_array_equal(
        fastgrad.hessp(X, y, coef, v, rows=rows, backend=backend, **kw), hv)


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_rows_many_chunks(backend, dtype, layout, to_layout):
    """A minibatch long enough to span several internal chunks."""
    m, n = 30000, 10
    X0, y, coef, w = make_problem(m, n, None, loss="logistic", fit_intercept=True,
                                  weights=True, dtype=dtype, seed=38, coef_scale=0.3)
    X = to_layout(X0, layout)
    rows = np.random.default_rng(1).integers(-m, m, size=25000)
    kw = _kw("logistic", True, w, 0.05, "mean")
    L, g = fastgrad.value_and_grad(X, y, coef, rows=rows, backend=backend, **kw)
    assert_matches_ref(L, g, reference(X0, y, coef, rows=rows, **kw), rtol_for(dtype))


def test_rows_invalid_types(backend):
    X, y, coef, _ = make_problem(M, 3, seed=39)
    with pytest.raises(ValueError, match="rows"):
        fastgrad.value_and_grad(X, y, coef, rows=np.zeros((2, 2), dtype=int),
                                backend=backend)
    with pytest.raises((TypeError, IndexError), match="rows"):
        fastgrad.value_and_grad(X, y, coef, rows=np.array([0.0, 1.0]), backend=backend)
