"""Sparse X: scipy.sparse matrices and arrays as checked CSR arrays.

scipy is not a dependency of fastgrad: a scipy.sparse X can exist only once
``scipy.sparse`` is imported, so it is recognised through ``sys.modules``
without importing scipy here.

``as_csr`` turns X into a ``CSR`` (the three arrays of compressed sparse rows,
in the dtypes the kernels take) and checks what costs O(1): the shape, the
length of indptr, ``indptr[0] == 0``, ``indptr[-1] <= len(indices), len(data)``.
CSR X (``csr_matrix``, ``csr_array``) is used without copying when its values
are float32/float64 and its indices int32/int64; other formats (CSC, COO, ...)
are converted by ``tocsr()``, a copy.  Nothing here writes to the user's matrix
(no ``sort_indices()``, no ``sum_duplicates()``): unsorted and duplicate column
indices are summed as scipy's ``toarray()`` does, explicit zeros are values.

The rest of the structure (indptr non-decreasing and in [0, nnz], column
indices in [0, n_features)) is checked where it is read: by the compiled
kernels as they go, and by ``first_malformed`` for the NumPy backend and for
``Objective(check_input=True)``; only the rows a call uses are read (``rows=``).
"""
import sys

import numpy as np

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_I32, _I64 = np.dtype(np.int32), np.dtype(np.int64)

#: values per block when scanning the indices or the values for errors
_SCAN_BLOCK = 1 << 20


class CSR:
    """A checked CSR matrix: what the backends' ``run_csr`` receive as X.

    ``data`` (float32/float64), ``indices`` and ``indptr`` (both int32 or both
    int64) are 1-D C-contiguous arrays in native byte order; ``nnz`` is
    ``indptr[-1]`` (data and indices may be longer, as scipy allows).
    """

    __slots__ = ("data", "indices", "indptr", "shape", "nnz", "dtype")
    ndim = 2

    def __init__(self, data, indices, indptr, shape, nnz):
        self.data, self.indices, self.indptr = data, indices, indptr
        self.shape, self.nnz, self.dtype = shape, nnz, data.dtype

    def __repr__(self):
        return (f"<fastgrad CSR {self.shape[0]}x{self.shape[1]}, nnz={self.nnz}, "
                f"{self.dtype}, indices {self.indices.dtype}>")


def is_sparse(X):
    """True for a scipy.sparse matrix or array (without importing scipy)."""
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(X)


def _data_dtype(dt):
    """The dtype the values are computed in, or TypeError (as for dense X)."""
    if dt == _F64 or dt == _F32:
        return dt.newbyteorder("=")
    if dt.kind in "iub":
        return _F64
    if dt.kind == "f" and dt.itemsize < 4:
        return _F32                               # float16: exact in float32
    raise TypeError(f"X: dtype {dt} is not supported; expected real numbers "
                    "(float32 or float64; integers and bools are converted to float64)")


def _flat(a, dtype, what):
    a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError(f"X (CSR): {what} must be 1-D; got shape {a.shape}")
    if a.dtype != dtype or not a.dtype.isnative:
        a = a.astype(dtype)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return a


def as_csr(X):
    """X (a scipy.sparse matrix or array of any format) as a ``CSR``.

    CSR input with float32/float64 values and int32/int64 indices is not
    copied; other formats are converted with ``tocsr()`` (a copy), integer and
    bool values to float64.  ValueError for a structure that does not fit
    together (what O(1) checks can see).
    """
    if not is_sparse(X):
        # other sparse containers (e.g. pydata/sparse) that convert to scipy's CSR
        X = X.tocsr()
        if not is_sparse(X):
            raise TypeError(f"X: {type(X).__name__}.tocsr() did not return a "
                            "scipy.sparse matrix")
    shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got a sparse "
                         f"array of shape {shape}")
    if X.format != "csr":
        X = X.tocsr()                             # CSC, COO, ...: a copy
    m, n = (int(s) for s in shape)
    ddt = _data_dtype(np.dtype(X.data.dtype))
    indices, indptr = np.asarray(X.indices), np.asarray(X.indptr)
    for a, what in ((indices, "indices"), (indptr, "indptr")):
        if a.dtype.kind not in "iu":
            raise TypeError(f"X (CSR): {what} must be integers; got dtype {a.dtype}")
    idt = _I32 if (indices.dtype == _I32 and indptr.dtype == _I32) else _I64
    data = _flat(X.data, ddt, "data")
    indices = _flat(indices, idt, "indices")
    indptr = _flat(indptr, idt, "indptr")
    if indptr.shape[0] != m + 1:
        raise ValueError(f"X (CSR): indptr has length {indptr.shape[0]} but X has "
                         f"shape {shape}: expected n_samples + 1 = {m + 1}")
    if indptr[0] != 0:
        raise ValueError(f"X (CSR): indptr[0] must be 0; got {int(indptr[0])}")
    nnz = int(indptr[m])
    if nnz < 0 or nnz > indices.shape[0] or nnz > data.shape[0]:
        raise ValueError(f"X (CSR): indptr[-1] = {nnz} (the number of stored values) "
                         f"must lie in [0, min(len(indices), len(data))] = "
                         f"[0, {min(indices.shape[0], data.shape[0])}]")
    if n == 0 and nnz > 0:
        raise ValueError(f"X (CSR): X has n_features=0 but {nnz} stored values: their "
                         "column indices are out of range")
    return CSR(data, indices, indptr, (m, n), nnz)


# ---------------------------------------------------------------------------
# the structure, row by row


def row_positions(starts, ends):
    """(positions in data/indices of the values of these rows, block row of each).

    starts, ends: int64 extents of the rows (already checked: starts <= ends)."""
    lens = ends - starts
    total = int(lens.sum())
    rowid = np.repeat(np.arange(lens.shape[0]), lens)
    offset = np.cumsum(lens) - lens                 # where each row begins in the block
    pos = np.arange(total, dtype=np.int64) + np.repeat(starts - offset, lens)
    return pos, rowid


def _block_error(X, rows, r0, r1):
    """The message of the first malformed logical row in [r0, r1), or None."""
    ip = X.indptr
    if rows is None:
        phys = np.arange(r0, r1)
    else:
        phys = rows[r0:r1]
    s = ip[phys].astype(np.int64)
    e = ip[phys + 1].astype(np.int64)
    bad_extent = (s < 0) | (s > e) | (e > X.nnz)
    nb = phys.shape[0]
    first_bad = int(np.argmax(bad_extent)) if bad_extent.any() else nb
    pos, rowid = row_positions(s[:first_bad], e[:first_bad])
    cols = X.indices[pos]
    bad_col = (cols < 0) | (cols >= X.shape[1])
    if bad_col.any():
        q = int(np.argmax(bad_col))
        r = int(phys[rowid[q]])
        return (f"X (CSR): column index {int(cols[q])} is out of range for "
                f"n_features={X.shape[1]} (row {r}, indices[{int(pos[q])}]); "
                "column indices must lie in [0, n_features)")
    if first_bad < nb:
        r = int(phys[first_bad])
        return (f"X (CSR): indptr must be non-decreasing from 0 to nnz={X.nnz}; row {r} "
                f"has indptr[{r}] = {int(s[first_bad])}, indptr[{r + 1}] = "
                f"{int(e[first_bad])}")
    return None


def first_malformed(X, rows=None):
    """The message of the first malformed row among those used (all, or ``rows``,
    in order), or None.  Blocks of rows: no temporary of the size of X."""
    nrows = X.shape[0] if rows is None else rows.shape[0]
    avg = X.nnz / X.shape[0] if X.shape[0] else 0.0
    step = max(1024, int(_SCAN_BLOCK / (avg + 1.0)))
    for r0 in range(0, nrows, step):
        msg = _block_error(X, rows, r0, min(nrows, r0 + step))
        if msg is not None:
            return msg
    return None


def malformed_error(X, rows, bad_row=-1):
    """The ValueError for a malformed X found by a kernel (at logical row bad_row)."""
    msg = first_malformed(X, rows)
    if msg is None:  # pragma: no cover - the kernel and this scan disagree
        msg = f"X (CSR): malformed structure at row {bad_row}"
    return ValueError(msg)


def check_input(X):
    """Objective(check_input=True): the whole structure, and NaN or inf in the values."""
    msg = first_malformed(X)
    if msg is not None:
        raise ValueError(msg)
    data = X.data
    for s in range(0, X.nnz, _SCAN_BLOCK):
        blk = data[s:min(X.nnz, s + _SCAN_BLOCK)]
        ok = np.isfinite(blk)
        if not ok.all():
            p = s + int(np.argmax(~ok))
            r = int(np.searchsorted(X.indptr, p, side="right")) - 1
            raise ValueError(f"X contains NaN or inf: X[{r}, {int(X.indices[p])}] = "
                             f"{data[p]!r} (data[{p}])")
