"""Threads: bitwise determinism over n_threads, threadpoolctl, concurrent Python threads."""
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastgrad
from conftest import (DTYPE_IDS, DTYPES, LOSSES, NATIVE_AVAILABLE, assert_matches_ref,
                      make_problem, reference, rtol_for, skip_if_no_native)

M_BIG, N_BIG = 200_000, 20       # ~30 chunks of rows: more than one wave of slots


@pytest.fixture(scope="module")
def big_problems():
    cache = {}

    def get(dtype, loss, layout):
        key = (np.dtype(dtype).name, loss, layout)
        if key not in cache:
            X, y, coef, w = make_problem(M_BIG, N_BIG, None, loss=loss, fit_intercept=True,
                                         weights=True, dtype=dtype, seed=80,
                                         coef_scale=0.2)
            if layout == "F":
                X = np.asfortranarray(X)
            cache[key] = (X, y, coef, w)
        return cache[key]

    return get


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_bitwise_identical_over_n_threads(dtype, loss, layout, big_problems):
    skip_if_no_native("native")
    X, y, coef, w = big_problems(dtype, loss, layout)
    kw = dict(loss=loss, fit_intercept=True, sample_weight=w, l2=0.1, backend="native")
    v = np.linspace(-1, 1, coef.size).astype(dtype)
    rows = np.random.default_rng(1).integers(0, M_BIG, 150_000)
    base = None
    for nt in (1, 2, 3, 4):
        L, g = fastgrad.value_and_grad(X, y, coef, n_threads=nt, **kw)
        hv = fastgrad.hessp(X, y, coef, v, n_threads=nt, **kw)
        Lr, gr = fastgrad.value_and_grad(X, y, coef, rows=rows, n_threads=nt, **kw)
        res = (L, g, hv, Lr, gr)
        if base is None:
            base = res
            assert_matches_ref(L, g, reference(X, y, coef, **{a: b for a, b in kw.items()
                                                            if a != "backend"}),
                               rtol_for(dtype))
            continue
        assert L == base[0], f"n_threads={nt}: loss {L!r} != {base[0]!r}"
        assert np.array_equal(g, base[1]), f"n_threads={nt}: gradient differs"
        assert np.array_equal(hv, base[2]), f"n_threads={nt}: hessp differs"
        assert Lr == base[3] and np.array_equal(gr, base[4]), f"n_threads={nt}: rows"


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_bitwise_identical_multi_output_objective(dtype):
    skip_if_no_native("native")
    X, y, coef, w = make_problem(60_000, 9, 3, loss="logistic", fit_intercept=True,
                                 weights=True, dtype=dtype, seed=81, coef_scale=0.3)
    results = []
    for nt in (1, 2, 3, 4, 7, 64):
        obj = fastgrad.Objective(X, y, loss="logistic", fit_intercept=True, sample_weight=w,
                                 n_threads=nt, backend="native")
        results.append((obj(coef), obj.value(coef), obj.hessp(coef, coef)))
    (L0, g0), val0, h0 = results[0]
    for (L, g), val, h in results[1:]:
        assert L == L0 and val == val0
        assert np.array_equal(g, g0) and np.array_equal(h, h0)


def test_n_threads_none_and_threadpool_limits(backend):
    X, y, coef, w = make_problem(100_000, 10, None, weights=True, seed=82)
    L1, g1 = fastgrad.value_and_grad(X, y, coef, sample_weight=w, n_threads=1,
                                     backend=backend)
    L, g = fastgrad.value_and_grad(X, y, coef, sample_weight=w, backend=backend)
    assert L == L1 and np.array_equal(g, g1)
    obj = fastgrad.Objective(X, y, sample_weight=w, backend=backend)   # n_threads=None
    with threadpool_limits(limits=1):
        Ll, gl = fastgrad.value_and_grad(X, y, coef, sample_weight=w, n_threads=None,
                                         backend=backend)
        Lo, go = obj(coef)
    assert Ll == L1 and np.array_equal(gl, g1)
    assert Lo == L1 and np.array_equal(go, g1)
    assert_matches_ref(L, g, reference(X, y, coef, sample_weight=w), rtol_for(np.float64))


def test_threadpool_limits_reach_default_n_threads():
    """Under threadpool_limits(1) the default thread count is 1 (what show_config says)."""
    skip_if_no_native("native")
    from fastgrad import _config
    with threadpool_limits(limits=1):
        assert _config.config()["default n_threads"] == 1


@pytest.mark.parametrize("layout", ["C", "F"])
def test_concurrent_python_threads_share_objective(backend, layout):
    X, y, coef, w = make_problem(50_000, 12, None, loss="logistic", fit_intercept=True,
                                 weights=True, seed=83, coef_scale=0.3)
    if layout == "F":
        X = np.asfortranarray(X)
    obj = fastgrad.Objective(X, y, loss="logistic", fit_intercept=True, sample_weight=w,
                             l2=0.01, n_threads=2, backend=backend)
    rng = np.random.default_rng(2)
    coefs = [coef + 0.1 * rng.standard_normal(coef.shape) for _ in range(4)]
    rows = rng.integers(0, X.shape[0], 20_000)

    def work(c):
        return (obj(c), obj.value(c), obj.hessp(c, coef), obj(c, rows=rows))

    expected = [work(c) for c in coefs]
    results = [None] * 4
    errors = []
    barrier = threading.Barrier(4)

    def target(i):
        try:
            barrier.wait()
            for _ in range(3):
                results[i] = work(coefs[i])
                _check(results[i], expected[i])
        except BaseException as exc:   # re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    for r, e in zip(results, expected):
        _check(r, e)


def _check(r, e):
    (L, g), val, hv, (Lr, gr) = r
    (Le, ge), vale, hve, (Lre, gre) = e
    assert L == Le and val == vale and Lr == Lre
    assert np.array_equal(g, ge) and np.array_equal(hv, hve) and np.array_equal(gr, gre)


def test_concurrent_out_buffers_are_independent(backend):
    """Each thread writes into its own out=; no cross-talk between calls."""
    X, y, coef, _ = make_problem(30_000, 8, 2, seed=84)
    obj = fastgrad.Objective(X, y, backend=backend, n_threads=1)
    outs = [np.empty_like(coef) for _ in range(4)]
    coefs = [coef * (i + 1) for i in range(4)]
    expected = [obj.grad(c) for c in coefs]
    threads = [threading.Thread(target=obj.grad, args=(coefs[i],), kwargs={"out": outs[i]})
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for o, e in zip(outs, expected):
        assert np.array_equal(o, e)


# ---------------------------------------------------------------------------
# the build


def test_native_backend_works_when_importable():
    X, y, coef, _ = make_problem(10, 3, seed=85)
    if not NATIVE_AVAILABLE:
        with pytest.raises(ImportError, match="native"):
            fastgrad.value_and_grad(X, y, coef, backend="native")
        return
    L, g = fastgrad.value_and_grad(X, y, coef, backend="native")
    assert_matches_ref(L, g, reference(X, y, coef), rtol_for(np.float64))


def test_show_config(capsys):
    ret = fastgrad.show_config()
    assert ret is None
    text = capsys.readouterr().out.lower()
    assert "backend" in text
    if NATIVE_AVAILABLE:
        assert "native" in text
        assert "simd" in text
        assert "openmp" in text
        lines = [ln for ln in text.splitlines() if "openmp" in ln]
        assert lines and ("yes" in lines[0] or "no" in lines[0])
    else:
        assert "numpy" in text


def test_version():
    assert isinstance(fastgrad.__version__, str) and fastgrad.__version__[0].isdigit()


def test_omp_num_threads_sets_default(tmp_path):
    """n_threads=None honours OMP_NUM_THREADS (checked in a fresh interpreter)."""
    skip_if_no_native("native")
    import os
    import subprocess
    import sys
    code = ("import fastgrad._config as c, fastgrad, numpy as np; "
            "print(c.config()['default n_threads']); "
            "X = np.ones((10, 2)); print(fastgrad.value_and_grad(X, np.ones(10), "
            "np.zeros(2))[0])")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split()
    assert lines[0] == "1"
    assert float(lines[1]) == 0.5
