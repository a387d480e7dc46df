"""How much arithmetic one core hides under a read from memory: the yardstick
for a "fastgrad ~ one read of X" target of cases whose arithmetic is not small.

    python tools/overlap.py [--mb 400] [--repeat 9]

For K = 0, 8, ..., 64 multiply-adds per 64-byte line (register work, no
memory of its own; tools/overlap.c, built here with -O3 -march=native and
called through ctypes), the same loop runs

- over a --mb MB float64 array from memory ("streamed"), and
- over a 256 KiB slice of it, again and again, for the same total work
  ("in cache": the arithmetic alone);

round-robin in one process, one thread, beside the BLAS read of the same
bytes as an (m, 100) matrix (X @ coef).  Three loop orders:

- interleaved: each line's K multiply-adds right after its read;
- phased: blocks of 64 lines (4 KiB), the block's reads, then its K
  multiply-adds per line in a phase of their own, then the block read again
  from L1: the order of a fused kernel, whose pointwise step needs a row's
  whole dot product before its axpy;
- phased + prefetch: the same, the next block prefetched line by line
  through the arithmetic phase.
  It prints medians, each as a
multiple of that read, and the streamed time against max(the loop's own read
at K = 0, in cache): 1.00 is perfect overlap, (read + in cache) / max none at
all.

Reading the output: where the streamed times sit at max(read, in cache),
this core hides register arithmetic under a stream from memory, and a
kernel whose full time is its in-cache time (tools/compute_floor.py) plus a
read is held back by its own loads and stores, not by the machine.  Needs a
C compiler (cc, or $CC).
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
KS = [0, 8, 16, 24, 32, 48, 64]
ORDERS = [("interleaved", "ov_"), ("phased", "ovb_"), ("phased + prefetch", "ovbp_")]
SLICE = 256 * 1024 // 8


def build(d):
    cc = shlex.split(os.environ.get("CC", "cc"))
    so = os.path.join(d, "overlap.so")
    src = os.path.join(HERE, "overlap.c")
    try:
        subprocess.run(cc + ["-O3", "-march=native", "-shared", "-fPIC", src, "-o", so],
                       check=True, capture_output=True)
    except subprocess.CalledProcessError:
        subprocess.run(cc + ["-O3", "-shared", "-fPIC", src, "-o", so], check=True)
    lib = ctypes.CDLL(so)
    fns = {}
    for _, pre in ORDERS:
        for k in KS:
            f = getattr(lib, f"{pre}{k}")
            f.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
            f.restype = ctypes.c_double
            fns[pre, k] = f
    return lib, fns


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    n = 100
    m = args.mb * 1_000_000 // (8 * n)
    X = np.random.default_rng(0).standard_normal((m, n))
    coef = np.full(n, 0.01)
    flat = X.reshape(-1)
    p = flat.ctypes.data
    reps = flat.size // SLICE
    sink = 0.0
    with tempfile.TemporaryDirectory() as d, threadpool_limits(1):
        _, fns = build(d)
        keys = list(fns)
        t_read, t_mem, t_l2 = [], {k: [] for k in keys}, {k: [] for k in keys}
        for _ in range(args.repeat):
            s = time.perf_counter()
            X @ coef
            t_read.append(time.perf_counter() - s)
            for key in keys:
                f = fns[key]
                s = time.perf_counter()
                sink += f(p, flat.size)
                t_mem[key].append(time.perf_counter() - s)
                s = time.perf_counter()
                for _ in range(reps):
                    sink += f(p, SLICE)
                t_l2[key].append(time.perf_counter() - s)
    rd = float(np.median(t_read))
    print(f"one read (X @ coef, {m} x {n} float64, {X.nbytes / 1e6:.0f} MB, 1 thread): "
          f"{rd * 1e3:.1f} ms; medians of {args.repeat}")
    for name, pre in ORDERS:
        s0 = float(np.median(t_mem[pre, 0]))
        print(f"\n{name}: the loop's own reads (K = 0, streamed): {s0 * 1e3:.1f} ms = "
              f"{s0 / rd:.2f}x one read")
        print(f"{'FMAs/line':>9} | {'in cache':>16} | {'streamed':>16} | "
              "streamed / max(K=0 streamed, in cache)")
        for k in KS:
            tm, tc = float(np.median(t_mem[pre, k])), float(np.median(t_l2[pre, k]))
            print(f"{k:9d} | {tc * 1e3:7.1f} ms {tc / rd:4.2f}x | {tm * 1e3:7.1f} ms {tm / rd:4.2f}x | "
                  f"{tm / max(s0, tc):.2f} (none at all: {(s0 + tc) / max(s0, tc):.2f})")
    if sink == 0.123:  # keeps the calls' results alive
        print(sink, file=sys.stderr)


if __name__ == "__main__":
    main()
