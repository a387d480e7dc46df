"""Two builds of fastgrad side by side in one process: is a change faster?

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python tools/ab_compare.py OLD_TREE \
        [--cases roofline | full | LABEL,LABEL,...] [--threads 1] [--rounds 7] [--quick]

OLD_TREE is a checkout with its extension built in place (``python setup.py
build_ext --inplace``).  Its ``fastgrad/`` is copied to a temporary folder as the
package ``fastgrad_old`` (every import inside fastgrad is relative, so the copy
runs its own plan and its own core), and the ``fastgrad`` importable here is the
new one.  Each case of ``bench --roofline``'s set (``--cases full``: of
``bench --full``'s, the Objective rows as Objective calls; or those whose label
contains one of the comma-separated strings of --cases, in either set) is built once and both builds'
calls are timed round-robin on the same arrays (the order rotating each round),
so a neighbour's load slows both alike.  Before timing, the two results are
compared (rtol 1e-10 in float64, 1e-4 in float32): a change that is faster but
gives other numbers is reported, not timed.

Prints per case the medians of both and new/old; below 1 the new build is faster.
"""
import argparse
import importlib
import os
import shutil
import sys
import tempfile

import numpy as np

import fastgrad
from fastgrad._bench.roofline import RCase, full_cases, make_x, with_x
from fastgrad._bench.timing import time_round_robin


def load_old(tree):
    src = os.path.join(os.path.abspath(tree), "fastgrad")
    if not os.path.isdir(src):
        sys.exit(f"{tree}: no fastgrad/ package there")
    if not any(f.startswith("_native") and f.endswith(".so") for f in os.listdir(src)):
        sys.exit(f"{src}: no built _native*.so (python setup.py build_ext --inplace)")
    tmp = tempfile.mkdtemp(prefix="fg_ab_")
    shutil.copytree(src, os.path.join(tmp, "fastgrad_old"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    sys.path.insert(0, tmp)
    return importlib.import_module("fastgrad_old"), tmp


def full_as_rcases():
    """bench --full's cases as roofline cases (op "objective": an Objective's call)."""
    from fastgrad._bench.cases import parse_cases, loss_kwargs
    out = []
    for c in parse_cases("full"):
        kw = loss_kwargs(c.loss)
        op = {"vg": "value_and_grad", "hessp": "hessp", "objective": "objective"}[c.kind]
        out.append(RCase(kw["loss"], c.m, c.n, c.dtype, c.order, op=op, power=kw.get("power")))
    return out


def label(case):
    return ("Objective " if case.op == "objective" else "") + case.label


def call(mod, case, data, threads):
    X, y, coef, v = data
    kw = dict(case.kwargs, reduction="sum", n_threads=threads)
    if case.op == "objective":
        obj = mod.Objective(X, y, **kw)
        return lambda: obj.value_and_grad(coef)
    if case.op == "hessp":
        return lambda: mod.hessp(X, y, coef, v, **kw)
    return lambda: mod.value_and_grad(X, y, coef, **kw)


def agree(a, b, dtype):
    rtol = 1e-10 if dtype == "float64" else 1e-4
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    return all(np.allclose(np.asarray(p), np.asarray(q), rtol=rtol, atol=rtol * np.abs(np.asarray(q)).max())
               for p, q in zip(a, b))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old_tree")
    ap.add_argument("--cases", default="roofline",
                    help="'roofline' (all of bench --roofline's cases), 'full' (bench "
                         "--full's) or comma-separated parts of the labels of either, e.g. "
                         "'f64 F,K=10'")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="rows divided by 8")
    args = ap.parse_args(argv)
    old, tmp = load_old(args.old_tree)
    try:
        cases = full_cases(8 if args.quick else 1)
        if args.cases == "full":
            cases = full_as_rcases()
        elif args.cases != "roofline":     # labels of either set, each case once
            keys = [s.strip() for s in args.cases.split(",") if s.strip()]
            found = {}
            for c in cases + full_as_rcases():
                if any(s in label(c) for s in keys):
                    found.setdefault(label(c), c)
            cases = list(found.values())
        print(f"old: {os.path.dirname(old.__file__)}  new: {os.path.dirname(fastgrad.__file__)}")
        print(f"threads {args.threads}, medians of {args.rounds} rounds, round-robin\n")
        print(f"{'case':40s} {'old':>10s} {'new':>10s} {'new/old':>8s}")
        for case in cases:
            data = with_x(make_x(case), case)
            f_old, f_new = (call(m, case, data, args.threads) for m in (old, fastgrad))
            if not agree(f_new(), f_old(), case.dtype):
                print(f"{label(case):40s} results differ: not timed")
                continue
            med = time_round_robin({"old": f_old, "new": f_new}, args.rounds, 0.02)
            to, tn = med["old"]["median"], med["new"]["median"]
            print(f"{label(case):40s} {to * 1e3:8.3f}ms {tn * 1e3:8.3f}ms {tn / to:8.3f}",
                  flush=True)
            del data, f_old, f_new
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
