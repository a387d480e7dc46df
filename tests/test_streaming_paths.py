"""The kernels' paths for X that comes from memory (a chunk of rows >= 256 KiB).

The row path switches on the chunk's size: row-after-row dot products and, for
the squared loss, one row at a time with its axpy (rows of 16 values to 2 KiB),
prefetching, and the 4-row dot products for longer rows. Small test arrays stay
on the in-cache paths, so these shapes are chosen to reach the others: every
result (loss only, loss and gradient, gradient, hessp) against the float64
reference, with and without weights, intercept, l2 and rows=.
"""
import numpy as np
import pytest

import fastgrad
from conftest import (DTYPE_IDS, DTYPES, LOSSES, assert_grad_matches, assert_matches_ref,
                      make_problem, reference, reference_hessp, rtol_for)

# (m, n): rows of 160 B and 800 B (row after row; squared four rows a step),
# and of 2.4 KiB (4 rows interleaved, no software prefetch): all > 256 KiB per
# chunk; 13 columns, which F-ordered take 8, then 4, then 1 column per step in
# the column path's first sweep; and 8 or 5 columns, which F-ordered take
# cols_small (with a tail of rows that is not a multiple of 4 in each chunk);
# 23 columns: the float rows' 8-wide dot and axpy (avx512 clone) with a tail of
# 4 and then of 3 values
SHAPES = [(40000, 20), (8000, 100), (3000, 300), (20000, 13), (60001, 8), (30003, 5),
          (24001, 23)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("layout", ["C", "strided_rows", "F"])
@pytest.mark.parametrize("weighted", [False, True], ids=["now", "w"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_from_memory_paths(backend, dtype, loss, weighted, layout, shape):
    m, n = shape
    X0, y, coef, w = make_problem(m, n, None, loss=loss, fit_intercept=True,
                                  weights=weighted, dtype=dtype, seed=5,
                                  coef_scale=1 / np.sqrt(n))
    if layout == "strided_rows":
        # rows contiguous but further apart than n (a column slice of a wider array)
        big = np.zeros((m, n + 3), dtype=dtype)
        big[:, :n] = X0
        X = big[:, :n]
    elif layout == "F":
        X = np.asfortranarray(X0)
    else:
        X = X0
    kw = dict(loss=loss, fit_intercept=True, sample_weight=w, l2=0.01, reduction="sum")
    rtol = rtol_for(dtype)
    ref = reference(X0, y, coef, **kw)

    L, g = fastgrad.value_and_grad(X, y, coef, backend=backend, **kw)
    assert_matches_ref(L, g, ref, rtol, "value_and_grad")
    assert_grad_matches(fastgrad.grad(X, y, coef, backend=backend, **kw), ref.grad,
                        ref.grad_scale, rtol, "grad")
    obj = fastgrad.Objective(X, y, backend=backend, **kw)
    lv = obj.value(coef)                         # the loss-only mode
    assert abs(lv - ref.loss) <= rtol * ref.loss_scale, (lv, ref.loss)

    v = np.linspace(-1.0, 1.0, coef.size).astype(dtype)
    exp, scale = reference_hessp(X0, y, coef, v, **kw)
    assert_grad_matches(fastgrad.hessp(X, y, coef, v, backend=backend, **kw), exp, scale,
                        rtol, "hessp")

    rows = np.random.default_rng(3).integers(-m, m, m // 2)
    wr = None if w is None else w[rows]
    kwr = dict(kw, sample_weight=wr)
    refr = reference(X0[rows], y[rows], coef, **kwr)
    kw_rows = dict(kw)
    Lr, gr = fastgrad.value_and_grad(X, y, coef, rows=rows, backend=backend, **kw_rows)
    assert_matches_ref(Lr, gr, refr, rtol, "rows=")
