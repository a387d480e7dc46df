"""Which backend runs a call: the compiled core when it imports, else NumPy."""
from . import _numpy_backend

try:
    from . import _native
    NATIVE_ERROR = None
except ImportError as exc:  # the build failed or was skipped
    _native = None
    NATIVE_ERROR = f"{type(exc).__name__}: {exc}"


def resolve(backend):
    """The module whose ``run`` does the arithmetic for ``backend`` (already checked)."""
    if backend == "numpy":
        return _numpy_backend
    if _native is not None:
        return _native
    if backend == "native":
        raise ImportError("fastgrad: backend='native' was requested but the compiled core "
                          f"fastgrad._native could not be imported ({NATIVE_ERROR}). "
                          "Reinstall with a C compiler available (pip install . -v shows "
                          "the build log), or use backend='numpy'.")
    return _numpy_backend


def omp_max_threads():
    return _native.omp_max_threads() if _native is not None else 1
