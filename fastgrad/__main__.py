"""python -m fastgrad info | bench | demo"""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m fastgrad",
        description="fastgrad: loss and gradient of linear models in one pass over X.")
    sub = parser.add_subparsers(dest="command", metavar="{info,bench,demo}")
    sub.add_parser("info", help="print show_config(): backend, SIMD paths, OpenMP, threads")
    sub.add_parser("bench", help="time fastgrad against NumPy on a default workload",
                   add_help=False)
    sub.add_parser("demo", help="fit a logistic regression with L-BFGS on both backends",
                   add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "info":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        from ._config import show_config
        show_config()
        return 0
    if args.command == "bench":
        from ._bench.cli import main as bench_main
        return bench_main(rest)
    if args.command == "demo":
        from ._demo import main as demo_main
        return demo_main(rest)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
