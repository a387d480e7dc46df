"""Weighted logistic regression with an intercept, fitted by scipy's L-BFGS-B.

Shows:
- ``fastgrad.Objective`` passed straight to ``scipy.optimize.minimize(obj, x0, jac=True)``:
  one call returns (loss, gradient) from a single pass over X;
- ``fit_intercept=True``: coef has n_features + 1 entries, the last is the intercept;
- ``sample_weight``;
- when scikit-learn is installed, the same model fitted by ``LogisticRegression``:
  scikit-learn minimises ``C * sum_i w_i l_i + 1/2 |coef|^2``, which is fastgrad's
  ``reduction="sum"`` objective with ``l2 = 1 / C``; the predicted probabilities agree.

Run:  python examples/lbfgs_logistic.py [--n-samples 20000] [--n-features 20]
"""
import argparse
import time

import numpy as np
from scipy.optimize import minimize

import fastgrad


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-samples", type=int, default=20_000)
    p.add_argument("--n-features", type=int, default=20)
    p.add_argument("--C", type=float, default=1.0, help="inverse regularisation, as in sklearn")
    args = p.parse_args()
    m, n, C = args.n_samples, args.n_features, args.C

    rng = np.random.default_rng(0)
    X = rng.standard_normal((m, n))
    true_coef = rng.standard_normal(n)
    y = (rng.random(m) < 1.0 / (1.0 + np.exp(-(X @ true_coef - 0.5)))).astype(float)
    sample_weight = rng.uniform(0.5, 2.0, size=m)

    obj = fastgrad.Objective(X, y, loss="logistic", fit_intercept=True,
                             sample_weight=sample_weight, l2=1.0 / C, reduction="sum")
    t0 = time.perf_counter()
    res = minimize(obj, np.zeros(obj.coef_shape), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-8, "ftol": 1e-14, "maxiter": 10_000})
    elapsed = time.perf_counter() - t0
    coef, intercept = res.x[:-1], res.x[-1]
    grad_norm = np.linalg.norm(obj.grad(res.x))
    print(f"fastgrad + L-BFGS-B: {res.nit} iterations, {res.nfev} (loss, grad) evaluations, "
          f"{elapsed:.3f} s; loss {res.fun:.6f}, |grad| {grad_norm:.1e}")
    print(f"intercept {intercept:+.4f}, first coefficients {np.round(coef[:3], 4)}")
    proba = 1.0 / (1.0 + np.exp(-(X @ coef + intercept)))
    print(f"training accuracy (weighted): "
          f"{np.average((proba > 0.5) == (y == 1), weights=sample_weight):.4f}")

    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        print("scikit-learn is not installed: skipping the comparison")
        return 0
    t0 = time.perf_counter()
    clf = LogisticRegression(C=C, tol=1e-10, max_iter=10_000)
    clf.fit(X, y, sample_weight=sample_weight)
    elapsed = time.perf_counter() - t0
    p_sk = clf.predict_proba(X)[:, 1]
    coef_sk = np.r_[clf.coef_.ravel(), clf.intercept_]
    rel = np.linalg.norm(res.x - coef_sk) / np.linalg.norm(coef_sk)
    print(f"scikit-learn LogisticRegression(C={C:g}): {elapsed:.3f} s")
    print(f"agreement with scikit-learn: max |proba difference| = "
          f"{np.max(np.abs(proba - p_sk)):.1e}, relative coef difference = {rel:.1e}, "
          f"same predicted class for {np.mean((proba > 0.5) == (p_sk > 0.5)):.2%} of rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
