"""Second-order fits: trust-ncg and Newton-CG with ``hessp=obj.hessp``.

Shows ``Objective.hessp(coef, v)``, the Hessian-vector product H(coef) @ v computed
in one pass over X without forming the Hessian, plugged into scipy's truncated-Newton
methods:

- ridge regression (``loss="squared"``, ``l2``, with intercept): the fit agrees with the
  closed-form solution of the normal equations;
- L2-regularised logistic regression (with intercept): converges in a few Newton
  iterations to a point where the gradient vanishes.

Run:  python examples/newton_cg_hessp.py [--n-samples 20000] [--n-features 30]
"""
import argparse
import time

import numpy as np
from scipy.optimize import minimize

import fastgrad


class CountHessp:
    """obj.hessp that counts its calls."""

    def __init__(self, obj):
        self.obj, self.calls = obj, 0

    def __call__(self, coef, v):
        self.calls += 1
        return self.obj.hessp(coef, v)


def fit(obj, method):
    hessp = CountHessp(obj)
    t0 = time.perf_counter()
    res = minimize(obj, np.zeros(obj.coef_shape), jac=True, hessp=hessp, method=method,
                   options={"gtol": 1e-10} if method == "trust-ncg" else {"xtol": 1e-12})
    elapsed = time.perf_counter() - t0
    gnorm = np.linalg.norm(obj.grad(res.x))
    print(f"  {method:<10} {res.nit:3d} iterations, {res.nfev:3d} (loss, grad) and "
          f"{hessp.calls:3d} hessp calls, {elapsed:.3f} s: loss {res.fun:.10f}, "
          f"|grad| {gnorm:.1e}")
    return res.x


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-samples", type=int, default=20_000)
    p.add_argument("--n-features", type=int, default=30)
    args = p.parse_args()
    m, n = args.n_samples, args.n_features
    rng = np.random.default_rng(0)
    X = rng.standard_normal((m, n))
    true_coef = rng.standard_normal(n)

    # --- ridge: mean squared loss, L = 1/(2m) |X w + b - y|^2 + l2/2 |w|^2 ------------------
    l2 = 0.1
    y = X @ true_coef + 1.0 + 0.5 * rng.standard_normal(m)
    obj = fastgrad.Objective(X, y, loss="squared", fit_intercept=True, l2=l2)
    print(f"ridge regression, {m} x {n}, l2={l2}:")
    fits = [fit(obj, method) for method in ("trust-ncg", "Newton-CG")]
    # closed form: centre, then (Xc'Xc / m + l2 I) w = Xc'yc / m, b = mean(y) - mean(X) w
    xm, ym = X.mean(axis=0), y.mean()
    Xc = X - xm
    w = np.linalg.solve(Xc.T @ Xc / m + l2 * np.eye(n), Xc.T @ (y - ym) / m)
    exact = np.r_[w, ym - xm @ w]
    for method, coef in zip(("trust-ncg", "Newton-CG"), fits):
        rel = np.linalg.norm(coef - exact) / np.linalg.norm(exact)
        print(f"  {method}: relative difference to the closed-form ridge solution {rel:.1e}")

    # --- logistic -----------------------------------------------------------------------------
    l2 = 1e-3
    y = (rng.random(m) < 1.0 / (1.0 + np.exp(-(X @ true_coef + 0.5)))).astype(float)
    obj = fastgrad.Objective(X, y, loss="logistic", fit_intercept=True, l2=l2)
    print(f"logistic regression, {m} x {n}, l2={l2}:")
    a, b = (fit(obj, method) for method in ("trust-ncg", "Newton-CG"))
    print(f"  trust-ncg vs Newton-CG: relative difference of coefficients "
          f"{np.linalg.norm(a - b) / np.linalg.norm(b):.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
