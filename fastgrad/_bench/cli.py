"""The command line of ``python -m fastgrad bench``: the options every mode
shares, and the registry of modes.

A mode is a module of this package with ``run(args) -> exit status`` (args: the
argparse result).  The default mode is ``dense``; every other one is chosen by
its flag.  To add one: write ``fastgrad/_bench/<module>.py`` with ``run(args)``
(and, for options of its own, ``add_arguments(group)``, which gets an argparse
argument group) and add one ``Mode`` line to ``MODES``.  A mode module imports
only the standard library and NumPy at import time (``--help`` imports every
mode); scipy, matplotlib, peers and the like are imported inside ``run``.
Bad input of a mode raises ``UsageError``, which is printed as a usage error.
"""
import argparse
import importlib
from typing import NamedTuple

from .cases import SPEC_HELP


class UsageError(ValueError):
    """Bad command-line input: printed with the usage, exit status 2."""


class Mode(NamedTuple):
    flag: str    # the option that selects the mode, e.g. "--sparse"
    module: str  # the module of fastgrad._bench that runs it
    help: str


#: the default mode, when no mode flag is given
DEFAULT = "dense"

#: every other mode, one line each
MODES = [
    Mode("--sparse", "sparse",
         "time a scipy.sparse CSR X against scipy's X.T @ (X @ coef - y) and "
         "X.T @ (expit(X @ coef) - y), one thread each (and fastgrad with --threads K); "
         "--cases then takes LOSS:MxN:DENSITY[:DTYPE] specs (default: a text-like "
         "1000000x100000 at density 1e-4, logistic, and 2000000x1000 at density 1e-2, "
         "squared); needs scipy"),
    Mode("--roofline", "roofline",
         "each call's time against its roofline, max(one read of X, its FMAs at the "
         "GEMM rate), both measured here with --threads: the CPU, ISA clone and caches, "
         "then a fixed case set (squared/logistic/hessp/multinomial, C and F, f64 and "
         "f32, 64x32) with the path fastgrad.explain names"),
    Mode("--sklearn", "sklearn_fits",
         "time scikit-learn fits (LogisticRegression, TweedieRegressor, PoissonRegressor, "
         "GammaRegressor, LogisticRegressionCV) stock against fastgrad.sklearn.patch(), and "
         "scikit-learn-intelex and glum where installed, one thread; --cases then takes "
         "case names, 'default' or 'small'; needs scikit-learn"),
]


def _dest(mode):
    return "mode_" + mode.flag.lstrip("-").replace("-", "_")


def _module(name):
    return importlib.import_module(f"{__package__}.{name}")


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m fastgrad bench",
        description="Time fastgrad.value_and_grad beside one read of X (X @ coef) and "
                    "the two-pass NumPy expression, on the same arrays in one process. "
                    "fastgrad is called with reduction='sum' so that the numbers are "
                    "those of the NumPy expressions, and each case checks that they "
                    "agree. Times are medians over --repeat round-robin repeats.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--threads", type=int, default=1, metavar="K",
                   help="threads for fastgrad (n_threads=K) and for BLAS/OpenMP "
                        "(threadpoolctl.threadpool_limits(K))")
    p.add_argument("--repeat", type=int, default=7, metavar="N",
                   help="timing samples per method; the table shows their median")
    p.add_argument("--cases", default="default", metavar="SPEC", help=SPEC_HELP)
    p.add_argument("--full", action="store_true",
                   help="the large set: 500000x100 f64 and f32, 40000x1000, 4000000x8, "
                        "each C and F, squared and logistic, value_and_grad and hessp, "
                        "plus the 64x32 per-call cases (same as --cases full; takes "
                        "several minutes)")
    p.add_argument("--list-cases", action="store_true",
                   help="print the selected cases and exit")
    p.add_argument("--peers", action="store_true",
                   help="also time scikit-learn, PyTorch, tabmat and Numba where they "
                        "import (each is skipped with a note otherwise)")
    p.add_argument("--backend", default="auto", choices=("auto", "native", "numpy"),
                   help="the fastgrad backend to time")
    p.add_argument("--json", metavar="FILE", help="write all results (and the machine's "
                   "fastgrad._config.config()) as JSON to FILE")
    p.add_argument("--plot", metavar="FILE.png",
                   help="draw the times relative to one read with matplotlib")
    p.add_argument("--seed", type=int, default=0, help="seed of the random data")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it goes to stderr, and only to a terminal; "
                        "without tqdm, a plain line per case)")
    modes = p.add_mutually_exclusive_group()
    for mode in MODES:
        modes.add_argument(mode.flag, dest=_dest(mode), action="store_true", help=mode.help)
    for name in [DEFAULT] + [m.module for m in MODES]:
        add = getattr(_module(name), "add_arguments", None)
        if add is not None:
            add(p.add_argument_group(f"options of the {name} mode"))
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1; got {args.threads}")
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1; got {args.repeat}")
    name = next((m.module for m in MODES if getattr(args, _dest(m))), DEFAULT)
    try:
        return _module(name).run(args)
    except UsageError as exc:
        parser.error(str(exc))
