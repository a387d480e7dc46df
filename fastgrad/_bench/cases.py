"""The cases of the dense bench and the random data they run on.

A case is one row of the table: loss x shape x dtype x memory order x kind of
call.  ``parse_cases`` reads presets and specs (``--cases``); ``make_data``
draws X, coef, v and y for a (shape, dtype, order) group, and
``make_multinomial_data`` the same for loss="multinomial".
"""
import math

import numpy as np

#: rows x columns of the per-call overhead cases
SMALL = (64, 32)
#: tolerance of the agreement check (max abs error / max abs of the reference)
TOL = {"float64": 1e-8, "float32": 2e-3}

#: rows drawn by the asv suite and the scripts, which repeat them in larger X
#: (see random_matrix); the bench itself draws every row
DRAW_ROWS = 1 << 14

LOSSES = ("squared", "logistic", "poisson", "gamma", "tweedie1.5")
#: the log-link losses of the bench (a tweedie name carries its power)
GLM_LOSSES = ("poisson", "gamma", "tweedie1.5")
#: the losses of the default preset and of the full preset's every shape
_BASE_LOSSES = ("squared", "logistic")
KINDS = ("vg", "hessp", "objective")
_KIND_LABEL = {"vg": "", "hessp": "hessp", "objective": "Objective"}
_DT_SHORT = {"float64": "f64", "float32": "f32"}


class Case:
    """One row of the table: loss, shape, dtype, memory order, kind of call."""

    __slots__ = ("loss", "m", "n", "dtype", "order", "kind")

    def __init__(self, loss, m, n, dtype="float64", order="C", kind="vg"):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}; got {loss!r}")
        if dtype not in TOL:
            raise ValueError(f"dtype must be one of {tuple(TOL)}; got {dtype!r}")
        if order not in ("C", "F"):
            raise ValueError(f"order must be 'C' or 'F'; got {order!r}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
        if m < 1 or n < 1:
            raise ValueError(f"shape must be positive; got {m}x{n}")
        self.loss, self.m, self.n = loss, int(m), int(n)
        self.dtype, self.order, self.kind = dtype, order, kind

    @property
    def group(self):
        return (self.m, self.n, self.dtype, self.order)

    @property
    def nbytes(self):
        return self.m * self.n * np.dtype(self.dtype).itemsize

    @property
    def label(self):
        parts = [self.loss, _KIND_LABEL[self.kind], f"{self.m}x{self.n}",
                 _DT_SHORT[self.dtype], self.order]
        return " ".join(p for p in parts if p)

    def spec(self):
        return f"{self.loss}:{self.m}x{self.n}:{self.dtype}:{self.order}:{self.kind}"

    def as_dict(self):
        return {"loss": self.loss, "n_samples": self.m, "n_features": self.n,
                "dtype": self.dtype, "order": self.order, "kind": self.kind,
                "label": self.label, "X_bytes": self.nbytes}


def loss_kwargs(name):
    """fastgrad's loss keywords for a bench loss name ("tweedie1.5": power=1.5)."""
    if name.startswith("tweedie"):
        return {"loss": "tweedie", "power": float(name[len("tweedie"):])}
    return {"loss": name}


def _glm_cases(kinds=("vg",)):
    """The log-link losses on 500000x100, float64 and float32, C and F."""
    return [Case(loss, 500_000, 100, dt, order, kind)
            for dt in ("float64", "float32") for order in ("C", "F")
            for kind in kinds for loss in GLM_LOSSES]


def _small_cases():
    m, n = SMALL
    return [Case("squared", m, n), Case("logistic", m, n),
            Case("squared", m, n, kind="objective")]


def _preset(name):
    if name == "default":
        big = [Case(loss, 500_000, 100, "float64", order)
               for order in ("C", "F") for loss in _BASE_LOSSES]
        return big + _small_cases()
    if name == "small":
        return _small_cases()
    if name == "full":
        shapes = [(500_000, 100, "float64"), (500_000, 100, "float32"),
                  (40_000, 1000, "float64"), (4_000_000, 8, "float64")]
        return [Case(loss, m, n, dt, order, kind)
                for (m, n, dt) in shapes for order in ("C", "F")
                for kind in ("vg", "hessp") for loss in _BASE_LOSSES] + _small_cases() \
            + _glm_cases(("vg", "hessp"))
    if name == "glm":
        return _glm_cases()
    raise KeyError(name)


PRESETS = ("default", "small", "full", "glm")

SPEC_HELP = ("a preset (" + ", ".join(PRESETS) + ") or comma-separated case specs "
             "LOSS:MxN[:DTYPE[:ORDER[:KIND]]], e.g. 'logistic:1000000x50:float32:F' "
             "or 'squared:40000x1000:float64:C:hessp'; LOSS in {" + ",".join(LOSSES) + "}, "
             "DTYPE in {float64,float32}, ORDER in {C,F}, KIND in {vg,hessp,objective}; "
             "presets and specs can be mixed")


def parse_cases(text):
    """Cases from a preset name and/or comma-separated specs (see ``--cases``)."""
    cases = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if token in PRESETS:
            cases.extend(_preset(token))
            continue
        parts = token.split(":")
        if len(parts) < 2 or len(parts) > 5:
            raise ValueError(f"bad case spec {token!r}: expected {SPEC_HELP}")
        try:
            m, n = (int(s.replace("_", "")) for s in parts[1].lower().split("x"))
        except ValueError:
            raise ValueError(f"bad shape {parts[1]!r} in case spec {token!r}: "
                             "expected MxN, e.g. 500000x100") from None
        dtype = {"f64": "float64", "f32": "float32"}.get(parts[2], parts[2]) \
            if len(parts) > 2 else "float64"
        order = parts[3].upper() if len(parts) > 3 else "C"
        kind = parts[4] if len(parts) > 4 else "vg"
        kind = {"value_and_grad": "vg"}.get(kind, kind)
        cases.append(Case(parts[0], m, n, dtype, order, kind))
    if not cases:
        raise ValueError("no cases selected")
    # one array per (shape, dtype, order): run the cases that share it together
    groups = {}
    for c in cases:
        groups.setdefault(c.group, []).append(c)
    return [c for g in groups.values() for c in g]


def random_matrix(rng, m, n, dtype="float64", order="C", draw_rows=None):
    """Standard normal (m, n) array in C or F order.

    With ``draw_rows`` set, only that many rows are drawn and larger X repeats
    them: drawing 800 MB of normals takes seconds, copying them a fraction of
    that; timings do not see the values, and every row still has its own
    address, so X still streams from RAM.  Without it (or when m <= draw_rows)
    the values are those of one draw of the whole array.
    """
    dt = np.dtype(dtype)
    if draw_rows is None or m <= draw_rows:
        if order == "F":
            return rng.standard_normal((n, m), dtype=dt).T  # F-ordered, no copy
        return rng.standard_normal((m, n), dtype=dt)
    k = draw_rows
    if order == "F":
        block = rng.standard_normal((n, k), dtype=dt)
        out = np.empty((n, m), dtype=dt)
        for s in range(0, m, k):
            out[:, s:s + k] = block[:, :min(k, m - s)]
        return out.T
    block = rng.standard_normal((k, n), dtype=dt)
    out = np.empty((m, n), dtype=dt)
    for s in range(0, m, k):
        out[s:s + k] = block[:min(k, m - s)]
    return out


def make_data(m, n, dtype="float64", order="C", seed=0, draw_rows=None):
    """{"X", "coef", "v", "y"}: X (m, n) in the given order, coef and v with
    z = X @ coef ~ N(0, 1), and y = {loss: y} for each loss."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    X = random_matrix(rng, m, n, dt, order, draw_rows)
    scale = 1.0 / math.sqrt(n)
    coef = (rng.standard_normal(n) * scale).astype(dt)
    v = (rng.standard_normal(n) * scale).astype(dt)
    y = {"squared": rng.standard_normal(m, dtype=dt),
         "logistic": (rng.random(m) < 0.5).astype(dt)}
    y["poisson"] = y["tweedie1.5"] = rng.poisson(1.0, m).astype(dt)     # counts, y >= 0
    y["gamma"] = rng.gamma(2.0, 0.5, m).astype(dt) + dt.type(1e-3)       # y > 0
    return {"X": X, "coef": coef, "v": v, "y": y}


def make_multinomial_data(m, n, K, dtype="float64", order="C", seed=0, draw_rows=None):
    """X (m, n), W and V (n, K) with z = X @ W[:, k] ~ N(0, 1), and integer labels y."""
    rng = np.random.default_rng(seed)
    X = random_matrix(rng, m, n, dtype, order, draw_rows)
    W = (rng.standard_normal((n, K)) / np.sqrt(n)).astype(dtype)
    V = (rng.standard_normal((n, K)) / np.sqrt(n)).astype(dtype)
    y = rng.integers(0, K, m)
    return X, W, V, y
