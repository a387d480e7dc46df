"""How far is stock scikit-learn's float32 LogisticRegression from the optimum?

`python -m fastgrad bench --sklearn` compares the patched fit's coef with stock
scikit-learn's on the same float32 X.  This program asks which of the two is off:
it fits the same data three ways, one thread, tol=1e-8 --

  stock f32     LogisticRegression(solver="lbfgs") on float32 X, as installed
  patched f32   the same inside fastgrad.sklearn.patched()
  stock f64     the same on float64 X: the reference optimum

and prints each float32 fit's relative distance |coef - coef_f64| / |coef_f64|
(with the intercept), its n_iter, and the distance between the two float32 fits.
When stock's own distance from the optimum is larger than a tolerance, no
correct float32 gradient can agree with stock to that tolerance: stock stops
where its float32 gradient's rounding makes it stop.

    python tools/sklearn_f32_accuracy.py [m] [n]     (default 500000 x 100, ~10 s)
"""
import sys

import numpy as np
from threadpoolctl import threadpool_limits


def main(argv):
    m = int(argv[1]) if len(argv) > 1 else 500_000
    n = int(argv[2]) if len(argv) > 2 else 100
    from sklearn.linear_model import LogisticRegression

    import fastgrad.sklearn as fsk
    from fastgrad._bench import sklearn_fits as F

    case = dict(F.CASES["lr_binary_500000x100_f32"], m=m, n=n)
    X32, y, _ = F.make_data(case)
    X64 = X32.astype(np.float64)

    def fit(X):
        return LogisticRegression(solver="lbfgs", tol=F.TOL, max_iter=10_000).fit(X, y)

    def flat(est):
        return np.concatenate([est.coef_.ravel(), est.intercept_.ravel()]).astype(np.float64)

    with threadpool_limits(1):
        ref = fit(X64)
        stock = fit(X32)
        with fsk.patched(n_threads=1):
            patched = fit(X32)
    r = flat(ref)
    dist = {name: np.linalg.norm(flat(e) - r) / np.linalg.norm(r)
            for name, e in (("stock f32", stock), ("patched f32", patched))}
    print(f"{m} x {n} float32, LogisticRegression(lbfgs, tol={F.TOL:g}), 1 thread")
    print(f"{'fit':<12} {'n_iter':>6}  |coef - coef_f64| / |coef_f64|")
    print(f"{'stock f64':<12} {int(ref.n_iter_[0]):>6}  (the reference)")
    for name, est in (("stock f32", stock), ("patched f32", patched)):
        print(f"{name:<12} {int(est.n_iter_[0]):>6}  {dist[name]:.2e}")
    between = np.linalg.norm(flat(patched) - flat(stock)) / np.linalg.norm(flat(stock))
    print(f"patched f32 against stock f32: {between:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
