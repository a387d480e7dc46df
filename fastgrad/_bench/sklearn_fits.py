"""``python -m fastgrad bench --sklearn``: scikit-learn fits, stock against patched.

Each case builds its data once (outside the timed regions) and times
end-to-end ``fit`` calls, round-robin in one process on the same arrays, with
BLAS/OpenMP pinned to one thread (threadpoolctl) and ``patch(n_threads=1)``:

  stock        scikit-learn as installed
  fastgrad     the same estimator inside ``fastgrad.sklearn.patched(n_threads=1)``
  sklearnex    scikit-learn-intelex's estimator of the same name, where it imports
  glum         ``glum.GeneralizedLinearRegressor(solver="lbfgs")`` on the same
               objective (alpha = 1 / (C * sum of weights)), where it imports and
               the model has a glum form (no multinomial, no CV)

Each row prints the median fit times, stock / fastgrad, the target for
the case, n_iter of both, and the relative difference of (coef, intercept).
Peers that do not import are skipped with a line saying so.
"""
import gc
import json
import sys
import warnings

import numpy as np

from .cli import UsageError
from .timing import time_round_robin

#: name -> the case (target: stock / fastgrad at least ``target``;
#: the small ones: no slower than stock within noise)
CASES = {
    "lr_binary_500000x100_f64": dict(model="logistic", solver="lbfgs", m=500_000, n=100,
                                     k=2, target=2.0),
    "lr_multinomial10_200000x100": dict(model="logistic", solver="lbfgs", m=200_000,
                                        n=100, k=10, target=2.0),
    "lr_binary_500000x100_f32": dict(model="logistic", solver="lbfgs", m=500_000, n=100,
                                     k=2, dtype="float32", target=1.8),
    "lr_binary_500000x100_F_weights": dict(model="logistic", solver="lbfgs", m=500_000,
                                           n=100, k=2, order="F", weights=True,
                                           target=1.5),
    "lr_newton_cg_500000x100": dict(model="logistic", solver="newton-cg", m=500_000,
                                    n=100, k=2, target=1.5),
    "tweedie0_500000x100": dict(model="tweedie0", solver="lbfgs", m=500_000, n=100,
                                target=1.6),
    "poisson_500000x100": dict(model="poisson", solver="lbfgs", m=500_000, n=100,
                               target=2.0),
    "gamma_500000x100": dict(model="gamma", solver="lbfgs", m=500_000, n=100,
                             target=2.0),
    "lr_small_1000x20": dict(model="logistic", solver="lbfgs", m=1000, n=20, k=2,
                             target=1.0),
    "lrcv_5000x20": dict(model="logistic_cv", solver="lbfgs", m=5000, n=20, k=2,
                         target=1.0),
}
SMALL = ("lr_small_1000x20", "lrcv_5000x20")
TOL = 1e-8


def make_data(case, seed=0):
    """X (in the case's dtype and order), y, sample_weight or None."""
    rng = np.random.default_rng(seed)
    m, n = case["m"], case["n"]
    X = rng.standard_normal((m, n))
    w = rng.standard_normal(n) / np.sqrt(n)
    if case["model"] == "tweedie0":
        y = X @ w + rng.standard_normal(m)
    elif case["model"] == "poisson":
        y = rng.poisson(np.exp(0.5 * (X @ w) + 0.5)).astype(np.float64)
    elif case["model"] == "gamma":
        mu = np.exp(0.5 * (X @ w) + 0.5)
        y = rng.gamma(2.0, mu / 2.0)
    else:
        k = case.get("k", 2)
        W = rng.standard_normal((n, k)) * (2.0 / np.sqrt(n))
        y = np.argmax(X @ W + rng.gumbel(size=(m, k)), axis=1)
    X = np.asarray(X, dtype=case.get("dtype", "float64"), order=case.get("order", "C"))
    sw = rng.uniform(0.5, 1.5, m) if case.get("weights") else None
    return X, y, sw


def make_estimator(case, flavour="sklearn"):
    """A fresh estimator of the case (flavour "sklearn" or "sklearnex")."""
    if flavour == "sklearnex":
        from sklearnex import linear_model as lm
        name = {"logistic": "LogisticRegression", "logistic_cv": "LogisticRegressionCV",
                "tweedie0": "TweedieRegressor", "poisson": "PoissonRegressor",
                "gamma": "GammaRegressor"}[case["model"]]
        if not hasattr(lm, name):
            raise ImportError(f"scikit-learn-intelex has no {name}")
    else:
        from sklearn import linear_model as lm
    model, solver = case["model"], case["solver"]
    if model == "logistic":
        return lm.LogisticRegression(solver=solver, tol=TOL, max_iter=10_000)
    if model == "logistic_cv":
        return lm.LogisticRegressionCV(Cs=5, cv=5, solver=solver, tol=TOL, max_iter=10_000)
    if model == "tweedie0":
        return lm.TweedieRegressor(power=0, alpha=1.0, solver=solver, tol=TOL,
                                   max_iter=10_000)
    if model == "poisson":
        return lm.PoissonRegressor(alpha=1.0, solver=solver, tol=TOL, max_iter=10_000)
    if model == "gamma":
        return lm.GammaRegressor(alpha=1.0, solver=solver, tol=TOL, max_iter=10_000)
    raise ValueError(model)


def make_glum(case, X, sw):
    """glum's estimator of the same objective, or ImportError/ValueError saying why not."""
    from glum import GeneralizedLinearRegressor
    if case["model"] == "logistic_cv":
        raise ValueError("no glum form of LogisticRegressionCV here")
    if case["model"] == "logistic" and case.get("k", 2) > 2:
        raise ValueError("glum has no multinomial model")
    if case["solver"] != "lbfgs":
        raise ValueError("glum's newton solver is IRLS, not newton-cg")
    total = X.shape[0] if sw is None else float(np.sum(sw))
    if case["model"] == "logistic":     # C * sum(w l) + |coef|^2 / 2, C = 1
        return GeneralizedLinearRegressor(family="binomial", alpha=1.0 / total,
                                          solver="lbfgs", gradient_tol=TOL, max_iter=10_000)
    # the GLMs: 1/(2 sum w) sum w deviance + alpha/2 |coef|^2, as scikit-learn's
    family = {"tweedie0": "normal"}.get(case["model"], case["model"])
    return GeneralizedLinearRegressor(family=family, alpha=1.0, solver="lbfgs",
                                      gradient_tol=TOL, max_iter=10_000)


def _coef(est):
    return np.concatenate([np.ravel(est.coef_), np.ravel(est.intercept_)]).astype(np.float64)


def _n_iter(est):
    n = getattr(est, "n_iter_", None)
    return None if n is None else int(np.max(n))


#: a timing sample of a fit shorter than this loops the fit (small cases: one 10 ms
#: fit is at the mercy of the scheduler); they also take at least 7 samples
MIN_SAMPLE_S = 0.2


def _median_times(fns, repeat, small):
    """Median seconds per fit of each function (timing.time_round_robin) and the
    last result (the fitted estimator) of each."""
    last = {}

    def keep(name, fn):
        def run():
            last[name] = fn()
        return run

    t = time_round_robin({name: keep(name, fn) for name, fn in fns.items()},
                         max(repeat, 7) if small else repeat, min_time=MIN_SAMPLE_S)
    return {name: r["median"] for name, r in t.items()}, last


def _fmt(t):
    return f"{t * 1e3:.1f} ms" if t < 10 else f"{t:.2f} s"


def parse_cases(text):
    if text == "default":
        return list(CASES)
    if text == "small":
        return list(SMALL)
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in names if t not in CASES]
    if bad or not names:
        raise UsageError(f"unknown --sklearn case(s) {bad}; expected names from: "
                         f"{', '.join(CASES)} (or 'default', 'small')")
    return names


def _peer_available(name):
    try:
        if name == "sklearnex":
            import sklearnex  # noqa: F401
            import daal4py
            daal4py.daalinit(1)     # oneDAL's TBB threads: threadpoolctl does not see them
        else:
            import glum  # noqa: F401
    except Exception as exc:    # ImportError, or a broken install
        return f"{type(exc).__name__}: {exc}"
    return None


def run(args):
    """The --sklearn mode of ``python -m fastgrad bench`` (args: its argparse result)."""
    try:
        import sklearn
    except ImportError as exc:
        print(f"python -m fastgrad bench --sklearn needs scikit-learn ({exc})",
              file=sys.stderr)
        return 2
    import fastgrad
    import fastgrad.sklearn as fsk
    from threadpoolctl import threadpool_limits

    names = parse_cases(args.cases)         # UsageError: printed with the usage
    if args.list_cases:
        for name in names:
            print(f"{name:<34} {CASES[name]}")
        return 0
    peers = {}
    for peer in ("sklearnex", "glum"):
        why = _peer_available(peer)
        if why is None:
            peers[peer] = True
        else:
            print(f"{peer}: skipped ({why})")
    repeat = args.repeat
    print(f"fastgrad {fastgrad.__version__} bench --sklearn: scikit-learn "
          f"{sklearn.__version__}; 1 thread (threadpool_limits(1), patch(n_threads=1)); "
          f"tol={TOL:g}; median of {repeat} round-robin fits (fits under "
          f"{MIN_SAMPLE_S:g} s: looped; the small cases: at least 7 samples)")
    head = (f"{'case':<32} {'stock':>9} {'fastgrad':>9} {'speedup':>8} {'target':>7} "
            f"{'n_iter':>9} {'coef diff':>9}"
            + "".join(f" {p + ' (speedup, n_iter, coef diff)':>31}" for p in peers))
    print()
    print(head)
    print("-" * len(head))
    sys.stdout.flush()
    results = []
    for name in names:
        case = CASES[name]
        X, y, sw = make_data(case, seed=args.seed)
        fit_kw = {} if sw is None else {"sample_weight": sw}

        def stock(case=case, X=X, y=y, fit_kw=fit_kw):
            return make_estimator(case).fit(X, y, **fit_kw)

        def patched(case=case, X=X, y=y, fit_kw=fit_kw):
            with fsk.patched(n_threads=1):
                return make_estimator(case).fit(X, y, **fit_kw)

        fns = {"stock": stock, "fastgrad": patched}
        notes = {}
        if "sklearnex" in peers:
            try:
                make_estimator(case, "sklearnex")
                fns["sklearnex"] = lambda case=case, X=X, y=y, fit_kw=fit_kw: \
                    make_estimator(case, "sklearnex").fit(X, y, **fit_kw)
            except (ImportError, ValueError) as exc:
                notes["sklearnex"] = "n/a"
                print(f"  {name}: sklearnex skipped ({exc})")
        if "glum" in peers:
            try:
                make_glum(case, X, sw)
                fns["glum"] = lambda case=case, X=X, y=y, sw=sw: \
                    make_glum(case, X, sw).fit(X, y, sample_weight=sw)
            except (ImportError, ValueError) as exc:
                notes["glum"] = "n/a"
                print(f"  {name}: glum skipped ({exc})")
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)     # LogisticRegressionCV's
            warnings.filterwarnings("ignore", "Sigmoid function too close",
                                    UserWarning)               # glum's, at the optimum
            fsk.reset_stats()
            t, last = _median_times(fns, repeat, name in SMALL)
        st = fsk.stats()
        a, b = _coef(last["stock"]), _coef(last["fastgrad"])
        diff = float(np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-300))
        speed = t["stock"] / t["fastgrad"]
        n_iter = f"{_n_iter(last['stock'])}/{_n_iter(last['fastgrad'])}"
        row = (f"{name:<32} {_fmt(t['stock']):>9} {_fmt(t['fastgrad']):>9} {speed:>7.2f}x "
               f"{case['target']:>6.1f}x {n_iter:>9} {diff:>9.1e}")
        res = {"case": name, **{k: v for k, v in case.items()}, "times_s": t,
               "speedup": speed, "n_iter_stock": _n_iter(last["stock"]),
               "n_iter_fastgrad": _n_iter(last["fastgrad"]), "coef_rel_diff": diff,
               "native_calls": st["native"], "fallbacks": st["fallback_by_reason"]}
        for p in peers:
            if p in t:
                c = _coef(last[p])
                pd = float(np.linalg.norm(c - a) / max(np.linalg.norm(a), 1e-300))
                it = f"it={_n_iter(last[p])}"
                row += f" {_fmt(t[p]):>9} {t['stock'] / t[p]:>5.2f}x {it:>6} {pd:>7.1e}"
                res[f"{p}_speedup"] = t["stock"] / t[p]
                res[f"{p}_coef_rel_diff"] = pd
                res[f"{p}_n_iter"] = _n_iter(last[p])
            else:
                row += f" {notes.get(p, 'n/a'):>31}"
        if st["fallback"]:
            row += f"  (fallbacks {st['fallback_by_reason']})"
        print(row)
        sys.stdout.flush()
        results.append(res)
        del X, y, sw, fns, last
        gc.collect()
    print("\nspeedup = stock time / fastgrad time (peers: stock / peer); coef diff = "
          "|coef_fastgrad - coef_stock| / |coef_stock| with the intercept; the "
          "targets assume a quiet machine")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"repeat": repeat, "results": results}, f, indent=1, default=str)
        print(f"wrote {args.json}")
    return 0
