"""Build of the compiled core (fastgrad._native).

Portable by default: -O3, no -march=native.  The kernels are compiled once per
instruction set (baseline, AVX2, AVX-512: src_c/fg_isa.h) and one clone is chosen
at import (FASTGRAD_ISA caps it).
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
from setuptools.command.build_ext import build_ext as _build_ext


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
    # the baseline clone only (src_c/fg_isa.h): a third of the build; the clones'
    # code is the same source compiled for another instruction set
    compile_args.append("-DFG_NO_CLONES")

print(f"fastgrad build: OpenMP {'on' if openmp else 'off'}", file=sys.stderr)

ext = Extension(
    "fastgrad._native",
    sources=["fastgrad/_native.pyx", "src_c/fastgrad_kernels.c", "src_c/fg_csr.c",
             # the ISA clones and the table that picks one (fg_isa.h)
             "src_c/fg_isa.c", "src_c/fg_dense_avx2.c", "src_c/fg_dense_avx512.c",
             "src_c/fg_csr_avx2.c", "src_c/fg_csr_avx512.c"],
    include_dirs=["src_c", np.get_include()],
    define_macros=[
        ("NPY_NO_DEPRECATED_API", "NPY_1_22_API_VERSION"),
        ("FASTGRAD_OPENMP", "1" if openmp else "0"),
    ],
    extra_compile_args=compile_args,
    extra_link_args=link_args,
    # every header, and the two C files the ISA clones' wrappers include, so that
    # editing any of them rebuilds the extension
    depends=sorted(glob.glob("src_c/*.h")) + ["src_c/fastgrad_kernels.c", "src_c/fg_csr.c"],
)

class build_ext(_build_ext):
    """With -j N, compiles the C files of one extension N at a time: the ISA
    clones are translation units of their own (src_c/fg_isa.h), and distutils
    otherwise compiles an extension's sources one after another."""

    def build_extension(self, ext):
        cc = self.compiler
        jobs = self.parallel if isinstance(self.parallel, int) else 0
        if jobs < 2 or cc.compiler_type != "unix":
            return super().build_extension(ext)
        from concurrent.futures import ThreadPoolExecutor

        def compile(sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                    extra_preargs=None, extra_postargs=None, depends=None):
            macros, objects, extra_postargs, pp_opts, build = cc._setup_compile(
                output_dir, macros, include_dirs, sources, depends, extra_postargs)
            cc_args = cc._get_cc_args(pp_opts, debug, extra_preargs)

            def one(obj):
                if obj in build:
                    src, suffix = build[obj]
                    cc._compile(obj, src, suffix, cc_args, extra_postargs, pp_opts)

            with ThreadPoolExecutor(jobs) as pool:
                list(pool.map(one, objects))
            return objects

        cc.compile = compile
        try:
            return super().build_extension(ext)
        finally:
            del cc.compile


setup(
    cmdclass={"build_ext": build_ext},
    ext_modules=cythonize(
        [ext],
        compiler_directives={"language_level": "3"},
        compile_time_env={},
    ),
)
