"""The one home of fastgrad's measurement code, used by ``python -m fastgrad
bench`` and imported by the asv classes in benchmarks/ and the programs in tools/.

  cases        the dense cases (loss x shape x dtype x order x kind), presets,
               ``--cases`` specs, and the random data they run on
  reference    the NumPy expressions fastgrad is timed against (two passes over X)
  timing       round-robin medians in one process, thread pinning
  peers        optional peers: scikit-learn, PyTorch, tabmat, Numba
  table        the printed table, the BLAS line, the plot, the progress display
  cli          the command line: the shared options and the registry of modes
  dense        the default mode: fastgrad beside one read of X and NumPy
  sparse       ``--sparse``: a CSR X beside scipy.sparse
  multinomial  loss="multinomial" beside NumPy and scikit-learn (a script's table)
  dask_cluster fastgrad.dask beside dask on a LocalCluster (a script's table)
  suite        what the asv classes share: shapes, grids, skips

A new mode is one module with ``run(args)`` plus one line in ``cli.MODES``.
Nothing here is public API.
"""
from .cli import main

__all__ = ["main"]
