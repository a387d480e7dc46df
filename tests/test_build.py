"""The installed package is the compiled one, and its stubs match it."""
import os
import subprocess
import sys

import pytest


def test_native_core_is_built():
    """Every backend-parametrised test skips 'native' when the core is missing, so
    this test is what makes a broken build fail. FASTGRAD_ALLOW_NO_NATIVE=1 opts out
    (a machine with no C compiler, on purpose)."""
    if os.environ.get("FASTGRAD_ALLOW_NO_NATIVE", "") not in ("", "0"):
        pytest.skip("FASTGRAD_ALLOW_NO_NATIVE is set")
    from fastgrad import _backends
    assert _backends.NATIVE_ERROR is None, _backends.NATIVE_ERROR
    import fastgrad._native as nat
    assert nat.simd_selected()
    assert isinstance(nat.have_vector_paths(), bool)


def test_native_stub_matches_module():
    pytest.importorskip("mypy")
    from fastgrad import _backends
    if _backends.NATIVE_ERROR is not None:
        pytest.skip("no compiled core to check the stub against")
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "fastgrad._native"],
                       capture_output=True, text=True, cwd=os.path.dirname(__file__))
    assert r.returncode == 0, r.stdout + r.stderr
