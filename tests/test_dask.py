"""fastgrad.dask: the API over row-chunked dask arrays.

Every result is compared with the in-memory fastgrad call on the concatenated
NumPy arrays (1e-12 relative in float64) and with the independent float64
reference of conftest. The local (threaded) scheduler runs most cases; a real
``distributed.LocalCluster`` (2 worker processes) runs the cluster cases,
including a worker killed and a client restarted in the middle of a gradient.
"""
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import fastgrad  # noqa: E402
import fastgrad.dask as fd  # noqa: E402
from conftest import (DTYPE_IDS, DTYPES, assert_grad_matches, assert_matches_ref,  # noqa: E402
                      assert_unchanged, make_problem, reference, reference_hessp,
                      rtol_for, snapshot)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastgrad.__file__)))


def assert_same(a, b, what=""):
    """fastgrad.dask result a equals the in-memory result b: 1e-12 relative in
    float64 (of the largest entry), float32 to its own rounding."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    rtol = 1e-12 if what.endswith("f64") else 2e-6
    scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, err_msg=what)


def chunked(A, rows, cols=None):
    """A (NumPy) as a dask array with the given row chunks (and column chunks)."""
    if A.ndim == 1:
        return da.from_array(A, chunks=(rows,))
    return da.from_array(A, chunks=(rows, A.shape[1] if cols is None else cols))


# ---------------------------------------------------------------------------
# import, extras


def test_import_fastgrad_does_not_import_dask():
    code = ("import sys, fastgrad\n"
            "assert fastgrad.__file__.startswith(sys.argv[1]), fastgrad.__file__\n"
            "fastgrad.value_and_grad([[1.0]], [1.0], [0.0])\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
            "assert not bad, bad\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-c", code, ROOT], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------------------
# results on the local (threaded) scheduler

CASES = [(loss, fi, k, wts)
         for loss in ("squared", "logistic")
         for fi in (False, True)
         for k in (None, 3)
         for wts in (False, True)]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("loss,fit_intercept,k,weights", CASES,
                         ids=[f"{c[0]}-{'icpt' if c[1] else 'noicpt'}-k{c[2]}-"
                              f"{'w' if c[3] else 'now'}" for c in CASES])
def test_matches_in_memory(loss, fit_intercept, k, weights, dtype, reduction):
    X, y, coef, w = make_problem(503, 7, k, loss=loss, fit_intercept=fit_intercept,
                                 weights=weights, dtype=dtype, seed=3)
    v = np.random.default_rng(4).standard_normal(coef.shape).astype(dtype)
    kw = dict(loss=loss, fit_intercept=fit_intercept, sample_weight=w, l2=0.25,
              reduction=reduction)
    Xd, yd = chunked(X, 97), chunked(y, 61)          # y chunked differently from X
    wd = None if w is None else chunked(w, 200)
    dkw = dict(kw, sample_weight=wd)
    saved = snapshot(X, y, coef, w, v)
    what = f"{loss} {reduction} {np.dtype(dtype).name.replace('float', 'f')}"

    L0, g0 = fastgrad.value_and_grad(X, y, coef, **kw)
    L1, g1 = fd.value_and_grad(Xd, yd, coef, **dkw)
    assert isinstance(L1, float) and type(g1) is np.ndarray and g1.dtype == dtype
    assert_same(L1, L0, what)
    assert_same(g1, g0, what)
    assert_matches_ref(L1, g1, reference(X, y, coef, **kw), rtol_for(dtype), what)
    assert_same(fd.grad(Xd, yd, coef, **dkw), g0, what)
    h0 = fastgrad.hessp(X, y, coef, v, **kw)
    h1 = fd.hessp(Xd, yd, coef, v, **dkw)
    assert h1.dtype == dtype
    assert_same(h1, h0, what)
    Hv, S = reference_hessp(X, y, coef, v, **kw)
    assert_grad_matches(h1, Hv, S, rtol_for(dtype), what)

    obj = fd.Objective(Xd, yd, **dkw)
    assert (obj.n_samples, obj.n_features, obj.n_outputs) == (503, 7, 1 if k is None else k)
    assert obj.coef_shape == coef.shape and obj.dtype == dtype
    L2, g2 = obj(coef)
    assert_same(L2, L0, what)
    assert_same(g2, g0, what)
    assert_same(obj.value(coef), L0, what)
    assert_same(obj.grad(coef), g0, what)
    assert_same(obj.hessp(coef, v), h0, what)
    assert_unchanged([X, y, coef, w, v], saved)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("proba", [False, True], ids=["labels", "proba"])
def test_multinomial_matches_in_memory(proba, dtype):
    rng = np.random.default_rng(5)
    m, n, K = 411, 6, 4
    X = rng.standard_normal((m, n)).astype(dtype)
    y = rng.integers(0, K, m)
    if proba:
        y = (0.7 * np.eye(K)[y] + 0.3 / K).astype(dtype)
    coef = rng.standard_normal((n + 1, K)).astype(dtype)
    v = rng.standard_normal((n + 1, K)).astype(dtype)
    w = rng.uniform(0, 2, m).astype(dtype)
    kw = dict(loss="multinomial", fit_intercept=True, l2=0.1)
    what = f"multinomial {np.dtype(dtype).name.replace('float', 'f')}"
    Xd, yd, wd = chunked(X, 97), chunked(y, 61), chunked(w, 150)
    L0, g0 = fastgrad.value_and_grad(X, y, coef, sample_weight=w, **kw)
    L1, g1 = fd.value_and_grad(Xd, yd, coef, sample_weight=wd, **kw)
    assert_same(L1, L0, what)
    assert_same(g1, g0, what)
    assert_same(fd.hessp(Xd, yd, coef, v, sample_weight=wd, **kw),
                fastgrad.hessp(X, y, coef, v, sample_weight=w, **kw), what)
    obj = fd.Objective(Xd, yd, sample_weight=wd, **kw)
    assert obj.coef_shape == (n + 1, K) and obj.n_outputs == K
    assert_same(obj(coef.ravel())[1], g0.ravel(), what)      # flat, as scipy passes it
    assert_same(obj.hessp(coef, v), fastgrad.hessp(X, y, coef, v, sample_weight=w, **kw),
                what)


def test_multinomial_label_errors_and_n_classes():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((50, 3))
    y = rng.integers(0, 3, 50)
    coef = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"class label 7 is outside \[0, 3\)"):
        fd.value_and_grad(chunked(X, 20), chunked(np.where(y == 0, 7, y), 20), coef,
                          loss="multinomial")
    with pytest.raises(ValueError, match="coef must be 2-D"):
        fd.value_and_grad(chunked(X, 20), chunked(y, 20), coef[:, 0], loss="multinomial")
    obj = fd.Objective(chunked(X, 20), chunked(np.minimum(y, 1), 20), loss="multinomial",
                       n_classes=3)
    assert obj.coef_shape == (3, 3)
    assert fd.Objective(chunked(X, 20), chunked(np.minimum(y, 1), 20),
                        loss="multinomial").coef_shape == (3, 2)


@pytest.mark.parametrize("layout", ["one chunk", "uneven", "1-row chunks", "cols chunked",
                                    "empty chunks"])
def test_any_chunking(layout):
    X, y, coef, w = make_problem(60, 5, None, loss="logistic", fit_intercept=True,
                                 weights=True, seed=5)
    if layout == "one chunk":
        Xd = chunked(X, -1)
    elif layout == "uneven":
        Xd = da.from_array(X, chunks=((1, 30, 2, 27), (5,)))
    elif layout == "1-row chunks":
        Xd = chunked(X, 1)
    elif layout == "cols chunked":
        Xd = chunked(X, 13, 2)
    else:
        Xd = da.from_array(X, chunks=((0, 20, 0, 40, 0), (5,)))
    L0, g0 = fastgrad.value_and_grad(X, y, coef, loss="logistic", fit_intercept=True,
                                     sample_weight=w, l2=0.5)
    L1, g1 = fd.value_and_grad(Xd, y, coef, loss="logistic", fit_intercept=True,
                               sample_weight=w, l2=0.5)
    assert_same(L1, L0, "f64")
    assert_same(g1, g0, "f64")


def test_mean_divides_by_global_weight_sum():
    # weights very unequal between chunks: a per-chunk mean would be far off
    X, y, coef, _ = make_problem(40, 3, seed=6)
    w = np.r_[np.full(20, 10.0), np.full(20, 0.1)]
    L0, g0 = fastgrad.value_and_grad(X, y, coef, sample_weight=w)
    L1, g1 = fd.value_and_grad(chunked(X, 20), y, coef, sample_weight=chunked(w, 20))
    assert_same(L1, L0, "f64")
    assert_same(g1, g0, "f64")


def test_out_and_integer_X_and_numpy_y():
    X, y, coef, _ = make_problem(50, 4, seed=7)
    Xi = np.round(3 * X).astype(np.int64)
    out = np.full(4, np.nan)
    g = fd.grad(chunked(Xi, 16), list(y), coef, out=out)
    assert g is out
    assert_same(out, fastgrad.grad(Xi, y, coef), "f64")
    obj = fd.Objective(chunked(Xi, 16), y)
    assert obj.dtype == np.float64
    out2 = np.empty(4)
    assert obj.grad(coef, out=out2) is out2
    assert_same(out2, fastgrad.grad(Xi, y, coef), "f64")


@pytest.mark.parametrize("n_threads", [1, 2])
def test_n_threads_same_result(n_threads):
    X, y, coef, _ = make_problem(3000, 6, loss="logistic", seed=8)
    Xd = chunked(X, 1000)
    base = fd.value_and_grad(Xd, y, coef, loss="logistic", n_threads=1)
    L, g = fd.value_and_grad(Xd, y, coef, loss="logistic", n_threads=n_threads)
    assert L == base[0] and np.array_equal(g, base[1])
    L, g = fd.value_and_grad(Xd, y, coef, loss="logistic")   # None: decided per task
    assert L == base[0] and np.array_equal(g, base[1])


def test_sync_scheduler():
    X, y, coef, _ = make_problem(100, 3, seed=9)
    with dask.config.set(scheduler="sync"):
        L1, g1 = fd.value_and_grad(chunked(X, 30), y, coef)
    L0, g0 = fastgrad.value_and_grad(X, y, coef)
    assert_same(L1, L0, "f64")
    assert_same(g1, g0, "f64")


def test_sum_with_no_rows():
    X = da.zeros((0, 3), chunks=(10, 3))
    coef = np.array([1.0, -2.0, 3.0])
    L, g = fd.value_and_grad(X, np.zeros(0), coef, reduction="sum", l2=0.5)
    assert L == 0.25 * np.sum(coef ** 2)
    np.testing.assert_array_equal(g, 0.5 * coef)


# ---------------------------------------------------------------------------
# errors: the in-memory API's errors, by type and message


def _same_error(exc_type, call_mem, call_dask, match=None):
    with pytest.raises(exc_type, match=match) as e0:
        call_mem()
    with pytest.raises(exc_type, match=match) as e1:
        call_dask()
    assert str(e1.value) == str(e0.value)


@pytest.mark.parametrize("kw", [dict(loss="hinge"), dict(reduction="avg"),
                                dict(backend="gpu"), dict(l2=-1.0), dict(l2=np.inf),
                                dict(n_threads=0), dict(n_threads=1.5)],
                         ids=lambda d: f"{list(d)[0]}={list(d.values())[0]}")
def test_keyword_errors_match_in_memory(kw):
    X, y, coef, _ = make_problem(10, 2, seed=10)
    _same_error(ValueError, lambda: fastgrad.value_and_grad(X, y, coef, **kw),
                lambda: fd.value_and_grad(chunked(X, 5), y, coef, **kw))
    with pytest.raises(ValueError):
        fd.Objective(chunked(X, 5), y, **kw)


def test_shape_errors_match_in_memory():
    X, y, coef, _ = make_problem(10, 2, seed=11)
    Xd = chunked(X, 4)
    _same_error(ValueError, lambda: fastgrad.grad(X, y[:9], coef),
                lambda: fd.grad(Xd, y[:9], coef), match="y has 9 rows")
    _same_error(ValueError, lambda: fastgrad.grad(X, y, coef[:1]),
                lambda: fd.grad(Xd, y, coef[:1]), match="coef must have shape")
    _same_error(ValueError, lambda: fastgrad.grad(X, y, coef, sample_weight=np.ones(3)),
                lambda: fd.grad(Xd, y, coef, sample_weight=np.ones(3)),
                match="sample_weight must have shape")
    _same_error(ValueError, lambda: fastgrad.hessp(X, y, coef, coef[:1]),
                lambda: fd.hessp(Xd, y, coef, coef[:1]), match="v must have shape")
    _same_error(ValueError, lambda: fastgrad.grad(X, y, coef, out=np.empty(3)),
                lambda: fd.grad(Xd, y, coef, out=np.empty(3)), match="out must have")
    _same_error(TypeError, lambda: fastgrad.grad(X.astype(complex), y, coef),
                lambda: fd.grad(Xd.astype(complex), y, coef), match="X: dtype")
    with pytest.raises(ValueError, match="X must be 2-D"):
        fd.grad(da.ones(10, chunks=5), y, coef)
    with pytest.raises(TypeError, match="dask.array.Array"):
        fd.grad(X, y, coef)


def test_value_errors_name_the_global_index():
    X, y, coef, w = make_problem(30, 2, loss="logistic", weights=True, seed=12)
    Xd = chunked(X, 7)
    yb = y.copy()
    yb[23] = 1.5
    for call in (lambda: fd.grad(Xd, yb, coef, loss="logistic"),
                 lambda: fd.Objective(Xd, yb, loss="logistic")):
        with pytest.raises(ValueError, match=r"y must lie in \[0, 1\].*y\[23\] = \S*1\.5"):
            call()
    wb = np.ones(30)
    wb[17] = -1.0
    with pytest.raises(ValueError, match=r"non-negative; sample_weight\[17\] = \S*-1\.0"):
        fd.grad(Xd, y, coef, sample_weight=wb)
    wb[17] = np.nan
    with pytest.raises(ValueError, match=r"finite; sample_weight\[17\] = \S*nan"):
        fd.Objective(Xd, y, sample_weight=wb)
    Xb = X.copy()
    Xb[22, 1] = np.inf
    with pytest.raises(ValueError, match=r"X contains NaN or inf: X\[22, 1\] = \S*inf"):
        fd.Objective(chunked(Xb, 7), y)
    fd.Objective(chunked(Xb, 7), y, check_input=False)       # no scan of X
    yn = y.copy()
    yn[8] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN or inf: y\[8\] = \S*nan"):
        fd.Objective(Xd, yn)


def test_zero_weight_sum_and_no_rows_raise_as_in_memory():
    X, y, coef, _ = make_problem(12, 2, seed=13)
    Xd = chunked(X, 5)
    _same_error(ValueError, lambda: fastgrad.grad(X, y, coef, sample_weight=np.zeros(12)),
                lambda: fd.grad(Xd, y, coef, sample_weight=np.zeros(12)),
                match="positive total sample weight")
    with pytest.raises(ValueError, match="positive total sample weight"):
        fd.Objective(Xd, y, sample_weight=np.zeros(12))
    _same_error(ValueError, lambda: fastgrad.grad(X[:0], y[:0], coef),
                lambda: fd.grad(Xd[:0], y[:0], coef), match="no rows")
    with pytest.raises(ValueError, match="no rows"):
        fd.Objective(Xd[:0], y[:0])


def test_rows_is_not_a_keyword():
    X, y, coef, _ = make_problem(10, 2, seed=14)
    with pytest.raises(TypeError, match="rows"):
        fd.value_and_grad(chunked(X, 5), y, coef, rows=[0, 1])
    with pytest.raises(TypeError, match="rows"):
        fd.Objective(chunked(X, 5), y).value_and_grad(coef, rows=[0, 1])


# ---------------------------------------------------------------------------
# scipy.optimize on the Objective, memmap


@pytest.mark.parametrize("method", ["L-BFGS-B", "trust-ncg"])
def test_scipy_fit_as_in_memory(method):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    X, y, _, w = make_problem(400, 5, loss="logistic", fit_intercept=True, weights=True,
                              seed=15)
    kw = dict(loss="logistic", fit_intercept=True, sample_weight=w, l2=1e-2)
    mem = fastgrad.Objective(X, y, **kw)
    dist = fd.Objective(chunked(X, 90), chunked(y, 90), **kw)
    x0 = np.zeros(6)
    opts = dict(jac=True, method=method, options={"gtol": 1e-10})
    if method == "trust-ncg":
        opts["hessp"] = dist.hessp
    r1 = scipy_optimize.minimize(dist, x0, **opts)
    if method == "trust-ncg":
        opts["hessp"] = mem.hessp
    r0 = scipy_optimize.minimize(mem, x0, **opts)
    assert r1.success and r0.success
    np.testing.assert_allclose(r1.x, r0.x, rtol=1e-6, atol=1e-8)
    assert abs(r1.fun - r0.fun) <= 1e-12 * abs(r0.fun)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_memmap_X(tmp_path, dtype):
    X, y, coef, _ = make_problem(2000, 6, loss="logistic", dtype=dtype, seed=16)
    fname = tmp_path / "X.dat"
    mm = np.memmap(fname, dtype=dtype, mode="w+", shape=X.shape)
    mm[...] = X
    mm.flush()
    del mm
    Xm = np.memmap(fname, dtype=dtype, mode="r", shape=X.shape)
    what = np.dtype(dtype).name.replace("float", "f")
    L0, g0 = fastgrad.value_and_grad(X, y, coef, loss="logistic")
    Lm, gm = fastgrad.value_and_grad(Xm, y, coef, loss="logistic")    # streamed, no copy
    assert Lm == L0 and np.array_equal(gm, g0)
    Xd = da.from_array(Xm, chunks=(300, -1))
    L1, g1 = fd.value_and_grad(Xd, y, coef, loss="logistic")
    assert_same(L1, L0, what)
    assert_same(g1, g0, what)
    obj = fd.Objective(Xd, y, loss="logistic")
    assert_same(obj(coef)[1], g0, what)
    assert_same(obj.hessp(coef, coef), fastgrad.hessp(X, y, coef, coef, loss="logistic"),
                what)
    Xf = fd.from_memmap(fname, X.shape, dtype, chunk_rows=300)    # each task opens the file
    assert Xf.chunks[0][0] == 300 and Xf.dtype == dtype
    np.testing.assert_array_equal(Xf.compute(), X)
    assert_same(fd.grad(Xf, y, coef, loss="logistic"), g0, what)


# ---------------------------------------------------------------------------
# a real cluster: distributed.LocalCluster with 2 worker processes

# distributed's own shutdown chatter; nothing of fastgrad's
CLUSTER_WARNINGS = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore:.*[Cc]lient.*:UserWarning"),
    pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def _decorate(f):
    for mark in CLUSTER_WARNINGS:
        f = mark(f)
    return f


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    import logging

    import cloudpickle
    for name in ("distributed", "distributed.nanny", "distributed.scheduler",
                 "distributed.worker", "distributed.core", "distributed.client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # the workers import the fastgrad under test (not an installed copy), and the
    # helpers of this module travel by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, env={"PYTHONPATH": ROOT},
                                       silence_logs=logging.CRITICAL)
    cl = distributed.Client(cluster)
    try:
        yield cl
    finally:
        cl.close()
        cluster.close()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@_decorate
def test_cluster_workers_import_this_fastgrad(client):
    files = client.run(lambda: __import__("fastgrad").__file__)
    assert len(files) == 2
    assert all(f == fastgrad.__file__ for f in files.values()), files


@_decorate
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_cluster_matches_in_memory(client, dtype):
    X, y, coef, w = make_problem(4000, 8, 2, loss="logistic", fit_intercept=True,
                                 weights=True, dtype=dtype, seed=20)
    kw = dict(loss="logistic", fit_intercept=True, sample_weight=w, l2=0.1)
    Xd, yd, wd = client.persist([chunked(X, 700), chunked(y, 700), chunked(w, 700)])
    dkw = dict(kw, sample_weight=wd)
    what = np.dtype(dtype).name.replace("float", "f")
    L0, g0 = fastgrad.value_and_grad(X, y, coef, **kw)
    L1, g1 = fd.value_and_grad(Xd, yd, coef, **dkw)
    assert_same(L1, L0, what)
    assert_same(g1, g0, what)
    assert_same(fd.hessp(Xd, yd, coef, g0, **dkw), fastgrad.hessp(X, y, coef, g0, **kw),
                what)
    obj = fd.Objective(Xd, yd, **dkw)
    L2, g2 = obj(coef)
    assert_same(L2, L0, what)
    assert_same(g2, g0, what)


@_decorate
def test_cluster_errors_travel_back(client):
    X, y, coef, _ = make_problem(100, 3, loss="logistic", seed=21)
    y[77] = -0.5
    with pytest.raises(ValueError, match=r"y\[77\] = \S*-0\.5"):
        fd.grad(chunked(X, 30), y, coef, loss="logistic")


@_decorate
def test_cluster_lbfgs_fit(client):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    X, y, _, _ = make_problem(3000, 6, loss="logistic", fit_intercept=True, seed=22)
    y = np.round(y)
    mem = fastgrad.Objective(X, y, loss="logistic", fit_intercept=True, l2=1e-3)
    obj = fd.Objective(chunked(X, 500), chunked(y, 500), loss="logistic",
                       fit_intercept=True, l2=1e-3)
    opts = dict(jac=True, method="L-BFGS-B", options={"gtol": 1e-9})
    r1 = scipy_optimize.minimize(obj, np.zeros(7), **opts)
    r0 = scipy_optimize.minimize(mem, np.zeros(7), **opts)
    assert r1.success and r0.success
    np.testing.assert_allclose(r1.x, r0.x, rtol=1e-6, atol=1e-8)


def _slow(block):
    time.sleep(0.12)
    return block


def _slow_problem(seed):
    """X, y built on the workers from a seed, every chunk slowed down, so a call
    lasts about a second; the NumPy copies for the reference."""
    rs = da.random.RandomState(seed)
    X = rs.standard_normal((12_000, 10), chunks=(1000, 10))
    y = (rs.uniform(size=12_000, chunks=1000) < 0.5).astype(np.float64)
    Xs = X.map_blocks(_slow, dtype=X.dtype)
    return Xs, y, X.compute(), y.compute()


def _outcome(call, act):
    """Run call() in a thread, act() while it runs; the result or the exception."""
    box = {}

    def run():
        try:
            box["value"] = call()
        except BaseException as exc:          # noqa: BLE001 - reported to the test
            box["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.25)
    assert t.is_alive(), "the call ended before the worker was killed"
    act()
    t.join(120)
    assert not t.is_alive()
    return box


def _assert_correct_or_clear_error(box, L0, g0, allowed):
    if "error" in box:
        assert isinstance(box["error"], allowed), repr(box["error"])
        return "error"
    L, g = box["value"]
    assert_same(L, L0, "f64")
    assert_same(g, g0, "f64")
    return "recomputed"


@_decorate
def test_cluster_worker_killed_mid_gradient(client):
    distributed = pytest.importorskip("distributed")
    Xs, yd, X, y = _slow_problem(30)
    coef = np.linspace(-0.3, 0.3, 10)
    L0, g0 = fastgrad.value_and_grad(X, y, coef, loss="logistic")
    pids = client.run(os.getpid)
    victim = pids[sorted(pids)[0]]

    def kill():
        # SIGKILL: the worker process dies at once; its nanny starts a new one
        os.kill(victim, signal.SIGKILL)

    box = _outcome(lambda: fd.value_and_grad(Xs, yd, coef, loss="logistic"), kill)
    how = _assert_correct_or_clear_error(box, L0, g0, (distributed.KilledWorker,))
    assert how == "recomputed"          # dask reruns the lost chunks from the graph
    client.wait_for_workers(2, timeout=60)


@_decorate
def test_cluster_objective_survives_worker_kill(client):
    distributed = pytest.importorskip("distributed")
    X, y, coef, _ = make_problem(2000, 5, loss="logistic", seed=32)
    L0, g0 = fastgrad.value_and_grad(X, y, coef, loss="logistic")
    obj = fd.Objective(chunked(X, 400), y, loss="logistic")
    assert_same(obj(coef)[1], g0, "f64")
    pids = client.run(os.getpid)
    os.kill(pids[sorted(pids)[0]], signal.SIGKILL)     # half the persisted chunks die
    try:
        L, g = obj(coef)
    except distributed.KilledWorker:                   # a clear error is allowed
        pass
    else:                                              # dask recomputes the lost chunks
        assert_same(L, L0, "f64")
        assert_same(g, g0, "f64")
    client.wait_for_workers(2, timeout=60)


@_decorate
def test_cluster_objective_lost_data_is_a_clear_error(client):
    # what client.restart() does to an Objective: its persisted futures are cancelled
    X, y, coef, _ = make_problem(600, 4, seed=33)
    obj = fd.Objective(chunked(X, 200), y)
    obj(coef)
    client.cancel([obj.X])
    with pytest.raises(RuntimeError, match="build the Objective again"):
        obj(coef)


@_decorate
def test_cluster_from_memmap(client, tmp_path):
    X, y, coef, _ = make_problem(3000, 6, seed=34)
    fname = tmp_path / "X.dat"
    X.tofile(fname)
    Xf = fd.from_memmap(fname, X.shape, chunk_rows=500)
    L0, g0 = fastgrad.value_and_grad(X, y, coef)
    L1, g1 = fd.value_and_grad(Xf, y, coef)
    assert_same(L1, L0, "f64")
    assert_same(g1, g0, "f64")
