"""Where the time of fastgrad's CSR kernels goes: tools/csr_bounds.c on the
matrices of ``python -m fastgrad bench --sparse``.

    python tools/csr_bounds.py [--cases SPEC] [--repeat N]

Builds each matrix with ``fastgrad._bench.sparse.make_csr`` (same seed, same
arrays as the bench), writes it to a temporary file, compiles
tools/csr_bounds.c together with src_c/fg_csr.c (the kernels as built, run-time
SIMD dispatch included) and runs it: fastgrad's kernel, SciPy's loops written
in C, and lower bounds (a flat gather and scatter over the same indices, with
no row structure; and bound_blocked, the gather and scatter in the kernel's
two passes per block of 64 rows, with none of its per-row work).  float64
values, int32 indices, one thread.  Needs a C compiler (cc, or $CC) and scipy.
"""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from fastgrad._bench.sparse import DEFAULT_CASES, make_csr, parse_cases  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=DEFAULT_CASES, help="LOSS:MxN:DENSITY specs, as the bench")
    ap.add_argument("--repeat", type=int, default=11)
    args = ap.parse_args()
    cc = shlex.split(os.environ.get("CC", "cc"))
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "csr_bounds")
        flags = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd"]
        subprocess.run(cc + flags + ["-I", os.path.join(ROOT, "src_c"),
                                     os.path.join(HERE, "csr_bounds.c"),
                                     os.path.join(ROOT, "src_c", "fg_csr.c"), "-o", exe, "-lm"],
                       check=True)
        for loss, m, n, dens, dt in parse_cases(args.cases):
            if dt != "float64":
                print(f"skipped {loss}:{m}x{n}:{dens}:{dt} (float64 only)")
                continue
            X, coef, ys = make_csr(m, n, dens, dt)
            if X.indices.dtype != np.int32:
                print(f"skipped {loss}:{m}x{n}:{dens} (int64 indices)")
                continue
            path = os.path.join(d, "x.bin")
            with open(path, "wb") as f:
                np.array([m, n, X.nnz, loss == "logistic"], dtype=np.int64).tofile(f)
                X.indptr.astype(np.int32).tofile(f)
                X.indices[:X.nnz].tofile(f)
                X.data[:X.nnz].tofile(f)
                coef.tofile(f)
                ys[loss].tofile(f)
            del X, coef, ys
            sys.stdout.flush()
            subprocess.run([exe, path, str(args.repeat)], check=True)


if __name__ == "__main__":
    main()
