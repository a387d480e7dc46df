"""loss="multinomial": against an independent float64 reference written here from
API.md's formulas (scipy's logsumexp and softmax), central differences, the
explicit Hessian, scikit-learn's LinearModelLoss(HalfMultinomialLoss) and a fit
that matches LogisticRegression.  Both backends, both dtypes, every layout."""
import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax

import fastgrad
from conftest import (BACKENDS, DTYPE_IDS, DTYPES, LAYOUTS, assert_grad_matches,
                      assert_unchanged, rtol_for, skip_if_no_native, snapshot)

MN = "multinomial"


def make_mn(m, n, K, *, proba=False, fit_intercept=False, weights=False,
            dtype=np.float64, seed=0, coef_scale=0.5):
    """(X, y, coef, w): y class labels (int64) or (m, K) probabilities."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)).astype(dtype)
    if proba:
        y = softmax(2.0 * rng.standard_normal((m, K)), axis=1)
        hard = rng.uniform(size=m) < 0.3               # some one-hot rows
        y[hard] = np.eye(K)[rng.integers(0, K, hard.sum())]
        y = y.astype(dtype)
    else:
        y = rng.integers(0, K, m)
    coef = (coef_scale * rng.standard_normal((n + fit_intercept, K))).astype(dtype)
    w = None
    if weights:
        w = rng.uniform(0.0, 2.0, m)
        w[rng.uniform(size=m) < 0.2] = 0.0
        w[0] = 1.0
        w = w.astype(dtype)
    return X, y, coef, w


def _targets(y, K):
    y = np.asarray(y)
    return np.eye(K)[y] if y.ndim == 1 else y.astype(np.float64)


def mn_reference(X, y, coef, *, fit_intercept=False, sample_weight=None, l2=0.0,
                 reduction="mean", rows=None):
    """(L, G, loss_scale, grad_scale) in float64 from API.md's formulas."""
    Xd = np.asarray(X, dtype=np.float64)
    C = np.asarray(coef, dtype=np.float64)
    K = C.shape[1]
    Y = _targets(y, K)
    w = np.ones(Xd.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if fit_intercept:
        Xd = np.hstack([Xd, np.ones((Xd.shape[0], 1))])
    if rows is not None:
        Xd, Y, w = Xd[rows], Y[rows], w[rows]
    D = w.sum() if reduction == "mean" else 1.0
    mask = np.ones_like(C)
    if fit_intercept:
        mask[-1] = 0.0
    Z = Xd @ C
    lse = logsumexp(Z, axis=1)
    P = softmax(Z, axis=1)
    L = float(np.sum(w * (lse - np.sum(Y * Z, axis=1))) / D + 0.5 * l2 * np.sum((mask * C) ** 2))
    G = Xd.T @ (w[:, None] * (P - Y)) / D + l2 * mask * C
    zmag = np.abs(Xd) @ np.abs(C)
    Ls = float(np.sum(w * (np.abs(lse) + np.sum((Y + 1) * zmag, axis=1))) / D
               + l2 * np.sum(C ** 2) + 1e-300)
    Gs = np.abs(Xd).T @ (w[:, None] * (P + Y + zmag)) / D + l2 * np.abs(C) + 1e-300
    return L, G, Ls, Gs


def mn_hessian(X, y, coef, *, fit_intercept=False, sample_weight=None, l2=0.0,
               reduction="mean"):
    """The explicit Hessian in the C-order flattening of coef (p, K):
    sum_i w_i (x_i x_i^T) kron (diag(p_i) - p_i p_i^T) / D + l2 diag(mask)."""
    Xd = np.asarray(X, dtype=np.float64)
    C = np.asarray(coef, dtype=np.float64)
    w = np.ones(Xd.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if fit_intercept:
        Xd = np.hstack([Xd, np.ones((Xd.shape[0], 1))])
    D = w.sum() if reduction == "mean" else 1.0
    p, K = C.shape
    P = softmax(Xd @ C, axis=1)
    H = np.zeros((p * K, p * K))
    for i in range(Xd.shape[0]):
        S = np.diag(P[i]) - np.outer(P[i], P[i])
        H += w[i] * np.kron(np.outer(Xd[i], Xd[i]), S)
    mask = np.ones((p, K))
    if fit_intercept:
        mask[-1] = 0.0
    return H / D + l2 * np.diag(mask.ravel())


def _check(L, G, ref, dtype, what=""):
    L0, G0, Ls, Gs = ref
    rtol = rtol_for(dtype)
    assert isinstance(L, float)
    assert abs(L - L0) <= rtol * Ls, (what, L, L0)
    assert G.dtype == np.dtype(dtype)
    assert_grad_matches(G, G0, Gs, rtol, what)


# ---------------------------------------------------------------------------
# results


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("proba", [False, True], ids=["labels", "proba"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_value_and_grad_matches_reference(backend, layout, dtype, proba, fit_intercept,
                                          to_layout):
    X, y, coef, w = make_mn(203, 11, 5, proba=proba, fit_intercept=fit_intercept,
                            weights=True, dtype=dtype, seed=1)
    Xl = to_layout(X, layout)
    args = snapshot(Xl, y, coef, w)
    L, G = fastgrad.value_and_grad(Xl, y, coef, loss=MN, fit_intercept=fit_intercept,
                                   sample_weight=w, l2=0.3, backend=backend)
    assert G.shape == coef.shape
    _check(L, G, mn_reference(X, y, coef, fit_intercept=fit_intercept, sample_weight=w,
                              l2=0.3), dtype, f"{layout}")
    assert_unchanged([Xl, y, coef, w], args)


@pytest.mark.parametrize("K", [1, 2, 3, 4, 7, 8, 9, 12, 17])
@pytest.mark.parametrize("n", [1, 3, 8, 33])
@pytest.mark.parametrize("order", ["C", "F"])
def test_shapes_sweep(backend, K, n, order):
    # every tile width of the native row path (1 and 2 vectors, padding) and
    # row counts that leave 1..3 rows after the groups of 4
    for m in (1, 6, 67):
        X, y, coef, _ = make_mn(m, n, K, fit_intercept=True, seed=K * 100 + n + m)
        Xo = np.asarray(X, order=order)
        L, G = fastgrad.value_and_grad(Xo, y, coef, loss=MN, fit_intercept=True,
                                       reduction="sum", backend=backend)
        _check(L, G, mn_reference(X, y, coef, fit_intercept=True, reduction="sum"),
               np.float64, f"m={m}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_value_only_and_grad_agree(backend, dtype):
    X, y, coef, w = make_mn(150, 9, 6, weights=True, dtype=dtype, seed=3)
    obj = fastgrad.Objective(X, y, loss=MN, sample_weight=w, n_classes=6, backend=backend)
    L, G = obj.value_and_grad(coef)
    assert obj.value(coef) == pytest.approx(L, rel=1e-12)
    np.testing.assert_array_equal(obj.grad(coef), G)
    L2, G2 = fastgrad.value_and_grad(X, y, coef, loss=MN, sample_weight=w, backend=backend)
    assert L2 == L
    np.testing.assert_array_equal(G2, G)


def test_backends_agree_float64():
    skip_if_no_native("native")
    X, y, coef, w = make_mn(1000, 20, 10, fit_intercept=True, weights=True, seed=4)
    a = fastgrad.value_and_grad(X, y, coef, loss=MN, fit_intercept=True, sample_weight=w,
                                backend="native")
    b = fastgrad.value_and_grad(X, y, coef, loss=MN, fit_intercept=True, sample_weight=w,
                                backend="numpy")
    assert a[0] == pytest.approx(b[0], rel=1e-13)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("proba", [False, True], ids=["labels", "proba"])
def test_gradient_is_derivative_of_loss(backend, proba):
    X, y, coef, w = make_mn(60, 4, 3, proba=proba, fit_intercept=True, weights=True,
                            seed=5)
    kw = dict(loss=MN, fit_intercept=True, sample_weight=w, l2=0.1, backend=backend)
    G = fastgrad.grad(X, y, coef, **kw)
    h = 1e-6
    fd = np.zeros_like(coef)
    for idx in np.ndindex(coef.shape):
        cp, cm = coef.copy(), coef.copy()
        cp[idx] += h
        cm[idx] -= h
        fd[idx] = (fastgrad.value_and_grad(X, y, cp, **kw)[0]
                   - fastgrad.value_and_grad(X, y, cm, **kw)[0]) / (2 * h)
    np.testing.assert_allclose(G, fd, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------
# hessp


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_hessp_matches_explicit_hessian(backend, layout, dtype, fit_intercept, to_layout):
    X, y, coef, w = make_mn(47, 5, 4, fit_intercept=fit_intercept, weights=True,
                            dtype=dtype, seed=6)
    v = np.random.default_rng(7).standard_normal(coef.shape).astype(dtype)
    Xl = to_layout(X, layout)
    args = snapshot(Xl, y, coef, v, w)
    Hv = fastgrad.hessp(Xl, y, coef, v, loss=MN, fit_intercept=fit_intercept,
                        sample_weight=w, l2=0.2, backend=backend)
    H = mn_hessian(X, y, coef, fit_intercept=fit_intercept, sample_weight=w, l2=0.2)
    expected = (H @ v.astype(np.float64).ravel()).reshape(coef.shape)
    scale = (np.abs(H) @ np.abs(v.astype(np.float64)).ravel()).reshape(coef.shape) + 1e-300
    assert Hv.dtype == np.dtype(dtype) and Hv.shape == coef.shape
    assert_grad_matches(Hv, expected, scale, rtol_for(dtype), layout)
    assert_unchanged([Xl, y, coef, v, w], args)


def test_hessp_is_derivative_of_grad(backend):
    X, y, coef, w = make_mn(80, 6, 5, proba=True, fit_intercept=True, weights=True, seed=8)
    v = np.random.default_rng(9).standard_normal(coef.shape)
    kw = dict(loss=MN, fit_intercept=True, sample_weight=w, l2=0.05, backend=backend)
    h = 1e-6
    fd = (fastgrad.grad(X, y, coef + h * v, **kw) - fastgrad.grad(X, y, coef - h * v, **kw)) / (2 * h)
    np.testing.assert_allclose(fastgrad.hessp(X, y, coef, v, **kw), fd, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------
# keywords: rows, out, reduction, threads


def test_rows_equal_call_on_subset(backend):
    X, y, coef, w = make_mn(300, 7, 6, fit_intercept=True, weights=True, seed=10)
    rows = np.array([5, -1, 5, 0, 299, 17, -300, 42, 42])
    kw = dict(loss=MN, fit_intercept=True, l2=0.1, backend=backend)
    L, G = fastgrad.value_and_grad(X, y, coef, sample_weight=w, rows=rows, **kw)
    L2, G2 = fastgrad.value_and_grad(X[rows], y[rows], coef, sample_weight=w[rows], **kw)
    assert L == pytest.approx(L2, rel=1e-13)
    np.testing.assert_allclose(G, G2, rtol=1e-12, atol=1e-15)
    v = np.ones_like(coef)
    np.testing.assert_allclose(
        fastgrad.hessp(X, y, coef, v, sample_weight=w, rows=rows, **kw),
        fastgrad.hessp(X[rows], y[rows], coef, v, sample_weight=w[rows], **kw),
        rtol=1e-12, atol=1e-15)


def test_rows_range_check_only_used_rows(backend):
    # a label outside [0, K) in a row the minibatch does not use is not read
    X, y, coef, _ = make_mn(20, 3, 4, seed=11)
    y = y.copy()
    y[7] = 99
    r = np.array([0, 1, 2])
    L, G = fastgrad.value_and_grad(X, y, coef, loss=MN, rows=r, backend=backend)
    L2, G2 = fastgrad.value_and_grad(X[r], y[r], coef, loss=MN, backend=backend)
    assert L == pytest.approx(L2, rel=1e-14)
    with pytest.raises(ValueError, match="class label 99"):
        fastgrad.value_and_grad(X, y, coef, loss=MN, rows=[7], backend=backend)


def test_out_and_reduction_sum(backend):
    X, y, coef, _ = make_mn(40, 3, 3, seed=12)
    out = np.full_like(coef, np.nan)
    L, G = fastgrad.value_and_grad(X, y, coef, loss=MN, reduction="sum", out=out,
                                   backend=backend)
    assert G is out
    ref = mn_reference(X, y, coef, reduction="sum")
    _check(L, G, ref, np.float64)
    # no rows with reduction="sum": the penalty only
    L0, G0 = fastgrad.value_and_grad(X, y, coef, loss=MN, reduction="sum", l2=2.0,
                                     rows=np.array([], dtype=int), backend=backend)
    assert L0 == pytest.approx(np.sum(coef ** 2))
    np.testing.assert_allclose(G0, 2.0 * coef)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("order", ["C", "F"])
def test_bitwise_identical_over_n_threads(dtype, order):
    skip_if_no_native("native")
    # several chunks of rows (chunks are ~4 MiB of X)
    X, y, coef, w = make_mn(30000, 40, 7, fit_intercept=True, weights=True, dtype=dtype,
                            seed=13)
    X = np.asarray(X, order=order)
    v = np.ones_like(coef)
    res = []
    for nt in (1, 2, 3, 4):
        L, G = fastgrad.value_and_grad(X, y, coef, loss=MN, fit_intercept=True,
                                       sample_weight=w, n_threads=nt, backend="native")
        H = fastgrad.hessp(X, y, coef, v, loss=MN, fit_intercept=True, sample_weight=w,
                           n_threads=nt, backend="native")
        res.append((L, G.tobytes(), H.tobytes()))
    assert all(r == res[0] for r in res[1:])


# ---------------------------------------------------------------------------
# numerics


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_large_logits_are_stable(backend, dtype):
    # logits of size 1e4..1e30: exp would overflow without the row maximum
    rng = np.random.default_rng(14)
    X = rng.standard_normal((50, 3)).astype(dtype)
    y = rng.integers(0, 4, 50)
    for scale in (1e4, 1e30):
        coef = (scale * rng.standard_normal((3, 4))).astype(dtype)
        L, G = fastgrad.value_and_grad(X, y, coef, loss=MN, backend=backend)
        L0, G0, Ls, Gs = mn_reference(X, y, coef)
        assert np.isfinite(L) and np.isfinite(G).all()
        assert L >= 0
        assert abs(L - L0) <= 1e-6 * Ls
        assert_grad_matches(G, G0, Gs, rtol_for(dtype))


def test_nan_propagates(backend):
    X, y, coef, _ = make_mn(10, 3, 3, seed=15)
    X = X.copy()
    X[4, 1] = np.nan
    L, G = fastgrad.value_and_grad(X, y, coef, loss=MN, backend=backend)
    assert np.isnan(L) and np.isnan(G).all()


def test_loss_is_cross_entropy_and_zero_at_certainty(backend):
    # closed forms: coef = 0 gives log(K) per row and gradient X^T (1/K - Y) / m
    X, y, _, _ = make_mn(64, 5, 6, seed=16)
    coef = np.zeros((5, 6))
    L, G = fastgrad.value_and_grad(X, y, coef, loss=MN, backend=backend)
    assert L == pytest.approx(np.log(6), rel=1e-14)
    np.testing.assert_allclose(G, X.T @ (1.0 / 6 - np.eye(6)[y]) / 64, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------
# scikit-learn


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_matches_sklearn_linear_model_loss(backend, fit_intercept):
    sk_loss = pytest.importorskip("sklearn._loss.loss")
    from sklearn.linear_model._linear_loss import LinearModelLoss
    K = 4
    X, y, coef, w = make_mn(120, 6, K, fit_intercept=fit_intercept, weights=True, seed=17)
    lml = LinearModelLoss(base_loss=sk_loss.HalfMultinomialLoss(n_classes=K),
                          fit_intercept=fit_intercept)
    # scikit-learn's coef is (n_classes, n_dof): the transpose of fastgrad's
    l_sk, g_sk = lml.loss_gradient(np.ascontiguousarray(coef.T), X, y.astype(np.float64),
                                   sample_weight=w, l2_reg_strength=0.25)
    L, G = fastgrad.value_and_grad(X, y, coef, loss=MN, fit_intercept=fit_intercept,
                                   sample_weight=w, l2=0.25, backend=backend)
    assert L == pytest.approx(l_sk, rel=1e-12)
    np.testing.assert_allclose(G, g_sk.T, rtol=1e-10, atol=1e-14)


def test_lbfgs_fit_matches_sklearn_logistic_regression(backend):
    from sklearn.linear_model import LogisticRegression
    rng = np.random.default_rng(18)
    m, n, K = 400, 5, 3
    X = rng.standard_normal((m, n))
    y = np.argmax(X @ rng.standard_normal((n, K)) + rng.gumbel(size=(m, K)), axis=1)
    C = 1.0
    lr = LogisticRegression(C=C, tol=1e-12, max_iter=10000).fit(X, y)
    # sklearn minimises sum_i l_i + |W|^2 / (2C): our mean loss with l2 = 1 / (C m)
    obj = fastgrad.Objective(X, y, loss=MN, fit_intercept=True, l2=1.0 / (C * m),
                             backend=backend)
    res = minimize(obj, np.zeros(obj.coef_shape).ravel(),
                   jac=True, method="L-BFGS-B", options=dict(gtol=1e-12, ftol=1e-15,
                                                             maxiter=10000))
    W = res.x.reshape(obj.coef_shape)
    P = softmax(np.hstack([X, np.ones((m, 1))]) @ W, axis=1)
    np.testing.assert_allclose(P, lr.predict_proba(X), rtol=1e-6, atol=1e-8)


def test_objective_works_with_scipy_and_hessp(backend):
    X, y, _, w = make_mn(200, 4, 3, weights=True, seed=19)
    obj = fastgrad.Objective(X, y, loss=MN, fit_intercept=True, sample_weight=w, l2=1e-2,
                             backend=backend)
    assert obj.coef_shape == (5, 3) and obj.n_outputs == 3
    x0 = np.zeros(obj.coef_shape).ravel()        # scipy works on flat vectors
    a = minimize(obj, x0, jac=True, method="L-BFGS-B",
                 options=dict(gtol=1e-10, ftol=1e-14, maxiter=2000))
    b = minimize(obj, x0, jac=True, hessp=obj.hessp, method="trust-ncg",
                 options=dict(gtol=1e-8))
    assert b.success, b.message
    np.testing.assert_allclose(a.x, b.x, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------
# errors (API.md's row for the multinomial loss)


@pytest.mark.parametrize("bad, match", [
    (lambda y: np.where(y == 0, 4, y), r"class label 4 is outside \[0, 4\)"),
    (lambda y: np.where(y == 0, -1, y), r"class label -1"),
    (lambda y: y + 0.5, "integer class labels"),
    (lambda y: np.where(y == 0, np.nan, y.astype(float)), "integer class labels"),
    (lambda y: y[:-1], "labels but X has"),
])
def test_bad_labels(backend, bad, match):
    X, y, coef, _ = make_mn(30, 3, 4, seed=20)
    yb = bad(y)
    args = snapshot(X, yb, coef)
    out = np.full_like(coef, 7.0)
    with pytest.raises(ValueError, match=match):
        fastgrad.value_and_grad(X, yb, coef, loss=MN, out=out, backend=backend)
    with pytest.raises(ValueError, match=match):
        fastgrad.Objective(X, yb, loss=MN, n_classes=4, backend=backend)
    assert_unchanged([X, yb, coef], args)
    assert (out == 7.0).all()


def test_float_labels_with_integer_values_are_accepted(backend):
    X, y, coef, _ = make_mn(30, 3, 4, seed=21)
    a = fastgrad.value_and_grad(X, y.astype(np.float32), coef, loss=MN, backend=backend)
    b = fastgrad.value_and_grad(X, y, coef, loss=MN, backend=backend)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("bad, match", [
    (lambda P: P * 1.01, "must sum to 1"),
    (lambda P: np.hstack([P[:, :1] + 0.5, P[:, 1:2] - 0.5, P[:, 2:]]), "non-negative"),
    (lambda P: P[:, :-1] / P[:, :-1].sum(axis=1, keepdims=True), "coef must have shape"),
])
def test_bad_probabilities(backend, bad, match):
    X, y, coef, _ = make_mn(30, 3, 4, proba=True, seed=22)
    P = np.array(y)
    P[:, 0] = np.maximum(P[:, 0], 0.6)           # room to subtract 0.5 below
    P /= P.sum(axis=1, keepdims=True)
    Pb = bad(P)
    with pytest.raises(ValueError, match=match):
        fastgrad.value_and_grad(X, Pb, coef, loss=MN, backend=backend)


def test_probabilities_within_tolerance_are_accepted(backend):
    X, P, coef, _ = make_mn(30, 3, 4, proba=True, seed=23)
    P2 = P * (1 + 5e-7)
    L, _ = fastgrad.value_and_grad(X, P2, coef, loss=MN, backend=backend)
    assert np.isfinite(L)


def test_shape_and_type_errors(backend):
    X, y, coef, _ = make_mn(30, 3, 4, seed=24)
    with pytest.raises(ValueError, match="coef must be 2-D"):
        fastgrad.value_and_grad(X, y, coef[:, 0], loss=MN, backend=backend)
    with pytest.raises(ValueError, match="coef must have shape"):
        fastgrad.value_and_grad(X, y, coef[:-1], loss=MN, backend=backend)
    with pytest.raises(TypeError, match="dtype"):
        fastgrad.value_and_grad(X, y.astype(str), coef, loss=MN, backend=backend)
    with pytest.raises(ValueError, match="only for loss='multinomial'"):
        fastgrad.Objective(X, y.astype(float), loss="squared", n_classes=3)
    with pytest.raises(ValueError, match="n_classes must be"):
        fastgrad.Objective(X, y, loss=MN, n_classes=0)
    with pytest.raises(ValueError, match="pass n_classes"):
        fastgrad.Objective(X[:0], y[:0], loss=MN)


def test_objective_n_classes(backend):
    X, y, coef, _ = make_mn(30, 3, 4, seed=25)
    y = np.where(y == 3, 0, y)                       # the last class absent
    assert fastgrad.Objective(X, y, loss=MN, backend=backend).coef_shape == (3, 3)
    obj = fastgrad.Objective(X, y, loss=MN, n_classes=4, backend=backend)
    assert obj.coef_shape == (3, 4)
    L, G = obj(coef)
    L2, G2 = fastgrad.value_and_grad(X, y, coef, loss=MN, backend=backend)
    assert L == L2
    np.testing.assert_array_equal(G, G2)
    with pytest.raises(ValueError, match="class label 3"):
        fastgrad.Objective(X, np.where(y == 0, 3, y), loss=MN, n_classes=3)
    Xn = X.copy()
    Xn[2, 2] = np.inf
    with pytest.raises(ValueError, match=r"X\[2, 2\]"):
        fastgrad.Objective(Xn, y, loss=MN, n_classes=4, backend=backend)


@pytest.mark.parametrize("b", BACKENDS)
def test_backend_names(b):
    skip_if_no_native(b)
    X, y, coef, _ = make_mn(8, 2, 2, seed=26)
    assert np.isfinite(fastgrad.value_and_grad(X, y, coef, loss=MN, backend=b)[0])


# ---------------------------------------------------------------------------
# CSR X


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("proba", [False, True], ids=["labels", "proba"])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_csr_matches_reference_and_dense(backend, dtype, proba, index_dtype):
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(27)
    m, n, K = 157, 12, 5
    A = sp.random(m, n, density=0.3, format="csr", random_state=28, dtype=dtype).toarray()
    A[7] = 0.0                                           # an empty row
    Xs = sp.csr_matrix(A)
    Xs.indices = Xs.indices.astype(index_dtype)
    Xs.indptr = Xs.indptr.astype(index_dtype)
    X = Xs.toarray()
    _, y, coef, w = make_mn(m, n, K, proba=proba, fit_intercept=True, weights=True,
                            dtype=dtype, seed=29)
    v = rng.standard_normal(coef.shape).astype(dtype)
    kw = dict(loss=MN, fit_intercept=True, sample_weight=w, l2=0.2, backend=backend)
    L, G = fastgrad.value_and_grad(Xs, y, coef, **kw)
    _check(L, G, mn_reference(X, y, coef, fit_intercept=True, sample_weight=w, l2=0.2),
           dtype, "csr")
    Hv = fastgrad.hessp(Xs, y, coef, v, **kw)
    H = mn_hessian(X, y, coef, fit_intercept=True, sample_weight=w, l2=0.2)
    expected = (H @ v.astype(np.float64).ravel()).reshape(coef.shape)
    scale = (np.abs(H) @ np.abs(v.astype(np.float64)).ravel()).reshape(coef.shape) + 1e-300
    assert_grad_matches(Hv, expected, scale, rtol_for(dtype), "csr hessp")
    rows = np.array([3, 7, -1, 3])
    np.testing.assert_allclose(fastgrad.grad(Xs, y, coef, rows=rows, **kw),
                               fastgrad.grad(X, y, coef, rows=rows, **kw),
                               rtol=rtol_for(dtype), atol=rtol_for(dtype))
    obj = fastgrad.Objective(Xs, y, loss=MN, fit_intercept=True, sample_weight=w, l2=0.2,
                             n_classes=K, backend=backend)
    assert obj(coef)[0] == pytest.approx(L, rel=1e-12)


def test_csr_bitwise_identical_over_n_threads():
    skip_if_no_native("native")
    sp = pytest.importorskip("scipy.sparse")
    Xs = sp.random(40000, 300, density=0.05, format="csr", random_state=30)
    _, y, coef, _ = make_mn(40000, 300, 6, fit_intercept=True, seed=31)
    res = [fastgrad.value_and_grad(Xs, y, coef, loss=MN, fit_intercept=True, n_threads=nt,
                                   backend="native") for nt in (1, 2, 3, 4)]
    assert all(r[0] == res[0][0] and r[1].tobytes() == res[0][1].tobytes() for r in res)
