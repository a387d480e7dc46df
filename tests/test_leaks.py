"""Leaks (issue 7.4): 100,000 calls of each entry point, raising calls included.

For each entry point: a warm-up, then up to 100,000 calls on a 4 x 3 problem
(see ``_n_calls``), a third of them raising (a bad ``rows`` or a wrong-length
coef); tracemalloc watches the last 5,000.
Afterwards:

- the resident set size (from /proc/self/statm) has not grown by more than
  a few MiB: a leak of even one small array per call would be 100,000 x
  (array header + data) > 10 MiB;
- tracemalloc's traced Python memory has not grown by more than 256 KiB;
- the reference counts of every argument are what they were.

"""
import gc
import os
import sys
import tracemalloc

import numpy as np
import pytest

import fastgrad
from conftest import make_problem, skip_if_no_native

#: FASTGRAD_LEAK_FULL=1: 100,000 calls of every entry point on both backends (the
#: issue's figure; a few minutes).  By default 100,000 calls of the two main entry
#: points with the compiled core, 20,000 of the others, and 5,000 with the NumPy
#: backend (Python and NumPy only, which tracemalloc sees whole, and ~5x slower)
FULL = os.environ.get("FASTGRAD_LEAK_FULL", "") not in ("", "0")
MAIN_APIS = ("fn.value_and_grad", "obj.value_and_grad")


def _n_calls(backend, api):
    if FULL or (backend == "native" and api in MAIN_APIS):
        return 100_000
    return 20_000 if backend == "native" else 5_000


#: tracemalloc slows every allocation down; it watches the last TRACED_CALLS calls
TRACED_CALLS = 5_000
RSS_SLACK = 4 * 2 ** 20           # bytes: allocator noise, not 100,000 of anything
TRACED_SLACK = 256 * 2 ** 10
PAGE = os.sysconf("SC_PAGE_SIZE")
#: under AddressSanitizer (tools/sanitize.sh) freed memory sits in a quarantine of
#: up to 256 MiB, so RSS grows by design there: only tracemalloc and refcounts count
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def _trim_heap():
    """Hands the allocator's free pages back to the OS (glibc's malloc_trim), so that
    RSS grows with what is allocated next: earlier tests in the same process can
    leave megabytes free inside the heap, which a small leak first reuses unseen."""
    gc.collect()
    try:
        import ctypes
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):   # not glibc: nothing to trim with
        pass


def _args():
    X, y, coef, w = make_problem(4, 3, loss="logistic", fit_intercept=True, weights=True,
                                 seed=950)
    v = coef[::-1].copy()
    out = np.empty_like(coef)
    rows = np.array([0, 2, 3])
    bad_rows = np.array([0, 9])
    bad_coef = coef[:-1].copy()
    return dict(X=X, y=y, coef=coef, w=w, v=v, out=out, rows=rows, bad_rows=bad_rows,
                bad_coef=bad_coef)


def _calls(api, a, backend):
    """(good call, raising call) of an entry point, closures over the arguments."""
    kw = dict(loss="logistic", fit_intercept=True, sample_weight=a["w"], l2=0.1,
              backend=backend, n_threads=1)
    if api.startswith("fn."):
        f = getattr(fastgrad, api[3:])
        extra = (a["v"],) if api == "fn.hessp" else ()
        good = lambda: f(a["X"], a["y"], a["coef"], *extra, rows=a["rows"], out=a["out"],  # noqa: E731
                         **kw)
        bad = lambda: f(a["X"], a["y"], a["coef"], *extra, rows=a["bad_rows"], **kw)  # noqa: E731
        return good, bad, (IndexError,)
    obj = fastgrad.Objective(a["X"], a["y"], **kw)
    m = getattr(obj, api[4:])
    extra = (a["v"],) if api == "obj.hessp" else ()
    okw = {} if api == "obj.value" else {"out": a["out"]}
    good = lambda: m(a["coef"], *extra, **okw)                    # noqa: E731
    bad = lambda: m(a["bad_coef"], *extra, **okw)                  # noqa: E731
    return good, bad, (ValueError,)


APIS = ["fn.value_and_grad", "fn.grad", "fn.hessp", "obj.value_and_grad", "obj.grad",
        "obj.value", "obj.hessp"]


@pytest.mark.parametrize("api", APIS)
def test_no_leak_over_100000_calls(backend, api):
    skip_if_no_native(backend)
    a = _args()
    good, bad, exc = _calls(api, a, backend)
    names = sorted(a)
    for _ in range(1000 if backend == "native" else 300):   # warm-up: caches, free lists
        good()
        try:
            bad()
        except exc:
            pass
    gc.collect()
    refs = {k: sys.getrefcount(a[k]) for k in names}
    calls = _n_calls(backend, api)
    raised = 0
    rss0 = _rss()
    for i in range(calls - TRACED_CALLS):
        if i % 3 == 2:
            try:
                bad()
            except exc:
                raised += 1
        else:
            good()
    gc.collect()
    tracemalloc.start()
    try:
        traced0 = tracemalloc.get_traced_memory()[0]
        for i in range(calls - TRACED_CALLS, calls):
            if i % 3 == 2:
                try:
                    bad()
                except exc:
                    raised += 1
            else:
                good()
        gc.collect()
        traced1 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    rss1 = _rss()
    assert raised == calls // 3
    refs1 = {k: sys.getrefcount(a[k]) for k in names}
    assert refs1 == refs, "reference counts of the arguments changed"
    assert traced1 - traced0 <= TRACED_SLACK, \
        f"tracemalloc grew by {traced1 - traced0} bytes over {TRACED_CALLS} calls"
    print(f"{backend} {api}: {calls} calls, RSS {(rss1 - rss0) / 2**10:+.0f} KiB, "
          f"traced {traced1 - traced0:+d} B over the last {TRACED_CALLS}")
    assert UNDER_ASAN or rss1 - rss0 <= RSS_SLACK, \
        f"RSS grew by {(rss1 - rss0) / 2**20:.2f} MiB"


def test_the_leak_check_can_fail():
    """A deliberate leak of one small array per call is caught by both measures."""
    hoard = []
    a = np.zeros(256)                         # ~2 KiB a call
    _trim_heap()
    rss0 = _rss()
    tracemalloc.start()
    try:
        t0 = tracemalloc.get_traced_memory()[0]
        for _ in range(TRACED_CALLS):
            hoard.append(a.copy())
        t1 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert t1 - t0 > TRACED_SLACK
    assert UNDER_ASAN or _rss() - rss0 > RSS_SLACK
