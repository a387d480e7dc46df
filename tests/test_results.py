"""Loss and gradient against the independent float64 reference of conftest.py."""
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import fastgrad
from conftest import (DTYPE_IDS, DTYPES, LAYOUTS, LOSSES, REDUCTIONS, NATIVE_AVAILABLE,
                      as_layout, assert_matches_ref, assert_grad_matches, make_problem,
                      reference, rtol_for, skip_if_no_native)

M, N, K = 37, 7, 3     # 7 columns: never a multiple of a SIMD width


def _kw(loss, fit_intercept, w, l2, reduction):
    return dict(loss=loss, fit_intercept=fit_intercept, sample_weight=w, l2=l2,
                reduction=reduction)


# ---------------------------------------------------------------------------
# the sweep


@pytest.mark.parametrize("k", [None, K], ids=["coef(n,)", "coef(n,k)"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("l2", [0.0, 0.7], ids=["l2=0", "l2=0.7"])
@pytest.mark.parametrize("weighted", [False, True], ids=["w=None", "w"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["noicpt", "icpt"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_value_and_grad_sweep(backend, dtype, layout, loss, fit_intercept, weighted, l2,
                              reduction, k, to_layout):
    X0, y, coef, w = make_problem(M, N, k, loss=loss, fit_intercept=fit_intercept,
                                  weights=weighted, dtype=dtype, seed=1)
    X = to_layout(X0, layout)
    kw = _kw(loss, fit_intercept, w, l2, reduction)
    ref = reference(X0, y, coef, **kw)
    # out=None: a new array
    L, g = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
    assert g.dtype == np.dtype(dtype) and g.shape == coef.shape
    assert_matches_ref(L, g, ref, rtol_for(dtype), "out=None")
    # out preallocated (filled with NaN): written in place, returned, same numbers
    out = np.full(coef.shape, np.nan, dtype=dtype)
    L2, g2 = fastgrad.value_and_grad(X, y, coef, out=out, backend=backend, **kw)
    assert g2 is out
    assert L2 == L
    np.testing.assert_array_equal(out, g)
    # grad() is the gradient of value_and_grad, bit for bit, with and without out
    np.testing.assert_array_equal(fastgrad.grad(X, y, coef, backend=backend, **kw), g)
    out3 = np.full(coef.shape, np.inf, dtype=dtype)
    assert fastgrad.grad(X, y, coef, out=out3, backend=backend, **kw) is out3
    np.testing.assert_array_equal(out3, g)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_backends_agree(dtype, layout, loss, to_layout):
    skip_if_no_native("native")
    X0, y, coef, w = make_problem(101, 9, 2, loss=loss, fit_intercept=True, weights=True,
                                  dtype=dtype, seed=2)
    X = to_layout(X0, layout)
    kw = _kw(loss, True, w, 0.3, "mean")
    Ln, gn = fastgrad.value_and_grad(X, y, coef, backend="native", **kw)
    Lp, gp = fastgrad.value_and_grad(X, y, coef, backend="numpy", **kw)
    ref = reference(X0, y, coef, **kw)
    rt = rtol_for(dtype)
    assert abs(Ln - Lp) <= 2 * rt * ref.loss_scale
    assert_grad_matches(gn, gp.astype(np.float64), ref.grad_scale, 2 * rt)


def test_auto_backend_is_native_when_available():
    X, y, coef, _ = make_problem(50, 4, seed=3)
    La, ga = fastgrad.value_and_grad(X, y, coef, backend="auto", n_threads=1)
    other = "native" if NATIVE_AVAILABLE else "numpy"
    Lo, go = fastgrad.value_and_grad(X, y, coef, backend=other, n_threads=1)
    assert La == Lo
    np.testing.assert_array_equal(ga, go)


# ---------------------------------------------------------------------------
# finite differences (float64)


def _central_diff(f, c, h):
    c = np.array(c, dtype=np.float64)
    g = np.empty_like(c)
    for idx in np.ndindex(c.shape):
        cp, cm = c.copy(), c.copy()
        cp[idx] += h
        cm[idx] -= h
        g[idx] = (f(cp) - f(cm)) / (2 * h)
    return g


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("k", [None, 2], ids=["single", "multi"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["noicpt", "icpt"])
@pytest.mark.parametrize("loss", LOSSES)
def test_grad_is_derivative_of_loss(backend, loss, fit_intercept, k, reduction):
    X, y, coef, w = make_problem(40, 5, k, loss=loss, fit_intercept=fit_intercept,
                                 weights=True, seed=4)
    kw = dict(_kw(loss, fit_intercept, w, 0.25, reduction), backend=backend)
    _, g = fastgrad.value_and_grad(X, y, coef, **kw)
    fd = _central_diff(lambda c: fastgrad.value_and_grad(X, y, c, **kw)[0], coef, 1e-5)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7 * np.abs(fd).max())


# ---------------------------------------------------------------------------
# the seeds' conventions (API.md)


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_seed_sum_of_squares(backend, dtype, layout, to_layout):
    """‖Xθ − y‖² and 2Xᵀ(Xθ − y) are 2 × reduction="sum"."""
    X0, y, th, _ = make_problem(60, 6, dtype=dtype, seed=5)
    X = to_layout(X0, layout)
    Xd, yd, td = (a.astype(np.float64) for a in (X0, y, th))
    r = Xd @ td - yd
    J = float(r @ r)
    G = 2 * Xd.T @ r
    L, g = fastgrad.value_and_grad(X, y, th, reduction="sum", backend=backend)
    rt = rtol_for(dtype)
    np.testing.assert_allclose(2 * L, J, rtol=rt)
    np.testing.assert_allclose(2 * g.astype(np.float64), G, rtol=rt,
                               atol=rt * np.abs(G).max())


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_seed_half_mean_squares(backend, dtype, layout, to_layout):
    """J = 1/(2m)‖Xθ − y‖² with gradient (1/m)Xᵀ(Xθ − y) is reduction="mean"."""
    X0, y, th, _ = make_problem(60, 6, dtype=dtype, seed=6)
    X = to_layout(X0, layout)
    m = X0.shape[0]
    Xd, yd, td = (a.astype(np.float64) for a in (X0, y, th))
    r = Xd @ td - yd
    J = float(r @ r) / (2 * m)
    G = Xd.T @ r / m
    L, g = fastgrad.value_and_grad(X, y, th, reduction="mean", backend=backend)
    rt = rtol_for(dtype)
    np.testing.assert_allclose(L, J, rtol=rt)
    np.testing.assert_allclose(g.astype(np.float64), G, rtol=rt, atol=rt * np.abs(G).max())


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_seed_logistic_with_bias(backend, dtype, layout, to_layout):
    """J = −(1/m)Σ[y log a + (1−y) log(1−a)], grads (1/m)Xᵀ(a−y), mean(a−y)."""
    rng = np.random.default_rng(7)
    m, n = 80, 5
    X0 = rng.standard_normal((m, n)).astype(dtype)
    y = (rng.uniform(size=m) < 0.4).astype(dtype)
    th = (0.5 * rng.standard_normal(n)).astype(dtype)
    b = dtype(0.3)
    X = to_layout(X0, layout)
    Xd, yd, td = (a.astype(np.float64) for a in (X0, y, th))
    a = 1.0 / (1.0 + np.exp(-(Xd @ td + float(b))))
    J = -np.mean(yd * np.log(a) + (1 - yd) * np.log(1 - a))
    gth = Xd.T @ (a - yd) / m
    gb = np.mean(a - yd)
    coef = np.append(th, b).astype(dtype)
    L, g = fastgrad.value_and_grad(X, y, coef, loss="logistic", fit_intercept=True,
                                   backend=backend)
    rt = rtol_for(dtype)
    np.testing.assert_allclose(L, J, rtol=rt)
    G = np.append(gth, gb)
    np.testing.assert_allclose(g.astype(np.float64), G, rtol=rt, atol=rt * np.abs(G).max())


# ---------------------------------------------------------------------------
# edge shapes


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 65])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_odd_feature_counts(backend, dtype, layout, n, to_layout):
    for loss, k, fi in [("squared", None, False), ("logistic", 2, True)]:
        X0, y, coef, w = make_problem(29, n, k, loss=loss, fit_intercept=fi, weights=True,
                                      dtype=dtype, seed=n)
        X = to_layout(X0, layout)
        kw = _kw(loss, fi, w, 0.1, "mean")
        L, g = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
        assert_matches_ref(L, g, reference(X0, y, coef, **kw), rtol_for(dtype),
                           f"{loss} k={k}")


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 63, 64, 65, 129])
@pytest.mark.parametrize("layout", ["C", "F", "negstride"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_odd_row_counts(backend, dtype, layout, m, to_layout):
    for loss, k, fi in [("squared", 3, True), ("logistic", None, False)]:
        X0, y, coef, w = make_problem(m, 6, k, loss=loss, fit_intercept=fi, weights=False,
                                      dtype=dtype, seed=m)
        X = to_layout(X0, layout)
        kw = _kw(loss, fi, w, 0.0, "mean")
        L, g = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
        assert_matches_ref(L, g, reference(X0, y, coef, **kw), rtol_for(dtype),
                           f"{loss} k={k}")


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_one_by_one(backend, dtype, loss):
    """m = n = 1, single output and k = 1 (2-D y), with and without intercept."""
    X = np.array([[1.5]], dtype=dtype)
    y1 = np.array([0.25], dtype=dtype)
    for fi in (False, True):
        for y in (y1, y1[:, None]):
            coef = np.full((2 if fi else 1,) + y.shape[1:], -0.75, dtype=dtype)
            kw = _kw(loss, fi, None, 0.5, "mean")
            L, g = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
            assert g.shape == coef.shape
            assert_matches_ref(L, g, reference(X, y, coef, **kw), rtol_for(dtype))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_k1_two_d_equals_one_d(backend, dtype, loss):
    X, y, coef, w = make_problem(33, 5, None, loss=loss, fit_intercept=True, weights=True,
                                 dtype=dtype, seed=8)
    kw = dict(_kw(loss, True, w, 0.2, "mean"), backend=backend)
    L1, g1 = fastgrad.value_and_grad(X, y, coef, **kw)
    L2, g2 = fastgrad.value_and_grad(X, y[:, None], coef[:, None], **kw)
    assert g2.shape == (6, 1)
    rt = rtol_for(dtype)
    np.testing.assert_allclose(L2, L1, rtol=rt)
    np.testing.assert_allclose(g2[:, 0], g1, rtol=rt, atol=rt * np.abs(g1).max())


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_multi_output_is_sum_of_columns(backend, dtype, layout, to_layout):
    """L sums over the k columns, each column of the gradient is its own problem."""
    X0, y, coef, w = make_problem(45, 6, 3, loss="logistic", fit_intercept=True,
                                  weights=True, dtype=dtype, seed=9)
    X = to_layout(X0, layout)
    kw = dict(loss="logistic", fit_intercept=True, sample_weight=w, l2=0.4,
              backend=backend)
    L, g = fastgrad.value_and_grad(X, y, coef, **kw)
    rt = rtol_for(dtype)
    Ls = 0.0
    for j in range(3):
        Lj, gj = fastgrad.value_and_grad(X, y[:, j], coef[:, j].copy(), **kw)
        Ls += Lj
        np.testing.assert_allclose(g[:, j], gj, rtol=rt, atol=rt * np.abs(gj).max())
    np.testing.assert_allclose(L, Ls, rtol=rt)


# ---------------------------------------------------------------------------
# many rows: more than one internal chunk (and more than one wave of chunks)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("shape", [(20000, 13), (3000, 300)], ids=["20000x13", "3000x300"])
@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_many_rows(backend, dtype, layout, shape, loss, to_layout):
    m, n = shape
    X0, y, coef, w = make_problem(m, n, None, loss=loss, fit_intercept=True, weights=True,
                                  dtype=dtype, seed=10, coef_scale=1.0 / np.sqrt(n))
    X = to_layout(X0, layout)
    kw = _kw(loss, True, w, 0.01, "mean")
    L, g = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
    assert_matches_ref(L, g, reference(X0, y, coef, **kw), rtol_for(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_many_rows_multi_output_strided(backend, dtype, to_layout):
    X0, y, coef, w = make_problem(9000, 11, 4, loss="squared", fit_intercept=False,
                                  weights=True, dtype=dtype, seed=11, coef_scale=0.3)
    X = to_layout(X0, "strided")
    kw = _kw("squared", False, w, 0.0, "sum")
    L, g = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
    assert_matches_ref(L, g, reference(X0, y, coef, **kw), rtol_for(dtype))


# ---------------------------------------------------------------------------
# hypothesis: native == numpy == reference over shapes and values


finite = st.floats(-8, 8, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def problems(draw):
    m = draw(st.integers(1, 70))
    n = draw(st.integers(1, 19))
    k = draw(st.sampled_from([None, 1, 2, 3]))
    loss = draw(st.sampled_from(LOSSES))
    fi = draw(st.booleans())
    dtype = draw(st.sampled_from(DTYPES))
    layout = draw(st.sampled_from(["C", "F", "strided", "negstride"]))
    X = draw(hnp.arrays(np.float64, (m, n), elements=finite))
    ys = (m,) if k is None else (m, k)
    if loss == "squared":
        y = draw(hnp.arrays(np.float64, ys, elements=finite))
    else:
        y = draw(hnp.arrays(np.float64, ys, elements=st.floats(0, 1, width=32)))
    p = n + 1 if fi else n
    coef = draw(hnp.arrays(np.float64, (p,) if k is None else (p, k),
                           elements=st.floats(-2, 2, width=32)))
    w = draw(st.none() | hnp.arrays(np.float64, (m,), elements=st.floats(0, 3, width=32)))
    if w is not None and not w.any():
        w[0] = 1.0
    l2 = draw(st.sampled_from([0.0, 0.5]))
    reduction = draw(st.sampled_from(REDUCTIONS))
    X, y, coef = (a.astype(dtype) for a in (X, y, coef))
    w = None if w is None else w.astype(dtype)
    return X, layout, y, coef, dict(loss=loss, fit_intercept=fi, sample_weight=w, l2=l2,
                                    reduction=reduction)


@given(problems())
def test_property_backends_and_reference(prob):
    X0, layout, y, coef, kw = prob
    X = as_layout(X0, layout)
    ref = reference(X0, y, coef, **kw)
    rt = rtol_for(X0.dtype)
    backends = ["numpy"] + (["native"] if NATIVE_AVAILABLE else [])
    results = {}
    for be in backends:
        L, g = fastgrad.value_and_grad(X, y, coef, backend=be, **kw)
        assert g.dtype == X0.dtype
        assert_matches_ref(L, g, ref, rt, be)
        results[be] = (L, g)
    if len(results) == 2:
        (Ln, gn), (Lp, gp) = results["native"], results["numpy"]
        assert abs(Ln - Lp) <= 2 * rt * ref.loss_scale
        assert_grad_matches(gn, gp.astype(np.float64), ref.grad_scale, 2 * rt)


@given(problems(), st.data())
def test_property_rows_and_out(prob, data):
    """rows= and out= on random problems: equal to slicing, written in place."""
    X0, layout, y, coef, kw = prob
    X = as_layout(X0, layout)
    m = X0.shape[0]
    rows = data.draw(hnp.arrays(np.intp, st.integers(1, 2 * m),
                                elements=st.integers(-m, m - 1)))
    w = kw["sample_weight"]
    if kw["reduction"] == "mean" and w is not None and not w[rows].any():
        w = w.copy()
        w[rows[0]] = 1.0
        kw = dict(kw, sample_weight=w)
    ref = reference(X0, y, coef, rows=rows, **kw)
    backends = ["numpy"] + (["native"] if NATIVE_AVAILABLE else [])
    for be in backends:
        out = np.full(coef.shape, np.nan, dtype=X0.dtype)
        L, g = fastgrad.value_and_grad(X, y, coef, rows=rows, out=out, backend=be, **kw)
        assert g is out
        assert_matches_ref(L, g, ref, rtol_for(X0.dtype), be)


# ---------------------------------------------------------------------------
# unusual memory: zero strides, unaligned data, non-contiguous y / w / coef


def _unusual_X(kind, m, n, dtype, rng):
    if kind == "broadcast-row":                      # strides (0, itemsize)
        return np.broadcast_to(rng.standard_normal(n).astype(dtype), (m, n))
    if kind == "broadcast-col":                      # strides (itemsize, 0)
        return np.broadcast_to(rng.standard_normal((m, 1)).astype(dtype), (m, n))
    isz = np.dtype(dtype).itemsize
    buf = np.zeros(isz * m * n + 1, np.uint8)
    X = buf[1:].view(dtype).reshape(m, n)            # data pointer not aligned
    X[...] = rng.standard_normal((m, n))
    if kind == "unaligned-F":
        buf2 = np.zeros(isz * m * n + 3, np.uint8)
        XF = buf2[3:].view(dtype).reshape(n, m).T
        XF[...] = X
        X = XF
    assert not X.flags.aligned
    return X


@pytest.mark.parametrize("kind", ["broadcast-row", "broadcast-col", "unaligned-C",
                                  "unaligned-F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_unusual_X_memory(backend, dtype, kind):
    rng = np.random.default_rng(12)
    m, n = 700, 7
    X = _unusual_X(kind, m, n, dtype, rng)
    _, y, coef, w = make_problem(m, n, 2, loss="logistic", fit_intercept=True, weights=True,
                                 dtype=dtype, seed=12)
    kw = _kw("logistic", True, w, 0.1, "mean")
    before = np.array(X, copy=True)
    L, g = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
    assert_matches_ref(L, g, reference(X, y, coef, **kw), rtol_for(dtype))
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_noncontiguous_y_weights_coef(backend, dtype):
    rng = np.random.default_rng(13)
    m, n, k = 400, 6, 3
    X0, _, _, _ = make_problem(m, n, dtype=dtype, seed=13)
    Ybig = np.asfortranarray(rng.uniform(0, 1, (m, 2 * k)).astype(dtype))
    ys = {"F": np.asfortranarray(Ybig[:, :k]), "strided": Ybig[:, ::2],
          "reversed": np.ascontiguousarray(Ybig[:, :k])[::-1][::-1, ::-1]}
    w = rng.uniform(0.1, 2, 2 * m).astype(dtype)[::-2]
    cbig = rng.standard_normal((2 * (n + 1), k)).astype(dtype)
    coef = np.asfortranarray(cbig[::2])
    v = cbig[1::2]
    for name, y in ys.items():
        kw = _kw("logistic", True, w, 0.3, "mean")
        L, g = fastgrad.value_and_grad(X0, y, coef, backend=backend, **kw)
        assert_matches_ref(L, g, reference(X0, y, coef, **kw), rtol_for(dtype), name)
        hv = fastgrad.hessp(X0, y, coef, v, backend=backend, **kw)
        hv2 = fastgrad.hessp(X0, np.ascontiguousarray(y), np.ascontiguousarray(coef),
                             np.ascontiguousarray(v), backend=backend,
                             **dict(kw, sample_weight=np.ascontiguousarray(w)))
        np.testing.assert_array_equal(hv, hv2)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_wide_and_many_outputs(backend, dtype, to_layout):
    for (m, n, k, layout) in [(50, 3000, None, "C"), (50, 3000, None, "F"),
                              (5000, 13, 40, "C"), (5000, 13, 40, "F")]:
        X0, y, coef, w = make_problem(m, n, k, fit_intercept=True, weights=True,
                                      dtype=dtype, seed=14, coef_scale=1 / np.sqrt(n))
        X = to_layout(X0, layout)
        kw = _kw("squared", True, w, 0.1, "mean")
        L, g = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
        assert_matches_ref(L, g, reference(X0, y, coef, **kw), rtol_for(dtype),
                           f"{m}x{n} k={k} {layout}")


def test_no_features_intercept_only(backend):
    rng = np.random.default_rng(15)
    X = np.zeros((25, 0))
    y = rng.uniform(0, 1, 25)
    for loss in LOSSES:
        kw = _kw(loss, True, None, 0.5, "mean")
        L, g = fastgrad.value_and_grad(X, y, np.array([0.3]), backend=backend, **kw)
        assert_matches_ref(L, g, reference(X, y, np.array([0.3]), **kw), 1e-11, loss)


@pytest.mark.parametrize("layout", ["C", "F", "readonly", "memmap"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_C_and_F_X_never_copied(backend, dtype, layout, make_X):
    """A copy of X would show as traced memory of X's size; blocks are much smaller."""
    m, n = 100_000, 20
    X = make_X(m, n, dtype, layout, seed=16)
    _, y, coef, w = make_problem(m, n, None, fit_intercept=True, weights=True, dtype=dtype,
                                 seed=16)
    kw = dict(fit_intercept=True, sample_weight=w, backend=backend)
    tracemalloc.start()
    try:
        fastgrad.value_and_grad(X, y, coef, **kw)
        fastgrad.hessp(X, y, coef, coef, **kw)
        obj = fastgrad.Objective(X, y, **kw)
        obj(coef)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * X.nbytes, f"peak traced memory {peak} for X of {X.nbytes} bytes"
