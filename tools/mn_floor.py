"""What stops the dense multinomial value_and_grad short of its roofline?

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python tools/mn_floor.py [--K 3 10 32] [--order C F]
        [--rounds 7]

For 500,000 x 100 float64 X (C- and F-ordered) and K classes, one thread, the same arrays,
round-robin, CPU time (time.process_time, so a neighbour taking the core does not
count; min over the rounds):

  read     one read of X (X @ coef[:, 0], a gemv): the memory floor
  gemm     the two products of the gradient alone, by OpenBLAS at this shape:
           Z = X @ coef and G = X^T @ D (D a stored (m, K) array): 2 m n K
           multiply-adds in two passes over X, no softmax
  fg       fastgrad.value_and_grad (loss="multinomial", reduction="sum")
  fg_l2    the same call on 2,000 rows (1.6 MB of f64, 76 % of an L2 of 2 MiB) repeated
           to cover m: the kernel's time with no memory traffic (tools/compute_floor.py's
           idea), plus each call's checks and set-up (about 20 us, 5 ms over the 250
           calls at K = 10); tools/kernel_floor.py's multinomialK cases time the kernel
           alone
  roofline max(read, 2 m n K / the GEMM rate of a square 1000 x 1000 product):
           what `python -m fastgrad bench --roofline` divides by

and prints each over the roofline.  `gemm` and `fg_l2` say whether a target is
held back by the machine (BLAS's own skinny products are as slow) or by the kernel.
"""
import argparse
import time

import numpy as np

import fastgrad


def cpu_min(fn, rounds):
    best = float("inf")
    for _ in range(rounds):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--K", type=int, nargs="+", default=[3, 10, 32])
    ap.add_argument("--m", type=int, default=500_000)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--order", nargs="+", default=["C", "F"])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    m, n = args.m, args.n
    rng = np.random.default_rng(0)
    P, Q = rng.standard_normal((1000, 1000)), rng.standard_normal((1000, 1000))
    with threadpool_limits(1):
        rate = 1e9 / cpu_min(lambda: P @ Q, args.rounds)
        for order in args.order:
            X = rng.standard_normal((m, n)) if order == "C" else rng.standard_normal((n, m)).T
            small = np.asarray(X[:2000], order=order)
            reps = m // small.shape[0]
            v = np.ones(n)
            t_read = cpu_min(lambda: X @ v, args.rounds)
            isa = fastgrad.explain(X, np.zeros(m, np.intp), np.zeros((n, 3)),
                                   loss="multinomial")["isa"]
            print(f"{order}-ordered, 1 thread; GEMM rate {rate / 1e9:.1f} GFMA/s, one read of X "
                  f"{t_read * 1e3:.1f} ms ({X.nbytes / t_read / 1e9:.1f} GB/s); {isa} clone")
            print(f"{'K':>3} {'roofline':>9} {'gemm':>16} {'fg':>16} {'fg_l2':>16}")
            for K in args.K:
                coef = rng.standard_normal((n, K)) / np.sqrt(n)
                y = rng.integers(0, K, m)
                D = rng.standard_normal((m, K))
                kw = dict(loss="multinomial", reduction="sum", n_threads=1)
                roof = max(t_read, 2 * m * n * K / rate)
                t_gemm = cpu_min(lambda: (X @ coef, X.T @ D), args.rounds)
                t_fg = cpu_min(lambda: fastgrad.value_and_grad(X, y, coef, **kw), args.rounds)
                ys = y[:small.shape[0]]
                t_l2 = cpu_min(lambda: [fastgrad.value_and_grad(small, ys, coef, **kw)
                                        for _ in range(reps)], args.rounds)
                print(f"{K:>3} {roof * 1e3:7.1f}ms "
                      + " ".join(f"{t * 1e3:7.1f}ms {t / roof:5.2f}x"
                                 for t in (t_gemm, t_fg, t_l2)))


if __name__ == "__main__":
    main()
