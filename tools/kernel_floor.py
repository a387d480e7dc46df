"""The dense kernel alone against a read of X and y: is a case held back by the
machine's read, by the kernel's arithmetic, or by how the two overlap?

    python tools/kernel_floor.py [--cases 4000000x8:C:f64:logistic ...] [--rounds 7]

For each case (m x n, layout C or F, f64 or f32, loss squared / logistic /
hessp / multinomialK with K classes), in one process, 1 thread, round-robin over the rounds:

- read: a C loop that streams X and y once (8 independent sums a line): the
  bytes any one-pass kernel must bring from memory (y is 1/n of X's bytes,
  beyond the roofline's "one read of X");
- kernel: the core's own dense kernel (this CPU's ISA clone of src_c, compiled
  here into a shared library from tools/kernel_floor.c) over all rows in the
  package's planned chunks, with the package's plan (path, stream flags,
  block rows: fastgrad._plan.plan_dense), no Python or reduction around it;
- in cache: the same kernel, with the plan of the whole X (the same loops,
  prefetches and blocks), on a slice of 256 KiB of X (multinomial: half of L2),
  called until it has done m rows: its arithmetic alone, no memory traffic;
- package: fastgrad.value_and_grad (or hessp) on the same arrays.

Prints medians and each as a multiple of the read; kernel / max(read, in
cache) near 1 says the read and the arithmetic overlap fully.  KF_CFLAGS (e.g.
"-DNAME") is added to the kernel's compile line, to time a variant of src_c
without rebuilding the package.  Needs a C compiler (cc, or $CC); run from the repository root on an otherwise idle
machine (the host is shared: read ranges, not constants).
"""
import argparse
import ctypes
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import fastgrad  # noqa: E402
from fastgrad import _plan  # noqa: E402

CASES = ["4000000x8:C:f64:logistic", "4000000x8:F:f64:logistic", "4000000x8:C:f64:squared",
         "4000000x8:C:f64:hessp", "500000x100:C:f32:logistic", "500000x100:C:f32:squared",
         "500000x100:C:f64:logistic"]
SLICE_BYTES = 256 * 1024


def build():
    isa = fastgrad.explain(np.zeros((8, 2)), np.zeros(8), np.zeros(2))["isa"]
    src = {"avx512": "fg_dense_avx512.c", "avx2": "fg_dense_avx2.c"}.get(isa, "fastgrad_kernels.c")
    sfx = {"avx512": "_avx512", "avx2": "_avx2"}.get(isa, "_baseline")
    tmp = tempfile.mkdtemp(prefix="fg_kf_")
    lib = os.path.join(tmp, "kf.so")
    cc = shlex.split(os.environ.get("CC", "cc"))
    inc = os.path.join(ROOT, "src_c")
    cmd = cc + shlex.split(os.environ.get("KF_CFLAGS", "")) + ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd", "-shared",
                "-fPIC", f"-I{inc}", f"-DKF_SFX={sfx}", "-o", lib,
                os.path.join(HERE, "kernel_floor.c"), os.path.join(inc, src)]
    subprocess.run(cmd, check=True)
    L = ctypes.CDLL(lib)
    P, I, D = ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_int
    L.kf_read.restype = ctypes.c_double
    L.kf_read.argtypes = [P, I, P, I]
    L.kf_run.restype = ctypes.c_double
    L.kf_run.argtypes = [P, I, I, I, I, D, P, P, P, D, D, D, D, I, I, P, P, I, P]
    return L, isa


def parse(spec):
    shape, order, dt, kind = spec.split(":")
    m, n = (int(t) for t in shape.split("x"))
    return m, n, order, np.float32 if dt == "f32" else np.float64, kind


def med(f, rounds):
    return float(np.median([f() for _ in range(rounds)]))


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def run_case(L, spec, rounds):
    m, n, order, dt, kind = parse(spec)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((m, n)).astype(dt)
    X = np.asfortranarray(X) if order == "F" else X
    # multinomialK: K classes, y as integer labels (the kernel's lab)
    K = int(kind[len("multinomial"):]) if kind.startswith("multinomial") else 1
    if K > 1:
        y = rng.integers(0, K, m).astype(np.intp)
    else:
        y = (rng.standard_normal(m) > 0).astype(dt) if kind != "squared" else \
            rng.standard_normal(m).astype(dt)
    c = (rng.standard_normal((n, K) if K > 1 else n) / np.sqrt(n)).astype(dt)
    v = np.linspace(-1, 1, c.size).astype(dt).reshape(c.shape)
    loss = _plan.Loss.SQUARED if kind == "squared" else \
        _plan.Loss.MULTINOMIAL if K > 1 else _plan.Loss.LOGISTIC
    mode = _plan.Mode.HESSP if kind == "hessp" else _plan.Mode.GRAD
    isz = X.itemsize
    sr, sc = X.strides[0] // isz, X.strides[1] // isz
    g = np.zeros(n * K + K)
    work = np.zeros(1 << 17)
    rows = max(64, SLICE_BYTES // (n * isz)) // 8 * 8
    if K > 1:
        # the multinomial kernel's per-call set-up (coef transposed into its
        # tiles, g^T added back) is ~1,000 times a row's work: half of L2, so
        # that the slice's calls time the rows, not the set-up
        rows = max(rows, _plan.L2 // 2 // (n * isz) // 8 * 8)
    Xs = np.array(X[:rows], order=order)

    # the plan of the whole X for the slice too: the slice's own plan (a chunk
    # under L2/4) would take the in-cache loops, not the ones timed from memory
    p = _plan.plan_dense(m, n, K, isz, X.strides[0] // isz, X.strides[1] // isz,
                         loss, mode, False, 1)

    def kernel(A, mm, reps=1):
        args = (A.ctypes.data, mm, n, A.strides[0] // isz, A.strides[1] // isz, isz == 4,
                y.ctypes.data, c.ctypes.data, v.ctypes.data, int(loss), int(mode == 2),
                int(p.path), int(p.stream), int(p.block_rows), int(min(p.chunk_rows, mm)),
                g.ctypes.data, work.ctypes.data, K, y.ctypes.data if K > 1 else None)

        def f():
            for _ in range(reps):
                L.kf_run(*args)
        return f, p

    full, p = kernel(X, m)
    small, _ = kernel(Xs, rows, reps=max(1, m // rows))
    xd = X.reshape(-1, order="A").view(np.float64)   # the bytes of X, as doubles
    # y's bytes, as doubles (labels: as many doubles as labels, not their bits as doubles)
    yd = y.astype(np.float64) if K > 1 else y.view(np.float64) if isz == 8 else \
        y[: len(y) // 2 * 2].view(np.float64)
    read = lambda: L.kf_read(xd.ctypes.data, xd.size, yd.ctypes.data, yd.size)  # noqa: E731
    assert np.isclose(read(), xd.sum() + yd.sum(), rtol=1e-6, atol=1e-3 * np.sqrt(xd.size))
    if K > 1:
        pkg = lambda: fastgrad.value_and_grad(X, y, c, loss="multinomial",  # noqa: E731
                                              n_threads=1)
    elif kind == "hessp":
        pkg = lambda: fastgrad.hessp(X, y, c, v, loss="logistic", n_threads=1)  # noqa: E731
    else:
        pkg = lambda: fastgrad.value_and_grad(X, y, c, loss=kind, n_threads=1)  # noqa: E731
    fs = {"read": read, "kernel": full, "in cache": small, "package": pkg}
    ts = {k: [] for k in fs}
    with threadpool_limits(1):
        for f in fs.values():
            f()
        for r in range(rounds):
            for k in list(fs)[r % 4:] + list(fs)[: r % 4]:
                ts[k].append(timed(fs[k]))
    t = {k: float(np.median(v)) for k, v in ts.items()}
    one_x = X.nbytes / (X.nbytes + y.nbytes) * t["read"]
    print(f"{spec} ({p.path.label}, stream {p.stream:#x}, block {p.block_rows}): "
          + " | ".join(f"{k} {t[k] * 1e3:.1f} ms ({t[k] / t['read']:.2f})" for k in fs)
          + f" | kernel / max(read, in cache) {t['kernel'] / max(t['read'], t['in cache']):.2f}"
          + f" | read of X alone {one_x * 1e3:.1f} ms: kernel {t['kernel'] / one_x:.2f}x,"
          + f" package {t['package'] / one_x:.2f}x", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", nargs="*", default=CASES)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    L, isa = build()
    print(f"ISA clone {isa}; medians of {args.rounds} rounds, 1 thread; (x) = multiple of the "
          "read of X and y")
    for spec in args.cases:
        run_case(L, spec, args.rounds)


if __name__ == "__main__":
    main()
