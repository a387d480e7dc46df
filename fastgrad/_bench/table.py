"""What the dense bench prints and draws: the table, the BLAS line, the plot."""
import numpy as np


def fmt_time(t):
    if t is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if t >= scale or unit == "us":
            x = t / scale
            return f"{x:.3g} {unit}" if x < 100 else f"{x:.0f} {unit}"
    return "-"


_COLUMNS = [("case", 32, "<"), ("one read", 10, ">"), ("fastgrad", 10, ">"),
            ("NumPy 2-pass", 12, ">"), ("NumPy/fg", 8, ">"), ("fg/read", 7, ">"),
            ("GB/s", 6, ">"), ("check", 14, "<")]


def table_header(peer_names):
    cols = _COLUMNS + [(p + " (x fg)", 17, ">") for p in peer_names]
    head = "  ".join(f"{name:{al}{w}}" for name, w, al in cols).rstrip()
    return head + "\n" + "-" * len(head)


def table_row(res, peer_names):
    t = res["times"]
    chk = res["check"]["fastgrad"]
    check = "ok" if chk["ok"] else f"MISMATCH {chk['rel_err']:.1e}"
    cells = [res["label"], fmt_time(t["one_read"]["median"]),
             fmt_time(t["fastgrad"]["median"]), fmt_time(t["numpy"]["median"]),
             f"{res['numpy_over_fastgrad']:.2f}x", f"{res['fastgrad_over_one_read']:.2f}",
             f"{res['fastgrad_GBps']:.2f}", check]
    for p in peer_names:
        tp = t.get("peer:" + p)
        if tp is None:
            cells.append("n/a")
            continue
        flag = "" if res["check"][p]["ok"] else " !"
        cells.append(f"{fmt_time(tp['median'])} {tp['median'] / t['fastgrad']['median']:.2f}x"
                     f"{flag}")
    cols = _COLUMNS + [(p, 17, ">") for p in peer_names]
    return "  ".join(f"{c:{al}{w}}" for c, (_, w, al) in zip(cells, cols)).rstrip()


def blas_info():
    try:
        from threadpoolctl import threadpool_info
        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:  # threadpoolctl missing or failing: not worth a crash
        return "unknown"
    if not infos:
        return "none found"
    # NumPy's own BLAS first (SciPy and others may load another copy)
    infos.sort(key=lambda i: "numpy" not in str(i.get("filepath", "")))
    i = infos[0]
    return (f"{i.get('internal_api')} {i.get('version')} "
            f"({i.get('architecture') or i.get('threading_layer') or '?'})")


def have_matplotlib():
    import importlib.util
    return importlib.util.find_spec("matplotlib") is not None


def plot(results, path, n_threads):
    """Time of each method relative to one read of X, one group of bars per case."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    methods = ["fastgrad", "numpy"] + sorted(
        {k for r in results for k in r["times"] if k.startswith("peer:")})
    names = {"fastgrad": "fastgrad", "numpy": "NumPy two-pass"}
    fig = Figure(figsize=(9, max(4.0, 1.5 + 0.1 * len(results) * (len(methods) + 1))))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    height = 0.8 / len(methods)
    ys = np.arange(len(results))
    for i, meth in enumerate(methods):
        vals = [r["times"][meth]["median"] / r["times"]["one_read"]["median"]
                if meth in r["times"] else 0.0 for r in results]
        ax.barh(ys + (i - (len(methods) - 1) / 2) * height, vals, height=height,
                label=names.get(meth, meth.replace("peer:", "")))
    ax.axvline(1.0, color="k", lw=0.8, ls="--")
    ax.set_yticks(ys)
    ax.set_yticklabels([r["label"] for r in results], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    plain = FuncFormatter(lambda x, _pos: f"{x:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.tick_params(axis="x", which="both", labelsize=7)
    ax.set_xlabel("median time / time of one read of X (X @ coef); dashed line = 1")
    ax.set_title(f"fastgrad bench, {n_threads} thread(s): lower is better")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


class PlainProgress:
    """What the bench shows instead of a tqdm bar when tqdm is not installed: a
    plain line per step on ``file`` (stderr), and only when it is a terminal
    (as tqdm's ``disable=None``) and ``enabled``."""

    def __init__(self, total, desc, file, enabled=True):
        self.total, self.desc, self.file, self.n = total, desc, file, 0
        isatty = getattr(file, "isatty", None)
        self.disable = not (enabled and isatty is not None and isatty())

    def set_postfix_str(self, s):
        if not self.disable:
            print(f"{self.desc}: [{self.n + 1}/{self.total}] {s}", file=self.file,
                  flush=True)

    def update(self, k=1):
        self.n += k

    @staticmethod
    def write(s, file=None):
        print(s, file=file, flush=True)

    def close(self):
        pass


def progress(total, desc, file, enabled=True):
    """A tqdm bar when tqdm imports (it is in the ``bench`` extra), else a
    PlainProgress; ``enabled=False`` shows neither."""
    try:
        from tqdm import tqdm
    except ImportError:
        return PlainProgress(total, desc, file, enabled)
    return tqdm(total=total, desc=desc, unit="case", file=file,
                disable=True if not enabled else None, leave=False)
