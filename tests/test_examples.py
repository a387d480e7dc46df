"""The scripts in examples/ and ``python -m fastgrad demo`` run and print what they promise.

Each runs as a subprocess (sys.executable, warnings as errors) on a small problem.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("scipy")  # every example and the demo's fits use scipy.optimize

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TIMEOUT = 120


def _run(args, check=True):
    proc = subprocess.run([sys.executable, "-W", "error", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT)
    if check:
        assert proc.returncode == 0, (
            f"{args} exited with {proc.returncode}\nstdout:\n{proc.stdout}\n"
            f"stderr:\n{proc.stderr}")
    return proc


def _number(pattern, text):
    """The float captured by pattern's group 1 in text (fails the test if absent)."""
    match = re.search(pattern, text)
    assert match, f"no line matching {pattern!r} in:\n{text}"
    return float(match.group(1))


def test_examples_directory_is_complete():
    names = {p.name for p in EXAMPLES.glob("*.py")}
    assert {"lbfgs_logistic.py", "newton_cg_hessp.py", "minibatch_sgd.py"} <= names
    for name in names:
        text = (EXAMPLES / name).read_text()
        assert text.lstrip().startswith('"""'), f"{name} has no module docstring"


def test_lbfgs_logistic():
    out = _run([str(EXAMPLES / "lbfgs_logistic.py"), "--n-samples", "2000",
                "--n-features", "8"]).stdout
    assert re.search(r"fastgrad \+ L-BFGS-B: \d+ iterations", out), out
    try:
        import sklearn  # noqa: F401
    except ImportError:
        assert "scikit-learn is not installed" in out
        return
    assert _number(r"max \|proba difference\| = (\S+),", out) < 1e-6, out
    assert _number(r"relative coef difference = (\S+),", out) < 1e-5, out
    assert "same predicted class for 100.00% of rows" in out, out


def test_newton_cg_hessp():
    out = _run([str(EXAMPLES / "newton_cg_hessp.py"), "--n-samples", "2000",
                "--n-features", "8"]).stdout
    diffs = [float(x) for x in
             re.findall(r"relative difference to the closed-form ridge solution (\S+)", out)]
    assert len(diffs) == 2 and max(diffs) < 1e-6, out
    assert _number(r"trust-ncg vs Newton-CG: relative difference of coefficients (\S+)",
                   out) < 1e-5, out
    assert len(re.findall(r"hessp calls", out)) == 4, out


def test_minibatch_sgd():
    out = _run([str(EXAMPLES / "minibatch_sgd.py"), "--n-samples", "3000",
                "--epochs", "3"]).stdout
    losses = [float(x) for x in re.findall(r"^epoch \d+\s+loss (\S+)$", out, re.M)]
    assert len(losses) == 4, out
    assert losses[-1] < losses[0] and losses[1] < losses[0], out
    assert re.search(r"loss decreased from \S+ to \S+: yes", out), out


def test_demo_quick():
    out = _run(["-m", "fastgrad", "demo", "--quick"]).stdout
    for backend in ("native", "numpy"):
        row = re.search(rf"^{backend}\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)$", out, re.M)
        assert row, out
        assert int(row.group(1)) > 0 and float(row.group(2)) > 0
    assert re.search(r"^speedup of native over numpy: \S+x total fit time, \S+x per gradient$",
                     out, re.M), out
    agreement = re.search(r"^agreement: max relative difference of coefficients = (\S+) ",
                          out, re.M)
    assert agreement and float(agreement.group(1)) < 1e-6, out


def test_demo_options():
    out = _run(["-m", "fastgrad", "demo", "--n-samples", "1500", "--n-features", "7",
                "--threads", "1"]).stdout
    assert "1,500 x 7 float64" in out and "threads=1" in out, out
    assert "agreement:" in out


def test_demo_help():
    help_text = _run(["-m", "fastgrad", "demo", "--help"]).stdout
    for option in ("--n-samples", "--n-features", "--threads", "--quick"):
        assert option in help_text


def test_demo_without_scipy():
    """Without scipy the demo says how to install it and exits with 1."""
    code = ("import sys; sys.modules['scipy'] = None; sys.modules['scipy.optimize'] = None\n"
            "from fastgrad._demo import main\n"
            "sys.exit(main(['--quick']))")
    proc = _run(["-c", code], check=False)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "pip install scipy" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_threads_option_is_validated():
    proc = _run(["-m", "fastgrad", "demo", "--quick", "--threads", "0"], check=False)
    assert proc.returncode != 0
    assert "--threads" in proc.stderr
