"""python -m fastgrad.sklearn [--n-threads N] [--stats] script.py [args] | -m module [args]

Runs a script (or a module) with scikit-learn's LinearModelLoss patched, the
way ``python -m cProfile`` runs one: ``sys.argv`` is the script and its
arguments, ``__name__ == "__main__"``.  ``--stats`` prints the native and
fallback counts of ``fastgrad.sklearn.stats()`` to stderr at the end.
"""
import argparse
import os
import runpy
import sys


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m fastgrad.sklearn",
        description="Run a Python script with scikit-learn's linear-model objective "
                    "served by fastgrad (fastgrad.sklearn.patch()).")
    p.add_argument("--n-threads", type=int, default=None,
                   help="threads of each fastgrad call (default: the cores available)")
    p.add_argument("--stats", action="store_true",
                   help="print the native/fallback counts to stderr at the end")
    p.add_argument("-m", dest="module", default=None,
                   help="run a library module as a script (like python -m)")
    p.add_argument("script", nargs="?", help="the script to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    ns = p.parse_args(argv)
    if ns.module is None and ns.script is None:
        p.error("a script (or -m module) is required")
    if ns.n_threads is not None and ns.n_threads < 1:
        p.error(f"--n-threads must be >= 1; got {ns.n_threads}")

    from . import patch, stats
    patch(n_threads=ns.n_threads)
    try:
        if ns.module is not None:
            rest = ([ns.script] if ns.script is not None else []) + ns.args
            sys.argv = [ns.module] + rest
            runpy.run_module(ns.module, run_name="__main__", alter_sys=True)
        else:
            if not os.path.exists(ns.script):
                p.error(f"can't open file {ns.script!r}: no such file")
            sys.argv = [ns.script] + ns.args
            sys.path.insert(0, os.path.dirname(os.path.abspath(ns.script)))
            runpy.run_path(ns.script, run_name="__main__")
    finally:
        if ns.stats:
            s = stats()
            print(f"fastgrad.sklearn: {s['native']} calls served natively, "
                  f"{s['fallback']} fallbacks {s['fallback_by_reason']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
