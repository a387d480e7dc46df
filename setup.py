"""Build of the compiled core (fastgrad._native).

Portable by default: -O3, no -march=native.  SIMD paths for AVX2 and AVX-512
are compiled side by side in src_c/ (GCC target_clones) and chosen at run time.
OpenMP is used when the compiler has it; without it the build still works and
runs single-threaded.  FASTGRAD_NO_OPENMP=1 forces the build without OpenMP;
FASTGRAD_SANITIZE=1 builds with AddressSanitizer and UBSan (see tools/).
"""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup


def _compiler():
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return cc.split()


def _has_openmp():
    """True when the C compiler can build and link a program with -fopenmp."""
    if os.environ.get("FASTGRAD_NO_OPENMP", "") not in ("", "0"):
        return False
    if sys.platform == "win32":
        return False
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n"
    d = tempfile.mkdtemp()
    try:
        with open(os.path.join(d, "t.c"), "w") as f:
            f.write(src)
        cmd = _compiler() + ["-fopenmp", "t.c", "-o", "t"]
        r = subprocess.run(cmd, cwd=d, capture_output=True)
        return r.returncode == 0
    except OSError:
        return False
    finally:
        shutil.rmtree(d, ignore_errors=True)


openmp = _has_openmp()
compile_args = ["-O3", "-fno-math-errno", "-fno-trapping-math"] if sys.platform != "win32" else ["/O2"]
link_args = []
if sys.platform != "win32":
    # the `#pragma omp simd` loops vectorise without pulling in the OpenMP runtime
    compile_args.append("-fopenmp-simd")
if openmp:
    compile_args.append("-fopenmp")
    link_args.append("-fopenmp")
if os.environ.get("FASTGRAD_SANITIZE", "") not in ("", "0"):
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
    compile_args = [a for a in compile_args if a != "-O3"] + ["-O1"] + san
    link_args += san
    # target_clones (ifunc) and the sanitizers' early initialisation do not mix
    compile_args.append("-DFG_NO_CLONES")

print(f"fastgrad build: OpenMP {'on' if openmp else 'off'}", file=sys.stderr)

ext = Extension(
    "fastgrad._native",
    sources=["fastgrad/_native.pyx", "src_c/fastgrad_kernels.c", "src_c/fg_csr.c"],
    include_dirs=["src_c", np.get_include()],
    define_macros=[
        ("NPY_NO_DEPRECATED_API", "NPY_1_22_API_VERSION"),
        ("FASTGRAD_OPENMP", "1" if openmp else "0"),
    ],
    extra_compile_args=compile_args,
    extra_link_args=link_args,
    # every header, so that editing any of them rebuilds the extension
    depends=sorted(glob.glob("src_c/*.h")),
)

setup(
    ext_modules=cythonize(
        [ext],
        compiler_directives={"language_level": "3"},
        compile_time_env={},
    ),
)
