"""show_config(): what is compiled in, the machine the plan reads, the defaults."""
import os
import platform
import sys

import numpy as np

from . import _backends, _plan, _validation

_MODES = ("stdout", "dicts")


def _size(b):
    return f"{b >> 20} MiB" if b >= 1 << 20 and b % (1 << 20) == 0 else f"{b >> 10} KiB"


def config():
    """The facts show_config prints, as a dict."""
    nat = _backends._native
    info = {
        "fastgrad": __import__("fastgrad").__version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu model": _plan.CPU_MODEL,
        "backend (auto)": "native" if nat is not None else "numpy",
    }
    for level in ("L1d", "L2", "L3"):
        size, source = _plan.CACHES[level]
        info[f"{level} cache"] = f"{_size(size)} ({source})"
    if nat is None:
        info["native"] = f"not available ({_backends.NATIVE_ERROR})"
        info["isa selected"] = None
        info["openmp"] = "no (no compiled core)"
        info["default n_threads"] = 1
        return info
    info["native"] = "fastgrad._native (Cython + C)"
    info["simd paths compiled"] = nat.simd_paths()
    info["simd path selected"] = nat.simd_selected()
    info["isa selected"] = _plan._isa()
    info["openmp"] = "yes" if nat.openmp_enabled() else "no (single-threaded build)"
    info["cores available"] = _validation._N_CPUS
    info["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "(unset)")
    info["default n_threads"] = _validation.check_n_threads(None)
    return info


def show_config(mode="stdout"):
    """What is compiled in and what the kernel plan reads from this machine:
    backend, CPU model, ISA clones compiled and selected, L1d/L2/L3 sizes (and
    where they were read from), OpenMP, the default thread count.

    ``mode="stdout"`` prints them (returns None); ``mode="dicts"`` returns them
    as a dict instead.
    """
    if type(mode) is not str or mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, _MODES))}; got {mode!r}")
    info = config()
    if mode == "dicts":
        return info
    width = max(map(len, info))
    for key, val in info.items():
        print(f"{key:<{width}} : {val}")
    return None
