"""show_config(): what is compiled in and what a call would use."""
import os
import platform
import sys

import numpy as np

from . import _backends, _validation


def config():
    """The facts show_config prints, as a dict."""
    nat = _backends._native
    info = {
        "fastgrad": __import__("fastgrad").__version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": f"{platform.system()} {platform.machine()}",
        "backend (auto)": "native" if nat is not None else "numpy",
    }
    if nat is None:
        info["native"] = f"not available ({_backends.NATIVE_ERROR})"
        return info
    info["native"] = "fastgrad._native (Cython + C)"
    info["simd paths compiled"] = nat.simd_paths()
    info["simd path selected"] = nat.simd_selected()
    info["openmp"] = "yes" if nat.openmp_enabled() else "no (single-threaded build)"
    info["cores available"] = _validation._N_CPUS
    info["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "(unset)")
    info["default n_threads"] = _validation.check_n_threads(None)
    return info


def show_config():
    """Print what is compiled in: backend, SIMD paths, OpenMP, threads."""
    info = config()
    width = max(map(len, info))
    for key, val in info.items():
        print(f"{key:<{width}} : {val}")
