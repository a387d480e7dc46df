"""Minibatch SGD on a logistic regression with ``rows=`` and a preallocated ``out=``.

Shows:
- ``obj.grad(coef, rows=batch, out=g)``: the gradient on a minibatch of row indices,
  computed without copying X[batch], written into the same buffer ``g`` every step
  (no allocation inside the loop);
- the full-data loss ``obj.value(coef)`` printed after every epoch, decreasing.

Run:  python examples/minibatch_sgd.py [--n-samples 50000] [--n-features 20] [--epochs 5]
"""
import argparse
import time

import numpy as np

import fastgrad


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-samples", type=int, default=50_000)
    p.add_argument("--n-features", type=int, default=20)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.5, help="initial step size")
    args = p.parse_args()
    m, n = args.n_samples, args.n_features

    rng = np.random.default_rng(0)
    X = rng.standard_normal((m, n))
    true_coef = rng.standard_normal(n)
    y = (rng.random(m) < 1.0 / (1.0 + np.exp(-(X @ true_coef + 0.5)))).astype(float)

    # reduction="mean": a minibatch gradient is an unbiased estimate of the full gradient
    obj = fastgrad.Objective(X, y, loss="logistic", fit_intercept=True, l2=1e-4)
    coef = np.zeros(obj.coef_shape)
    g = np.empty(obj.coef_shape)  # the gradient buffer, reused by every step

    losses = [obj.value(coef)]
    print(f"minibatch SGD on logistic regression, {m} x {n}, batch size {args.batch_size}")
    print(f"epoch 0  loss {losses[0]:.6f}")
    steps = 0
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(m)
        for start in range(0, m, args.batch_size):
            batch = order[start:start + args.batch_size]
            obj.grad(coef, rows=batch, out=g)
            coef -= (args.lr / epoch) * g  # a step size decaying per epoch
            steps += 1
        losses.append(obj.value(coef))
        print(f"epoch {epoch}  loss {losses[-1]:.6f}")
    elapsed = time.perf_counter() - t0
    decreased = losses[-1] < losses[0]
    print(f"{steps} steps in {elapsed:.3f} s ({1e6 * elapsed / steps:.0f} us/step); "
          f"loss decreased from {losses[0]:.6f} to {losses[-1]:.6f}: "
          f"{'yes' if decreased else 'NO'}")
    return 0 if decreased else 1


if __name__ == "__main__":
    raise SystemExit(main())
