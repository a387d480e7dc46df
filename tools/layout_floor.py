"""What a one-pass fused gradient cannot go below on this machine, by memory layout:
BLAS's one read of X beside loops that only do a fused kernel's memory accesses.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python tools/layout_floor.py \
        [--cases 500000x100F64 ...] [--rounds 7] [--blocks 64,128,...] [--groups 1,4,8,16]
        [--pf 1] [--quick]

A fused kernel needs each row twice (z_i = x_i . coef, then grad += d_i x_i), so
it must read a block of B rows from memory and use the block again from cache.
For an F-ordered X a block of B rows is n column segments of B contiguous values:
n memory streams per block, where BLAS's one read (``X @ coef`` on F order sweeps
the columns in address order) is a single stream, or a few.  For a C-ordered X the block
is one contiguous range.  Each case (MxN, order C or F, 64 or 32 bits) is built,
timed and freed in turn; in one process, round-robin (each round calls each
method once, the order rotating), one thread:

- one read: ``X @ coef`` (BLAS pinned to 1 thread with threadpoolctl), the unit;
- fastgrad ``value_and_grad(X, y, coef, n_threads=1)``, squared and logistic;
- loops from tools/layout_floor.c on the same array, through ctypes, which sum
  the values they load and do no gradient arithmetic: ``seq`` (all of X once in
  address order: the pure read floor; also as 2 and 4 concurrent streams, the
  halves or quarters of X in turn, since a few streams can read faster than
  one), ``block1`` (each block of B rows once: for F order column segment by
  column segment, ``g=1``, or g columns at a time in lockstep, a line of each
  in turn, as fastgrad's column path reads 8 columns at a time; for C order one
  contiguous range: the memory part of the blocked access) and ``block2``
  (block1 plus a second pass over each block right after its first, from
  cache: the floor of a one-pass fused kernel with blocks of B rows; for C
  order also with the block's rows g at a time in lockstep), for each
  B of --blocks and g of --groups, without and with software prefetch --pf
  blocks ahead (for block2 also spread over both passes, so that memory stays
  busy during the pass from cache).

Prints, per case, medians in ms, GB/s (bytes of X / time) and each as a multiple
of the one read; then the best block1 and block2 (min over B, g and prefetch)
and the best seq as multiples of the one read.  The best block2 is the floor of
a one-pass fused kernel with row blocks on this machine and layout: a kernel
that reads X in any of these orders, and does its arithmetic on top, cannot be
faster (only other access orders than those tried here could).  Each loop's
sum is checked against NumPy's once, before the timings.  Needs a C compiler
(cc, or $CC); -mavx2 -mfma are added when /proc/cpuinfo lists them.  The
default run takes about 2 to 3 minutes; --quick (3 rounds, 2 block sizes, g 1
and 8, cases of 125,000 rows when --cases is not given) about 10 s.  Pin
nothing else to these cores while it runs.
"""
import argparse
import ctypes
import gc
import os
import re
import shlex
import subprocess
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastgrad  # the installed one (or PYTHONPATH's)
from fastgrad._bench import suite

HERE = os.path.dirname(os.path.abspath(__file__))

DEFAULT_CASES = [f"{s}{o}{b}" for s, b in [("500000x100", 64), ("500000x100", 32),
                                            ("40000x1000", 64), ("4000000x8", 64)]
                 for o in "CF"]
QUICK_CASES = ["125000x100C64", "125000x100F64", "125000x100F32"]


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def build(d):
    cc = shlex.split(os.environ.get("CC", "cc"))
    flags = ["-O3"]
    if {"avx2", "fma"} <= cpu_flags():
        flags += ["-mavx2", "-mfma"]
    so = os.path.join(d, "layout_floor.so")
    subprocess.run(cc + flags + ["-shared", "-fPIC", os.path.join(HERE, "layout_floor.c"),
                                 "-o", so], check=True)
    lib = ctypes.CDLL(so)
    P, Z, I = ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_int
    for s in "df":
        getattr(lib, f"lf_seq_{s}").argtypes = [P, Z, Z, Z]
        getattr(lib, f"lf_seq_{s}").restype = ctypes.c_double
        getattr(lib, f"lf_seqk_{s}").argtypes = [P, Z, I]
        getattr(lib, f"lf_seqk_{s}").restype = ctypes.c_double
        for k, extra in (("block1", 1), ("block2", 2), ("block1c", 0), ("block2c", 1)):
            getattr(lib, f"lf_{k}_{s}").argtypes = [P, Z, Z, Z, Z, I] + [I] * extra
            getattr(lib, f"lf_{k}_{s}").restype = ctypes.c_double
        getattr(lib, f"lf_block2cg_{s}").argtypes = [P, Z, Z, Z, Z, I]
        getattr(lib, f"lf_block2cg_{s}").restype = ctypes.c_double
    return lib, " ".join(flags)


def parse_case(spec):
    r = re.fullmatch(r"(\d+)x(\d+)([CF])(64|32)", spec)
    if not r:
        raise SystemExit(f"bad case {spec!r}: want MxN, C or F, 64 or 32, e.g. 500000x100F64")
    return int(r[1]), int(r[2]), r[3], np.float64 if r[4] == "64" else np.float32


def run_case(lib, spec, rounds, blocks, pf, groups):
    m, n, order, dt = parse_case(spec)
    d = suite.data(m, n, dt, order)
    X, coef, y, yl = d["X"], d["coef"], d["y"]["squared"], d["y"]["logistic"]
    s = "d" if dt == np.float64 else "f"
    assert X.flags.c_contiguous if order == "C" else X.flags.f_contiguous
    p = X.ctypes.data
    # X is contiguous, in either order: one segment of m * n values
    seq = lambda: getattr(lib, f"lf_seq_{s}")(p, X.size, 1, X.size)  # noqa: E731
    seqk = getattr(lib, f"lf_seqk_{s}")
    pfs = [(0, 0)] + [(pf, 0)] * (pf > 0)  # (prefetch distance, spread)
    if order == "F":
        ld = X.strides[1] // X.itemsize
        b1f, b2f = getattr(lib, f"lf_block1_{s}"), getattr(lib, f"lf_block2_{s}")
        gs = sorted({min(g, n) for g in groups})  # g > n reads as g = n
        b1 = {f"g={g} ": (lambda B, q, g=g: b1f(p, m, n, ld, B, q, g)) for g in gs}
        b2 = {f"g={g} ": (lambda B, q, sp, g=g: b2f(p, m, n, ld, B, q, sp, g)) for g in gs}
    else:
        ld = X.strides[0] // X.itemsize
        b1c, b2c = getattr(lib, f"lf_block1c_{s}"), getattr(lib, f"lf_block2c_{s}")
        b2cg = getattr(lib, f"lf_block2cg_{s}")
        b1 = {"": lambda B, q: b1c(p, m, n, ld, B, q)}
        b2 = {"": lambda B, q, sp: b2c(p, m, n, ld, B, q, sp)}
        # rows g at a time in lockstep (g streams), no prefetch: g > 1 only
        for g in sorted({g for g in groups if g > 1}):
            b2[f"g={g} rows "] = lambda B, q, sp, g=g: b2cg(p, m, n, ld, B, min(g, B))

    methods = {
        "one read X @ coef (BLAS)": (lambda: X @ coef, None),
        "fastgrad squared": (lambda: fastgrad.value_and_grad(X, y, coef, n_threads=1), None),
        "fastgrad logistic": (lambda: fastgrad.value_and_grad(X, yl, coef, loss="logistic",
                                                              n_threads=1), None),
        "seq (one read, 1 stream)": (seq, 1),
    }
    for k in (2, 4):
        methods[f"seq, {k} streams"] = (lambda k=k: seqk(p, X.size, k), 1)
    for tag, f in b1.items():
        for B in blocks:
            for q, _ in pfs:
                methods[f"block1 {tag}B={B} pf={q}"] = (lambda f=f, B=B, q=q: f(B, q), 1)
    for tag, f in b2.items():
        for B in blocks:
            for q, sp in pfs + [(pf, 1)] * (pf > 0):
                if tag.endswith("rows ") and (q or sp):
                    continue  # the lockstep rows have no prefetching variant
                methods[f"block2 {tag}B={B} pf={q}{' spread' * sp}"] = (
                    lambda f=f, B=B, q=q, sp=sp: f(B, q, sp), 2)

    # each loop once, checked against NumPy's sum (this is also the warm-up)
    ref = float(X.sum(dtype=np.float64))
    tol = float(np.abs(X).sum(dtype=np.float64)) * (1e-9 if dt == np.float64 else 1e-4)
    sink = 0.0
    with threadpool_limits(1):
        for k, (f, mult) in methods.items():
            r = f()
            if mult is not None:
                if abs(r - mult * ref) > mult * tol:
                    raise SystemExit(f"{spec} {k}: sum {r!r}, NumPy's x {mult}: {mult * ref!r}")
                sink += r
        names = list(methods)
        times = {k: [] for k in names}
        for i in range(rounds):
            for j in range(len(names)):
                k = names[(i + j) % len(names)]
                f = methods[k][0]
                t = time.perf_counter()
                r = f()
                times[k].append(time.perf_counter() - t)
                if methods[k][1] is not None:
                    sink += r
    med = {k: float(np.median(ts)) for k, ts in times.items()}
    one = med["one read X @ coef (BLAS)"]
    mb = X.nbytes / 1e6
    print(f"\n{m} x {n} {np.dtype(dt).name} {order} ({mb:.0f} MB), 1 thread, "
          f"medians of {rounds} rounds")
    for k in names:
        print(f"  {k:32s} {med[k] * 1e3:8.2f} ms {mb / 1e3 / med[k]:6.1f} GB/s "
              f"{med[k] / one:6.2f}x one read")
    for kind in ("block1", "block2"):
        best = min((k for k in names if k.startswith(kind)), key=med.get)
        print(f"  best {kind}: {best[len(kind) + 1:]}: {med[best] * 1e3:.2f} ms = "
              f"{med[best] / one:.2f}x one read")
    best_seq = min((k for k in names if k.startswith("seq")), key=med.get)
    print(f"  best read ({best_seq}): {med[best_seq] / one:.2f}x one read")
    print(f"  fastgrad squared {med['fastgrad squared'] / one:.2f}x, "
          f"logistic {med['fastgrad logistic'] / one:.2f}x one read", flush=True)
    del X, y, yl, methods, seq, seqk
    gc.collect()
    return sink


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=None,
                    help="MxN, C or F, 64 or 32 (default: " + " ".join(DEFAULT_CASES) + ")")
    ap.add_argument("--rounds", type=int, default=None, help="default 7 (3 with --quick)")
    ap.add_argument("--blocks", default=None,
                    help="block sizes B in rows, comma-separated "
                         "(default 64,128,256,512,1024,2048,4096; 256,2048 with --quick)")
    ap.add_argument("--pf", type=int, default=1,
                    help="prefetch distance in blocks of the prefetching variants (default 1)")
    ap.add_argument("--groups", default=None,
                    help="F order: columns read in lockstep by block1/block2, comma-separated "
                         "(default 1,4,8,16; 1,8 with --quick)")
    ap.add_argument("--quick", action="store_true", help="a short check")
    args = ap.parse_args()
    cases = args.cases or (QUICK_CASES if args.quick else DEFAULT_CASES)
    rounds = args.rounds or (3 if args.quick else 7)
    blocks = [int(b) for b in (args.blocks or ("256,2048" if args.quick else
                                               "64,128,256,512,1024,2048,4096")).split(",")]
    groups = [int(g) for g in (args.groups or ("1,8" if args.quick else "1,4,8,16")).split(",")]
    for c in cases:
        parse_case(c)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        lib, flags = build(d)
        print(f"layout_floor.c built with {flags}; "
              f"fastgrad from {os.path.dirname(fastgrad.__file__)}")
        sink = 0.0
        for c in cases:
            sink += run_case(lib, c, rounds, blocks, args.pf, groups)
    print(f"\n({time.perf_counter() - t0:.0f} s; checksum of the loops' sums {sink:.6g})")


if __name__ == "__main__":
    main()
