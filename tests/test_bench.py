"""``python -m fastgrad bench`` and its package fastgrad._bench.

The bench's numbers are not checked here (speed is claimed in benchmarks, never
in tests); what is checked: the command runs on a tiny case on each backend and
its agreement check passes, ``--json`` keeps its fields, the mode registry
dispatches, the case specs parse (and bad ones are usage errors), the data has
the shapes and orders asked for, and the bench and fastgrad itself work without
tqdm (an optional dependency, in the ``bench`` extra).
"""
import io
import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from conftest import NATIVE_AVAILABLE
from fastgrad._bench import cases, cli, reference, table, timing

BACKENDS = ["numpy"] + (["native"] if NATIVE_AVAILABLE else [])


def _bench(*argv):
    return subprocess.run([sys.executable, "-W", "error", "-m", "fastgrad", "bench", *argv],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bench_runs_a_tiny_case_and_writes_its_json_fields(tmp_path, backend):
    out = tmp_path / "b.json"
    proc = _bench("--cases", "logistic:300x7:float32:F,squared:300x7:float64:C:hessp",
                  "--repeat", "1", "--backend", backend, "--no-progress",
                  "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "logistic 300x7 f32 F" in proc.stdout
    assert "squared hessp 300x7 f64 C" in proc.stdout
    doc = json.loads(out.read_text())
    assert {"fastgrad_version", "config", "machine", "settings", "peers_skipped",
            "elapsed_s", "results"} <= set(doc)
    assert doc["settings"]["backend"] == backend
    assert len(doc["results"]) == 2
    for res in doc["results"]:
        assert {"loss", "n_samples", "n_features", "dtype", "order", "kind", "label",
                "X_bytes", "times", "numpy_over_fastgrad", "fastgrad_over_one_read",
                "fastgrad_GBps", "check", "check_tolerance", "peer_notes"} <= set(res)
        assert set(res["times"]) == {"one_read", "fastgrad", "numpy"}
        assert res["check"]["fastgrad"]["ok"]
        assert res["X_bytes"] == 300 * 7 * (4 if res["dtype"] == "float32" else 8)


def test_bench_usage_errors():
    proc = _bench("--cases", "squared:10by3")
    assert proc.returncode == 2
    assert "bad shape '10by3'" in proc.stderr
    proc = _bench("--cases", "hinge:10x3")
    assert proc.returncode == 2 and "loss must be one of" in proc.stderr
    proc = _bench("--threads", "0")
    assert proc.returncode == 2 and "--threads must be >= 1" in proc.stderr
    proc = _bench("--sparse", "--list-cases", "--not-an-option")
    assert proc.returncode == 2


def test_list_cases_and_the_full_preset():
    proc = _bench("--list-cases", "--full")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # 4 shapes x 2 orders x 2 kinds x 2 losses, plus the 3 per-call cases, plus the
    # 3 log-link losses x 2 dtypes x 2 orders x 2 kinds on 500000x100
    assert len(lines) == 4 * 2 * 2 * 2 + 3 + 3 * 2 * 2 * 2
    assert lines[0].split()[-1] == "squared:500000x100:float64:C:vg"


def test_parse_cases_groups_cases_that_share_an_array():
    got = cases.parse_cases("squared:10x3,logistic:20x3:f32:F:hessp,logistic:10x3")
    assert [c.spec() for c in got] == ["squared:10x3:float64:C:vg",
                                       "logistic:10x3:float64:C:vg",
                                       "logistic:20x3:float32:F:hessp"]
    with pytest.raises(ValueError, match="order must be"):
        cases.parse_cases("squared:10x3:float64:K")
    with pytest.raises(ValueError, match="no cases"):
        cases.parse_cases(" , ")


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_make_data_repeats_drawn_rows_only_when_asked(order, dtype):
    full = cases.make_data(50, 4, dtype, order, seed=3)
    rep = cases.make_data(50, 4, dtype, order, seed=3, draw_rows=16)
    for d in (full, rep):
        X = d["X"]
        assert X.shape == (50, 4) and X.dtype == np.dtype(dtype)
        assert X.flags.c_contiguous if order == "C" else X.flags.f_contiguous
        assert set(d["y"]) == {"squared", "logistic", "poisson", "gamma", "tweedie1.5"}
        assert d["y"]["poisson"].min() >= 0 and d["y"]["gamma"].min() > 0
        assert set(np.unique(d["y"]["logistic"])) <= {0.0, 1.0}
    assert len(np.unique(full["X"][:, 0])) == 50
    np.testing.assert_array_equal(rep["X"][16:32], rep["X"][:16])
    np.testing.assert_array_equal(rep["X"][48:], rep["X"][:2])
    # as many rows as drawn: the same values as one draw of the whole array
    np.testing.assert_array_equal(cases.make_data(16, 4, dtype, order, seed=3)["X"],
                                  cases.make_data(16, 4, dtype, order, seed=3,
                                                  draw_rows=16)["X"])


def test_reference_expressions_against_closed_forms():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5))
    coef, v = rng.standard_normal(5), rng.standard_normal(5)
    y = (rng.random(40) < 0.5).astype(float)
    z = X @ coef
    loss, g = reference.numpy_twopass(X, y, coef, "logistic")
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(loss, np.sum(np.logaddexp(0, z) - y * z), rtol=1e-12)
    np.testing.assert_allclose(g, X.T @ (p - y), rtol=1e-12)
    h = reference.numpy_hess_diag(X, y, coef, "logistic")
    np.testing.assert_allclose(reference.numpy_hessp(X, h, v),
                               X.T @ (p * (1 - p) * (X @ v)), rtol=1e-12)
    loss, g = reference.numpy_twopass(X, y, coef, "squared")
    np.testing.assert_allclose(loss, 0.5 * np.sum((z - y) ** 2), rtol=1e-12)
    Y = np.eye(3)[rng.integers(0, 3, 40)]
    W = rng.standard_normal((5, 3))
    loss, G = reference.numpy_softmax_twopass(X, W, Y)
    Z = X @ W
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss, -np.sum(Y * np.log(P)), rtol=1e-12)
    np.testing.assert_allclose(G, X.T @ (P - Y), rtol=1e-12)
    # the log-link losses: API.md's closed forms
    yc = rng.poisson(1.0, 40) + 0.5
    for name, p in (("poisson", 1.0), ("gamma", 2.0), ("tweedie1.5", 1.5)):
        a, b = np.exp((2 - p) * z), yc * np.exp((1 - p) * z)
        ell = a - yc * z if p == 1 else z + b if p == 2 else a / (2 - p) - b / (1 - p)
        loss, g = reference.numpy_twopass(X, yc, coef, name)
        np.testing.assert_allclose(loss, np.sum(ell), rtol=1e-12)
        np.testing.assert_allclose(g, X.T @ (a - b), rtol=1e-12)
        np.testing.assert_allclose(reference.numpy_hess_diag(X, yc, coef, name),
                                   (2 - p) * a - (1 - p) * b, rtol=1e-12)


def test_round_robin_counts_every_call():
    calls = {"a": 0, "b": 0}

    def f(k):
        def g():
            calls[k] += 1
        return g

    t = timing.time_round_robin({"a": f("a"), "b": f("b")}, repeat=3, min_time=0,
                                warmup=False)
    assert calls == {"a": 3, "b": 3}
    assert all(len(t[k]["samples"]) == 3 and t[k]["number"] == 1 for k in t)
    timing.time_round_robin({"a": f("a")}, repeat=2, min_time=0)
    assert calls["a"] == 3 + 1 + 2  # one warm-up call, then a call a sample


def test_every_mode_is_a_module_with_run_and_a_flag(monkeypatch):
    parser = cli.build_parser()
    flags = {a for action in parser._actions for a in action.option_strings}
    for mode in cli.MODES:
        assert mode.flag in flags
        assert callable(cli._module(mode.module).run)
    assert callable(cli._module(cli.DEFAULT).run)
    seen = []
    import fastgrad._bench.sparse as sparse_mode
    monkeypatch.setattr(sparse_mode, "run", lambda args: seen.append(args.cases) or 7)
    assert cli.main(["--sparse", "--cases", "squared:10x3:0.5"]) == 7
    assert seen == ["squared:10x3:0.5"]


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_plain_progress_prints_a_line_per_case_on_a_terminal():
    tty = _Tty()
    bar = table.PlainProgress(2, "fastgrad bench", tty)
    for label in ("first case", "second case"):
        bar.set_postfix_str(label)
        bar.update(1)
    bar.close()
    assert tty.getvalue().splitlines() == ["fastgrad bench: [1/2] first case",
                                           "fastgrad bench: [2/2] second case"]
    quiet = _Tty()
    off = table.PlainProgress(2, "x", quiet, enabled=False)
    off.set_postfix_str("a")
    piped = io.StringIO()
    table.PlainProgress(2, "x", piped).set_postfix_str("a")
    assert quiet.getvalue() == "" and piped.getvalue() == ""


def test_fastgrad_and_the_bench_work_without_tqdm():
    code = textwrap.dedent("""
        import sys
        sys.modules["tqdm"] = None          # import tqdm now raises ImportError
        import numpy as np
        import fastgrad
        X = np.arange(12.0).reshape(4, 3)
        loss, g = fastgrad.value_and_grad(X, np.ones(4), np.zeros(3), backend="numpy")
        assert abs(loss - 0.5) < 1e-12, loss          # mean of 0.5 * (0 - 1)^2
        np.testing.assert_allclose(g, -X.mean(axis=0))
        from fastgrad._bench import table
        assert isinstance(table.progress(1, "d", sys.stderr), table.PlainProgress)
        from fastgrad._bench.cli import main
        assert main(["--cases", "squared:64x4", "--repeat", "1", "--backend", "numpy"]) == 0
        assert "tqdm" not in [m for m in sys.modules if sys.modules[m] is not None]
        print("ok without tqdm")
    """)
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok without tqdm" in proc.stdout


def test_asv_finds_only_the_benchmarks_each_file_defines():
    """asv takes every module-level name starting with time_, track_, peakmem_ or mem_
    for a benchmark: a helper imported under such a name (time_round_robin) breaks
    `asv check` and `asv run`."""
    import importlib
    import os
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, repo)
    try:
        names = sorted(f[:-3] for f in os.listdir(os.path.join(repo, "benchmarks"))
                       if f.startswith("bench_") and f.endswith(".py"))
        assert names
        for name in names:
            mod = importlib.import_module(f"benchmarks.{name}")
            for attr, obj in vars(mod).items():
                if attr.startswith(("time_", "track_", "peakmem_", "mem_")) and callable(obj):
                    assert getattr(obj, "__module__", None) == mod.__name__, (name, attr)
    finally:
        sys.path.remove(repo)


@pytest.mark.skipif(timing._others_running() is None, reason="needs /proc/self/task (Linux)")
def test_settle_waits_while_another_thread_runs_and_not_after():
    # a thread that runs without the GIL (NumPy's sort releases it) is seen as
    # running; settle() waits for it up to its timeout, and returns at once
    # when the other threads sleep
    import threading
    big = np.random.default_rng(0).standard_normal(2_000_000)
    stop = threading.Event()
    seen = []

    def busy():
        while not stop.is_set():
            np.sort(big)

    t = threading.Thread(target=busy)
    t.start()
    try:
        for _ in range(2000):
            seen.append(timing._others_running())
            if seen[-1]:
                break
            time.sleep(0.001)
        waited = timing.settle(timeout=0.05)
    finally:
        stop.set()
        t.join()
    assert max(seen) >= 1
    assert waited >= 0.05
    assert timing.settle(timeout=5.0) < 5.0


def test_round_robin_settled_runs_every_call():
    calls = []
    t = timing.time_round_robin({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                                repeat=2, min_time=0, warmup=False, settled=True)
    assert sorted(calls) == ["a", "a", "b", "b"]
    assert all(len(v["samples"]) == 2 for v in t.values())
