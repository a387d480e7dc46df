"""The default mode of ``python -m fastgrad bench``: dense X beside NumPy.

For each case (loss x shape x dtype x order, and the kind of call) this times,
round-robin in one process on the same arrays:

  one read        ``X @ coef``: the time to stream X through BLAS once
  fastgrad        ``fastgrad.value_and_grad`` (or ``hessp``, or ``Objective``)
  NumPy 2-pass    the textbook NumPy expression, which reads X twice:
                    squared:  r = X @ coef - y;  (0.5 * r @ r, X.T @ r)
                    logistic: z = X @ coef;  p = expit(z) (stable);
                              (sum(log1p(e^-|z|) + max(z, 0) - y z), X.T @ (p - y))
                    hessp:    X.T @ (h * (X @ v)), h = l''(z) computed beforehand

and, with ``--peers``, scikit-learn's LinearModelLoss, PyTorch autograd, tabmat
and a Numba ``prange`` fused loop where they import.  fastgrad is called with
``reduction="sum"`` so that its numbers are those of the NumPy expressions; each
case checks once that they agree.  BLAS (and every OpenMP pool threadpoolctl
knows) is pinned to ``--threads`` and fastgrad gets ``n_threads=--threads``.
The arrays are built outside the timed regions and freed between shapes.
"""
import gc
import json
import math
import os
import platform
import sys
import time

import numpy as np

from .cases import TOL, loss_kwargs, make_data, parse_cases
from .cli import UsageError
from .peers import PEERS
from .reference import numpy_hess_diag, numpy_hessp, numpy_twopass
from .table import blas_info, have_matplotlib, plot, progress, table_header, table_row
from .timing import MIN_SAMPLE_TIME, time_round_robin


def _rel_err(result, reference):
    """max |a - b| / max |b| over loss and gradient (a Python float)."""
    worst = 0.0
    for a, b in zip(result, reference):
        if a is None or b is None:
            continue
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        err = float(np.max(np.abs(a - b))) if b.size else 0.0
        if not math.isfinite(err):
            return float("inf")
        worst = max(worst, err / scale if scale > 0 else err)
    return worst


def _as_pair(out):
    """(loss or None, gradient) from a value_and_grad pair or a bare hessp array."""
    if isinstance(out, tuple):
        return float(out[0]), np.asarray(out[1])
    return None, np.asarray(out)


def run_case(case, data, n_threads, repeat, backend, peers):
    """Build the calls of one case, check them once, time them round-robin."""
    import fastgrad

    X, coef, v = data["X"], data["coef"], data["v"]
    y = data["y"][case.loss]
    kw = dict(loss_kwargs(case.loss), reduction="sum", n_threads=n_threads, backend=backend)
    fns = {"one_read": lambda: X @ coef}
    if case.kind == "hessp":
        h = numpy_hess_diag(X, y, coef, case.loss)  # outside the timed region
        fns["fastgrad"] = lambda: fastgrad.hessp(X, y, coef, v, **kw)
        fns["numpy"] = lambda: numpy_hessp(X, h, v)
    else:
        if case.kind == "objective":
            obj = fastgrad.Objective(X, y, **loss_kwargs(case.loss), reduction="sum",
                                     n_threads=n_threads, backend=backend)
            fns["fastgrad"] = lambda: obj.value_and_grad(coef)
        else:
            fns["fastgrad"] = lambda: fastgrad.value_and_grad(X, y, coef, **kw)
        fns["numpy"] = lambda: numpy_twopass(X, y, coef, case.loss)

    # once per case: does fastgrad agree with the NumPy expression (and peers)?
    results = {name: _as_pair(fns[name]()) for name in ("fastgrad", "numpy")}
    checks = {"fastgrad": _rel_err(results["fastgrad"], results["numpy"])}
    peer_notes = {}
    for peer in peers:
        try:
            fn = peer.prepare(case, data, y, n_threads)
        except Exception as exc:  # a peer that cannot run this case is noted, not fatal
            peer_notes[peer.name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            continue
        if fn is None:
            peer_notes[peer.name] = "no such call"
            continue
        try:
            res = _as_pair(fn())  # also the warm-up (Numba compiles here)
        except Exception as exc:
            peer_notes[peer.name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            continue
        ref_loss, ref_grad = results["fastgrad"]
        if peer.scale == "mean":
            ref_loss = None if ref_loss is None else ref_loss / case.m
            ref_grad = ref_grad / case.m
        checks[peer.name] = _rel_err(res, (ref_loss, ref_grad))
        fns["peer:" + peer.name] = fn
    del results

    # with several threads each sample waits for the other pools (BLAS, OpenMP) to
    # stop spinning, else a call shares its cores with the last one's spinners
    timings = time_round_robin(fns, repeat, settled=n_threads > 1)
    tol = TOL[case.dtype]
    t_fg = timings["fastgrad"]["median"]
    out = dict(case.as_dict())
    out["times"] = timings
    out["numpy_over_fastgrad"] = timings["numpy"]["median"] / t_fg
    out["fastgrad_over_one_read"] = t_fg / timings["one_read"]["median"]
    out["fastgrad_GBps"] = case.nbytes / t_fg / 1e9
    out["check"] = {name: {"rel_err": err, "ok": err <= tol} for name, err in checks.items()}
    out["check_tolerance"] = tol
    out["peer_notes"] = peer_notes
    return out


def run(args):
    """The default mode (args: the command line's argparse result)."""
    try:
        cases = parse_cases("full" if args.full else args.cases)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.list_cases:
        for c in cases:
            print(f"{c.label:<34} {c.spec()}")
        return 0

    import fastgrad
    from fastgrad import _backends, _config, _validation
    from threadpoolctl import threadpool_limits

    if args.backend == "native" and _backends._native is None:
        print(f"python -m fastgrad bench: --backend native, but the compiled core is not "
              f"available ({_backends.NATIVE_ERROR})", file=sys.stderr)
        return 2
    used = "numpy" if args.backend == "numpy" or _backends._native is None else "native"
    plot_ok = True
    if args.plot and not have_matplotlib():
        plot_ok = False
        print(f"--plot {args.plot}: matplotlib is not installed, so no plot will be "
              "written (pip install matplotlib); the benchmark runs anyway.",
              file=sys.stderr)

    peers, skipped = [], {}
    if args.peers:
        for peer in PEERS:
            reason = peer.available()
            if reason is None:
                peers.append(peer)
            else:
                skipped[peer.name] = reason
    peer_names = [p.name for p in peers]

    cfg = _config.config()
    cores = _validation._N_CPUS
    print(f"fastgrad {fastgrad.__version__} bench: backend {used}"
          + (f", SIMD {cfg.get('simd path selected')}" if used == "native" else "")
          + f"; {args.threads} thread(s) for fastgrad and BLAS; BLAS {blas_info()}; "
          f"{cores} core(s) available")
    print(f"median of {args.repeat} round-robin repeats per method; fastgrad is called with "
          "reduction='sum' to match the NumPy expressions; one read = X @ coef; "
          "GB/s = bytes of X / fastgrad time; check = fastgrad vs NumPy "
          f"(max rel. error <= {TOL['float64']:g} f64, {TOL['float32']:g} f32)")
    if args.threads > cores:
        print(f"note: --threads {args.threads} > {cores} core(s) available: expect noise",
              file=sys.stderr)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            print(f"note: {var}={os.environ[var]} is set; it can slow NumPy's BLAS "
                  f"(run with `env -u {var} ...` for a fair comparison)", file=sys.stderr)
    for name, reason in skipped.items():
        print(f"note: peer {name} skipped: {reason}")
    print()
    print(table_header(peer_names))
    sys.stdout.flush()

    results = []
    mismatches = []
    t_start = time.perf_counter()
    bar = progress(len(cases), "fastgrad bench", sys.stderr, enabled=not args.no_progress)
    try:
        with threadpool_limits(limits=args.threads):
            i = 0
            while i < len(cases):
                group = cases[i].group
                j = i
                while j < len(cases) and cases[j].group == group:
                    j += 1
                bar.set_postfix_str(f"building {group[0]}x{group[1]} {group[2]} "
                                    f"{group[3]}")
                data = make_data(*group, seed=args.seed)
                for case in cases[i:j]:
                    bar.set_postfix_str(case.label)
                    res = run_case(case, data, args.threads, args.repeat, used, peers)
                    results.append(res)
                    if not res["check"]["fastgrad"]["ok"]:
                        mismatches.append(res)
                    bar.write(table_row(res, peer_names), file=sys.stdout)
                    sys.stdout.flush()
                    bar.update(1)
                del data  # free X before the next shape
                gc.collect()
                i = j
    finally:
        bar.close()
    elapsed = time.perf_counter() - t_start

    notes = sorted({f"{p}: {n}" for r in results for p, n in r["peer_notes"].items()})
    for n in notes:
        print(f"note: peer {n} (n/a in the table)")
    for r in results:
        for p in peer_names:
            if p in r["check"] and not r["check"][p]["ok"]:
                print(f"warning: {p} disagrees with fastgrad on {r['label']} "
                      f"(rel. error {r['check'][p]['rel_err']:.1e}); marked '!'")
    print(f"{len(results)} case(s) in {elapsed:.1f} s")
    for r in mismatches:
        print(f"WARNING: fastgrad and NumPy disagree on {r['label']}: max rel. error "
              f"{r['check']['fastgrad']['rel_err']:.2e} > {r['check_tolerance']:g}",
              file=sys.stderr)

    if args.json:
        doc = {
            "fastgrad_version": fastgrad.__version__,
            "config": cfg,
            "machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "python": sys.version, "cores_available": cores,
                        "blas": blas_info(),
                        "env": {v: os.environ.get(v) for v in
                                ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                 "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}},
            "settings": {"threads": args.threads, "repeat": args.repeat,
                         "backend": used, "seed": args.seed, "reduction": "sum",
                         "min_sample_time_s": MIN_SAMPLE_TIME,
                         "cases": [c.spec() for c in cases]},
            "peers_skipped": skipped,
            "elapsed_s": elapsed,
            "results": results,
        }
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1, default=str)
        print(f"wrote {args.json}")
    if args.plot:
        if plot_ok:
            plot(results, args.plot, args.threads)
            print(f"wrote {args.plot}")
        else:
            print(f"--plot {args.plot}: not written: matplotlib is not installed "
                  "(pip install matplotlib)", file=sys.stderr)
    return 1 if mismatches else 0
