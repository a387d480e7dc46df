"""What the asv classes in benchmarks/ share: their shapes and grids, the data
as they draw it, thread pinning from setup to teardown, and their skips.

asv imports benchmarks/ against the fastgrad it installed, so the suite runs on
commits that have this package (fastgrad._bench); on older ones its classes fail
to import.
"""
import os

import numpy as np

from .cases import DRAW_ROWS, make_data, make_multinomial_data
from .timing import Pinned

#: (n_samples, n_features) of the memory-bound cases: X is 160 MB in float64
#: (256 MB for 4000000x8), 5x or more the 32 MiB L3 of the reference machine
#: (AMD EPYC, Zen 4), so every call streams X from RAM.
SHAPES = {"200000x100": (200_000, 100), "20000x1000": (20_000, 1000),
          "4000000x8": (4_000_000, 8)}

#: FASTGRAD_ASV_GRID=full widens the parameter grids (several times longer runs)
FULL_GRID = os.environ.get("FASTGRAD_ASV_GRID", "") == "full"

#: the shapes ValueAndGrad runs over
GRID_SHAPES = list(SHAPES) if FULL_GRID else ["200000x100"]

#: (n_samples, n_features, n_classes) of the multinomial classes
MULTINOMIAL_SHAPE = (500_000, 100, 10) if FULL_GRID else (200_000, 100, 10)


def data(m, n, dtype="float64", order="C", seed=0):
    """cases.make_data with DRAW_ROWS rows drawn (larger X repeats them)."""
    return make_data(m, n, dtype, order, seed, draw_rows=DRAW_ROWS)


def multinomial_data(dtype="float64", order="C"):
    """X, W, V, y of MULTINOMIAL_SHAPE (DRAW_ROWS rows drawn)."""
    return make_multinomial_data(*MULTINOMIAL_SHAPE, dtype, order, draw_rows=DRAW_ROWS)


class PinnedBench:
    """Base of the asv classes: ``pin(k)`` limits BLAS and OpenMP to k threads
    until teardown (asv calls teardown after a skipped setup too)."""

    pinned = None

    def pin(self, n_threads):
        self.pinned = Pinned(n_threads)

    def teardown(self, *params):
        if self.pinned is not None:
            self.pinned.restore()
            self.pinned = None


def skip_unless_native():
    """Raise NotImplementedError (asv's skip) when fastgrad has no compiled core."""
    import fastgrad
    try:
        fastgrad.value_and_grad(np.ones((2, 2)), np.ones(2), np.ones(2), backend="native")
    except ImportError as exc:
        raise NotImplementedError(f"fastgrad's compiled core is not available: {exc}")


def skip_unless_sparse():
    """Raise NotImplementedError when scipy or fastgrad's sparse support is missing."""
    skip_unless_native()
    import fastgrad
    try:
        import scipy.sparse as sp
    except ImportError as exc:
        raise NotImplementedError(f"scipy is not installed: {exc}")
    try:
        fastgrad.grad(sp.csr_matrix(np.eye(2)), np.ones(2), np.ones(2), backend="native")
    except TypeError as exc:
        raise NotImplementedError(f"no sparse X in this fastgrad: {exc}")


def skip_unless_peer(name):
    """The peer of peers.BY_NAME[name], or NotImplementedError when it does not import."""
    from .peers import BY_NAME
    peer = BY_NAME[name]
    reason = peer.available()
    if reason is not None:
        raise NotImplementedError(f"{name} is not available: {reason}")
    return peer
