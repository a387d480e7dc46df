"""Ctrl-C during a long call (issue 7.2).

A child process starts a call over a zero-stride X of 2**32 rows x 8 columns
(3.4e10 elements, tens of seconds of work, 64 bytes of memory), printing
"started" just before it.  The parent waits for that line, lets the call run a
little, sends SIGINT and measures how long the child takes to report the
KeyboardInterrupt.  The child then makes another call and prints its result,
which the parent checks against the closed form: the process is still usable.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import skip_if_no_native

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOUND = 0.5          # seconds from SIGINT to KeyboardInterrupt (the bound)

CHILD = r"""
import sys, time
import numpy as np
from numpy.lib.stride_tricks import as_strided
import fastgrad

backend, api, nt = sys.argv[1], sys.argv[2], int(sys.argv[3])
x = np.linspace(-1.0, 1.0, 8)
X = as_strided(x, (2 ** 32, 8), (0, 8))
y = as_strided(np.array([0.25]), (2 ** 32,), (0,))
coef = np.linspace(0.1, 0.2, 8)
if api == "fn.value_and_grad":
    run = lambda: fastgrad.value_and_grad(X, y, coef, n_threads=nt, backend=backend)
elif api == "obj.hessp":
    obj = fastgrad.Objective(X, y, loss="logistic", n_threads=nt, backend=backend,
                             check_input=False)
    run = lambda: obj.hessp(coef, coef)
print("started", flush=True)
t0 = time.monotonic()
try:
    run()
    print("finished %.3f" % (time.monotonic() - t0), flush=True)
except KeyboardInterrupt:
    print("interrupted %.3f" % (time.monotonic() - t0), flush=True)
# still usable: a small call, and a copy of the big one on a few rows
L, g = fastgrad.value_and_grad(X[:1000], y[:1000], coef, n_threads=nt, backend=backend)
print("after %r %r" % (L, g.tolist()), flush=True)
"""


@pytest.mark.parametrize("backend,api,nt", [
    ("native", "fn.value_and_grad", 1),
    ("native", "fn.value_and_grad", 2),
    ("native", "obj.hessp", 2),
    ("numpy", "fn.value_and_grad", 1),
])
def test_sigint_interrupts_long_call(backend, api, nt):
    skip_if_no_native(backend)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with subprocess.Popen([sys.executable, "-c", CHILD, backend, api, str(nt)], cwd=REPO,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            line = proc.stdout.readline()
            assert line.strip() == "started", (line, proc.stderr.read())
            time.sleep(0.3)                       # the call is under way
            t_sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            line = proc.stdout.readline()
            elapsed = time.monotonic() - t_sent
            assert line.startswith("interrupted"), (line, proc.stderr.read())
            print(f"{backend} {api} n_threads={nt}: KeyboardInterrupt {elapsed:.3f} s "
                  "after SIGINT")
            assert elapsed < BOUND, f"KeyboardInterrupt after {elapsed:.3f} s (bound {BOUND} s)"
            # the rest of stdout (already partly in the reader's buffer), then stderr
            out = proc.stdout.read()
            err = proc.stderr.read()
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert out.startswith("after "), (out, err)
    L, g = [eval(part) for part in out[len("after "):].split(" ", 1)]   # noqa: S307
    # closed form: every row is x, so the mean loss is l(z) and the gradient x l'(z)
    import numpy as np
    x = np.linspace(-1.0, 1.0, 8)
    coef = np.linspace(0.1, 0.2, 8)
    r = float(x @ coef) - 0.25
    assert L == pytest.approx(0.5 * r * r, rel=1e-12)
    np.testing.assert_allclose(g, x * r, rtol=1e-12, atol=1e-15)
