"""Concurrency (issue 7.3): 8 Python threads, the GIL, executors, multiprocessing.

tests/test_threads.py has the n_threads determinism and a 4-thread test of one
Objective; here 8 threads mix one shared Objective and the free functions with
different inputs, the GIL is shown released during a long call, and fastgrad
runs inside ThreadPoolExecutor and multiprocessing (fork and spawn).
"""
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided
from threadpoolctl import threadpool_limits

import fastgrad
from conftest import (assert_matches_ref, make_problem, reference, rtol_for,
                      skip_if_no_native)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _problem(i):
    """Problem i of a family with different shapes, losses, dtypes and layouts."""
    loss = ("squared", "logistic")[i % 2]
    dtype = (np.float64, np.float32)[(i // 2) % 2]
    X, y, coef, w = make_problem(3000 + 100 * i, 5 + i % 3, None if i % 3 else 2, loss=loss,
                                 fit_intercept=bool(i % 2), weights=True, dtype=dtype,
                                 seed=900 + i, coef_scale=0.3)
    if i % 4 == 3:
        X = np.asfortranarray(X)
    kw = dict(loss=loss, fit_intercept=bool(i % 2), sample_weight=w, l2=0.01 * i)
    return X, y, coef, kw


def _work(i, backend, obj, shared_coefs, n_threads=None):
    """Everything thread i does: the free functions on its own problem, and the
    shared Objective at its own coef (rows and out included)."""
    X, y, coef, kw = _problem(i)
    kw = dict(kw, backend=backend, n_threads=n_threads)
    c = shared_coefs[i]
    rows = np.arange(i, obj.n_samples, 3)
    out = np.empty_like(c)
    return (fastgrad.value_and_grad(X, y, coef, **kw),
            fastgrad.grad(X, y, coef, rows=rows[rows < X.shape[0]], **kw),
            fastgrad.hessp(X, y, coef, coef[::-1].copy(), **kw),
            obj(c), obj.value(c, rows=rows), obj.hessp(c, shared_coefs[0]),
            obj.grad(c, out=out), out)


def _flatten(res):
    flat = []
    for r in res:
        if isinstance(r, tuple):
            flat.extend(_flatten(r))
        else:
            flat.append(r)
    return flat


def _assert_identical(a, b, what):
    fa, fb = _flatten(a), _flatten(b)
    assert len(fa) == len(fb)
    for x, y in zip(fa, fb):
        if isinstance(x, float):
            assert x == y, what
        else:
            assert x.dtype == y.dtype and np.array_equal(x, y), what


@pytest.mark.parametrize("n_threads", [None, 1, 2])
def test_8_threads_give_the_sequential_results(backend, n_threads):
    X, y, coef, w = make_problem(20_000, 9, None, loss="logistic", fit_intercept=True,
                                 weights=True, seed=901, coef_scale=0.3)
    obj = fastgrad.Objective(X, y, loss="logistic", fit_intercept=True, sample_weight=w,
                             l2=0.05, n_threads=n_threads, backend=backend)
    rng = np.random.default_rng(902)
    coefs = [coef + 0.2 * rng.standard_normal(coef.shape) for _ in range(8)]
    expected = [_work(i, backend, obj, coefs, n_threads) for i in range(8)]
    # the sequential results are right (so "identical" means identical to right)
    Xi, yi, ci, kwi = _problem(5)
    assert_matches_ref(*expected[5][0], reference(Xi, yi, ci, **kwi), rtol_for(Xi.dtype))
    assert_matches_ref(*expected[3][3], reference(X, y, coefs[3], loss="logistic",
                                                  fit_intercept=True, sample_weight=w,
                                                  l2=0.05), rtol_for(X.dtype))
    results = [None] * 8
    errors = []
    barrier = threading.Barrier(8)

    def target(i):
        try:
            barrier.wait(timeout=60)
            for _ in range(3):
                results[i] = _work(i, backend, obj, coefs, n_threads)
                _assert_identical(results[i], expected[i], f"thread {i}")
        except BaseException as exc:          # re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
        assert not t.is_alive(), "a thread hangs"
    if errors:
        raise errors[0]
    for i in range(8):
        _assert_identical(results[i], expected[i], f"thread {i}")


def _counter_rate(seconds, during=None):
    """Increments per second of a pure-Python counter thread over ``seconds``,
    or while ``during()`` runs in this thread."""
    state = {"n": 0, "stop": False}

    def count():
        while not state["stop"]:
            state["n"] += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        time.sleep(0.05)
        n0, t0 = state["n"], time.perf_counter()
        if during is None:
            time.sleep(seconds)
        else:
            during()
        n1, t1 = state["n"], time.perf_counter()
    finally:
        state["stop"] = True
        t.join()
    return (n1 - n0) / (t1 - t0), t1 - t0


def test_gil_released_during_long_call():
    """A pure-Python counter thread keeps counting while a long native call runs.

    Held GIL: the counter would only move in the short windows of the signal
    checks (a few percent of its idle rate); released: it runs on the other core."""
    skip_if_no_native("native")
    x = np.linspace(-1, 1, 16)
    X = as_strided(x, (2 ** 25, 16), (0, 8))            # ~0.5 s of work, no memory
    y = as_strided(np.array([0.5]), (2 ** 25,), (0,))
    coef = np.linspace(0.0, 0.1, 16)
    idle, _ = _counter_rate(0.3)
    result = {}

    def call():
        result["L"] = fastgrad.value_and_grad(X, y, coef, n_threads=1, backend="native")[0]

    busy, secs = _counter_rate(None, call)
    r = float(x @ coef) - 0.5
    assert result["L"] == pytest.approx(0.5 * r * r, rel=1e-12)
    assert secs > 0.1, secs
    assert busy > 0.3 * idle, f"counter at {busy:.3g}/s during the call, {idle:.3g}/s idle"


def test_thread_pool_executor(backend):
    expected = [fastgrad.value_and_grad(*_problem(i)[:3], backend=backend, **_problem(i)[3])
                for i in range(12)]
    with ThreadPoolExecutor(max_workers=6) as ex:
        got = list(ex.map(lambda i: fastgrad.value_and_grad(
            *_problem(i)[:3], backend=backend, **_problem(i)[3]), range(12)))
    for g, e in zip(got, expected):
        _assert_identical(g, e, "executor")


def test_threadpool_limits_inside_worker_threads():
    """The documented knob: OpenMP limits are per thread, so inside an executor call
    threadpool_limits(1, user_api="openmp") in the worker (or pass n_threads=1)."""
    skip_if_no_native("native")
    from fastgrad import _validation
    with threadpool_limits(limits=1, user_api="openmp"):
        assert _validation.check_n_threads(None) == 1

    def in_worker():
        with threadpool_limits(limits=1, user_api="openmp"):
            return _validation.check_n_threads(None)

    with ThreadPoolExecutor(max_workers=2) as ex:
        assert list(ex.map(lambda _: in_worker(), range(4))) == [1] * 4


# multiprocessing: module-level functions, so that spawned children can import them

def _mp_task(i):
    X, y, coef, kw = _problem(i)
    L, g = fastgrad.value_and_grad(X, y, coef, n_threads=2, **kw)
    return i, L, g


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing(method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} is not available here")
    # the parent has used its OpenMP pool before forking (the case that hangs some runtimes)
    expected = {i: _mp_task(i)[1:] for i in range(4)}
    ctx = multiprocessing.get_context(method)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = REPO + (os.pathsep + old if old else "")
    try:
        with ctx.Pool(2) as pool:
            res = pool.map_async(_mp_task, range(4)).get(timeout=240)
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
    for i, L, g in res:
        assert L == expected[i][0] and np.array_equal(g, expected[i][1]), (method, i)
    if method == "spawn":   # the children imported this checkout's fastgrad, not another
        with ctx.Pool(1) as pool:
            assert pool.apply(_fastgrad_file) == fastgrad.__file__


def _fastgrad_file():
    return fastgrad.__file__


if __name__ == "__main__":   # pragma: no cover
    sys.exit("run with python -m pytest")
