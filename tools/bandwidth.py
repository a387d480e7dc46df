"""How fast this machine reads memory on 1 and on 2 threads: the ceiling for
the speed-up of 2 threads of fastgrad against 1.

    python tools/bandwidth.py [--mb 400] [--repeat 15] [--threads 1 2] [--streams 1 4]

Sums a float64 array of --mb megabytes (far beyond the caches) with a
vectorised C loop (tools/bandwidth.c, OpenMP, built here and called through
ctypes), on each thread count in turn, round-robin; prints medians in ms and
GB/s.  If one thread of fastgrad already streams X at B1 GB/s and two threads
of this loop reach B2, two threads of fastgrad can be at most B2 / B1 times
faster than one.  --streams reads each thread's range as that many equal
parts in lockstep (the row paths' four quarters): does one core read faster
from several streams than from one?  Needs a C compiler with OpenMP (cc, or
$CC).
"""
import argparse
import ctypes
import os
import shlex
import subprocess
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--streams", type=int, nargs="+", default=[1],
                    help="streams per thread to compare (1: front to back)")
    args = ap.parse_args()
    x = np.random.default_rng(0).standard_normal(args.mb * 1_000_000 // 8)
    cc = shlex.split(os.environ.get("CC", "cc"))
    with tempfile.TemporaryDirectory() as d:
        so = os.path.join(d, "bandwidth.so")
        subprocess.run(cc + ["-O3", "-fopenmp", "-shared", "-fPIC",
                             os.path.join(HERE, "bandwidth.c"), "-o", so], check=True)
        lib = ctypes.CDLL(so)
        lib.bw_sum.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_int]
        lib.bw_sum.restype = ctypes.c_double
        lib.bw_sum_streams.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_int,
                                       ctypes.c_int]
        lib.bw_sum_streams.restype = ctypes.c_double
        ref = float(np.sum(x))
        for ns in args.streams:
            got = lib.bw_sum_streams(x.ctypes.data, x.size, 1, ns)
            assert abs(got - ref) <= 1e-9 * float(np.sum(np.abs(x))), (ns, got, ref)
        times = {(t, ns): [] for t in args.threads for ns in args.streams}
        for _ in range(args.repeat):
            for t, ns in times:
                s = time.perf_counter()
                if ns == 1:
                    lib.bw_sum(x.ctypes.data, x.size, t)
                else:
                    lib.bw_sum_streams(x.ctypes.data, x.size, t, ns)
                times[t, ns].append(time.perf_counter() - s)
    for (t, ns), ts in times.items():
        med = float(np.median(ts))
        print(f"{t} thread{'s' if t > 1 else ' '}, {ns} stream{'s' if ns > 1 else ' '}: "
              f"{med * 1e3:7.1f} ms  {x.nbytes / med / 1e9:5.1f} GB/s "
              f"(sum of {x.nbytes / 1e6:.0f} MB, median of {args.repeat})")
    s0 = args.streams[0]
    if len(args.threads) > 1:
        t0, t1 = args.threads[0], args.threads[-1]
        print(f"{t1} threads / {t0} ({s0} stream{'s' if s0 > 1 else ''}): "
              f"{np.median(times[t0, s0]) / np.median(times[t1, s0]):.2f}x")
    for ns in args.streams[1:]:
        for t in args.threads:
            print(f"{t} thread{'s' if t > 1 else ''}: {ns} streams / {s0}: "
                  f"{np.median(times[t, ns]) / np.median(times[t, s0]):.2f}x the time")


if __name__ == "__main__":
    main()
