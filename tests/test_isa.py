"""The ISA clones (baseline, AVX2, AVX-512) and FASTGRAD_ISA (API.md, "The kernel plan").

FASTGRAD_ISA is read at import, so its tests run a child Python with it set. The
results of every clone this CPU runs are compared with the NumPy backend in this
process: _native._select_isa switches the clone for one test (a private hook for
tests; a user sets FASTGRAD_ISA instead). CI also runs the results test files once
per runnable clone with FASTGRAD_ISA set (.ci/run).
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import fastgrad
from conftest import DTYPE_IDS, DTYPES, NATIVE_AVAILABLE, make_problem, rtol_for

pytestmark = pytest.mark.skipif(not NATIVE_AVAILABLE, reason="no compiled core")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = ("baseline", "avx2", "avx512")


def _nat():
    import fastgrad._native as nat
    return nat


def _child(isa, code="", warn_error=False):
    """Runs a child Python with FASTGRAD_ISA=isa (None: unset); returns
    (facts printed by the child, its stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "FASTGRAD_ISA"}
    if isa is not None:
        env["FASTGRAD_ISA"] = isa
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    prog = ("import json, warnings\n"
            "with warnings.catch_warnings(record=True) as ws:\n"
            "    warnings.simplefilter('always')\n"
            "    import fastgrad, fastgrad._native as nat\n"
            "facts = dict(selected=nat.isa_selected(), simd=nat.simd_selected(),\n"
            "             runnable=list(nat.isa_compiled_runnable()),\n"
            "             file=fastgrad.__file__,\n"
            "             warnings=[(w.category.__name__, str(w.message)) for w in ws])\n"
            + code +
            "print(json.dumps(facts))\n")
    args = [sys.executable] + (["-W", "error"] if warn_error else []) + ["-c", prog]
    r = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    facts = json.loads(r.stdout.strip().splitlines()[-1])
    assert facts["file"].startswith(REPO), facts["file"]
    return facts, r.stderr


def _best():
    return _nat().isa_compiled_runnable()[0]


# ---------------------------------------------------------------------------
# what is compiled, what runs


def test_names_and_masks():
    nat = _nat()
    compiled, runnable = nat.isa_compiled(), nat.isa_compiled_runnable()
    assert nat.ISA_NAMES == NAMES
    assert "baseline" in compiled and "baseline" in runnable
    assert set(runnable) <= set(compiled) <= set(NAMES)
    # best first, in the order of NAMES reversed
    assert list(compiled) == sorted(compiled, key=NAMES.index, reverse=True)
    assert list(runnable) == sorted(runnable, key=NAMES.index, reverse=True)
    assert nat.isa_selected() in runnable
    assert nat.simd_selected()


def test_compiled_clones_match_the_build():
    """GCC on x86-64 builds all three clones; anything else the baseline alone."""
    import platform
    import sysconfig
    nat = _nat()
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "").split()[0:1]
    gcc_x86 = (platform.machine().lower() in ("x86_64", "amd64") and cc
               and "gcc" in os.path.basename(cc[0]) and "clang" not in cc[0])
    if "-DFG_NO_CLONES" in os.environ.get("CFLAGS", ""):
        pytest.skip("CFLAGS has -DFG_NO_CLONES: the build may or may not be portable")
    if gcc_x86:
        assert nat.isa_compiled() == ("avx512", "avx2", "baseline")
    else:
        assert "baseline" in nat.isa_compiled()


def test_runnable_agrees_with_the_cpu_flags():
    """On Linux, /proc/cpuinfo's flags (what the kernel enables) say the same as the
    CPUID + XGETBV check of fg_isa.c."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(ln for ln in f if ln.startswith("flags")).split(":")[1].split()
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo")
    nat = _nat()
    v3 = {"avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm", "xsave"} <= set(flags)
    v4 = v3 and {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"} <= set(flags)
    run = nat.isa_compiled_runnable()
    if "avx2" in nat.isa_compiled():
        assert ("avx2" in run) == v3
    if "avx512" in nat.isa_compiled():
        assert ("avx512" in run) == v4


# ---------------------------------------------------------------------------
# FASTGRAD_ISA, read at import


def test_unset_selects_the_best_runnable_clone():
    facts, _ = _child(None, warn_error=True)
    assert facts["selected"] == facts["runnable"][0]
    assert facts["warnings"] == []


@pytest.mark.parametrize("isa", NAMES)
def test_each_value(isa):
    facts, _ = _child(isa)
    if isa in facts["runnable"]:
        assert facts["selected"] == isa
        assert facts["warnings"] == []
    else:
        # the CPU or the build cannot run it: the best runnable clone, and a warning
        # that names both
        assert facts["selected"] == facts["runnable"][0]
        [(cat, msg)] = facts["warnings"]
        assert cat == "RuntimeWarning"
        assert repr(isa) in msg and repr(facts["selected"]) in msg
    want = {"avx512": "AVX-512", "avx2": "AVX2", "baseline": "baseline"}[facts["selected"]]
    assert want in facts["simd"]


@pytest.mark.parametrize("value", ["avx1024", "sse2", "x86-64-v4", "avx-512", "none", "1"])
def test_unknown_value_warns_and_falls_back(value):
    facts, _ = _child(value)
    assert facts["selected"] == facts["runnable"][0]
    [(cat, msg)] = facts["warnings"]
    assert cat == "RuntimeWarning"
    assert repr(value) in msg and repr(facts["selected"]) in msg
    assert "baseline" in msg and "avx2" in msg and "avx512" in msg  # the valid names


def test_unknown_value_under_warnings_as_errors_still_imports():
    """-W error turns the warning into an exception at import: the import fails with
    that RuntimeWarning (naming the value), not with a crash of the process."""
    env = dict(os.environ, FASTGRAD_ISA="bogus", PYTHONPATH=REPO)
    r = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c",
                        "import fastgrad._native"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "RuntimeWarning" in r.stderr and "'bogus'" in r.stderr


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_is_unset(value):
    facts, _ = _child(value, warn_error=True)
    assert facts["selected"] == facts["runnable"][0]
    assert facts["warnings"] == []


def test_case_and_spaces_are_ignored():
    facts, _ = _child(" BaseLine ", warn_error=True)
    assert facts["selected"] == "baseline"


@pytest.mark.parametrize("isa", NAMES)
def test_child_results_equal_numpy_backend(isa):
    """The clone FASTGRAD_ISA picks computes what the NumPy backend computes."""
    X, y, coef, _ = make_problem(301, 13, loss="logistic", seed=3)
    code = ("import numpy as np\n"
            "rng = np.random.default_rng(3)\n"
            f"X = np.array({X.tolist()}); y = np.array({y.tolist()});\n"
            f"coef = np.array({coef.tolist()})\n"
            "L, g = fastgrad.value_and_grad(np.asfortranarray(X), y, coef, loss='logistic',\n"
            "                               backend='native')\n"
            "facts['L'] = L; facts['g'] = g.tolist()\n")
    facts, _ = _child(isa, code)
    L0, g0 = fastgrad.value_and_grad(X, y, coef, loss="logistic", backend="numpy")
    np.testing.assert_allclose(facts["L"], L0, rtol=1e-12)
    np.testing.assert_allclose(facts["g"], g0, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------------
# every runnable clone against the NumPy backend, in this process


@pytest.fixture(params=NAMES)
def clone(request):
    """Runs the test with each clone this CPU runs selected; restores the clone."""
    nat = _nat()
    isa = request.param
    if isa not in nat.isa_compiled_runnable():
        pytest.skip(f"this CPU or build does not run the {isa} clone")
    before = nat.isa_selected()
    assert nat._select_isa(isa) == isa
    try:
        yield isa
    finally:
        nat._select_isa(before)
    assert nat.isa_selected() == before


def _layout(X, layout):
    if layout == "C":
        return np.ascontiguousarray(X)
    if layout == "F":
        return np.asfortranarray(X)
    big = np.zeros((X.shape[0], 2 * X.shape[1]), X.dtype)
    big[:, ::2] = X
    return big[:, ::2]


def _close(a, b, dtype):
    rtol = rtol_for(dtype) * 100
    scale = max(float(np.max(np.abs(b))), 1.0)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)


# shapes that reach the row paths (C, strided), the column paths (F, n > 8), the
# small-n column path (F, n <= 8), the many-feature row path and the tails
SHAPES = [(517, 37), (1030, 5), (70, 130), (9, 3)]


@pytest.mark.parametrize("op", ["value_and_grad", "hessp", "value"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=[f"{m}x{n}" for m, n in SHAPES])
def test_clone_matches_numpy(clone, shape, dtype, layout, loss, op):
    m, n = shape
    X, y, coef, w = make_problem(m, n, loss=loss, fit_intercept=True, weights=True,
                                 dtype=dtype, seed=m + n)
    X = _layout(X, layout)
    v = np.linspace(-1, 1, coef.size).astype(dtype)
    kw = dict(loss=loss, fit_intercept=True, sample_weight=w, l2=0.3)
    nat_obj = fastgrad.Objective(X, y, backend="native", **kw)
    ref_obj = fastgrad.Objective(X, y, backend="numpy", **kw)
    if op == "value_and_grad":
        (L, g), (L0, g0) = nat_obj.value_and_grad(coef), ref_obj.value_and_grad(coef)
        _close(L, L0, dtype)
        _close(g, g0, dtype)
    elif op == "hessp":
        _close(nat_obj.hessp(coef, v), ref_obj.hessp(coef, v), dtype)
    else:
        _close(nat_obj.value(coef), ref_obj.value(coef), dtype)


@pytest.mark.parametrize("rows", [False, True], ids=["all", "rows"])
@pytest.mark.parametrize("loss", ["squared", "logistic", "multinomial"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_clone_matches_numpy_multi_output(clone, dtype, loss, rows):
    """k outputs (squared, logistic) and K = 5 classes (multinomial), C and F."""
    m, n, k = 403, 21, 5
    rng = np.random.default_rng(7)
    X = rng.standard_normal((m, n)).astype(dtype)
    if loss == "multinomial":
        y = rng.integers(0, k, m)
    elif loss == "logistic":
        y = rng.uniform(size=(m, k)).astype(dtype)
    else:
        y = rng.standard_normal((m, k)).astype(dtype)
    coef = (0.3 * rng.standard_normal((n, k))).astype(dtype)
    idx = rng.integers(-m, m, 250) if rows else None
    for layout in ("C", "F"):
        Xl = _layout(X, layout)
        L, g = fastgrad.value_and_grad(Xl, y, coef, loss=loss, rows=idx, backend="native")
        L0, g0 = fastgrad.value_and_grad(Xl, y, coef, loss=loss, rows=idx, backend="numpy")
        _close(L, L0, dtype)
        _close(g, g0, dtype)
        h = fastgrad.hessp(Xl, y, coef, coef[::-1].copy(), loss=loss, rows=idx,
                           backend="native")
        h0 = fastgrad.hessp(Xl, y, coef, coef[::-1].copy(), loss=loss, rows=idx,
                            backend="numpy")
        _close(h, h0, dtype)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("loss", ["squared", "logistic", "multinomial"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_clone_matches_numpy_csr(clone, dtype, loss, index_dtype):
    rng = np.random.default_rng(11)
    m, n = 600, 40
    X = sp.random(m, n, density=0.2, format="csr", random_state=11, dtype=dtype)
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    if loss == "multinomial":
        y, coef = rng.integers(0, 3, m), (0.3 * rng.standard_normal((n, 3))).astype(dtype)
    else:
        y = (rng.uniform(size=m) if loss == "logistic" else rng.standard_normal(m))
        y, coef = y.astype(dtype), (0.3 * rng.standard_normal(n)).astype(dtype)
    for idx in (None, rng.integers(0, m, 100)):
        L, g = fastgrad.value_and_grad(X, y, coef, loss=loss, rows=idx, backend="native")
        L0, g0 = fastgrad.value_and_grad(X, y, coef, loss=loss, rows=idx, backend="numpy")
        _close(L, L0, dtype)
        _close(g, g0, dtype)


@pytest.mark.parametrize("loss, bad", [("logistic", 1.5), ("poisson", -0.5), ("gamma", 0.0)])
def test_clone_y_range_check(clone, loss, bad):
    """The y check of the lean entry (fg_y_in_range) runs in the clone too."""
    X, y, coef, _ = make_problem(2000, 4, loss=loss)
    y = y.copy()
    y[1777] = bad
    with pytest.raises(ValueError, match=r"y\b.*" + loss + r"[\s\S]*1777|y must lie"):
        fastgrad.value_and_grad(X, y, coef, loss=loss, backend="native")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_clone_bitwise_across_threads(clone, dtype):
    X, y, coef, w = make_problem(20000, 24, loss="logistic", weights=True, dtype=dtype)
    ref = None
    for nt in (1, 2, 3):
        L, g = fastgrad.value_and_grad(X, y, coef, loss="logistic", sample_weight=w,
                                       n_threads=nt, backend="native")
        if ref is None:
            ref = (L, g)
        else:
            assert L == ref[0]
            np.testing.assert_array_equal(g, ref[1])


def test_clones_agree_with_each_other():
    """Every runnable clone gives the same numbers to rounding (they differ at most by
    FMA contraction and the order of a few sums)."""
    nat = _nat()
    X, y, coef, _ = make_problem(3001, 50, loss="logistic", seed=5)
    before = nat.isa_selected()
    out = {}
    try:
        for isa in nat.isa_compiled_runnable():
            nat._select_isa(isa)
            out[isa] = fastgrad.value_and_grad(X, y, coef, loss="logistic", backend="native")
    finally:
        nat._select_isa(before)
    L0, g0 = out["baseline"]
    for isa, (L, g) in out.items():
        np.testing.assert_allclose(L, L0, rtol=1e-13)
        np.testing.assert_allclose(g, g0, rtol=1e-11, atol=1e-15)
