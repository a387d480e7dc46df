"""Sparse X (scipy.sparse): results against the dense path on X.toarray() and the
independent float64 reference, every keyword, both backends and dtypes; formats,
index dtypes, malformed structures, thread determinism, inputs never written."""
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, strategies as st

import fastgrad
from conftest import (DTYPE_IDS, DTYPES, LOSSES, REDUCTIONS, assert_grad_matches,
                      assert_matches_ref, reference, reference_hessp, rtol_for,
                      skip_if_no_native)

M, N, K = 41, 9, 3


def random_csr(m, n, density=0.3, dtype=np.float64, seed=0, *, index_dtype=np.int32,
               unsorted=True, duplicates=True, explicit_zeros=True, empty_rows=True,
               kind="matrix"):
    """A CSR matrix with the awkward parts of the format: rows with no values,
    columns with none, unsorted column indices, duplicate (i, j) entries (summed
    by toarray()) and explicitly stored zeros."""
    rng = np.random.default_rng(seed)
    counts = rng.binomial(n, density, size=m)
    if empty_rows and m > 2:
        counts[rng.choice(m, size=max(1, m // 5), replace=False)] = 0
    if duplicates and m > 0:
        counts = counts + (rng.uniform(size=m) < 0.2)
    cols = np.concatenate([rng.choice(n - 1 if n > 1 else n, size=c) if c else
                           np.empty(0, int) for c in counts]) if m else np.empty(0, int)
    # column n-1 never appears (an empty column) unless n == 1
    nnz = cols.size
    if not unsorted:
        starts = np.concatenate([[0], np.cumsum(counts)])
        cols = np.concatenate([np.sort(cols[starts[i]:starts[i + 1]]) for i in range(m)]) \
            if m else cols
    data = rng.standard_normal(nnz)
    if explicit_zeros and nnz:
        data[rng.uniform(size=nnz) < 0.1] = 0.0
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index_dtype)
    cls = sp.csr_matrix if kind == "matrix" else sp.csr_array
    X = cls((data.astype(dtype), cols.astype(index_dtype), indptr), shape=(m, n))
    X.indices, X.indptr = cols.astype(index_dtype), indptr   # scipy may downcast int64
    assert X.indices.dtype == np.dtype(index_dtype) and X.data.dtype == np.dtype(dtype)
    return X


def problem(m, n, k, loss, fit_intercept, weights, dtype, seed=1):
    rng = np.random.default_rng(seed)
    shape_y = (m,) if k is None else (m, k)
    y = rng.standard_normal(shape_y) if loss == "squared" else rng.uniform(size=shape_y)
    p = n + 1 if fit_intercept else n
    coef = 0.5 * rng.standard_normal((p,) if k is None else (p, k))
    w = None
    if weights:
        w = rng.uniform(0, 2, m)
        w[rng.uniform(size=m) < 0.2] = 0.0
        if m:
            w[0] = 1.0
    return (y.astype(dtype), coef.astype(dtype), None if w is None else w.astype(dtype))


def snapshot_csr(X):
    return [np.array(a, copy=True) for a in (X.data, X.indices, X.indptr)]


def assert_csr_unchanged(X, snap):
    for a, b in zip((X.data, X.indices, X.indptr), snap):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), "X was modified"


# ---------------------------------------------------------------------------
# the sweep: every keyword, against the reference and the dense path


@pytest.mark.parametrize("k", [None, K], ids=["coef(n,)", "coef(n,k)"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("l2", [0.0, 0.7], ids=["l2=0", "l2=0.7"])
@pytest.mark.parametrize("weighted", [False, True], ids=["w=None", "w"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["noicpt", "icpt"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_sweep_against_reference_and_dense(backend, dtype, loss, fit_intercept, weighted,
                                           l2, reduction, k):
    X = random_csr(M, N, dtype=dtype, seed=3)
    y, coef, w = problem(M, N, k, loss, fit_intercept, weighted, dtype)
    v = np.linspace(-1, 1, coef.size).reshape(coef.shape).astype(dtype)
    kw = dict(loss=loss, fit_intercept=fit_intercept, sample_weight=w, l2=l2,
              reduction=reduction, backend=backend)
    Xd = X.toarray()
    snap = snapshot_csr(X)
    rt = rtol_for(dtype)
    ref = reference(Xd, y, coef, **{q: kw[q] for q in kw if q != "backend"})

    L, g = fastgrad.value_and_grad(X, y, coef, **kw)
    assert g.dtype == np.dtype(dtype) and g.shape == coef.shape
    assert_matches_ref(L, g, ref, rt, "sparse")
    Ld, gd = fastgrad.value_and_grad(Xd, y, coef, **kw)          # the dense path
    assert abs(L - Ld) <= 2 * rt * ref.loss_scale
    assert_grad_matches(g, gd.astype(np.float64), ref.grad_scale, 2 * rt, "sparse vs dense")
    # out=, grad(), Objective: the same numbers, bit for bit
    out = np.full(coef.shape, np.nan, dtype=dtype)
    L2, g2 = fastgrad.value_and_grad(X, y, coef, out=out, **kw)
    assert g2 is out and L2 == L
    np.testing.assert_array_equal(out, g)
    np.testing.assert_array_equal(fastgrad.grad(X, y, coef, **kw), g)
    obj = fastgrad.Objective(X, y, **kw)
    Lo, go = obj(coef)
    assert Lo == L
    np.testing.assert_array_equal(go, g)
    assert obj.value(coef) == pytest.approx(L, rel=1e-12 if dtype == np.float64 else 1e-6)
    # hessp against the reference and the dense path
    H, S = reference_hessp(Xd, y, coef, v, **{q: kw[q] for q in kw if q != "backend"})
    hv = fastgrad.hessp(X, y, coef, v, **kw)
    assert_grad_matches(hv, H, S, rt, "hessp")
    hd = fastgrad.hessp(Xd, y, coef, v, **kw)
    assert_grad_matches(hv, hd.astype(np.float64), S, 2 * rt, "hessp vs dense")
    np.testing.assert_array_equal(obj.hessp(coef, v), hv)
    assert_csr_unchanged(X, snap)


@pytest.mark.parametrize("rows", [[5, -1, 5, 0, 40, 3], [7], [], np.arange(41)[::-2]],
                         ids=["neg+dup", "one", "empty", "strided"])
@pytest.mark.parametrize("k", [None, K], ids=["coef(n,)", "coef(n,k)"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_rows(backend, dtype, loss, k, rows):
    X = random_csr(M, N, dtype=dtype, seed=4)
    y, coef, w = problem(M, N, k, loss, True, True, dtype)
    v = np.linspace(-1, 1, coef.size).reshape(coef.shape).astype(dtype)
    kw = dict(loss=loss, fit_intercept=True, sample_weight=w, l2=0.2, reduction="sum")
    rows_a = np.asarray(rows, dtype=np.intp)
    ref = reference(X.toarray(), y, coef, rows=rows_a, **kw)
    L, g = fastgrad.value_and_grad(X, y, coef, rows=rows, backend=backend, **kw)
    assert_matches_ref(L, g, ref, rtol_for(dtype), f"rows={rows}")
    # the same as on X[rows] (a copy), and as the dense path with rows=
    idx = rows_a % M
    Lc, gc = fastgrad.value_and_grad(X[idx], y[idx], coef, backend=backend,
                                     **{**kw, "sample_weight": w[idx]})
    assert Lc == pytest.approx(L, rel=1e-6, abs=1e-6)
    np.testing.assert_allclose(gc, g, rtol=1e-5, atol=1e-6)
    H, S = reference_hessp(X.toarray(), y, coef, v, rows=rows_a, **kw)
    obj = fastgrad.Objective(X, y, backend=backend, **kw)
    assert_grad_matches(obj.hessp(coef, v, rows=rows), H, S, rtol_for(dtype), "hessp rows")
    Lo, go = obj.value_and_grad(coef, rows=rows)
    assert Lo == L
    np.testing.assert_array_equal(go, g)


def test_rows_out_of_range(backend):
    X = random_csr(M, N)
    y, coef, _ = problem(M, N, None, "squared", False, False, np.float64)
    with pytest.raises(IndexError, match="rows"):
        fastgrad.grad(X, y, coef, rows=[0, M], backend=backend)
    with pytest.raises(IndexError, match="rows"):
        fastgrad.Objective(X, y, backend=backend).grad(coef, rows=[-M - 1])


def test_mean_over_rows_subset(backend):
    X = random_csr(M, N, seed=9)
    y, coef, _ = problem(M, N, None, "logistic", False, False, np.float64)
    L, g = fastgrad.value_and_grad(X, y, coef, loss="logistic", rows=[2, 3, 3],
                                   backend=backend)
    ref = reference(X.toarray(), y, coef, loss="logistic", rows=[2, 3, 3])
    assert_matches_ref(L, g, ref, 1e-11)


# ---------------------------------------------------------------------------
# formats and dtypes


@pytest.mark.parametrize("fmt", ["csr_matrix", "csr_array", "csc", "coo", "bsr", "lil",
                                 "dok", "dia"])
def test_formats(backend, fmt):
    X = random_csr(M, N, seed=5)
    y, coef, w = problem(M, N, None, "logistic", True, True, np.float64)
    kw = dict(loss="logistic", fit_intercept=True, sample_weight=w, backend=backend)
    expect = fastgrad.value_and_grad(X.toarray(), y, coef, **kw)
    if fmt == "csr_matrix":
        Xf = X
    elif fmt == "csr_array":
        Xf = sp.csr_array(X)
    else:
        Xf = getattr(sp.csr_array(X), "to" + fmt)()
    L, g = fastgrad.value_and_grad(Xf, y, coef, **kw)
    assert L == pytest.approx(expect[0], rel=1e-12)
    np.testing.assert_allclose(g, expect[1], rtol=1e-10, atol=1e-13)
    obj = fastgrad.Objective(Xf, y, **kw)
    assert obj.n_samples == M and obj.n_features == N and obj.dtype == np.float64
    Lo, go = obj(coef)
    assert Lo == pytest.approx(expect[0], rel=1e-12)
    np.testing.assert_allclose(go, expect[1], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("kind", ["matrix", "array"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_index_dtypes_and_containers(backend, dtype, kind, index_dtype):
    X = random_csr(M, N, dtype=dtype, seed=6, index_dtype=index_dtype, kind=kind)
    y, coef, _ = problem(M, N, K, "squared", True, False, dtype)
    ref = reference(X.toarray(), y, coef, fit_intercept=True)
    L, g = fastgrad.value_and_grad(X, y, coef, fit_intercept=True, backend=backend)
    assert_matches_ref(L, g, ref, rtol_for(dtype))


def test_mixed_index_dtypes(backend):
    X = random_csr(M, N, seed=7)
    X.indptr = X.indptr.astype(np.int64)          # indices stay int32
    y, coef, _ = problem(M, N, None, "squared", False, False, np.float64)
    ref = reference(X.toarray(), y, coef)
    assert_matches_ref(*fastgrad.value_and_grad(X, y, coef, backend=backend), ref, 1e-11)


@pytest.mark.parametrize("xdtype", [np.int8, np.int64, np.uint16, bool])
def test_integer_and_bool_data_become_float64(backend, xdtype):
    X = random_csr(M, N, seed=8)
    Xi = sp.csr_matrix((np.round(3 * X.data).astype(xdtype), X.indices, X.indptr),
                       shape=X.shape)
    y, coef, _ = problem(M, N, None, "squared", False, False, np.float64)
    g = fastgrad.grad(Xi, y, coef, backend=backend)
    assert g.dtype == np.float64
    # the values become float64 first, then duplicates add up (in float64)
    Xf = sp.csr_matrix((Xi.data.astype(np.float64), Xi.indices, Xi.indptr), shape=X.shape)
    ref = reference(Xf.toarray(), y, coef)
    assert_grad_matches(g, ref.grad, ref.grad_scale, 1e-11)


def test_float16_data_computed_in_float32(backend):
    X = random_csr(M, N, seed=8)
    Xh = sp.csr_matrix((X.data.astype(np.float16), X.indices, X.indptr), shape=X.shape)
    y, coef, _ = problem(M, N, None, "squared", False, False, np.float64)
    assert fastgrad.grad(Xh, y, coef, backend=backend).dtype == np.float32


def test_complex_data_rejected(backend):
    X = random_csr(M, N).astype(np.complex128)
    with pytest.raises(TypeError, match="X: dtype complex128"):
        fastgrad.grad(X, np.zeros(M), np.zeros(N), backend=backend)


def test_sparse_y_dims_checked(backend):
    X = random_csr(M, N)
    with pytest.raises(ValueError, match="y has 40 rows but X has 41"):
        fastgrad.grad(X, np.zeros(M - 1), np.zeros(N), backend=backend)
    with pytest.raises(ValueError, match="coef must have shape"):
        fastgrad.grad(X, np.zeros(M), np.zeros(N + 1), backend=backend)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_empty_matrices(backend, fit_intercept):
    # no rows: sum reduction gives the penalty; mean raises
    X0 = sp.csr_matrix((0, N))
    coef = np.arange(N + fit_intercept, dtype=np.float64)
    L, g = fastgrad.value_and_grad(X0, np.zeros(0), coef, reduction="sum", l2=2.0,
                                   fit_intercept=fit_intercept, backend=backend)
    pen = coef[:N]
    assert L == pytest.approx(float(pen @ pen))
    np.testing.assert_array_equal(g[:N], 2.0 * pen)
    with pytest.raises(ValueError, match="positive total sample weight"):
        fastgrad.grad(X0, np.zeros(0), coef, fit_intercept=fit_intercept, backend=backend)
    # no stored values at all
    Xe = sp.csr_matrix((M, N))
    y, _, _ = problem(M, N, None, "logistic", False, False, np.float64)
    ref = reference(np.zeros((M, N)), y, coef, loss="logistic", fit_intercept=fit_intercept)
    assert_matches_ref(*fastgrad.value_and_grad(Xe, y, coef, loss="logistic",
                                                fit_intercept=fit_intercept,
                                                backend=backend), ref, 1e-11)
    # no columns
    Xn = sp.csr_matrix((M, 0))
    c = np.ones(1) if fit_intercept else np.zeros(0)
    ref = reference(np.zeros((M, 0)), y, c, fit_intercept=fit_intercept)
    assert_matches_ref(*fastgrad.value_and_grad(Xn, y, c, fit_intercept=fit_intercept,
                                                backend=backend), ref, 1e-11)


def test_long_rows(backend):
    """Rows with more values than the kernel's flat blocks, mixed with short ones."""
    rng = np.random.default_rng(11)
    m, n = 30, 5000
    dense = np.where(rng.uniform(size=(m, n)) < 0.05, rng.standard_normal((m, n)), 0.0)
    dense[3] = rng.standard_normal(n)             # 5000 values in one row
    dense[17, ::2] = 1.0
    X = sp.csr_matrix(dense)
    y = rng.uniform(size=m)
    coef = rng.standard_normal(n + 1) * 0.02
    kw = dict(loss="logistic", fit_intercept=True)
    assert_matches_ref(*fastgrad.value_and_grad(X, y, coef, backend=backend, **kw),
                       reference(dense, y, coef, **kw), 1e-11)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_many_features(backend, dtype, loss):
    """n >= 32768: the compiled flat path keeps coef (or v) and the gradient
    interleaved in its work array; a row longer than a flat block, taken by the
    row path into g directly, is mixed in."""
    rng = np.random.default_rng(21)
    m, n = 120, 40_000
    X = sp.random(m, n, density=5e-4, format="lil", random_state=3)
    X[4, rng.choice(n, 3000, replace=False)] = rng.standard_normal(3000)
    X = X.tocsr().astype(dtype)
    dense = X.toarray()
    y = rng.uniform(size=m) if loss == "logistic" else rng.standard_normal(m)
    coef = rng.standard_normal(n + 1) * 0.1
    v = rng.standard_normal(n + 1)
    kw = dict(loss=loss, fit_intercept=True, sample_weight=rng.uniform(0, 2, m), l2=0.1)
    y, coef, v = y.astype(dtype), coef.astype(dtype), v.astype(dtype)
    rtol = rtol_for(dtype)
    assert_matches_ref(*fastgrad.value_and_grad(X, y, coef, backend=backend, **kw),
                       reference(dense, y, coef, **kw), rtol)
    H, S = reference_hessp(dense, y, coef, v, **kw)
    assert_grad_matches(fastgrad.hessp(X, y, coef, v, backend=backend, **kw), H, S, rtol)


# ---------------------------------------------------------------------------
# threads: bitwise identical for every n_threads


@pytest.fixture(scope="module")
def big_csr():
    cache = {}

    def get(dtype, n):
        key = (np.dtype(dtype).name, n)
        if key not in cache:
            rng = np.random.default_rng(12)
            m = 400_000
            counts = rng.poisson(4, m)
            counts[::97] = 0
            indptr = np.concatenate([[0], np.cumsum(counts)])
            indices = rng.integers(0, n, indptr[-1]).astype(np.int32)
            data = rng.standard_normal(indptr[-1]).astype(dtype)
            cache[key] = sp.csr_matrix((data, indices, indptr.astype(np.int32)),
                                       shape=(m, n))
        return cache[key]

    return get


@pytest.mark.parametrize("n", [50, 40_000], ids=["n=50", "n=40000"])
@pytest.mark.parametrize("k", [None, 2], ids=["coef(n,)", "coef(n,k)"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_bitwise_identical_over_n_threads(dtype, loss, k, n, big_csr):
    skip_if_no_native("native")
    from fastgrad import _plan
    X = big_csr(dtype, n)
    m = X.shape[0]
    glen = (n + 1) * (1 if k is None else k)
    per = _plan.csr_chunk_rows(m, X.nnz, glen, X.data.itemsize + 4)
    assert (m + per - 1) // per >= 3, "the test needs several chunks"
    y, coef, w = problem(m, n, k, loss, True, True, dtype, seed=13)
    coef *= 0.3
    v = np.linspace(-1, 1, coef.size).reshape(coef.shape).astype(dtype)
    kw = dict(loss=loss, fit_intercept=True, sample_weight=w, l2=0.1, backend="native")
    rows = np.random.default_rng(14).integers(-m, m, 2 * m // 3)
    base = None
    for nt in (1, 2, 3, 4):
        L, g = fastgrad.value_and_grad(X, y, coef, n_threads=nt, **kw)
        Lr, gr = fastgrad.value_and_grad(X, y, coef, rows=rows, n_threads=nt, **kw)
        h = fastgrad.hessp(X, y, coef, v, n_threads=nt, **kw)
        got = (L, g.tobytes(), Lr, gr.tobytes(), h.tobytes())
        if base is None:
            base = got
            if k is None and n == 50:   # right, not only stable: the NumPy backend
                Lp, gp = fastgrad.value_and_grad(X, y, coef, **{**kw, "backend": "numpy"})
                assert Lp == pytest.approx(L, rel=1e-10 if dtype == np.float64 else 1e-5)
                np.testing.assert_allclose(g, gp, rtol=1e-8 if dtype == np.float64 else 1e-3,
                                           atol=1e-10 if dtype == np.float64 else 1e-5)
        assert got == base, f"n_threads={nt} differs from n_threads=1"


# ---------------------------------------------------------------------------
# malformed structures: a clear ValueError, never a crash, arguments untouched


def _malformed(which):
    X = random_csr(M, N, seed=15, duplicates=False)
    X = sp.csr_matrix((X.data.copy(), X.indices.copy(), X.indptr.copy()), shape=X.shape)
    nz_row = int(np.flatnonzero(np.diff(X.indptr) > 1)[2])
    if which == "indptr-decreasing":
        X.indptr[nz_row + 1] = X.indptr[nz_row] - 1
        return X, "non-decreasing"
    if which == "indptr-beyond-nnz":
        X.indptr[nz_row + 1] = X.indptr[-1] + 5
        return X, "non-decreasing"
    if which == "indptr-negative":
        X.indptr[1] = -3
        return X, "non-decreasing"
    if which == "indptr0":
        X.indptr[0] = 1
        return X, r"indptr\[0\] must be 0"
    if which == "indptr-last":
        X.indptr[-1] = X.indices.size + 1
        return X, r"indptr\[-1\]"
    if which == "indptr-length":
        X.indptr = X.indptr[:-1].copy()
        return X, "indptr has length"
    if which == "indptr-empty":
        X.indptr = X.indptr[:0].copy()
        return X, "indptr has length"
    if which == "index-too-large":
        X.indices[X.indptr[nz_row]] = N
        return X, "column index 9 is out of range"
    if which == "index-negative":
        X.indices[X.indptr[nz_row] + 1] = -1
        return X, "column index -1 is out of range"
    raise ValueError(which)


MALFORMED = ["indptr-decreasing", "indptr-beyond-nnz", "indptr-negative", "indptr0",
             "indptr-last", "indptr-length", "indptr-empty", "index-too-large",
             "index-negative"]


@pytest.mark.parametrize("which", MALFORMED)
@pytest.mark.parametrize("loss", LOSSES)
def test_malformed_raise_valueerror(backend, which, loss):
    X, match = _malformed(which)
    y, coef, _ = problem(M, N, None, loss, False, False, np.float64)
    snap = snapshot_csr(X)
    out = np.full(N, 7.0)
    for nt in (1, 2):
        with pytest.raises(ValueError, match=match):
            fastgrad.value_and_grad(X, y, coef, loss=loss, out=out, n_threads=nt,
                                    backend=backend)
        with pytest.raises(ValueError, match=match):
            fastgrad.hessp(X, y, coef, coef, loss=loss, n_threads=nt, backend=backend)
    np.testing.assert_array_equal(out, 7.0)       # out untouched
    assert_csr_unchanged(X, snap)
    with pytest.raises(ValueError, match=match):  # checked once, at construction
        fastgrad.Objective(X, y, loss=loss, backend=backend)
    if which not in ("indptr0", "indptr-last", "indptr-length", "indptr-empty"):
        # unchecked: the kernels still refuse to read out of bounds
        obj = fastgrad.Objective(X, y, loss=loss, backend=backend, check_input=False)
        with pytest.raises(ValueError, match=match):
            obj.value(coef)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("loss", LOSSES)
def test_full_blocks_of_rows(index_dtype, loss):
    """Consecutive rows in full blocks of 64 (the compiled flat path takes a
    block's row ends in one vector pass when its last end is in range): the
    results against the reference on enough rows for several full blocks and a
    partial one, and an indptr that decreases, or leaves [0, nnz], strictly
    inside a full block whose last end is valid: a ValueError, no read out of
    bounds, on both the checked and the unchecked path."""
    skip_if_no_native("native")
    m, n = 64 * 5 + 23, 13
    X = random_csr(m, n, density=0.4, seed=31, index_dtype=index_dtype)
    y, coef, w = problem(m, n, None, loss, True, True, np.float64)
    kw = dict(loss=loss, fit_intercept=True, sample_weight=w)
    for nt in (1, 2):
        assert_matches_ref(*fastgrad.value_and_grad(X, y, coef, n_threads=nt,
                                                    backend="native", **kw),
                           reference(X.toarray(), y, coef, **kw), 1e-11)
    ip0 = X.indptr.copy()
    nnz = int(ip0[-1])
    for r in (64 + 5, 128 + 62, 256):      # inside the second, third, fifth block
        for new in (int(ip0[r]) - 1, nnz + 5, -3, int(ip0[r + 2]) + 1):
            if new == int(ip0[r + 1]) or 0 <= new <= nnz and ip0[r] <= new <= ip0[r + 2]:
                continue
            Xb = sp.csr_matrix((X.data, X.indices, ip0.copy()), shape=X.shape)
            Xb.indptr[r + 1] = new
            assert Xb.indptr[(r // 64 + 1) * 64] == ip0[(r // 64 + 1) * 64]
            for nt in (1, 2):
                with pytest.raises(ValueError, match="non-decreasing"):
                    fastgrad.value_and_grad(Xb, y, coef, n_threads=nt,
                                            backend="native", **kw)
            obj = fastgrad.Objective(Xb, y, backend="native", check_input=False, **kw)
            with pytest.raises(ValueError, match="non-decreasing"):
                obj.value_and_grad(coef)


def test_malformed_row_outside_rows_is_not_read(backend):
    X, _ = _malformed("index-too-large")
    bad_row = int(np.searchsorted(X.indptr, np.flatnonzero(X.indices >= N)[0],
                                  side="right")) - 1
    good = [r for r in range(M) if r != bad_row]
    y, coef, _ = problem(M, N, None, "squared", False, False, np.float64)
    g = fastgrad.grad(X, y, coef, rows=good, backend=backend)
    dense_good = np.zeros((len(good), N))
    for q, r in enumerate(good):
        s, e = X.indptr[r], X.indptr[r + 1]
        np.add.at(dense_good[q], X.indices[s:e], X.data[s:e])
    ref = reference(dense_good, y[good], coef)
    assert_grad_matches(g, ref.grad, ref.grad_scale, 1e-11)
    with pytest.raises(ValueError, match="out of range"):
        fastgrad.grad(X, y, coef, rows=[bad_row], backend=backend)


def test_n_features_zero_with_values():
    X = sp.csr_matrix((np.ones(2), np.zeros(2, np.int32), np.array([0, 1, 2], np.int32)),
                      shape=(2, 1))
    X._shape = (2, 0)
    with pytest.raises(ValueError, match="n_features=0"):
        fastgrad.grad(X, np.zeros(2), np.zeros(0))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_objective_check_input_nonfinite(backend, dtype):
    X = random_csr(M, N, dtype=dtype, seed=16)
    X.data[5] = np.nan
    r = int(np.searchsorted(X.indptr, 5, side="right")) - 1
    y = np.zeros(M, dtype)
    with pytest.raises(ValueError, match=rf"X contains NaN or inf: X\[{r}, "):
        fastgrad.Objective(X, y, backend=backend)
    obj = fastgrad.Objective(X, y, backend=backend, check_input=False)
    assert np.isnan(obj.value(np.ones(N, dtype)))   # propagates, as for dense X


def test_objective_converts_once():
    X = random_csr(M, N, seed=17)
    Xc = X.tocsc()
    obj = fastgrad.Objective(Xc, np.zeros(M))
    assert type(obj._X).__name__ == "CSR"           # kept as CSR, not converted per call
    obj2 = fastgrad.Objective(X, np.zeros(M))
    assert obj2._X.data is X.data or np.shares_memory(obj2._X.data, X.data)  # no copy


def test_csr_input_is_not_copied(monkeypatch):
    X = random_csr(M, N, seed=18, unsorted=False)
    from fastgrad import _sparse
    C = _sparse.as_csr(X)
    assert np.shares_memory(C.data, X.data) and np.shares_memory(C.indices, X.indices)
    assert np.shares_memory(C.indptr, X.indptr)


def test_unsorted_input_left_unsorted(backend):
    X = random_csr(M, N, seed=19, unsorted=True, duplicates=True)
    assert not X.has_canonical_format
    snap = snapshot_csr(X)
    fastgrad.value_and_grad(X, np.zeros(M), np.ones(N), backend=backend)
    fastgrad.Objective(X, np.zeros(M), backend=backend).hessp(np.ones(N), np.ones(N))
    assert_csr_unchanged(X, snap)


def test_scipy_not_imported_by_fastgrad():
    code = "import sys, fastgrad, fastgrad._sparse; print('scipy' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=str(__import__("pathlib").Path(fastgrad.__file__).parents[1]))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


# ---------------------------------------------------------------------------
# hypothesis: random sparsity patterns, all-empty rows and columns included


@st.composite
def sparse_problems(draw):
    m = draw(st.integers(0, 25))
    n = draw(st.integers(1, 12))
    mask = draw(st.lists(st.lists(st.booleans(), min_size=n, max_size=n),
                         min_size=m, max_size=m))
    mask = np.array(mask, dtype=bool).reshape(m, n)
    if m and draw(st.booleans()):
        mask[draw(st.integers(0, m - 1))] = False              # an empty row
    if draw(st.booleans()):
        mask[:, draw(st.integers(0, n - 1))] = False           # an empty column
    seed = draw(st.integers(0, 2**32 - 1))
    loss = draw(st.sampled_from(LOSSES))
    k = draw(st.sampled_from([None, 1, 2]))
    fit_intercept = draw(st.booleans())
    dtype = draw(st.sampled_from(DTYPES))
    index_dtype = draw(st.sampled_from([np.int32, np.int64]))
    shuffle = draw(st.booleans())
    rows = draw(st.none() | st.lists(st.integers(-m, m - 1), max_size=8)) if m else None
    return m, n, mask, seed, loss, k, fit_intercept, dtype, index_dtype, shuffle, rows


@given(sparse_problems())
def test_hypothesis_random_patterns(prob):
    m, n, mask, seed, loss, k, fit_intercept, dtype, index_dtype, shuffle, rows = prob
    rng = np.random.default_rng(seed)
    dense = np.where(mask, rng.standard_normal((m, n)), 0.0).astype(dtype)
    X = sp.csr_matrix(dense)
    if shuffle and X.nnz:                      # unsorted column indices within rows
        for r in range(m):
            s, e = X.indptr[r], X.indptr[r + 1]
            perm = s + rng.permutation(e - s)
            X.indices[s:e], X.data[s:e] = X.indices[perm], X.data[perm]
        X.has_sorted_indices = False
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    y, coef, w = problem(m, n, k, loss, fit_intercept, True, dtype, seed=seed % 1000)
    kw = dict(loss=loss, fit_intercept=fit_intercept, sample_weight=w, l2=0.3,
              reduction="sum", rows=rows)
    ref = reference(dense, y, coef, **kw)
    v = np.linspace(-1, 1, coef.size).reshape(coef.shape).astype(dtype)
    H, S = reference_hessp(dense, y, coef, v, **kw)
    for backend in ("native", "numpy"):
        skip_if_no_native(backend)
        L, g = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
        assert_matches_ref(L, g, ref, rtol_for(dtype), backend)
        assert_grad_matches(fastgrad.hessp(X, y, coef, v, backend=backend, **kw), H, S,
                            rtol_for(dtype), backend + " hessp")


@pytest.mark.parametrize("nt", [1, 2, 3])
def test_malformed_found_by_threads(nt, big_csr):
    """A malformed row in a late chunk, with threads: ValueError naming the first
    malformed row, out untouched (the chunks after it may or may not have run)."""
    skip_if_no_native("native")
    X0 = big_csr(np.float64, 50)
    X = sp.csr_matrix((X0.data, X0.indices.copy(), X0.indptr.copy()), shape=X0.shape)
    m = X.shape[0]
    r1, r2 = m - 1000, m - 10
    while X.indptr[r1 + 1] == X.indptr[r1]:
        r1 += 1
    X.indices[X.indptr[r1]] = 50                       # index out of range in row r1
    X.indptr[r2 + 1] = X.indptr[r2] - 1                # and a decreasing indptr later
    y = np.zeros(m)
    out = np.full(50, 3.0)
    with pytest.raises(ValueError, match=rf"column index 50 .*\(row {r1},"):
        fastgrad.grad(X, y, np.zeros(50), out=out, n_threads=nt, backend="native")
    np.testing.assert_array_equal(out, 3.0)
