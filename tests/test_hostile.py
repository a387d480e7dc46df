"""Hostile inputs (issue 7): one table, every entry point, both backends.

Each row of ``TABLE`` names an input that a careless or malicious caller might
pass and what fastgrad must do with it: either the documented result (checked
against the independent float64 reference of conftest, NaN and inf included)
or an exception of the documented type whose message names the argument.
Every row runs through every entry point it concerns (the three functions and
the five methods of ``Objective``) on both backends, and every argument,
``out`` included, must be unchanged afterwards (compared by hashing its bytes,
dtype, shape and strides before and after).

The table is keyed by ``kind``: ``"dense"``, ``"sparse"`` (X a CSR matrix:
the clean call, keywords and malformed structures) and ``"multinomial"`` (the
loss's error row of API.md: labels, probabilities, coef); ``_base`` is the only
place that knows how to make a kind's clean problem.

The error table of API.md is covered row by row here (one representative each,
marked "API.md" in the comments); tests/test_errors.py holds the finer variants
of each message.
"""
import copy
import hashlib
import os
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import fastgrad
from conftest import (assert_matches_ref, reference, reference_hessp, rtol_for,
                      skip_if_no_native)

M, N = 7, 3
FN_APIS = ("fn.value_and_grad", "fn.grad", "fn.hessp")
OBJ_APIS = ("obj.value_and_grad", "obj.__call__", "obj.grad", "obj.value", "obj.hessp")
ALL_APIS = FN_APIS + OBJ_APIS
OUT_APIS = tuple(a for a in ALL_APIS if a != "obj.value")     # entry points with out=
HESSP_APIS = ("fn.hessp", "obj.hessp")
INIT_KEYS = ("loss", "fit_intercept", "sample_weight", "l2", "reduction", "n_threads",
             "check_input")                 # keywords of Objective(...); rows, out per call


def _all(*words):
    """A regex matching a message that contains every one of the words (any order)."""
    return "(?s)" + "".join(f"(?=.*{w})" for w in words)


# ---------------------------------------------------------------------------
# the clean problem of each kind, and the rows' modifications of it


def _base(kind, loss="squared"):
    if kind == "sparse":                    # the dense problem with X as a CSR matrix
        sp = pytest.importorskip("scipy.sparse")
        s = _base("dense", loss)
        s["X"] = sp.csr_matrix(s["X"])
        return s
    if kind == "multinomial":               # 3 classes, labels; coef (N + 1, 3)
        rng = np.random.default_rng(701)
        return dict(X=rng.standard_normal((M, N)), y=rng.integers(0, 3, M),
                    coef=0.5 * rng.standard_normal((N + 1, 3)),
                    v=np.linspace(-1.0, 1.0, 3 * (N + 1)).reshape(N + 1, 3), buffers=[],
                    kw=dict(loss="multinomial", fit_intercept=True,
                            sample_weight=rng.uniform(0.5, 1.5, M), l2=0.1),
                    call=dict(rows=None, out=None))
    if kind != "dense":
        raise NotImplementedError(kind)
    rng = np.random.default_rng(700)
    X = rng.standard_normal((M, N))
    y = rng.uniform(0.1, 0.9, M) if loss == "logistic" else rng.standard_normal(M)
    coef = 0.5 * rng.standard_normal(N + 1)
    v = np.linspace(-1.0, 1.0, N + 1)
    w = rng.uniform(0.5, 1.5, M)
    return dict(X=X, y=y, coef=coef, v=v, buffers=[],
                kw=dict(loss=loss, fit_intercept=True, sample_weight=w, l2=0.1),
                call=dict(rows=None, out=None))


@dataclass
class Raises:
    exc: type
    match: str


@dataclass
class Result:
    """The documented result: the reference on the values fastgrad computes with."""
    dtype: type = np.float64                   # the result's dtype


@dataclass
class Case:
    name: str
    build: Callable                            # spec -> spec (modified in place)
    expect: object                             # Raises or Result, for every entry point
    obj_expect: object = None                  # Objective's, when it differs
    apis: tuple = ALL_APIS
    loss: str = "squared"
    kind: str = "dense"
    ref: Optional[Callable] = None             # spec -> (X, y, coef, v, kw) for reference
    marks: tuple = field(default_factory=tuple)


def _set(**changes):
    """A builder that replaces arguments; a callable value gets the spec."""
    def build(s):
        for key, val in changes.items():
            val = val(s) if callable(val) else val
            if key in ("X", "y", "coef", "v"):
                s[key] = val
            elif key in ("rows", "out"):
                s["call"][key] = val
            else:
                s["kw"][key] = val
        return s
    return build


def _put(name, index, value):
    """A builder that writes value at index of a copy of the argument."""
    def build(s):
        if name == "sample_weight":
            a = s["kw"][name].copy()
            a[index] = value
            s["kw"][name] = a
        else:
            a = s[name].copy()
            a[index] = value
            s[name] = a
        return s
    return build


def _ragged(name):
    def build(s):
        a = s[name] if name != "sample_weight" else s["kw"][name]
        lst = a.tolist()
        lst[1] = [lst[1], lst[1]] if not isinstance(lst[1], list) else lst[1] + [0.0]
        return _set(**{name: lst})(s)
    return build


def _as(name, fn):
    def build(s):
        if name in ("sample_weight",):
            s["kw"][name] = fn(s["kw"][name])
        elif name == "rows":
            s["call"]["rows"] = fn(s["call"]["rows"])
        else:
            s[name] = fn(s[name])
        return s
    return build


def _readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _unaligned(a):
    """A copy of a whose data pointer is one byte off its item size's alignment."""
    a = np.asarray(a)
    buf = np.zeros(a.nbytes + 1, np.uint8)
    u = buf[1:].view(a.dtype).reshape(a.shape)
    u[...] = a
    assert not u.flags.aligned
    return u


def _huge_rows(s):
    """X, y: zero-stride views of 2**33 rows (2.6e10 elements, 24 bytes of memory);
    rows pick indices beyond 2**31 and 2**32: int32 index arithmetic would fail."""
    xb = s["X"][0].copy()
    yb = s["y"][:1].copy()
    s["X"] = as_strided(xb, (2 ** 33, N), (0, xb.strides[0]))
    s["y"] = as_strided(yb, (2 ** 33,), (0,))
    s["buffers"] = [xb, yb]
    s["kw"]["sample_weight"] = None
    s["kw"]["check_input"] = False             # a scan of 2.6e10 elements is not the point
    s["call"]["rows"] = np.array([2 ** 31 + 7, 2 ** 32 + 1, -1, 2 ** 31 - 1, 0])
    return s


def _huge_rows_ref(s):
    r = s["call"]["rows"]
    kw = {k: v for k, v in s["kw"].items() if k in ("loss", "fit_intercept", "l2",
                                                    "reduction", "sample_weight")}
    return np.asarray(s["X"][r]), np.asarray(s["y"][r]), s["coef"], s["v"], kw


def _overlap_coef(s):
    buf = np.zeros(2 * (N + 1))
    buf[:N + 1] = s["coef"]
    s["coef"] = buf[:N + 1]
    s["call"]["out"] = buf[2:N + 3]
    return s


def _overlap_v(s):
    s["call"]["out"] = s["v"]
    return s


def _overlap_X(s):
    buf = np.zeros((M + 1, N + 1))
    buf[1:, :N] = s["X"]
    s["X"] = buf[1:, :N]
    s["call"]["out"] = buf[1]                  # X's first row (and a column beyond it)
    return s


NAN, INF = float("nan"), float("inf")
PROPAGATES = Result()
X_SCANNED = Raises(ValueError, _all(r"\bX\b", "NaN or inf", r"X\[2, 1\]"))
Y_SCANNED = Raises(ValueError, _all(r"\by\b", "NaN or inf", r"y\[3\]"))

TABLE = [
    # --- API.md error table --------------------------------------------------
    Case("shapes-y-rows", _set(y=lambda s: s["y"][:-1]), Raises(ValueError, _all(r"\by\b", "6", "7"))),
    Case("loss-unknown", _set(loss="hinge"), Raises(ValueError, _all("loss", "hinge", "squared", "logistic"))),
    Case("reduction-unknown", _set(reduction="avg"), Raises(ValueError, _all("reduction", "mean", "sum"))),
    Case("backend-unknown", _set(backend="gpu"), Raises(ValueError, _all("backend", "auto", "native", "numpy"))),
    Case("sample_weight-negative", _put("sample_weight", 4, -1.0), Raises(ValueError, _all("sample_weight", r"\[4\]", "-1"))),
    Case("sample_weight-nan", _put("sample_weight", 2, NAN), Raises(ValueError, _all("sample_weight", "nan"))),
    Case("sample_weight-inf", _put("sample_weight", 2, INF), Raises(ValueError, _all("sample_weight", "inf"))),
    Case("l2-negative", _set(l2=-1.0), Raises(ValueError, "l2")),
    Case("l2-nan", _set(l2=NAN), Raises(ValueError, _all("l2", "nan"))),
    Case("l2-inf", _set(l2=INF), Raises(ValueError, _all("l2", "inf"))),
    Case("logistic-y-above-1", _put("y", 3, 1.5), Raises(ValueError, _all(r"\by\b", "1.5", r"\[0, 1\]")),
         loss="logistic"),
    Case("logistic-y-below-0", _put("y", 3, -0.5), Raises(ValueError, _all(r"\by\b", "-0.5")),
         loss="logistic"),
    # (multinomial rows: labels outside [0, K), probabilities not summing to 1,
    #  ... are the kind="multinomial" rows below)
    Case("mean-all-weights-zero", _set(sample_weight=np.zeros(M)), Raises(ValueError, "weight")),
    Case("mean-no-rows", _set(rows=np.array([], dtype=np.intp)), Raises(ValueError, "rows")),
    Case("sum-no-rows", _set(rows=np.array([], dtype=np.intp), reduction="sum"), Result()),
    Case("X-nan", _put("X", (2, 1), NAN), PROPAGATES, obj_expect=X_SCANNED),
    Case("X-inf", _put("X", (2, 1), INF), PROPAGATES, obj_expect=X_SCANNED),
    Case("X--inf-logistic", _put("X", (2, 1), -INF), PROPAGATES, obj_expect=X_SCANNED,
         loss="logistic"),
    Case("X-nan-unchecked", _set(check_input=False, X=lambda s: _put("X", (2, 1), NAN)(s)["X"]),
         PROPAGATES),
    Case("y-nan", _put("y", 3, NAN), PROPAGATES, obj_expect=Y_SCANNED),
    Case("y-inf", _put("y", 3, INF), PROPAGATES, obj_expect=Y_SCANNED),
    Case("y-nan-logistic", _put("y", 3, NAN), PROPAGATES, obj_expect=Y_SCANNED, loss="logistic"),
    Case("y-inf-logistic", _put("y", 3, INF), Raises(ValueError, _all(r"\by\b", "inf")),
         loss="logistic"),
    Case("coef-nan", _put("coef", 1, NAN), PROPAGATES),
    Case("coef-inf", _put("coef", 1, INF), PROPAGATES),
    Case("coef-inf-logistic", _put("coef", 0, -INF), PROPAGATES, loss="logistic"),
    Case("coef-intercept-nan", _put("coef", N, NAN), PROPAGATES),
    Case("v-nan", _put("v", 0, NAN), PROPAGATES, apis=HESSP_APIS),
    Case("v-inf", _put("v", N, INF), PROPAGATES, apis=HESSP_APIS),
    Case("n_threads-0", _set(n_threads=0), Raises(ValueError, _all("n_threads", "0"))),
    Case("n_threads--1", _set(n_threads=-1), Raises(ValueError, _all("n_threads", "-1"))),
    Case("n_threads-1.5", _set(n_threads=1.5), Raises(ValueError, _all("n_threads", "1.5"))),
    Case("n_threads-nan", _set(n_threads=NAN), Raises(ValueError, _all("n_threads", "nan"))),
    # --- the list ----------------------------------------------------
    Case("n_threads-10000", _set(n_threads=10_000), Result()),
    Case("n_threads-2**31", _set(n_threads=2 ** 31), Result()),
    Case("n_threads-np.uint64-2**63", _set(n_threads=np.uint64(2 ** 63)), Result()),
    Case("X-0d", _set(X=np.float64(1.0)), Raises(ValueError, _all(r"\bX\b", r"\(\)"))),
    Case("X-python-scalar", _set(X=1.0), Raises(ValueError, _all(r"\bX\b", "2-D"))),
    Case("X-3d", _set(X=lambda s: s["X"][None]), Raises(ValueError, _all(r"\bX\b", "1, 7, 3"))),
    Case("X-ragged", _ragged("X"), Raises(ValueError, r"^X\b")),
    Case("X-list", _as("X", lambda a: a.tolist()), Result()),
    Case("X-None", _set(X=None), Raises(TypeError, r"\bX\b")),
    Case("y-scalar", _set(y=1.0), Raises(ValueError, _all(r"\by\b", r"\(\)"))),
    Case("y-3d", _set(y=lambda s: s["y"][:, None, None]), Raises(ValueError, _all(r"\by\b", "7, 1, 1"))),
    Case("y-ragged", _ragged("y"), Raises(ValueError, r"^y\b")),
    Case("y-list", _as("y", lambda a: a.tolist()), Result()),
    Case("coef-scalar", _set(coef=0.5), Raises(ValueError, _all("coef", r"\(\)"))),
    Case("coef-ragged", _ragged("coef"), Raises(ValueError, r"^coef\b")),
    Case("coef-list", _as("coef", lambda a: a.tolist()), Result()),
    Case("coef-length+1", _set(coef=lambda s: np.r_[s["coef"], 0.0]), Raises(ValueError, _all("coef", r"\(5,\)", r"\(4,\)"))),
    Case("coef-length-1", _set(coef=lambda s: s["coef"][:-1]), Raises(ValueError, _all("coef", r"\(3,\)", r"\(4,\)"))),
    Case("coef-2d-column", _set(coef=lambda s: s["coef"][:, None]), Raises(ValueError, _all("coef", r"\(4, 1\)"))),
    Case("v-scalar", _set(v=1.0), Raises(ValueError, _all(r"\bv\b", r"\(\)")), apis=HESSP_APIS),
    Case("v-length+1", _set(v=lambda s: np.r_[s["v"], 0.0]), Raises(ValueError, _all(r"\bv\b", r"\(5,\)")), apis=HESSP_APIS),
    Case("v-list", _as("v", lambda a: a.tolist()), Result(), apis=HESSP_APIS),
    Case("v-ragged", _ragged("v"), Raises(ValueError, r"^v\b"), apis=HESSP_APIS),
    Case("v-object", _as("v", lambda a: a.astype(object)), Raises(TypeError, r"\bv\b"), apis=HESSP_APIS),
    Case("sample_weight-scalar", _set(sample_weight=1.0), Raises(ValueError, _all("sample_weight", r"\(\)"))),
    Case("sample_weight-ragged", _ragged("sample_weight"), Raises(ValueError, r"^sample_weight\b")),
    Case("sample_weight-list", _as("sample_weight", lambda a: a.tolist()), Result()),
    Case("fit_intercept-array", _set(fit_intercept=np.array([True, False])), Raises(ValueError, "fit_intercept")),
    Case("fit_intercept-None", _set(fit_intercept=None), Raises(ValueError, "fit_intercept")),
    Case("loss-np.str_", _set(loss=np.str_("squared")), Result()),
    Case("X-byteswapped->f8", _as("X", lambda a: a.astype(">f8")), Result()),
    Case("all-byteswapped->f8", lambda s: _as("sample_weight", lambda a: a.astype(">f8"))(
        _as("coef", lambda a: a.astype(">f8"))(_as("y", lambda a: a.astype(">f8"))(
            _as("X", lambda a: a.astype(">f8"))(s)))), Result()),
    Case("X-float16", _as("X", lambda a: a.astype(np.float16)), Result(np.float32)),
    Case("X-int8", _as("X", lambda a: (4 * a).astype(np.int8)), Result()),
    Case("X-bool", _as("X", lambda a: a > 0), Result()),
    Case("X-object", _as("X", lambda a: a.astype(object)), Raises(TypeError, _all(r"\bX\b", "object"))),
    Case("X-str", _as("X", lambda a: a.astype(str)), Raises(TypeError, r"\bX\b")),
    Case("X-bytes", _as("X", lambda a: a.astype("S8")), Raises(TypeError, r"\bX\b")),
    Case("X-complex", _as("X", lambda a: a.astype(complex)), Raises(TypeError, r"\bX\b")),
    Case("X-datetime", _as("X", lambda a: a.astype("M8[s]")), Raises(TypeError, r"\bX\b")),
    Case("X-longdouble", _as("X", lambda a: a.astype(np.longdouble)), Raises(TypeError, r"\bX\b")),
    Case("y-object", _as("y", lambda a: a.astype(object)), Raises(TypeError, r"\by\b")),
    Case("y-str", _as("y", lambda a: a.astype(str)), Raises(TypeError, r"\by\b")),
    Case("coef-object", _as("coef", lambda a: a.astype(object)), Raises(TypeError, "coef")),
    Case("coef-str", _as("coef", lambda a: a.astype(str)), Raises(TypeError, "coef")),
    Case("sample_weight-object", _as("sample_weight", lambda a: a.astype(object)), Raises(TypeError, "sample_weight")),
    Case("out-read-only", _set(out=lambda s: _readonly(np.zeros(N + 1))), Raises(ValueError, _all("out", "writeable|read-only")), apis=OUT_APIS),
    Case("out-float32", _set(out=np.zeros(N + 1, np.float32)), Raises(ValueError, _all("out", "dtype")), apis=OUT_APIS),
    Case("out-shape", _set(out=np.zeros(N + 2)), Raises(ValueError, _all("out", "shape")), apis=OUT_APIS),
    Case("out-non-contiguous", _set(out=lambda s: np.zeros(2 * (N + 1))[::2]), Raises(ValueError, _all("out", "contiguous")), apis=OUT_APIS),
    Case("out-list", _set(out=[0.0] * (N + 1)), Raises(ValueError, "out"), apis=OUT_APIS),
    Case("out-overlaps-coef", _overlap_coef, Raises(ValueError, _all("out", "coef")), apis=OUT_APIS),
    Case("out-is-v", _overlap_v, Raises(ValueError, _all("out", r"\bv\b")), apis=HESSP_APIS),
    Case("out-overlaps-X", _overlap_X, Raises(ValueError, _all("out", r"\bX\b")), apis=OUT_APIS),
    Case("out-nan-filled", _set(out=np.full(N + 1, NAN)), Result(), apis=OUT_APIS),
    Case("X-unaligned", _as("X", _unaligned), Result()),
    Case("X-unaligned-F", _as("X", lambda a: _unaligned(a.T).T), Result()),
    Case("y-unaligned", _as("y", _unaligned), Result()),
    Case("coef-unaligned", _as("coef", _unaligned), Result()),
    Case("v-unaligned", _as("v", _unaligned), Result(), apis=HESSP_APIS),
    Case("sample_weight-unaligned", _as("sample_weight", _unaligned), Result()),
    Case("rows-unaligned", _set(rows=lambda s: _unaligned(np.array([3, -1, 3], np.intp))), Result()),
    Case("out-unaligned", _set(out=lambda s: _unaligned(np.zeros(N + 1))), Raises(ValueError, _all("out", "aligned")), apis=OUT_APIS),
    Case("rows-float", _set(rows=np.array([0.0, 2.0])), Raises(TypeError, _all("rows", "float"))),
    Case("rows-float-list", _set(rows=[1.5]), Raises(TypeError, "rows")),
    Case("rows-bool", _set(rows=np.ones(M, bool)), Raises(TypeError, _all("rows", "bool", "flatnonzero"))),
    Case("rows-2d", _set(rows=np.zeros((2, 2), np.intp)), Raises(ValueError, _all("rows", "1-D"))),
    Case("rows-scalar", _set(rows=3), Raises(ValueError, _all("rows", "1-D"))),
    Case("rows-ragged", _set(rows=[1, [2, 3]]), Raises(ValueError, r"^rows\b")),
    Case("rows-nan", _set(rows=np.array([0, NAN])), Raises(TypeError, "rows")),
    Case("rows-above", _set(rows=np.array([0, M])), Raises(IndexError, _all("rows", str(M)))),
    Case("rows-below", _set(rows=np.array([-M - 1, 0])), Raises(IndexError, _all("rows", str(-M - 1)))),
    Case("rows-uint64-huge", _set(rows=np.array([2 ** 63 + 5], np.uint64)), Raises(IndexError, "rows")),
    Case("rows-list-negative-duplicate", _set(rows=[-1, 0, 0, 6]), Result()),
    Case("rows-beyond-2**32-zero-stride", _huge_rows, Result(), ref=_huge_rows_ref),
]

_IDS = [c.name for c in TABLE]
assert len(set(_IDS)) == len(_IDS), "row names must be unique"


# ---------------------------------------------------------------------------
# calling an entry point, fingerprints, the reference


def _invoke(api, s, backend):
    kw = dict(s["kw"])
    kw.setdefault("backend", backend)
    call = {k: v for k, v in s["call"].items() if v is not None}
    family, name = api.split(".")
    args = [s["coef"]] + ([s["v"]] if name == "hessp" else [])
    if family == "fn":
        kw.pop("check_input", None)
        f = getattr(fastgrad, name)
        res = f(s["X"], s["y"], *args, **kw, **call)
    else:
        init = {k: v for k, v in kw.items() if k in INIT_KEYS + ("backend",)}
        obj = fastgrad.Objective(s["X"], s["y"], **init)
        if name == "value":
            call.pop("out", None)
        res = getattr(obj, name)(*args, **call)
    return name, res


def _fingerprint(a):
    """What must not change: dtype, shape, strides and bytes (hashed) of an array;
    a deep copy of anything else.  Views too large to hash are covered through
    their base buffers (the spec's ``buffers``)."""
    if isinstance(a, np.ndarray):
        if a.dtype.hasobject:                  # the references and what they show
            return ("objects", a.shape, a.strides, tuple(map(id, a.flat)),
                    repr(a.tolist()))
        if a.size > 10_000_000:
            return ("huge view", a.dtype.str, a.shape, a.strides,
                    a.__array_interface__["data"][0])
        h = hashlib.sha256(np.ascontiguousarray(a).view(np.uint8).tobytes()).hexdigest()
        return ("array", a.dtype.str, a.shape, a.strides, a.flags.writeable, h)
    return ("object", type(a), copy.deepcopy(a))


def _arguments(s):
    return ([s["X"], s["y"], s["coef"], s["v"], s["kw"].get("sample_weight"),
             s["call"]["rows"], s["call"]["out"]] + list(s["buffers"]))


def _same(before, after):
    for i, (b, a) in enumerate(zip(before, after)):
        if b[0] == "object":
            assert type(b[2]) is type(a[2]) and repr(b[2]) == repr(a[2]), \
                f"argument {i} was modified"
        else:
            assert b == a, f"argument {i} was modified: {b[:4]} -> {a[:4]}"


def _reference_args(s, dtype):
    """The values fastgrad computes with (converted to the result's dtype), in float64."""
    def conv(a):
        return None if a is None else np.asarray(a).astype(dtype).astype(np.float64)
    kw = {k: v for k, v in s["kw"].items() if k in ("loss", "fit_intercept", "l2", "reduction")}
    kw["loss"] = str(kw["loss"])
    kw["sample_weight"] = conv(s["kw"].get("sample_weight"))
    rows = s["call"]["rows"]
    if rows is not None:
        kw["rows"] = np.asarray(rows)
    return conv(s["X"]), conv(s["y"]), conv(s["coef"]), conv(s["v"]), kw


def _check_result(name, res, s, case, expect):
    if case.ref is not None:
        X, y, coef, v, kw = case.ref(s)
    else:
        X, y, coef, v, kw = _reference_args(s, expect.dtype)
    rtol = rtol_for(expect.dtype)
    if name == "hessp":
        hv, scale = reference_hessp(X, y, coef, v, **kw)
        _close(res, hv, scale, rtol, expect.dtype)
        return
    ref = reference(X, y, coef, **kw)
    if name == "value":
        loss, g = res, None
    elif name in ("value_and_grad", "__call__"):
        loss, g = res
    else:
        loss, g = None, res
    if loss is not None:
        assert isinstance(loss, float)
        _close(np.array(loss), np.array(ref.loss), np.array(ref.loss_scale), rtol, np.float64)
    if g is not None:
        if s["call"]["out"] is not None:
            assert g is s["call"]["out"]
        _close(g, ref.grad, ref.grad_scale, rtol, expect.dtype)


def _close(got, exp, scale, rtol, dtype):
    """Equal NaN pattern and infinities; finite entries within rtol of the scale."""
    got = np.asarray(got)
    assert got.dtype == np.dtype(dtype) or got.shape == (), (got.dtype, dtype)
    assert got.shape == exp.shape, (got.shape, exp.shape)
    g64 = got.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(g64), np.isnan(exp), err_msg="NaN pattern")
    fin = np.isfinite(exp)
    np.testing.assert_array_equal(g64[~fin & ~np.isnan(exp)], exp[~fin & ~np.isnan(exp)],
                                  err_msg="infinities")
    if fin.all() and np.isfinite(scale).all():
        assert_matches = np.abs(g64 - exp) <= rtol * scale + np.finfo(dtype).tiny
        assert assert_matches.all(), (g64, exp)
    else:
        np.testing.assert_allclose(g64[fin], exp[fin], rtol=10 * rtol,
                                   atol=rtol * float(np.max(np.abs(exp[fin]), initial=0.0)))


def _csr_part(part, fn):
    """A builder that replaces X's CSR with a copy whose ``part`` (data, indices,
    indptr) is fn(part): a malformed or special matrix."""
    def build(s):
        X = s["X"].copy()
        setattr(X, part, fn(getattr(X, part).copy()))
        s["X"] = X
        return s
    return build


def _sparse_ref(s):
    """The reference on the dense values of a CSR X."""
    X = s["X"]
    kw = {k: v for k, v in s["kw"].items() if k in ("loss", "fit_intercept", "l2",
                                                    "reduction", "sample_weight")}
    rows = s["call"]["rows"]
    if rows is not None:
        kw["rows"] = np.asarray(rows)
    return X.toarray().astype(np.float64), s["y"], s["coef"], s["v"], kw


def _decreasing(ip):
    ip[3] = ip[5] + 1
    return ip


def _index_out_of_range(ix):
    ix[4] = N + 6
    return ix


def _negative_index(ix):
    ix[2] = -1
    return ix


def _nan_data(d):
    d[2] = NAN
    return d


SPARSE = dict(kind="sparse", ref=_sparse_ref)
TABLE += [
    # --- sparse X (CSR): the clean call, keywords, malformed structures ----------
    Case("csr-clean", _set(), Result(), **SPARSE),
    Case("csr-rows-dup-negative", _set(rows=np.array([1, -1, 1, 6])), Result(), **SPARSE),
    Case("csr-out", _set(out=lambda s: np.full(N + 1, NAN)), Result(),
         apis=OUT_APIS, **SPARSE),
    Case("csr-logistic-y-above-1", _put("y", 3, 1.5), Raises(ValueError, _all(r"\by\b", "1.5")),
         loss="logistic", kind="sparse"),
    Case("csr-indptr-decreasing", _csr_part("indptr", _decreasing),
         Raises(ValueError, _all("X", "indptr", "row 3")), kind="sparse"),
    Case("csr-indptr-short", _csr_part("indptr", lambda ip: ip[:-1]),
         Raises(ValueError, _all("X", "indptr", "length")), kind="sparse"),
    Case("csr-index-out-of-range", _csr_part("indices", _index_out_of_range),
         Raises(ValueError, _all("X", "column index", str(N + 6))), kind="sparse"),
    Case("csr-index-negative", _csr_part("indices", _negative_index),
         Raises(ValueError, _all("X", "column index", "-1")), kind="sparse"),
    Case("csr-data-nan", _csr_part("data", _nan_data), PROPAGATES,
         obj_expect=Raises(ValueError, _all(r"\bX\b", "NaN or inf", r"data\[2\]")), **SPARSE),
    Case("csr-complex", _set(X=lambda s: s["X"].astype(np.complex128)),
         Raises(TypeError, _all("X", "complex")), kind="sparse"),
    Case("csr-coef-long", _set(coef=lambda s: np.zeros(N + 2)),
         Raises(ValueError, _all("coef", "shape")), kind="sparse"),
    Case("csr-y-short", _set(y=lambda s: s["y"][:-1]), Raises(ValueError, r"\by\b"),
         kind="sparse"),
    # --- the multinomial loss (API.md's row): labels, probabilities, coef ---------
    Case("mn-label-too-large", _put("y", 2, 3),
         Raises(ValueError, _all(r"\by\b", "label 3", r"\[0, 3\)")), kind="multinomial",
         # Objective infers 4 classes from the labels: then coef has the wrong shape
         obj_expect=Raises(ValueError, _all("coef", "shape", r"\(4, 4\)"))),
    Case("mn-label-negative", _put("y", 2, -1), Raises(ValueError, _all(r"\by\b", "-1")),
         kind="multinomial"),
    Case("mn-label-fraction", _set(y=lambda s: s["y"] + 0.5),
         Raises(ValueError, _all(r"\by\b", "integer")), kind="multinomial"),
    Case("mn-label-nan", _set(y=lambda s: np.where(s["y"] == s["y"][0], NAN, s["y"])),
         Raises(ValueError, _all(r"\by\b", "integer")), kind="multinomial"),
    Case("mn-label-strings", _set(y=lambda s: s["y"].astype(str)),
         Raises(TypeError, _all(r"\by\b", "dtype")), kind="multinomial"),
    Case("mn-proba-not-summing-to-1", _set(y=lambda s: np.full((M, 3), 0.3)),
         Raises(ValueError, _all(r"\by\b", "sum to 1", "row 0")), kind="multinomial"),
    Case("mn-proba-negative", _set(y=lambda s: np.tile([1.5, -0.5, 0.0], (M, 1))),
         Raises(ValueError, _all(r"\by\b", "non-negative")), kind="multinomial"),
    Case("mn-proba-wrong-classes", _set(y=lambda s: np.full((M, 4), 0.25)),
         Raises(ValueError, _all("coef", "shape")), kind="multinomial"),
    Case("mn-coef-1d", _set(coef=lambda s: np.zeros(N + 1)),
         Raises(ValueError, _all("coef", "2-D")), apis=FN_APIS, kind="multinomial"),
    Case("mn-y-3d", _set(y=lambda s: np.zeros((M, 3, 1))),
         Raises(ValueError, _all(r"\by\b", "shape")), kind="multinomial"),
]


def _pairs():
    out = []
    for c in TABLE:
        for api in c.apis:
            out.append(pytest.param(c, api, id=f"{c.kind}-{c.name}-{api}", marks=c.marks))
    return out


@pytest.mark.parametrize("case,api", _pairs())
def test_hostile_input(backend, case, api):
    s = case.build(_base(case.kind, case.loss))
    expect = case.obj_expect if (api.startswith("obj.") and case.obj_expect) else case.expect
    before = [_fingerprint(a) for a in _arguments(s)]
    if isinstance(expect, Raises):
        with pytest.raises(expect.exc, match=expect.match):
            _invoke(api, s, backend)
    else:
        name, res = _invoke(api, s, backend)
        _check_result(name, res, s, case, expect)
        if s["call"]["out"] is not None:               # written as asked: not compared
            s["call"]["out"] = None
            before[6] = _fingerprint(None)
    _same(before, [_fingerprint(a) for a in _arguments(s)])


def test_table_covers_every_entry_point_and_both_outcomes():
    """The table must be able to fail: both outcomes and every entry point appear."""
    apis = {a for c in TABLE for a in c.apis}
    assert apis == set(ALL_APIS)
    assert any(isinstance(c.expect, Raises) for c in TABLE)
    assert any(isinstance(c.expect, Result) for c in TABLE)
    # and the checks catch what they must: a wrong number, a modified argument
    s = _base("dense")
    name, res = _invoke("fn.value_and_grad", s, "numpy")
    with pytest.raises(AssertionError):
        _check_result(name, (res[0] * (1 + 1e-6), res[1]), s, TABLE[0], Result())
    before = [_fingerprint(a) for a in _arguments(s)]
    s["X"][0, 0] = np.nextafter(s["X"][0, 0], np.inf)    # one ulp
    with pytest.raises(AssertionError):
        _same(before, [_fingerprint(a) for a in _arguments(s)])


# ---------------------------------------------------------------------------
# what the table cannot express


@pytest.mark.parametrize("backend_", ["native", "numpy"])
def test_zero_stride_view_beyond_2_31_elements(backend_):
    """A zero-stride X of 2**24 + 3 rows x 129 columns (2.2e9 elements > 2**31, one row
    of memory): the sum over all rows equals the closed form m * l(z), computed here
    in float64 from the one row (int32 counts or offsets would break it)."""
    skip_if_no_native(backend_)
    m, n = 2 ** 24 + 3, 129
    assert m * n > 2 ** 31
    x = np.linspace(-1.0, 1.0, n)
    X = as_strided(x, (m, n), (0, x.strides[0]))
    y = as_strided(np.array([0.3]), (m,), (0,))
    coef = np.linspace(-0.01, 0.02, n + 1)
    before = [_fingerprint(a) for a in (x, coef)]
    L, g = fastgrad.value_and_grad(X, y, coef, fit_intercept=True, reduction="sum",
                                   l2=0.5, backend=backend_)
    z = float(x @ coef[:n] + coef[n])
    r = z - 0.3
    c = coef[:n]
    expL = m * 0.5 * r * r + 0.25 * float(c @ c)
    expg = np.r_[m * r * x + 0.5 * c, m * r]
    assert L == pytest.approx(expL, rel=1e-9)
    np.testing.assert_allclose(g, expg, rtol=1e-9, atol=1e-9 * m * abs(r))
    _same(before, [_fingerprint(a) for a in (x, coef)])


def test_n_threads_10000_starts_few_threads():
    """n_threads=10000 over 150 chunks: the thread count of the process stays bounded
    (capped at max(64, 4 x cores)); the result is bitwise the n_threads=1 result."""
    skip_if_no_native("native")
    from fastgrad._validation import MAX_THREADS
    X = as_strided(np.array([0.5]), (10 ** 7, 8), (0, 0))      # 152 chunks > MAX_THREADS
    y = as_strided(np.array([0.25]), (10 ** 7,), (0,))
    coef = np.linspace(-1, 1, 8)
    L1, g1 = fastgrad.value_and_grad(X, y, coef, n_threads=1, backend="native")
    start = len(os.listdir("/proc/self/task"))
    L, g = fastgrad.value_and_grad(X, y, coef, n_threads=10_000, backend="native")
    threads = len(os.listdir("/proc/self/task"))   # OpenMP keeps its pool: count it now
    assert threads - start <= MAX_THREADS, (start, threads)
    assert L == L1 and np.array_equal(g, g1)
    obj = fastgrad.Objective(X, y, n_threads=10_000, check_input=False, backend="native")
    Lo, go = obj(coef)
    assert Lo == L1 and np.array_equal(go, g1)
    assert len(os.listdir("/proc/self/task")) - start <= MAX_THREADS
