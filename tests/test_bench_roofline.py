"""python -m fastgrad bench --roofline: the machine facts, the rates and the table."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import NATIVE_AVAILABLE

from fastgrad._bench import roofline as R

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_case_set_is_the_issue_table_plus_glm_and_64x32():
    labels = [c.label for c in R.full_cases()]
    assert len(labels) == len(set(labels)) == 25
    for want in ("squared 500000x100 f32 F", "logistic 4000000x8 f64 F",
                 "squared 40000x1000 f64 F", "hessp logistic 500000x100 f64 C",
                 "multinomial 500000x100 f64 C K=32", "multinomial 500000x100 f64 F K=10",
                 "poisson 500000x100 f64 F", "gamma 500000x100 f64 C",
                 "tweedie(1.5) 500000x100 f64 F", "squared 64x32 f64 C"):
        assert want in labels


def test_bytes_and_fmas():
    c = R.RCase("logistic", 1000, 30, "float32", "F")
    assert c.nbytes == 1000 * 30 * 4
    assert c.fmas == 2 * 1000 * 30               # z = X coef, then X^T d
    assert R.RCase("logistic", 10, 3, op="hessp").fmas == 3 * 10 * 3
    assert R.RCase("multinomial", 10, 3, K=7).fmas == 2 * 10 * 3 * 7
    assert R.RCase("tweedie", 10, 3, power=1.5).fmas == 2 * 10 * 3


@pytest.mark.skipif(not NATIVE_AVAILABLE, reason="no compiled core")
@pytest.mark.parametrize("loss,power", [("poisson", None), ("gamma", None), ("tweedie", 1.5)])
def test_glm_cases_run_with_their_domain_and_power(loss, power):
    """The log-link rows build y in their loss's domain and pass power on."""
    c = R.RCase(loss, 300, 7, power=power)
    X, y, coef, v = R.with_x(R.make_x(c), c)
    assert (y > 0).all() if loss == "gamma" else (y >= 0).all()
    fixed = {"read": 1e9, "fma_float64": 1e9, "fma_float32": 1e9}
    r = R.measure_case(c, fixed, repeat=1, data=(X, y, coef, v))
    assert r["time"] > 0 and r["path"] == "rows"


def test_cache_sizes_are_plausible():
    caches, where = R.cache_sizes()
    assert where
    sizes = [caches.get(k) for k in ("L1d", "L2", "L3")]
    if sys.platform.startswith("linux") and os.path.isdir("/sys/devices/system/cpu/cpu0/cache"):
        assert sizes[0] and sizes[1]
    got = [s for s in sizes if s]
    assert got == sorted(got) and all(s >= 4096 for s in got)


@pytest.mark.skipif(not NATIVE_AVAILABLE, reason="no compiled core")
def test_roofline_is_the_larger_bound():
    """With a read bandwidth of 1 byte/s the read bounds the call, with 1 FMA/s the FMAs."""
    c = R.RCase("squared", 200, 5)
    slow_read = {"read": 1.0, "fma_float64": 1e30, "fma_float32": 1e30}
    r = R.measure_case(c, slow_read, repeat=1)
    assert r["bound"] == "read" and r["roofline"] == pytest.approx(200 * 5 * 8)
    assert r["ratio"] == pytest.approx(r["time"] / (200 * 5 * 8))
    slow_fma = {"read": 1e30, "fma_float64": 1.0, "fma_float32": 1.0}
    r = R.measure_case(c, slow_fma, repeat=1)
    assert r["bound"] == "FMA" and r["roofline"] == pytest.approx(2 * 200 * 5)


@pytest.mark.skipif(not NATIVE_AVAILABLE, reason="no compiled core")
def test_cli_quick_run():
    env = dict(os.environ, PYTHONPATH=REPO, FASTGRAD_ISA="baseline")
    r = subprocess.run([sys.executable, "-W", "error", "-m", "fastgrad", "bench",
                        "--roofline", "--quick", "--repeat", "1"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(r"^ISA\s+: baseline", out, re.M), out
    assert re.search(r"^read\s+: [0-9.]+ GB/s", out, re.M), out
    assert re.search(r"^GEMM\s+: [0-9.]+ GFMA/s f64", out, re.M), out
    rows = [ln for ln in out.splitlines()
            if re.match(r"^(hessp )?(squared|logistic|multinomial) \d+x\d+", ln)]
    assert len(rows) == 19, out
    for ln in rows:
        ratio = float(re.search(r" (?:read|FMA)\s+([0-9.]+)", ln).group(1))
        assert np.isfinite(ratio) and ratio > 0
