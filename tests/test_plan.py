"""The kernel plan: explain's answers, its errors, and every path's results.

The expected paths are the README's table ("Kernel paths"), stated here from
the shape and the cache sizes the plan reads (fastgrad._plan's thresholds),
not copied from explain's output; every path's results are compared with the
independent references of conftest / test_multinomial and with the NumPy
backend, and checked bitwise identical across n_threads.
"""
import numpy as np
import pytest
import scipy.sparse as sp

import fastgrad
from conftest import (DTYPE_IDS, DTYPES, NATIVE_AVAILABLE, as_layout, assert_matches_ref,
                      assert_grad_matches, make_problem, reference, reference_hessp,
                      rtol_for, skip_if_no_native)
from test_errors import CASES, HESSP_CASES, _arrays, _base, _out_cases, _same, _snap
from test_multinomial import make_mn, mn_reference

pytestmark = pytest.mark.skipif(not NATIVE_AVAILABLE, reason="needs the compiled core")

KEYS = {"backend", "path", "isa", "block_rows", "block_cols", "n_threads", "reason"}
PATHS = {"rows", "rows_stream", "rows_vec", "rows_multi", "cols", "cols_small", "multinomial",
         "csr_rows", "csr_flat", "csr_multi"}


def _plan():
    from fastgrad import _plan
    return _plan


def _native():
    from fastgrad import _native
    return _native


def _forget_plans(request):
    """Plans are remembered (plan_dense's cache and the native module's): none made
    before a test that changes a switch of the plan, nor kept after it."""
    P, N = _plan(), _native()

    def clear():
        P.plan_dense.cache_clear()
        N.clear_plan_cache()

    clear()
    request.addfinalizer(clear)


def _big(m, n, dtype, order="C"):
    """An X that is never read (explain computes nothing): np.empty commits no memory."""
    return np.empty((m, n), dtype=dtype, order=order)


def _explain(X, k=None, **kw):
    m, n = X.shape
    y = np.zeros(m if k is None else (m, k), dtype=X.dtype)
    coef = np.zeros(n if k is None else (n, k), dtype=X.dtype)
    return fastgrad.explain(X, y, coef, backend="native", **kw)


def _row_path(m, n, itemsize, contiguous=True):
    """The README's rule for one-output C-ordered X: rows_vec for 4, 8, 12 or 16
    features; rows_stream when a chunk of X is at least L2/4 and its rows at most
    L1d/16; else rows."""
    P = _plan()
    if not contiguous:
        return "rows"
    if n in (4, 8, 12, 16):
        return "rows_vec"
    first_chunk = min(m * n * itemsize, P.CHUNK_BYTES)       # bytes of X in a chunk
    if first_chunk >= P.L2 // 4 and n * itemsize <= P.L1D // 16:
        return "rows_stream"
    return "rows"


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("m,n", [(64, 32), (500_000, 100), (40_000, 1000), (4_000_000, 8),
                                 (1000, 16), (100_000, 5)])
def test_explain_dense_c(dtype, m, n):
    d = _explain(_big(m, n, dtype))
    assert set(d) == KEYS
    assert d["backend"] == "native"
    assert d["isa"] in ("avx512", "avx2", "baseline")
    assert d["path"] == _row_path(m, n, np.dtype(dtype).itemsize)
    assert d["block_cols"] is None
    assert 4 <= d["block_rows"] <= 64 and d["block_rows"] % 4 == 0
    assert isinstance(d["reason"], str) and d["reason"].endswith(".")
    assert 1 <= d["n_threads"] <= fastgrad.show_config("dicts")["default n_threads"]
    if m * n * np.dtype(dtype).itemsize <= 1 << 20:     # one chunk: one thread
        assert d["n_threads"] == 1


def test_explain_64x32_is_in_cache_one_thread():
    """The training-loop size: the row path without streaming, one chunk, one thread."""
    for dtype in DTYPES:
        d = _explain(_big(64, 32, dtype), n_threads=2)
        assert d["path"] == "rows" and d["n_threads"] == 1


@pytest.mark.parametrize("loss", ["squared", "logistic", "poisson"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_explain_stream_l2_for_float64(dtype, loss):
    """From memory, rows one after the other: float64 X is prefetched into L2,
    L1d/4 ahead (STREAM_AHEAD_BYTES), and a loss whose pointwise step runs over a
    block takes blocks of L1d/4 of X; float32 keeps blocks of L1d/2, 8 rows ahead
    into L1."""
    P = _plan()
    n, isz = 100, np.dtype(dtype).itemsize
    d = _explain(_big(500_000, n, dtype), loss=loss)
    assert d["path"] == "rows_stream"
    if isz == 8:
        ahead = max(8, -(-(P.L1D // 4) // (n * isz)))
        assert f"prefetched {ahead} ahead into L2" in d["reason"]
        frac = 2 if loss == "squared" else 4
        assert d["block_rows"] == min(max((P.L1D // frac) // (n * isz) // 4 * 4, 4), 64)
    else:
        assert d["block_rows"] == min(max((P.L1D // 2) // (n * isz) // 4 * 4, 4), 64)
        assert "prefetched 8 ahead" in d["reason"] and "L2 (" not in d["reason"]
    # rows= keeps the L1 prefetch (the kernel prefetches gathered rows itself)
    X = _big(500_000, n, dtype)
    y = np.zeros(500_000, dtype=dtype)
    r = np.arange(0, 500_000, 2)
    d = fastgrad.explain(X, y, np.zeros(n, dtype=dtype), loss=loss, rows=r, backend="native")
    assert "into L2" not in d["reason"]



@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("m,n", [(500_000, 100), (40_000, 1000), (4_000_000, 8), (1000, 3),
                                 (1000, 9)])
def test_explain_dense_f(dtype, m, n):
    d = _explain(_big(m, n, dtype, "F"))
    if n <= 8:
        assert d["path"] == "cols_small"
        assert d["block_cols"] is None
        # from memory (a chunk of at least L2/4): each column and y a page ahead
        P = _plan()
        isz = np.dtype(dtype).itemsize
        chunk = min(m, max(P.CHUNK_BYTES // (n * isz), P.MIN_CHUNK_ROWS)) * n * isz
        assert ("prefetched a page" in d["reason"]) == (chunk >= P.STREAM_BYTES), d["reason"]
    else:
        assert d["path"] == "cols"
        assert d["block_cols"] == 8
        # panels of COL_SEGMENT_BYTES of each column, the next one prefetched (X
        # comes from memory)
        P = _plan()
        assert d["block_rows"] == P.COL_SEGMENT_BYTES // np.dtype(dtype).itemsize
        assert ("next panel prefetched" in d["reason"]) == (m * n * np.dtype(dtype).itemsize
                                                            >= P.STREAM_BYTES)


@pytest.mark.parametrize("n", [4, 8, 12, 16])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_explain_rows_vec_prefetch(dtype, n):
    """rows_vec from memory: blocks of at least a page take their rows half a
    page ahead (ROWS_VEC_AHEAD_BYTES) with y; shorter blocks the next block."""
    P = _plan()
    d = _explain(_big(2_000_000, n, dtype), loss="logistic")
    assert d["path"] == "rows_vec"
    rowbytes = n * np.dtype(dtype).itemsize
    if d["block_rows"] * rowbytes >= P.PAGE_BYTES:
        ahead = max(4, (P.PAGE_BYTES // 2 // rowbytes) & ~3)
        assert f"the rows {ahead} ahead (half a page) and y prefetched" in d["reason"]
    else:
        assert "the next block prefetched" in d["reason"]


def test_explain_f_with_rows_and_several_outputs():
    X = _big(10_000, 5, np.float64, "F")
    assert _explain(X)["path"] == "cols_small"
    d = _explain(X, rows=np.arange(100))
    assert d["path"] == "cols" and d["block_cols"] == 4        # gathered segments
    assert _explain(X, k=3)["path"] == "cols"


@pytest.mark.parametrize("layout", ["strided", "negstride"])
def test_explain_strided_rows_gathered(layout):
    X = as_layout(np.zeros((300, 20)), layout)
    assert _explain(X)["path"] == "rows"


def test_explain_rows_and_outputs():
    X = _big(500_000, 100, np.float64)
    assert _explain(X, rows=np.arange(0, 500_000, 3))["path"] == "rows_stream"
    assert _explain(X, rows=np.arange(10))["path"] == "rows"      # 10 rows: in cache
    assert _explain(X, k=3)["path"] == "rows_multi"
    assert _explain(_big(1000, 8, np.float32), rows=np.arange(5))["path"] == "rows_vec"


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_explain_multinomial(order, dtype):
    X = _big(500_000, 100, dtype, order)
    for K in (3, 10, 32):
        d = fastgrad.explain(X, np.zeros(500_000, dtype=np.intp), np.zeros((100, K), dtype),
                             loss="multinomial")
        # the avx512 and avx2 clones' tiles take blocks of rows from L1d (F:
        # 512-byte column segments), a multiple of 8; the baseline 4 rows a step
        if d["isa"] in ("avx512", "avx2"):
            want = _plan().mn_block(100 * np.dtype(dtype).itemsize, np.dtype(dtype).itemsize, order)
            assert want % 8 == 0 and 8 <= want <= _plan().MN_MAX_BLOCK_ROWS
            if order == "F":
                assert want * np.dtype(dtype).itemsize >= _plan().MN_F_SEGMENT
        else:
            want = 4
        assert d["path"] == "multinomial" and d["block_rows"] == want


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_multinomial_prefetches_only_rows_from_memory(dtype):
    """The avx512 and avx2 tiles prefetch the block two ahead (the plan's stream flag) only
    for rows read in place that come from memory: C-ordered (or rows spaced), no
    rows=, a chunk of at least L2/4, the row paths' rule."""
    P = _plan()
    if P._isa() not in ("avx512", "avx2"):
        pytest.skip("the prefetching tiles are the avx512 and avx2 clones'")
    isz = np.dtype(dtype).itemsize
    big = P.STREAM_BYTES // (100 * isz) + 64

    def stream(m, order="C", rows=False, K=3, sr=100):
        sr, sc = (sr, 1) if order == "C" else (1, m)
        return P.plan_dense(m, 100, K, isz, sr, sc, P.Loss.MULTINOMIAL, P.Mode.GRAD,
                            rows, 1).stream & ~P.STREAM_MN_COLS   # that flag: F (below)

    assert stream(big) == P.STREAM_PREFETCH
    assert stream(big, sr=130) == P.STREAM_PREFETCH      # rows in place, spaced
    assert stream(big, K=10) == P.STREAM_PREFETCH
    assert stream(big, "F") == 0
    assert stream(big, rows=True) == 0
    assert stream(P.STREAM_BYTES // (100 * isz) // 2) == 0
    X = _big(big, 100, dtype)
    for K in (3, 10):
        d = fastgrad.explain(X, np.zeros(big, np.intp), np.zeros((100, K), dtype),
                             loss="multinomial")
        assert "prefetch the block two ahead" in d["reason"]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_explain_csr(dtype):
    X = sp.random(2000, 300, density=0.05, format="csr", dtype=dtype, random_state=0)
    y = np.zeros(2000, dtype)
    c = np.zeros(300, dtype)
    assert fastgrad.explain(X, y, c)["path"] == "csr_flat"
    assert fastgrad.explain(X, y, c, rows=np.arange(7))["path"] == "csr_rows"
    assert fastgrad.explain(X, np.zeros((2000, 2), dtype), np.zeros((300, 2), dtype),
                            op="hessp", v=np.zeros((300, 2), dtype))["path"] == "csr_multi"
    assert fastgrad.explain(X, np.zeros(2000, np.intp), np.zeros((300, 3), dtype),
                            loss="multinomial")["path"] == "csr_multi"


def test_explain_numpy_backend():
    X = np.zeros((50, 4))
    d = fastgrad.explain(X, np.zeros(50), np.zeros(4), backend="numpy")
    assert set(d) == KEYS
    assert (d["backend"], d["path"], d["isa"], d["block_rows"], d["block_cols"]) == (
        "numpy", "numpy", None, None, None)


def test_explain_n_threads():
    X = _big(2_000_000, 10, np.float64)          # 160 MB: many chunks
    for nt in (1, 2, 3, 7):
        assert _explain(X, n_threads=nt)["n_threads"] == nt
    assert _explain(_big(100, 10, np.float64), n_threads=7)["n_threads"] == 1


def test_explain_is_deterministic_and_computes_nothing():
    X, y, coef, w = make_problem(300, 12, loss="logistic", weights=True, seed=3)
    out = np.full(12, -3.0)
    copies = _snap([X, y, coef, w, out])
    kw = dict(loss="logistic", sample_weight=w, out=out, l2=0.1)
    first = fastgrad.explain(X, y, coef, **kw)
    for _ in range(3):
        assert fastgrad.explain(X, y, coef, **kw) == first
    fastgrad.value_and_grad(X, y, coef, **{**kw, "out": None})
    assert fastgrad.explain(X, y, coef, **kw) == first
    _same([X, y, coef, w, out], copies)             # out not written either


def test_explain_bad_op_and_v():
    X, y, coef, _ = make_problem(20, 4)
    with pytest.raises(ValueError, match="op"):
        fastgrad.explain(X, y, coef, op="hess")
    with pytest.raises(TypeError, match=r"\bv\b"):
        fastgrad.explain(X, y, coef, v=coef)
    with pytest.raises(TypeError):
        fastgrad.explain(X, y, coef, not_a_keyword=1)


# ---- explain raises exactly the call's errors (API.md's error table) ----

def _pairs():
    pairs = [(c, op) for c in CASES for op in ("value_and_grad", "grad", "hessp")]
    pairs += [(c, "hessp") for c in HESSP_CASES]
    return pairs


@pytest.mark.parametrize("backend", ["native", "numpy"])
@pytest.mark.parametrize("case,op", _pairs(), ids=[f"{c[0]}-{o}" for c, o in _pairs()])
def test_explain_raises_the_calls_error(backend, case, op):
    cid, build, exc, pattern, _ = case
    s = build(_base())
    kw = dict(s["kw"])
    kw.setdefault("backend", backend)
    out = np.full((4,), -7.0)
    arrs = _arrays(s, out)
    copies = _snap(arrs)
    args = [s["X"], s["y"], s["coef"]] + ([s["v"]] if op == "hessp" else [])
    with pytest.raises(exc, match=pattern) as call_err:
        getattr(fastgrad, op)(*args, out=out, **kw)
    with pytest.raises(exc, match=pattern) as explain_err:
        fastgrad.explain(s["X"], s["y"], s["coef"], op=op,
                         v=s["v"] if op == "hessp" else None, out=out, **kw)
    assert str(explain_err.value) == str(call_err.value)
    _same(arrs, copies)


@pytest.mark.parametrize("which", range(6))
def test_explain_raises_on_bad_out(which):
    s = _base()
    _, out, pattern = _out_cases(s["coef"])[which]
    with pytest.raises(ValueError, match=pattern):
        fastgrad.explain(s["X"], s["y"], s["coef"], out=out, **s["kw"])


@pytest.mark.parametrize("bad, match", [
    (lambda y: np.where(y == 0, 4, y), r"class label 4 is outside \[0, 4\)"),
    (lambda y: y + 0.5, "integer class labels"),
])
def test_explain_raises_on_bad_labels(bad, match):
    X, y, coef, _ = make_mn(30, 3, 4, seed=20)
    with pytest.raises(ValueError, match=match):
        fastgrad.explain(X, bad(y), coef, loss="multinomial")


def test_explain_raises_on_bad_probabilities():
    X, y, coef, _ = make_mn(30, 3, 4, proba=True, seed=21)
    y = y.copy()
    y[3] *= 1.1
    with pytest.raises(ValueError) as call_err:
        fastgrad.value_and_grad(X, y, coef, loss="multinomial")
    with pytest.raises(ValueError) as explain_err:
        fastgrad.explain(X, y, coef, loss="multinomial")
    assert str(explain_err.value) == str(call_err.value)


def test_explain_rows_out_of_range():
    X, y, coef, _ = make_problem(20, 4)
    with pytest.raises(IndexError):
        fastgrad.explain(X, y, coef, rows=np.array([0, 20]))


# ---- every path x dtype x reduction agrees with the references ---------

def _stream_rows(n, itemsize):
    P = _plan()
    return -(-(P.L2 // 4) // (n * itemsize)) + 37


#: (name, builder(dtype) -> (X, k, kwargs for the call)): each forces its path by shape
def _forced(path, dtype, rng):
    isz = np.dtype(dtype).itemsize
    if path == "rows":
        return rng.standard_normal((64, 32)), None, {}
    if path == "rows_stream":
        return rng.standard_normal((_stream_rows(40, isz), 40)), None, {}
    if path == "rows_vec":
        return rng.standard_normal((203, 12)), None, {}
    if path == "rows_multi":
        return rng.standard_normal((150, 7)), 3, {}
    if path == "cols":
        return np.asfortranarray(rng.standard_normal((700, 19))), None, {}
    if path == "cols_small":
        return np.asfortranarray(rng.standard_normal((301, 5))), None, {}
    if path == "csr_flat":
        return sp.random(400, 30, density=0.2, format="csr", random_state=1), None, {}
    if path == "csr_rows":
        return (sp.random(400, 30, density=0.2, format="csr", random_state=2), None,
                {"rows": rng.integers(0, 400, 250)})
    if path == "csr_multi":
        return sp.random(400, 30, density=0.2, format="csr", random_state=3), 2, {}
    raise AssertionError(path)


FORCED = ["rows", "rows_stream", "rows_vec", "rows_multi", "cols", "cols_small", "csr_flat",
          "csr_rows", "csr_multi"]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss", ["squared", "logistic", "poisson", "gamma", "tweedie"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("path", FORCED)
def test_every_path_matches_reference(path, dtype, loss, reduction):
    rng = np.random.default_rng(FORCED.index(path))
    X, k, extra = _forced(path, dtype, rng)
    X = X.astype(dtype)
    m, n = X.shape
    power = {"tweedie": 1.5}.get(loss)        # the log-link losses take every path too
    _, y, coef, w = make_problem(m, n, k, loss=loss, fit_intercept=True, weights=True,
                                 dtype=dtype, seed=5, power=power,
                                 coef_scale=0.1 if loss in ("poisson", "gamma", "tweedie")
                                 else 0.5)
    kw = dict(loss=loss, fit_intercept=True, sample_weight=w, l2=0.05, reduction=reduction,
              **extra)
    if power is not None:
        kw["power"] = power
    v = np.linspace(-1, 1, coef.size).reshape(coef.shape).astype(dtype)
    assert fastgrad.explain(X, y, coef, backend="native", **kw)["path"] == path
    Xd = X.toarray() if sp.issparse(X) else X
    ref = reference(Xd, y, coef, **kw)
    rtol = rtol_for(dtype)
    L, g = fastgrad.value_and_grad(X, y, coef, backend="native", **kw)
    assert_matches_ref(L, g, ref, rtol, path)
    Ln, gn = fastgrad.value_and_grad(X, y, coef, backend="numpy", **kw)
    assert_matches_ref(Ln, gn, ref, rtol, "numpy")
    hv, scale = reference_hessp(Xd, y, coef, v, **kw)
    h = fastgrad.hessp(X, y, coef, v, backend="native", **kw)
    assert_grad_matches(h, hv, scale, rtol, path + " hessp")
    value = fastgrad.Objective(X, y, backend="native", **{
        a: b for a, b in kw.items() if a != "rows"}).value(coef, rows=kw.get("rows"))
    assert abs(value - ref.loss) <= rtol * ref.loss_scale


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("loss", ["logistic", "poisson", "gamma"])
def test_rows_stream_prefetch_split_matches_reference(monkeypatch, request, loss, split):
    """The streamed row path with each row ahead prefetched half by the dot phase and
    half by the axpys (the plan's choice on Intel cores) or whole by the dot phase
    (elsewhere): both taken here whatever the CPU, against the reference; the flag
    follows PREFETCH_SPLIT and explain says so.  A last block cut short."""
    P = _plan()
    monkeypatch.setattr(P, "PREFETCH_SPLIT", split)
    _forget_plans(request)
    n = 100
    m = 2 * P.STREAM_BYTES // (n * 8) + 37
    _, y, coef, w = make_problem(m, n, None, loss=loss, fit_intercept=True, weights=True,
                                 dtype=np.float64, seed=8, coef_scale=0.1)
    X = np.random.default_rng(4).standard_normal((m, n))
    kw = dict(loss=loss, fit_intercept=True, sample_weight=w, l2=0.05)
    plan = P.plan_dense(m, n, 1, 8, n, 1, P.Loss[loss.upper()], P.Mode.GRAD, False, 1)
    assert plan.path == P.Path.ROWS_STREAM and plan.stream & P.STREAM_L2
    assert bool(plan.stream & P.STREAM_SPLIT) == split
    ran = _native().plan_of_call(X, m, 1, int(P.Loss[loss.upper()]), False, True, False)
    assert bool(ran[1] & P.STREAM_SPLIT) == split, ran       # what the call runs
    d = fastgrad.explain(X, y, coef, backend="native", **kw)
    assert ("half by the axpys" in d["reason"]) == split, d
    ref = reference(X, y, coef, **kw)
    L, g = fastgrad.value_and_grad(X, y, coef, backend="native", n_threads=1, **kw)
    assert_matches_ref(L, g, ref, rtol_for(np.float64), "rows_stream")
    v = np.linspace(-1, 1, coef.size)
    hv, scale = reference_hessp(X, y, coef, v, **kw)
    assert_grad_matches(fastgrad.hessp(X, y, coef, v, backend="native", n_threads=1, **kw),
                        hv, scale, rtol_for(np.float64), "rows_stream hessp")
    assert abs(fastgrad.Objective(X, y, backend="native", **kw).value(coef) - ref.loss) \
        <= rtol_for(np.float64) * ref.loss_scale


@pytest.mark.parametrize("quarters", [False, True])
@pytest.mark.parametrize("n", [37, 8])
@pytest.mark.parametrize("loss", ["squared", "logistic", "gamma"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_rows_quarters_match_reference(monkeypatch, request, dtype, loss, n, quarters):
    """The streamed row path reading its chunks as four quarters in lockstep (the
    plan's choice on Intel cores) or front to back (elsewhere): both taken here
    whatever the CPU, against the reference, and the same on 1 and 2 threads,
    bitwise.  Several chunks, the last cut short to a number of rows that is not
    a multiple of 4 (rows left after its quarters); explain says which.
    rows_vec (8 features) never takes them."""
    P = _plan()
    monkeypatch.setattr(P, "QUARTERS", quarters)
    _forget_plans(request)
    isz = np.dtype(dtype).itemsize
    m0 = 3 * P.STREAM_BYTES // (n * isz)
    m = 2 * P.plan_dense(m0, n, 1, isz, n, 1, P.Loss[loss.upper()], P.Mode.GRAD, False,
                         1).chunk_rows + 1237
    _, y, coef, w = make_problem(m, n, None, loss=loss, fit_intercept=True, weights=True,
                                 dtype=dtype, seed=9, coef_scale=0.1)
    X = np.random.default_rng(6).standard_normal((m, n)).astype(dtype)
    kw = dict(loss=loss, fit_intercept=True, sample_weight=w, l2=0.05)
    d = fastgrad.explain(X, y, coef, backend="native", **kw)
    path = "rows_stream" if n > 16 else "rows_vec"
    assert d["path"] == path, d
    expect = quarters and path == "rows_stream"
    assert ("four quarters in lockstep" in d["reason"]) == expect, d
    loss_id = int(P.Loss[loss.upper()])
    for hess, want_grad in ((False, True), (True, True), (False, False)):
        ran = _native().plan_of_call(X, m, 1, loss_id, hess, want_grad, False)
        assert bool(ran[1] & P.STREAM_QUARTERS) == expect, ran
        assert ran[4] >= 3 and m % ran[3] % 4 != 0, ran     # chunks; the last cut short
    rtol = rtol_for(dtype)
    ref = reference(X, y, coef, **kw)
    L, g = fastgrad.value_and_grad(X, y, coef, backend="native", n_threads=1, **kw)
    assert_matches_ref(L, g, ref, rtol, "rows_stream")
    L2, g2 = fastgrad.value_and_grad(X, y, coef, backend="native", n_threads=2, **kw)
    assert L2 == L and np.array_equal(g2, g)
    v = np.linspace(-1, 1, coef.size).astype(dtype)
    hv, scale = reference_hessp(X, y, coef, v, **kw)
    assert_grad_matches(fastgrad.hessp(X, y, coef, v, backend="native", n_threads=1, **kw),
                        hv, scale, rtol, "rows_stream hessp")
    assert abs(fastgrad.Objective(X, y, backend="native", **kw).value(coef) - ref.loss) \
        <= rtol * ref.loss_scale


@pytest.mark.parametrize("k", [None, 2])
@pytest.mark.parametrize("loss", ["squared", "logistic", "poisson", "gamma"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_cols_prefetching_matches_reference(dtype, loss, k):
    """The column path with the next panel prefetched (a chunk from memory): 19
    columns (two sweeps of 8, then 3 alone), a last panel cut short; on an
    avx512 clone, one output of float64 runs its panels in registers (cols_v8),
    the rest by the portable loops.  Gradient, Hessian-vector product and value
    (the three sweeps' modes) against the reference, the same on 1 and 2
    threads, bitwise."""
    P = _plan()
    isz = np.dtype(dtype).itemsize
    n = 19
    m = 2 * P.STREAM_BYTES // (n * isz) + 37
    _, y, coef, w = make_problem(m, n, k, loss=loss, fit_intercept=True, weights=True,
                                 dtype=dtype, seed=7, coef_scale=0.1)
    X = np.asfortranarray(np.random.default_rng(3).standard_normal((m, n))).astype(dtype)
    kw = dict(loss=loss, fit_intercept=True, sample_weight=w, l2=0.05)
    d = fastgrad.explain(X, y, coef, backend="native", n_threads=2, **kw)
    assert d["path"] == "cols" and "next panel prefetched" in d["reason"], d
    assert m % d["block_rows"] != 0
    regs = d["isa"] == "avx512" and dtype == np.float64 and k is None
    assert ("vector registers" in d["reason"]) == regs, d
    loss_id = int(P.Loss[loss.upper()])
    for hess, want_grad in ((False, True), (True, True), (False, False)):
        ran = _native().plan_of_call(X, m, k or 1, loss_id, hess, want_grad, False)
        assert bool(ran[1] & P.STREAM_PANEL) == regs, ran
    ref = reference(X, y, coef, **kw)
    rtol = rtol_for(dtype)
    L, g = fastgrad.value_and_grad(X, y, coef, backend="native", n_threads=2, **kw)
    assert_matches_ref(L, g, ref, rtol, "cols")
    L1, g1 = fastgrad.value_and_grad(X, y, coef, backend="native", n_threads=1, **kw)
    assert L1 == L and np.array_equal(g1, g)
    v = np.linspace(-1, 1, coef.size).reshape(coef.shape).astype(dtype)
    hv, scale = reference_hessp(X, y, coef, v, **kw)
    assert_grad_matches(fastgrad.hessp(X, y, coef, v, backend="native", n_threads=2, **kw),
                        hv, scale, rtol, "cols hessp")
    assert abs(fastgrad.Objective(X, y, backend="native", **kw).value(coef) - ref.loss) \
        <= rtol * ref.loss_scale


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("order", ["C", "F", "strided"])
def test_multinomial_path_matches_reference(order, dtype, reduction):
    X, y, coef, w = make_mn(157, 9, 5, fit_intercept=True, weights=True, dtype=dtype, seed=8)
    X = as_layout(X, order)
    kw = dict(loss="multinomial", fit_intercept=True, sample_weight=w, l2=0.05,
              reduction=reduction)
    assert fastgrad.explain(X, y, coef, **kw)["path"] == "multinomial"
    L, G, Ls, Gs = mn_reference(X, y, coef, **{a: b for a, b in kw.items() if a != "loss"})
    rtol = rtol_for(dtype)
    for backend in ("native", "numpy"):
        Lb, gb = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
        assert abs(Lb - L) <= rtol * Ls
        assert_grad_matches(gb, G, Gs, rtol, backend)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("K", [3, 10, 13])
@pytest.mark.parametrize("layout", ["C", "rows"])
def test_multinomial_prefetching_tiles_match_reference(layout, K, dtype):
    """The avx512 and avx2 tiles with the block two ahead prefetched (rows read in
    place from memory), over one run of packed rows ("C") and a run a row (rows
    more than a line apart); a last block cut short.  The baseline clone: the same
    call, 4 rows a step."""
    P = _plan()
    isz = np.dtype(dtype).itemsize
    n = 37
    m = 2 * P.STREAM_BYTES // (n * isz) + 45
    X, y, coef, w = make_mn(m, n if layout == "C" else n + 23, K, fit_intercept=True,
                            weights=True, dtype=dtype, seed=9, coef_scale=0.2)
    if layout == "rows":
        X, coef = X[:, :n], np.ascontiguousarray(np.vstack([coef[:n], coef[-1:]]))
    kw = dict(loss="multinomial", fit_intercept=True, sample_weight=w, l2=0.05)
    d = fastgrad.explain(X, y, coef, **kw)
    assert d["path"] == "multinomial"
    if d["isa"] in ("avx512", "avx2"):
        assert "prefetch the block two ahead" in d["reason"], d
    L, G, Ls, Gs = mn_reference(X, y, coef, **{a: b for a, b in kw.items() if a != "loss"})
    rtol = rtol_for(dtype)
    Lb, gb = fastgrad.value_and_grad(X, y, coef, backend="native", **kw)
    assert abs(Lb - L) <= rtol * Ls
    assert_grad_matches(gb, G, Gs, rtol, "multinomial, prefetching")
    v = np.linspace(-1, 1, coef.size).reshape(coef.shape).astype(dtype)
    hv = fastgrad.hessp(X, y, coef, v, backend="numpy", **kw).astype(np.float64)
    assert_grad_matches(fastgrad.hessp(X, y, coef, v, backend="native", **kw), hv,
                        np.full(hv.shape, np.abs(hv).max()), rtol,
                        "multinomial hessp, prefetching")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("K", [3, 6, 10])
@pytest.mark.parametrize("n", [37, 8])
@pytest.mark.parametrize("proba", [False, True], ids=["labels", "proba"])
def test_multinomial_column_tiles_match_reference(dtype, K, n, proba):
    """F-ordered X in whole blocks: the avx2 tiles read float32 blocks, and float64
    ones up to MN_COLS_MAX_K classes, in place by column tiles (the features a
    tile of 4 and the rest, the classes a tile of up to 4, or of 2 for g), the
    others transposed; a last block cut short (copied).  Against API.md's formulas
    and, for hessp, the NumPy backend."""
    P = _plan()
    isz = np.dtype(dtype).itemsize
    B = P.mn_block(n * isz, isz, "F")
    m = 3 * B + 5
    X, y, coef, w = make_mn(m, n, K, proba=proba, fit_intercept=True, weights=True,
                            dtype=dtype, seed=12, coef_scale=0.3)
    X = np.asfortranarray(X)
    kw = dict(loss="multinomial", fit_intercept=True, sample_weight=w, l2=0.05)
    d = fastgrad.explain(X, y, coef, **kw)
    assert d["path"] == "multinomial"
    if d["isa"] == "avx2":
        cols = isz == 4 or K <= P.MN_COLS_MAX_K
        assert d["block_rows"] == B and ("read in place by column tiles" in d["reason"]) == cols
    L, G, Ls, Gs = mn_reference(X, y, coef, **{a: b for a, b in kw.items() if a != "loss"})
    rtol = rtol_for(dtype)
    Lb, gb = fastgrad.value_and_grad(X, y, coef, backend="native", n_threads=1, **kw)
    assert abs(Lb - L) <= rtol * Ls
    assert_grad_matches(gb, G, Gs, rtol, "multinomial, F blocks")
    v = np.linspace(-1, 1, coef.size).reshape(coef.shape).astype(dtype)
    hv = fastgrad.hessp(X, y, coef, v, backend="numpy", **kw).astype(np.float64)
    assert_grad_matches(fastgrad.hessp(X, y, coef, v, backend="native", n_threads=1, **kw), hv,
                        np.full(hv.shape, np.abs(hv).max()), rtol, "multinomial hessp, F blocks")


# ---- bitwise identical across n_threads, every dense path with several chunks

def _several_chunks(path, dtype):
    """Problems of a few chunks (CHUNK_BYTES of X each) on the given path."""
    P = _plan()
    isz = np.dtype(dtype).itemsize
    rng = np.random.default_rng(11)

    def rows_for(n):
        return 6 * P.CHUNK_BYTES // (n * isz) + 101     # >= 3 chunks after rounding

    if path == "rows_stream":
        return rng.standard_normal((rows_for(40), 40)).astype(dtype), None, "squared"
    if path == "rows_vec":
        return rng.standard_normal((rows_for(8), 8)).astype(dtype), None, "logistic"
    if path == "rows_multi":
        return rng.standard_normal((rows_for(20), 20)).astype(dtype), 2, "squared"
    if path == "cols":
        return (np.asfortranarray(rng.standard_normal((rows_for(24), 24)).astype(dtype)),
                None, "logistic")
    if path == "cols_small":
        return (np.asfortranarray(rng.standard_normal((rows_for(6), 6)).astype(dtype)),
                None, "squared")
    if path == "rows":          # long rows (no streaming)
        n = P.L1D // 16 // isz + 8
        return rng.standard_normal((rows_for(n), n)).astype(dtype), None, "logistic"
    if path == "multinomial":
        return rng.standard_normal((rows_for(10), 10)).astype(dtype), 4, "multinomial"
    raise AssertionError(path)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("path", ["rows", "rows_stream", "rows_vec", "rows_multi", "cols",
                                  "cols_small", "multinomial"])
def test_bitwise_identical_across_n_threads(path, dtype):
    skip_if_no_native("native")
    X, k, loss = _several_chunks(path, dtype)
    m, n = X.shape
    if loss == "multinomial":
        y = np.random.default_rng(1).integers(0, k, m)
        coef = (0.1 * np.random.default_rng(2).standard_normal((n + 1, k))).astype(dtype)
    else:
        _, y, coef, _ = make_problem(m if m < 10 else 10, n, k, loss=loss, fit_intercept=True,
                                     dtype=dtype, seed=4)
        y = np.resize(y, (m,) + y.shape[1:]).astype(dtype)
    v = np.linspace(-1, 1, coef.size).reshape(coef.shape).astype(dtype)
    kw = dict(loss=loss, fit_intercept=True, backend="native")
    d = fastgrad.explain(X, y, coef, n_threads=3, **kw)
    assert d["path"] == path and d["n_threads"] == 3, d
    base = None
    for nt in (1, 2, 3):
        L, g = fastgrad.value_and_grad(X, y, coef, n_threads=nt, **kw)
        h = fastgrad.hessp(X, y, coef, v, n_threads=nt, **kw)
        got = (L, g.tobytes(), h.tobytes())
        if base is None:
            base = got
        assert got == base, f"n_threads={nt} differs on {path}"


# ---- show_config ----------------------------------------------------------

def test_show_config_dicts_and_stdout(capsys):
    info = fastgrad.show_config(mode="dicts")
    assert isinstance(info, dict)
    for key in ("cpu model", "isa selected", "simd paths compiled", "L1d cache", "L2 cache",
                "L3 cache", "openmp", "default n_threads"):
        assert key in info, key
    assert info["isa selected"] in ("avx512", "avx2", "baseline")
    for level in ("L1d", "L2", "L3"):
        assert "KiB" in info[f"{level} cache"] or "MiB" in info[f"{level} cache"]
        assert "(" in info[f"{level} cache"]             # where it was read from
    assert fastgrad.show_config() is None
    text = capsys.readouterr().out
    assert info["cpu model"] in text and "L2 cache" in text
    with pytest.raises(ValueError, match="mode"):
        fastgrad.show_config(mode="json")


def test_cache_reading_falls_back(tmp_path):
    """sysfs sizes are parsed (K, M suffixes); an unreadable system gives the
    documented defaults, each with its source."""
    P = _plan()
    for i, (level, typ, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"),
                                            (2, "Unified", "2048K"), (3, "Unified", "96M")]):
        d = tmp_path / f"index{i}"
        d.mkdir()
        (d / "level").write_text(f"{level}\n")
        (d / "type").write_text(f"{typ}\n")
        (d / "size").write_text(f"{size}\n")
    got = P.read_caches(str(tmp_path))
    sysconf = {k for k, (_, src) in got.items() if src.startswith("os.sysconf")}
    expect = {"L1d": (48 << 10, "index0"), "L2": (2 << 20, "index2"),
              "L3": (96 << 20, "index3")}
    for level, (size, index) in expect.items():
        if level not in sysconf:        # (os.sysconf, when it knows, comes first)
            assert got[level] == (size, str(tmp_path / index / "size"))
    empty = P.read_caches(str(tmp_path / "none"))
    for level, size in P.DEFAULT_CACHES.items():
        if level not in sysconf:
            assert empty[level][0] == size and "default" in empty[level][1]
