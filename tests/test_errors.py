"""The error table of API.md, input conversions, and arguments never written to."""
import numpy as np
import pytest

import fastgrad
from conftest import (DTYPE_IDS, DTYPES, LAYOUTS, LOSSES, assert_matches_ref,
                      assert_unchanged, make_problem, reference, rtol_for, snapshot)

M, N = 20, 4


def _all(*words):
    """A regex matching a message that contains every one of the words (any order)."""
    return "(?s)" + "".join(f"(?=.*{w})" for w in words)


def _base(k=None, fit_intercept=False, loss="squared"):
    X, y, coef, w = make_problem(M, N, k, loss=loss, fit_intercept=fit_intercept,
                                 weights=True, seed=70)
    v = np.linspace(-1, 1, coef.size).reshape(coef.shape)
    return dict(X=X, y=y, coef=coef, v=v,
                kw=dict(loss=loss, fit_intercept=fit_intercept, sample_weight=w))


# Each case: (id, builder(spec) -> spec modified, exception, regex, where)
# where: "init" if Objective raises at construction, "call" if at the call,
# "fn" if it concerns only the functional API (a keyword Objective has no call for).


def _set(**changes):
    def build(s):
        for key, val in changes.items():
            if key in ("X", "y", "coef", "v"):
                s[key] = val(s) if callable(val) else val
            else:
                s["kw"][key] = val(s) if callable(val) else val
        return s
    return build


CASES = [
    # shapes that do not fit together
    ("X-1d", _set(X=lambda s: s["X"][:, 0].copy()), ValueError, _all(r"\bX\b", r"\(20,\)"),
     "init"),
    ("X-3d", _set(X=lambda s: s["X"][None]), ValueError, _all(r"\bX\b", "1, 20, 4"), "init"),
    ("y-rows", _set(y=lambda s: s["y"][:-1]), ValueError, _all(r"\by\b", "19", "20"),
     "init"),
    ("y-3d", _set(y=lambda s: s["y"][:, None, None]), ValueError, _all(r"\by\b", "20, 1, 1"),
     "init"),
    ("y-no-outputs", _set(y=lambda s: np.zeros((M, 0)), coef=np.zeros((N, 0)),
                          v=np.zeros((N, 0))), ValueError, r"\by\b", "init"),
    ("coef-length", _set(coef=lambda s: np.zeros(N + 1), v=np.zeros(N + 1)), ValueError,
     _all("coef", r"\(5,\)", r"\(4,\)"), "call"),
    ("coef-missing-intercept", _set(fit_intercept=True), ValueError,
     _all("coef", r"\(5,\)", r"\(4,\)"), "call"),
    ("coef-2d-for-1d-y", _set(coef=lambda s: s["coef"][:, None], v=lambda s: s["v"][:, None]),
     ValueError, _all("coef", r"\(4, 1\)"), "call"),
    ("coef-k-mismatch", _set(y=lambda s: np.zeros((M, 2)), coef=np.zeros((N, 3)),
                             v=np.zeros((N, 3))), ValueError, _all("coef", r"\(4, 3\)"),
     "call"),
    ("coef-scalar", _set(coef=1.0, v=1.0), ValueError, "coef", "call"),
    ("sample_weight-length", _set(sample_weight=np.ones(M - 1)), ValueError,
     _all("sample_weight", r"\(19,\)"), "init"),
    ("sample_weight-2d", _set(sample_weight=np.ones((M, 1))), ValueError,
     _all("sample_weight", r"\(20, 1\)"), "init"),
    ("rows-2d", _set(rows=np.zeros((2, 2), dtype=np.intp)), ValueError, "rows", "call"),
    # names
    ("loss-unknown", _set(loss="hinge"), ValueError, _all("loss", "hinge", "squared",
                                                          "logistic"), "init"),
    ("loss-case", _set(loss="Squared"), ValueError, _all("loss", "squared", "logistic"),
     "init"),
    ("loss-None", _set(loss=None), ValueError, _all("loss", "squared", "logistic"), "init"),
    ("reduction-unknown", _set(reduction="avg"), ValueError,
     _all("reduction", "avg", "mean", "sum"), "init"),
    ("reduction-int", _set(reduction=1), ValueError, _all("reduction", "mean", "sum"),
     "init"),
    ("backend-unknown", _set(backend="cuda"), ValueError,
     _all("backend", "cuda", "auto", "native", "numpy"), "init"),
    # values
    ("sample_weight-negative", _set(sample_weight=lambda s: np.r_[np.ones(M - 1), -1.0]),
     ValueError, _all("sample_weight", "19", "-1"), "init"),
    ("sample_weight-nan", _set(sample_weight=lambda s: np.r_[np.ones(3), np.nan,
                                                            np.ones(M - 4)]),
     ValueError, _all("sample_weight", r"\b3\b", "nan"), "init"),
    ("sample_weight-inf", _set(sample_weight=lambda s: np.r_[np.inf, np.ones(M - 1)]),
     ValueError, _all("sample_weight", "inf"), "init"),
    ("l2-negative", _set(l2=-0.5), ValueError, _all("l2", "-0.5"), "init"),
    ("l2-nan", _set(l2=float("nan")), ValueError, _all("l2", "nan"), "init"),
    ("l2-inf", _set(l2=float("inf")), ValueError, _all("l2", "inf"), "init"),
    ("l2-str", _set(l2="big"), ValueError, "l2", "init"),
    ("logistic-y-above", _set(loss="logistic", y=lambda s: np.r_[np.zeros(M - 1), 1.5]),
     ValueError, _all(r"\by\b", "1.5", r"\[0, 1\]"), "init"),
    ("logistic-y-below", _set(loss="logistic", y=lambda s: np.r_[-0.25, np.ones(M - 1)]),
     ValueError, _all(r"\by\b", "-0.25"), "init"),
    ("logistic-y-inf", _set(loss="logistic", y=lambda s: np.r_[np.inf, np.ones(M - 1)]),
     ValueError, _all(r"\by\b", "inf"), "init"),
    # a NaN elsewhere in y must not hide an out-of-range label (NaN itself may
    # propagate, but 1.5 is outside [0, 1] whatever else y holds)
    ("logistic-y-above-with-nan",
     _set(loss="logistic", y=lambda s: np.r_[np.nan, np.zeros(4), 1.5, np.zeros(M - 6)]),
     ValueError, r"\by\b", "init"),
    ("logistic-y-below-with-nan",
     _set(loss="logistic", y=lambda s: np.r_[np.full(M - 2, 0.5), -3.0, np.nan]),
     ValueError, r"\by\b", "init"),
    # the log-link losses: y outside the domain (named with its index), power
    ("poisson-y-negative", _set(loss="poisson", y=lambda s: np.r_[np.ones(3), -1.0,
                                                                   np.ones(M - 4)]),
     ValueError, _all("y", "poisson", r">= 0", r"y\[3\]"), "init"),
    ("gamma-y-zero", _set(loss="gamma", y=lambda s: np.r_[np.ones(M - 1), 0.0]),
     ValueError, _all("y", "gamma", r"> 0", r"y\[19\]"), "init"),
    ("tweedie-y-zero-power-3", _set(loss="tweedie", power=3.0,
                                    y=lambda s: np.r_[0.0, np.ones(M - 1)]),
     ValueError, _all("y", "tweedie", "power=3.0", r"y\[0\]"), "init"),
    ("tweedie-no-power", _set(loss="tweedie", y=lambda s: np.abs(s["y"])), ValueError,
     _all("tweedie", "power"), "init"),
    ("tweedie-power-0.5", _set(loss="tweedie", power=0.5, y=lambda s: np.abs(s["y"])),
     ValueError, _all("power", "0.5"), "init"),
    ("power-with-squared", _set(power=1.5), ValueError, _all("power", "squared"), "init"),
    ("logistic-y-2d-above", _set(loss="logistic", y=lambda s: np.full((M, 2), 2.0),
                                 coef=np.zeros((N, 2)), v=np.zeros((N, 2))),
     ValueError, _all(r"\by\b", "2"), "init"),
    ("mean-zero-weights", _set(sample_weight=np.zeros(M)), ValueError,
     _all("sample_weight|weight", "0"), "init"),
    ("mean-no-rows", _set(X=np.zeros((0, N)), y=np.zeros(0), sample_weight=None),
     ValueError, "rows", "init"),
    ("mean-no-rows-weighted", _set(X=np.zeros((0, N)), y=np.zeros(0),
                                   sample_weight=np.zeros(0)),
     ValueError, "rows|weight", "init"),
    ("n_threads-0", _set(n_threads=0), ValueError, _all("n_threads", "0"), "init"),
    ("n_threads--1", _set(n_threads=-1), ValueError, _all("n_threads", "-1"), "init"),
    ("n_threads-1.5", _set(n_threads=1.5), ValueError, _all("n_threads", "1.5"), "init"),
    ("n_threads-True", _set(n_threads=True), ValueError, _all("n_threads", "True"), "init"),
    ("n_threads-str", _set(n_threads="2"), ValueError, "n_threads", "init"),
    ("n_threads-2.0", _set(n_threads=2.0), ValueError, "n_threads", "init"),
    # dtypes
    ("X-complex", _set(X=lambda s: s["X"].astype(complex)), TypeError,
     _all(r"\bX\b", "complex"), "init"),
    ("X-object", _set(X=lambda s: s["X"].astype(object)), TypeError, _all(r"\bX\b", "object"),
     "init"),
    ("X-str", _set(X=lambda s: s["X"].astype(str)), TypeError, r"\bX\b", "init"),
    ("X-bytes", _set(X=lambda s: s["X"].astype("S8")), TypeError, r"\bX\b", "init"),
    ("y-complex", _set(y=lambda s: s["y"].astype(complex)), TypeError, r"\by\b", "init"),
    ("coef-complex", _set(coef=lambda s: s["coef"].astype(complex)), TypeError, "coef",
     "call"),
    ("sample_weight-str", _set(sample_weight=lambda s: np.array(["a"] * M)), TypeError,
     "sample_weight", "init"),
]


def _with_v_shape(s):
    s["v"] = np.zeros(N + 1)
    return s


HESSP_CASES = [
    ("v-shape", _with_v_shape, ValueError, _all(r"\bv\b", r"\(5,\)"), "call"),
    ("v-complex", _set(v=lambda s: s["v"].astype(complex)), TypeError, r"\bv\b", "call"),
]

API = ["value_and_grad", "grad", "hessp"]


def _call_fn(api, s, out, backend):
    kw = dict(s["kw"], backend=s["kw"].get("backend", backend), out=out)
    args = [s["X"], s["y"], s["coef"]] + ([s["v"]] if api == "hessp" else [])
    return getattr(fastgrad, api)(*args, **kw)


def _arrays(s, out):
    return [s["X"], s["y"], s["coef"], s["v"], s["kw"].get("sample_weight"),
            s["kw"].get("rows"), out]


def _snap(arrs):
    return [a if not isinstance(a, np.ndarray) else a.copy() for a in arrs]


def _same(arrs, copies):
    for a, c in zip(arrs, copies):
        if isinstance(a, np.ndarray):
            assert a.dtype == c.dtype and a.shape == c.shape
            assert np.array_equal(a, c, equal_nan=a.dtype.kind in "fc"), \
                "an argument was modified by a failing call"


def _table(methods):
    """(case, method) pairs: hessp's cases only with hessp."""
    pairs = [(c, m) for c in CASES for m in methods]
    pairs += [(c, "hessp") for c in HESSP_CASES]
    return pytest.mark.parametrize("case,api", pairs, ids=[f"{c[0]}-{m}" for c, m in pairs])


@_table(API)
def test_error_table_functional(backend, case, api):
    cid, build, exc, pattern, _ = case
    s = build(_base())
    out = np.full((N,), -7.0)
    arrs = _arrays(s, out)
    copies = _snap(arrs)
    with pytest.raises(exc, match=pattern):
        _call_fn(api, s, out, backend)
    _same(arrs, copies)


@_table(["value_and_grad", "__call__", "grad", "value", "hessp"])
def test_error_table_objective(backend, case, api):
    cid, build, exc, pattern, where = case
    method = api
    s = build(_base())
    kw = dict(s["kw"])
    kw.setdefault("backend", backend)
    rows = kw.pop("rows", None)
    out = np.full((N,), -7.0)
    arrs = _arrays(s, out)
    copies = _snap(arrs)
    if where == "init":
        with pytest.raises(exc, match=pattern):
            fastgrad.Objective(s["X"], s["y"], **kw)
    else:
        obj = fastgrad.Objective(s["X"], s["y"], **kw)
        args = [s["coef"]] + ([s["v"]] if method == "hessp" else [])
        ckw = {"rows": rows} if rows is not None else {}
        if method != "value":
            ckw["out"] = out
        with pytest.raises(exc, match=pattern):
            getattr(obj, method)(*args, **ckw)
    _same(arrs, copies)


# ---------------------------------------------------------------------------
# out


def _out_cases(coef):
    f32 = np.zeros(coef.shape, dtype=np.float32)
    big = np.zeros(coef.shape[0] + 1)
    nonc = np.zeros(2 * coef.shape[0])[::2]
    ro = np.zeros(coef.shape)
    ro.flags.writeable = False
    return [
        ("dtype", f32, _all("out", "dtype", "float64")),
        ("shape", big, _all("out", "shape", r"\(4,\)")),
        ("shape-2d", np.zeros((coef.shape[0], 1)), _all("out", "shape")),
        ("non-contiguous", nonc, _all("out", "contiguous")),
        ("read-only", ro, _all("out", "writeable|read-only")),
        ("list", [0.0] * coef.shape[0], "out"),
    ]


OUT_IDS = ["dtype", "shape", "shape-2d", "non-contiguous", "read-only", "list"]


@pytest.mark.parametrize("which", range(len(OUT_IDS)), ids=OUT_IDS)
@pytest.mark.parametrize("api", API)
def test_out_invalid(backend, api, which):
    s = _base()
    _, out, pattern = _out_cases(s["coef"])[which]
    arrs = _arrays(s, out)
    copies = _snap(arrs)
    with pytest.raises(ValueError, match=pattern):
        _call_fn(api, s, out, backend)
    _same(arrs, copies)
    obj = fastgrad.Objective(s["X"], s["y"], backend=backend, **s["kw"])
    args = [s["coef"]] + ([s["v"]] if api == "hessp" else [])
    with pytest.raises(ValueError, match=pattern):
        getattr(obj, api)(*args, out=out)
    _same(arrs, copies)


@pytest.mark.parametrize("api,which", [(a, w) for a in API for w in ("coef", "coef-view")]
                         + [("hessp", "v")])
def test_out_overlapping(backend, api, which):
    s = _base()
    if which == "coef-view":
        buf = np.zeros(2 * N)
        buf[:N] = s["coef"]
        s["coef"] = buf[:N]
        out = buf[N // 2:N // 2 + N]            # overlaps coef's second half
        name = "coef"
    else:
        out = s[which]
        name = which
    arrs = _arrays(s, None) + [buf if which == "coef-view" else None]
    copies = _snap(arrs)
    with pytest.raises(ValueError, match=_all("out", name)):
        _call_fn(api, s, out, backend)
    _same(arrs, copies)
    obj = fastgrad.Objective(s["X"], s["y"], backend=backend, **s["kw"])
    args = [s["coef"]] + ([s["v"]] if api == "hessp" else [])
    with pytest.raises(ValueError, match=_all("out", name)):
        getattr(obj, api)(*args, out=out)
    _same(arrs, copies)


def test_out_adjacent_but_disjoint_is_fine(backend):
    s = _base()
    buf = np.zeros(2 * N)
    buf[:N] = s["coef"]
    coef, out = buf[:N], buf[N:]
    L, g = fastgrad.value_and_grad(s["X"], s["y"], coef, out=out, backend=backend,
                                   **s["kw"])
    assert g is out
    ref = reference(s["X"], s["y"], s["coef"], **s["kw"])
    assert_matches_ref(L, g, ref, rtol_for(np.float64))
    np.testing.assert_array_equal(buf[:N], s["coef"])


# ---------------------------------------------------------------------------
# reduction="sum" with no rows


@pytest.mark.parametrize("k", [None, 2], ids=["single", "multi"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["noicpt", "icpt"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_sum_with_no_rows_is_penalty(backend, dtype, fit_intercept, k):
    X = np.zeros((0, N), dtype=dtype)
    y = np.zeros((0,) if k is None else (0, k), dtype=dtype)
    p = N + 1 if fit_intercept else N
    coef = np.arange(1, p * (k or 1) + 1, dtype=dtype).reshape((p,) if k is None else (p, k))
    l2 = 0.5
    c = coef.astype(np.float64)
    pen = c[:-1] if fit_intercept else c
    expL = 0.5 * l2 * float(np.sum(pen ** 2))
    expg = l2 * c
    if fit_intercept:
        expg[-1] = 0.0
    for loss in LOSSES:
        kw = dict(loss=loss, fit_intercept=fit_intercept, l2=l2, reduction="sum")
        L, g = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
        assert L == pytest.approx(expL, rel=1e-12)
        np.testing.assert_allclose(g, expg, rtol=1e-7)
        obj = fastgrad.Objective(X, y, backend=backend, **kw)
        L2, g2 = obj(coef)
        assert L2 == pytest.approx(expL, rel=1e-12)
        np.testing.assert_allclose(g2, expg, rtol=1e-7)
        assert obj.value(coef) == pytest.approx(expL, rel=1e-12)
        np.testing.assert_allclose(obj.hessp(coef, coef), expg, rtol=1e-7)
        # with weights of length 0 too
        L3, _ = fastgrad.value_and_grad(X, y, coef, sample_weight=np.zeros(0),
                                        backend=backend, **kw)
        assert L3 == pytest.approx(expL, rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_sum_with_all_zero_weights(backend, dtype):
    """Σw = 0 is only an error for the mean: the sum is the penalty alone."""
    X, y, coef, _ = make_problem(M, N, dtype=dtype, seed=71)
    L, g = fastgrad.value_and_grad(X, y, coef, sample_weight=np.zeros(M), l2=2.0,
                                   reduction="sum", backend=backend)
    c = coef.astype(np.float64)
    assert L == pytest.approx(float(c @ c), rel=1e-6)
    np.testing.assert_allclose(g, 2.0 * c, rtol=1e-6)


# ---------------------------------------------------------------------------
# conversions


@pytest.mark.parametrize("xdtype", [np.int8, np.int32, np.int64, np.uint16, np.bool_])
def test_integer_and_bool_X_become_float64(backend, xdtype):
    rng = np.random.default_rng(72)
    Xi = rng.integers(0, 2 if xdtype is np.bool_ else 5, size=(M, N)).astype(xdtype)
    _, y, coef, w = make_problem(M, N, weights=True, seed=72)
    kw = dict(sample_weight=w, l2=0.1, backend=backend)
    L, g = fastgrad.value_and_grad(Xi, y, coef, **kw)
    Lf, gf = fastgrad.value_and_grad(Xi.astype(np.float64), y, coef, **kw)
    assert g.dtype == np.float64
    assert L == Lf
    np.testing.assert_array_equal(g, gf)
    hv = fastgrad.hessp(Xi, y, coef, coef, **kw)
    np.testing.assert_array_equal(hv, fastgrad.hessp(Xi.astype(float), y, coef, coef, **kw))


def test_float16_X_accepted(backend):
    X, y, coef, _ = make_problem(M, N, loss="logistic", dtype=np.float16, seed=73)
    L, g = fastgrad.value_and_grad(X, y, coef, loss="logistic", backend=backend)
    assert g.dtype.kind == "f" and g.shape == coef.shape
    ref = reference(X, y.astype(np.float16), coef.astype(np.float16), loss="logistic")
    assert_matches_ref(L, g, ref, 1e-3)      # y, coef: X's values in float16 precision
    obj = fastgrad.Objective(X, y, loss="logistic", backend=backend)
    L2, g2 = obj(coef)
    assert L2 == L
    np.testing.assert_array_equal(g2, g)


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_byteswapped_X_same_result(backend, dtype, layout, to_layout):
    X0, y, coef, w = make_problem(M, N, None, loss="logistic", fit_intercept=True,
                                  weights=True, dtype=dtype, seed=74)
    X = to_layout(X0, layout)
    Xs = X.astype(np.dtype(dtype).newbyteorder(">"))
    assert not Xs.dtype.isnative
    np.testing.assert_array_equal(Xs, X)
    kw = dict(loss="logistic", fit_intercept=True, sample_weight=w, backend=backend)
    L, g = fastgrad.value_and_grad(Xs, y, coef, **kw)
    Ln, gn = fastgrad.value_and_grad(X, y, coef, **kw)
    assert g.dtype == np.dtype(dtype) and g.dtype.isnative
    assert L == pytest.approx(Ln, rel=rtol_for(dtype), abs=0)
    np.testing.assert_allclose(g, gn, rtol=rtol_for(dtype),
                               atol=rtol_for(dtype) * np.abs(gn).max())
    # byte-swapped y, coef and weights too
    sw = lambda a: a.astype(a.dtype.newbyteorder(">"))  # noqa: E731
    L2, g2 = fastgrad.value_and_grad(Xs, sw(y), sw(coef), **dict(kw, sample_weight=sw(w)))
    assert L2 == L
    np.testing.assert_array_equal(g2, g)


def test_lists_are_accepted(backend):
    X, y, coef, w = make_problem(6, 3, weights=True, seed=75)
    L, g = fastgrad.value_and_grad(X.tolist(), y.tolist(), coef.tolist(),
                                   sample_weight=w.tolist(), backend=backend)
    Ln, gn = fastgrad.value_and_grad(X, y, coef, sample_weight=w, backend=backend)
    assert L == Ln
    np.testing.assert_array_equal(g, gn)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_other_arrays_converted_to_X_dtype(backend, dtype):
    X, y, coef, w = make_problem(M, N, weights=True, dtype=dtype, seed=76)
    other = np.float64 if dtype == np.float32 else np.float32
    L, g = fastgrad.value_and_grad(X, y.astype(other), coef.astype(other),
                                   sample_weight=w.astype(other), backend=backend)
    assert g.dtype == np.dtype(dtype)
    Ln, gn = fastgrad.value_and_grad(X, y.astype(other).astype(dtype),
                                     coef.astype(other).astype(dtype),
                                     sample_weight=w.astype(other).astype(dtype),
                                     backend=backend)
    assert L == Ln
    np.testing.assert_array_equal(g, gn)


# ---------------------------------------------------------------------------
# inputs are never written to


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_inputs_not_written_on_success(backend, dtype, loss, layout, make_X):
    _, y, coef, w = make_problem(M, N, 2, loss=loss, fit_intercept=True, weights=True,
                                 dtype=dtype, seed=77)
    X = make_X(M, N, dtype, layout, seed=77)
    v = coef[::-1].copy()
    rows = np.array([3, -1, 3, 7])
    args = [X, y, coef, v, w, rows]
    before = snapshot(*args)
    kw = dict(loss=loss, fit_intercept=True, sample_weight=w, l2=0.2, backend=backend)
    for r in (None, rows):
        fastgrad.value_and_grad(X, y, coef, rows=r, **kw)
        fastgrad.grad(X, y, coef, rows=r, **kw)
        fastgrad.hessp(X, y, coef, v, rows=r, **kw)
        obj = fastgrad.Objective(X, y, **{a: b for a, b in kw.items()})
        obj(coef, rows=r)
        obj.grad(coef, rows=r)
        obj.value(coef, rows=r)
        obj.hessp(coef, v, rows=r)
    assert_unchanged(args, before)
    # a returned gradient is a fresh array, never one of the inputs
    g = fastgrad.grad(X, y, coef, **kw)
    for a in (X, y, coef, w):
        assert not np.shares_memory(g, a)


def test_native_backend_importerror_when_missing(monkeypatch):
    """backend="native" without the compiled core: ImportError giving the reason."""
    from fastgrad import _backends
    monkeypatch.setattr(_backends, "_native", None)
    monkeypatch.setattr(_backends, "NATIVE_ERROR", "ImportError: simulated for the test")
    X, y, coef, _ = make_problem(5, 2, seed=78)
    with pytest.raises(ImportError, match="simulated for the test"):
        fastgrad.value_and_grad(X, y, coef, backend="native")
    with pytest.raises(ImportError, match="native"):
        fastgrad.Objective(X, y, backend="native")
    # auto falls back to NumPy
    L, g = fastgrad.value_and_grad(X, y, coef, backend="auto")
    assert_matches_ref(L, g, reference(X, y, coef), rtol_for(np.float64))


@pytest.mark.parametrize("nt", [1, np.int64(2), np.int32(3), 64],
                         ids=["1", "np.int64(2)", "np.int32(3)", "64"])
def test_valid_n_threads(backend, nt):
    X, y, coef, w = make_problem(M, N, weights=True, seed=79)
    L, g = fastgrad.value_and_grad(X, y, coef, sample_weight=w, n_threads=nt,
                                   backend=backend)
    assert_matches_ref(L, g, reference(X, y, coef, sample_weight=w), rtol_for(np.float64))
    obj = fastgrad.Objective(X, y, sample_weight=w, n_threads=nt, backend=backend)
    assert obj(coef)[0] == L


def test_logistic_y_range_checked_despite_nan_objective_unchecked(backend):
    """check_input=False skips the NaN scan, not the [0, 1] check of logistic labels."""
    X, _, coef, _ = make_problem(6, 2, seed=80)
    y = np.array([np.nan, 2.0, 0.5, 0.0, 1.0, 0.25])
    with pytest.raises(ValueError, match=r"\by\b"):
        fastgrad.Objective(X, y, loss="logistic", check_input=False, backend=backend)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [None, -1e-300, 0.0, 1e-45, 1.0000001, np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("step", [1, 3, -2])
@pytest.mark.parametrize("lo, hi", [(0.0, 1.0), (0.0, np.inf), (5e-324, np.inf)],
                         ids=["logistic", "poisson", "gamma"])
def test_native_y_in_range_matches_numpy(dtype, bad, step, lo, hi):
    """The compiled range check (check_y's and the lean entry's one pass) against
    NumPy's, at any stride, with one value anywhere at or beyond the ends (NaN
    counts as outside)."""
    native = pytest.importorskip("fastgrad._native")
    rng = np.random.default_rng(3)
    y = (rng.random(5000) + 0.01).astype(dtype)
    for pos in (0, 1234, 4999):
        z = y.copy()
        if bad is not None:
            z[pos] = bad
        v = z[::step]
        v64 = v.astype(np.float64)      # (NumPy would round lo to float32: 0)
        assert native.y_in_range(v, lo, hi) == bool(((v64 >= lo) & (v64 <= hi)).all())


def test_logistic_range_error_on_a_large_y():
    """A y too large for the one-chunk fast path still raises on a value outside
    [0, 1], and a NaN still passes the check (it propagates, as documented)."""
    m = 300_000
    X = np.zeros((m, 2))
    y = np.zeros(m)
    y[m - 5] = 2.0
    with pytest.raises(ValueError, match=r"y must lie in \[0, 1\]"):
        fastgrad.value_and_grad(X, y, np.zeros(2), loss="logistic")
    y[m - 5] = np.nan
    L, _ = fastgrad.value_and_grad(X, y, np.zeros(2), loss="logistic")
    assert np.isnan(L)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("loss, bad", [("logistic", 1.5), ("poisson", -1.0), ("gamma", 0.0),
                                       ("tweedie", -2.0)])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_y_range_of_a_call_of_many_chunks(dtype, order, loss, bad, n_threads):
    """A call of many chunks (the general path, not the lean entry) checks y's
    range: the error names the value (and, log link, its index), from a bad y in
    the last chunk or the first; the inputs and out untouched; a NaN y
    propagates; and rows that skip the bad y give the call on a copy of those
    rows.  The results of valid calls equal the NumPy backend's."""
    m, n = 200_000, 8
    power = 1.5 if loss == "tweedie" else None
    X, y, coef, _ = make_problem(m, n, loss=loss, dtype=dtype, seed=12, power=power)
    X = np.asfortranarray(X) if order == "F" else X
    kw = dict(loss=loss, n_threads=n_threads, power=power)
    assert "chunks of" in fastgrad.explain(X, y, coef, **kw)["reason"]   # several
    L, g = fastgrad.value_and_grad(X, y, coef, **kw)
    Ln, gn = fastgrad.value_and_grad(X, y, coef, backend="numpy", **kw)
    np.testing.assert_allclose(L, Ln, rtol=rtol_for(dtype))
    np.testing.assert_allclose(g, gn, rtol=rtol_for(dtype), atol=1e-6)
    match = r"\[0, 1\]" if loss == "logistic" else rf"{loss}.*y\[{{at}}\]"
    for at in (m - 3, 0):
        yb = y.copy()
        yb[at] = bad
        out = np.full(n, -7.0, dtype=dtype)
        copies = snapshot(X, yb, coef, out)
        with pytest.raises(ValueError, match=match.format(at=at)):
            fastgrad.value_and_grad(X, yb, coef, out=out, **kw)
        with pytest.raises(ValueError, match=match.format(at=at)):
            fastgrad.hessp(X, yb, coef, coef, **kw)
        assert_unchanged((X, yb, coef, out), copies)
        rows = np.r_[np.arange(at), np.arange(at + 1, m)]
        a = fastgrad.value_and_grad(X, yb, coef, rows=rows, **kw)
        b = fastgrad.value_and_grad(np.ascontiguousarray(X[rows]),
                                    np.ascontiguousarray(yb[rows]), coef, **kw)
        np.testing.assert_allclose(a[0], b[0], rtol=rtol_for(dtype))
        np.testing.assert_allclose(a[1], b[1], rtol=rtol_for(dtype), atol=1e-6)
        yb[at] = np.nan
        L, g = fastgrad.value_and_grad(X, yb, coef, **kw)
        assert np.isnan(L) and np.isnan(g).all()


def test_y_error_first_when_later_arguments_are_bad_too():
    """A bad y wins over a bad later argument (coef, sample_weight, out) in a call
    of many chunks, and explain raises the same error."""
    m = 200_000
    X = np.zeros((m, 8))
    y = np.zeros(m)
    y[m - 5] = -1.0
    for kw in (dict(sample_weight=np.ones(m - 1)), dict(out=np.empty(3))):
        for f in (fastgrad.value_and_grad, fastgrad.explain):
            with pytest.raises(ValueError, match=r"y\[199995\]"):
                f(X, y, np.zeros(8), loss="poisson", **kw)
    for f in (fastgrad.value_and_grad, fastgrad.explain):
        with pytest.raises(ValueError, match=r"y\[199995\]"):
            f(X, y, np.zeros(3), loss="poisson")
