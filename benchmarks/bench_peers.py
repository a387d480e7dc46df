"""Optional peers on the arrays of ValueAndGrad (float64, 200000 x 100, same seed).

The peers are those of ``python -m fastgrad bench --peers`` (fastgrad._bench.peers).
Each class's setup raises NotImplementedError when its peer does not import,
which asv reports as skipped. Compare with
``bench_fastgrad.ValueAndGrad.time_fastgrad`` at the same loss, order and
n_threads (dtype float64, shape 200000x100).
"""
from fastgrad._bench import suite as S
from fastgrad._bench.cases import Case


class _PeerBench(S.PinnedBench):
    params = (["squared", "logistic"], ["C", "F"], [1, 2])
    param_names = ["loss", "order", "n_threads"]
    peer = ""

    def setup(self, loss, order, n_threads):
        peer = S.skip_unless_peer(self.peer)  # before building data
        m, n = S.SHAPES["200000x100"]
        data = S.data(m, n, "float64", order)
        self.pin(n_threads)
        self.fn = peer.prepare(Case(loss, m, n, "float64", order), data, data["y"][loss],
                               n_threads)
        self.fn()  # warm-up outside the timings (Numba compiles here)

    def time_value_and_grad(self, *params):
        self.fn()


class SklearnLinearModelLoss(_PeerBench):
    """sklearn.linear_model._linear_loss.LinearModelLoss.loss_gradient (private API)."""
    peer = "sklearn"


class TorchAutograd(_PeerBench):
    """PyTorch on the CPU: forward X @ coef, loss, backward (torch.set_num_threads)."""
    peer = "torch"


class TabmatDense(_PeerBench):
    """tabmat.DenseMatrix: matvec, the pointwise part in NumPy, transpose_matvec."""
    peer = "tabmat"


class NumbaFused(_PeerBench):
    """A fused one-pass loop in Numba: prange over row chunks, float64 accumulators."""
    peer = "numba"
