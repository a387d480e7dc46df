# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled core: threads over fixed row chunks, the C micro-kernels per chunk.

Everything here receives arrays that ``fastgrad._validation`` has already
checked and converted: X float32/float64 with any strides (element-aligned),
y (m,) or (m, k) in X's dtype (multinomial: or (m,) intp class labels in
[0, k)), w (m,) or None, rows intp (r,) or None,
coef/v/out (n_coef,) or (n_coef, k), C-contiguous in X's dtype.

It runs the plan it is given (``fastgrad._plan``: path, block size, streaming
flags, rows per chunk, looked up per call in a small cache keyed by the
plan's inputs) and makes no choices of its own.

Determinism: the rows are cut into the plan's chunks, whose size depends only
on the problem's shape (and the machine), never on the thread count.  Chunk c accumulates into its own
slot (a wave of slots normally covers every chunk; 32 MiB of slots at most),
and the slots are added into the total in chunk order.  So the sum is the same,
bit for bit, for every n_threads.  Chunks are handed to threads dynamically in
one parallel region; every ~128 MiB of X (the plan's check_chunks) the calling
thread takes the GIL to check for signals (Ctrl-C), and the other threads then
skip what is left.  Dense and CSR X share this one driver (_drive_chunks).

Small problems: ``value_and_grad_common`` (fastgrad.value_and_grad/grad) and
``ObjectivePlan`` (an Objective's value_and_grad/value, on the data it checked
and planned once) are lean entries: value_and_grad_common for calls of any
number of chunks, ObjectivePlan for calls of one chunk (its ``threaded`` also
for more chunks, given the thread count).  They check nothing: they take only
arguments already in the form fastgrad._validation returns (else None, and the
caller runs those checks; y's range is checked by the kernels in the pass
itself, and a y outside it sends the call there too), and n_threads is
resolved only by _validation.check_n_threads.  The accumulators and work of a
one-chunk problem live on the stack.
"""
cimport numpy as cnp
from cython.parallel cimport prange, threadid
from libc.stdlib cimport malloc, free
from libc.string cimport memset, memcmp
from libc.math cimport INFINITY
from cpython.exc cimport PyErr_CheckSignals, PyErr_Occurred
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF


cdef int raise_pending() except -1:
    """Propagate the exception that PyErr_CheckSignals set."""
    if PyErr_Occurred() != NULL:
        return -1
    raise KeyboardInterrupt

cnp.import_array()

cdef extern from "fastgrad_kernels.h" nogil:
    ctypedef struct fg_args:
        const void *X
        Py_ssize_t sr, sc
        Py_ssize_t n, k
        const void *y
        Py_ssize_t ys0, ys1
        const Py_ssize_t *lab
        Py_ssize_t ls
        const void *w
        Py_ssize_t ws
        const Py_ssize_t *rows
        const void *coef
        const void *icpt
        const void *v
        const void *vicpt
        int loss
        int hess
        int want_grad
        int path
        int stream
        Py_ssize_t block_rows
        Py_ssize_t block_cols
        double power
        int *ybad
        double ylo, yhi
    int fg_ybad_seen(const fg_args *a) noexcept
    size_t fg_work_size(const fg_args *a) noexcept
    int fg_have_vector_paths() noexcept
    double fg_chunk_f64(const fg_args *a, Py_ssize_t r0, Py_ssize_t r1,
                        double *g, double *work) noexcept
    double fg_chunk_f32(const fg_args *a, Py_ssize_t r0, Py_ssize_t r1,
                        double *g, double *work) noexcept
    int fg_y_in_range(const fg_args *a, int f32, Py_ssize_t nrows, double lo,
                      double hi) noexcept
    const char *fg_simd_paths() noexcept
    const char *fg_simd_selected() noexcept
    double fg_log1pexp(double z) noexcept
    double fg_logistic_loss(double z, double y) noexcept
    double fg_sigmoid(double z) noexcept

cdef extern from "fg_csr.h" nogil:
    ctypedef struct fg_csr_args:
        const void *data
        const void *indices
        const void *indptr
        Py_ssize_t nnz
        Py_ssize_t n, k
        const void *y
        Py_ssize_t ys0, ys1
        const Py_ssize_t *lab
        Py_ssize_t ls
        const void *w
        Py_ssize_t ws
        const Py_ssize_t *rows
        const void *coef
        const void *icpt
        const void *v
        const void *vicpt
        int loss
        int hess
        int want_grad
        int path
        double power
    size_t fg_csr_work_size(const fg_csr_args *a) noexcept
    double fg_csr_chunk_f64_i32(const fg_csr_args *a, Py_ssize_t r0, Py_ssize_t r1,
                                double *g, double *work, Py_ssize_t *bad) noexcept
    double fg_csr_chunk_f64_i64(const fg_csr_args *a, Py_ssize_t r0, Py_ssize_t r1,
                                double *g, double *work, Py_ssize_t *bad) noexcept
    double fg_csr_chunk_f32_i32(const fg_csr_args *a, Py_ssize_t r0, Py_ssize_t r1,
                                double *g, double *work, Py_ssize_t *bad) noexcept
    double fg_csr_chunk_f32_i64(const fg_csr_args *a, Py_ssize_t r0, Py_ssize_t r1,
                                double *g, double *work, Py_ssize_t *bad) noexcept

# the fields that the dense and the CSR argument structs share (y, labels, w,
# rows, coef, v, the mode) are set by the same functions for both
ctypedef fused fg_any_args:
    fg_args
    fg_csr_args

cdef extern from "fg_omp.h" nogil:
    int fg_have_openmp() noexcept
    int fg_omp_max_threads() noexcept

cdef extern from "fg_isa.h" nogil:
    const char *fg_isa_name(int isa) noexcept
    int fg_isa_compiled_mask() noexcept
    int fg_isa_runnable_mask() noexcept
    int fg_isa_select(int cap) noexcept
    int fg_isa_selected() noexcept
    enum: FG_ISA_N

cdef enum:
    SLOT_BUDGET = 1 << 22      # doubles of per-chunk accumulators (32 MiB) per wave
    MIN_SLOTS = 16
    STACK_DOUBLES = 2048       # acc, slots and work of a small problem (16 KiB): no malloc
    STOP_SIGNAL = 1            # why _drive_chunks stopped early
    STOP_MALFORMED = 2

# fastgrad_kernels.h's enum ("tweedie": a power other than 1 and 2, in the struct's power)
LOSS_CODES = {"squared": 0, "logistic": 1, "multinomial": 2, "poisson": 3, "gamma": 4,
              "tweedie": 5}


def openmp_enabled():
    return bool(fg_have_openmp())


def omp_max_threads():
    """What OpenMP would use now (OMP_NUM_THREADS, threadpoolctl limits)."""
    return fg_omp_max_threads()


def simd_paths():
    return fg_simd_paths().decode()


def simd_selected():
    return fg_simd_selected().decode()


# ---- the ISA clone (fg_isa.h): the best this CPU runs, capped by FASTGRAD_ISA
ISA_NAMES = tuple(fg_isa_name(i).decode() for i in range(FG_ISA_N))  # worst to best


def _isa_mask_names(int mask):
    return tuple(ISA_NAMES[i] for i in range(FG_ISA_N - 1, -1, -1) if mask & (1 << i))


def isa_compiled():
    """The clones compiled in, best first (only "baseline" in a portable build)."""
    return _isa_mask_names(fg_isa_compiled_mask())


def isa_compiled_runnable():
    """The compiled clones this CPU (and its OS) can run, best first."""
    return _isa_mask_names(fg_isa_runnable_mask())


def isa_selected():
    """The clone every call runs: "avx512", "avx2" or "baseline"."""
    return ISA_NAMES[fg_isa_selected()]


def _select_isa(value):
    """Selects the clone for FASTGRAD_ISA=value (None or "": the best runnable).
    An unknown value, or one this build or CPU cannot run, warns (RuntimeWarning
    naming both) and falls back to the best runnable clone; never raises."""
    best = fg_isa_select(FG_ISA_N - 1)
    if value is None or not value.strip():
        return ISA_NAMES[best]
    want = value.strip().lower()
    if want not in ISA_NAMES:
        msg = (f"FASTGRAD_ISA={value!r} is not one of {', '.join(map(repr, ISA_NAMES))}; "
               f"using {ISA_NAMES[best]!r}, the best clone this CPU runs")
    elif not fg_isa_runnable_mask() & (1 << ISA_NAMES.index(want)):
        why = ("this build has only " + ", ".join(map(repr, isa_compiled()))
               if want not in isa_compiled() else "this CPU (or its OS) cannot run it")
        msg = (f"FASTGRAD_ISA={value!r}: {why}; using {ISA_NAMES[best]!r}, "
               f"the best clone this CPU runs")
    else:
        return ISA_NAMES[fg_isa_select(ISA_NAMES.index(want))]
    import warnings
    warnings.warn(msg, RuntimeWarning, stacklevel=3)
    return ISA_NAMES[best]


def _select_isa_from_env():
    import os
    return _select_isa(os.environ.get("FASTGRAD_ISA"))


_select_isa_from_env()


def y_in_range(cnp.ndarray y, double lo, double hi):
    """Every value of a 1-D float64 or float32 y (any stride that is a multiple
    of its itemsize) in [lo, hi], NaN not: the range check of the logistic and
    log-link losses for a call the lean entry does not take
    (_validation.check_y), one vectorised pass over y (fg_y_in_range) where
    NumPy's min and max took two."""
    cdef fg_args a
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(y)
    if cnp.PyArray_NDIM(y) != 1 or cnp.PyArray_TYPE(y) not in (cnp.NPY_FLOAT64, cnp.NPY_FLOAT32) \
            or cnp.PyArray_STRIDE(y, 0) % isz:
        raise ValueError("y_in_range: a 1-D float64 or float32 array")
    a.y = cnp.PyArray_DATA(y)
    a.ys0 = cnp.PyArray_STRIDE(y, 0) // isz
    a.ys1 = 0
    a.rows = NULL
    return fg_y_in_range(&a, isz == 4, cnp.PyArray_DIM(y, 0), lo, hi) != 0


def log1pexp(double z):
    return fg_log1pexp(z)


def sigmoid(double z):
    return fg_sigmoid(z)


def have_vector_paths():
    """The paths written with vector extensions (rows_vec, cols_small,
    multinomial) are compiled in."""
    return bool(fg_have_vector_paths())


# ---------------------------------------------------------------------------
# The plan of a call: fastgrad._plan decides, this cache remembers.  The key is
# every input of the plan but the thread count (which only caps at n_chunks);
# a direct-mapped table of PLAN_SLOTS entries, read and filled under the GIL.
# ---------------------------------------------------------------------------

cdef struct PlanKey:
    Py_ssize_t nrows, n, k, sr, sc, m, nnz
    int csr, isz, idx, loss, mode, rows

cdef struct PlanVal:
    int path, stream, par_reduce
    Py_ssize_t block_rows, block_cols, chunk_rows, nchunks, check_chunks

cdef enum:
    PLAN_SLOTS = 64

cdef PlanKey _plan_keys[PLAN_SLOTS]
cdef PlanVal _plan_vals[PLAN_SLOTS]
cdef bint _plan_used[PLAN_SLOTS]
cdef object _plan_fields = None


cdef inline int _mode(bint hess, bint want_grad) noexcept:
    # fastgrad_kernels.h's FG_MODE_GRAD, FG_MODE_VALUE, FG_MODE_HESSP
    return 2 if hess else (0 if want_grad else 1)


cdef int _get_plan(PlanKey *key, PlanVal *out) except -1:
    """out = the plan for key (key zeroed before it was filled: it is compared
    byte for byte)."""
    global _plan_fields
    cdef size_t h = <size_t>key.nrows * 1000003u
    h = (h ^ <size_t>key.n) * 1000003u
    h = (h ^ <size_t>key.k) * 1000003u
    h = (h ^ <size_t>(key.sr * 31 + key.sc)) * 1000003u
    h = (h ^ <size_t>key.nnz ^ (<size_t>key.m << 3)) * 1000003u
    h ^= <size_t>((((key.loss * 4 + key.mode) * 2 + key.rows) * 2 + key.csr) * 16 + key.isz)
    h ^= h >> 17
    cdef Py_ssize_t s = <Py_ssize_t>(h % PLAN_SLOTS)
    if _plan_used[s] and memcmp(&_plan_keys[s], key, sizeof(PlanKey)) == 0:
        out[0] = _plan_vals[s]
        return 0
    if _plan_fields is None:
        from ._plan import native_fields
        _plan_fields = native_fields
    cdef tuple t = _plan_fields(key.csr, key.nrows, key.n, key.k, key.isz, key.sr,
                                key.sc, key.m, key.nnz, key.idx, key.loss, key.mode,
                                bool(key.rows))
    out.path = t[0]
    out.stream = t[1]
    out.block_rows = t[2]
    out.chunk_rows = t[3]
    out.nchunks = t[4]
    out.par_reduce = t[5]
    out.check_chunks = t[6] if t[6] >= 1 else 1
    out.block_cols = t[7]
    _plan_keys[s] = key[0]
    _plan_vals[s] = out[0]
    _plan_used[s] = True
    return 0


cdef int _dense_plan(const fg_args *a, Py_ssize_t nrows, Py_ssize_t m, Py_ssize_t isz,
                     PlanVal *out) except -1:
    """The plan of the dense call a describes (nrows: the rows it uses)."""
    cdef PlanKey key
    memset(&key, 0, sizeof(PlanKey))
    key.nrows = nrows
    key.n = a.n
    key.k = a.k
    key.sr = a.sr
    key.sc = a.sc
    key.m = m
    key.isz = <int>isz
    key.loss = a.loss
    key.mode = _mode(a.hess, a.want_grad)
    key.rows = a.rows != NULL
    return _get_plan(&key, out)


cdef inline void _apply(fg_args *a, const PlanVal *p) noexcept:
    a.path = p.path
    a.stream = p.stream
    a.block_rows = p.block_rows
    a.block_cols = p.block_cols


def clear_plan_cache():
    """Forget every remembered plan, so that the next calls ask fastgrad._plan
    again (for tests that change one of its switches: they clear plan_dense's
    and plan_csr's own caches as well)."""
    memset(_plan_used, 0, sizeof(_plan_used))


def plan_of_call(X, Py_ssize_t nrows, Py_ssize_t k, int loss, bint hess, bint want_grad,
                 bint rows):
    """(path, stream, block_rows, chunk_rows, n_chunks, par_reduce) as this module
    runs the call (for tests: the cache gives what fastgrad._plan decides)."""
    cdef PlanKey key
    cdef PlanVal pv
    memset(&key, 0, sizeof(PlanKey))
    key.nrows = nrows
    key.k = k
    key.loss = loss
    key.mode = _mode(hess, want_grad)
    key.rows = rows
    cdef cnp.ndarray Xa
    if isinstance(X, cnp.ndarray):
        Xa = <cnp.ndarray>X
        key.isz = <int>cnp.PyArray_ITEMSIZE(Xa)
        key.n = cnp.PyArray_DIM(Xa, 1)
        key.m = cnp.PyArray_DIM(Xa, 0)
        key.sr = cnp.PyArray_STRIDE(Xa, 0) // key.isz
        key.sc = cnp.PyArray_STRIDE(Xa, 1) // key.isz
    else:
        key.csr = 1
        key.isz = <int>X.data.itemsize
        key.idx = <int>X.indices.itemsize
        key.n = X.shape[1]
        key.m = X.shape[0]
        key.nnz = X.nnz
    _get_plan(&key, &pv)
    return (pv.path, pv.stream, pv.block_rows, pv.chunk_rows, pv.nchunks,
            bool(pv.par_reduce), pv.check_chunks)


cdef void _set_targets(fg_any_args *a, cnp.ndarray y, object w, Py_ssize_t isz) noexcept:
    """y (values or multinomial class labels) and w, for either argument struct."""
    cdef cnp.ndarray w_a
    a.y = cnp.PyArray_DATA(y)
    a.lab = NULL
    a.ls = 0
    if cnp.PyArray_TYPE(y) == cnp.NPY_INTP:
        # multinomial class labels (checked in [0, k) by the caller)
        a.lab = <const Py_ssize_t *>cnp.PyArray_DATA(y)
        a.ls = cnp.PyArray_STRIDE(y, 0) // <Py_ssize_t>sizeof(Py_ssize_t)
        a.ys0 = 0
        a.ys1 = 0
    else:
        a.ys0 = cnp.PyArray_STRIDE(y, 0) // isz
        a.ys1 = cnp.PyArray_STRIDE(y, 1) // isz if cnp.PyArray_NDIM(y) == 2 else 0
    a.w = NULL
    a.ws = 0
    if w is not None:
        w_a = <cnp.ndarray>w
        a.w = cnp.PyArray_DATA(w_a)
        a.ws = cnp.PyArray_STRIDE(w_a, 0) // isz


cdef void _set_data(fg_args *a, cnp.ndarray X, cnp.ndarray y, object w, Py_ssize_t k,
                    int loss, Py_ssize_t isz) noexcept:
    """The fields of a that X, y, w and the loss fix (coef, v, rows: _set_call)."""
    cdef Py_ssize_t n = cnp.PyArray_DIM(X, 1)
    a.X = cnp.PyArray_DATA(X)
    a.sr = cnp.PyArray_STRIDE(X, 0) // isz
    a.sc = cnp.PyArray_STRIDE(X, 1) // isz
    a.n = n
    a.k = k
    _set_targets(a, y, w, isz)
    a.rows = NULL
    a.coef = NULL
    a.icpt = NULL
    a.v = NULL
    a.vicpt = NULL
    a.loss = loss
    a.hess = 0
    a.want_grad = 1
    a.path = 0
    a.stream = 0
    a.block_rows = 0
    a.block_cols = 0
    a.power = 0.0
    a.ybad = NULL
    a.ylo = 0.0
    a.yhi = 0.0


cdef inline void _set_call(fg_any_args *a, const Py_ssize_t *rows, const char *cdata,
                           const char *vdata, bint fit_intercept, bint hess, bint want_grad,
                           Py_ssize_t isz) noexcept:
    """The fields of a that change from call to call: rows, coef, v, the mode."""
    cdef Py_ssize_t nk = a.n * a.k * isz
    a.rows = rows
    a.coef = cdata
    a.icpt = cdata + nk if fit_intercept else NULL
    a.v = vdata
    a.vicpt = vdata + nk if (fit_intercept and vdata != NULL) else NULL
    a.hess = hess
    a.want_grad = want_grad or hess


def run(cnp.ndarray X, cnp.ndarray y, object w, object rows, cnp.ndarray coef,
        object v, object out, str loss, bint fit_intercept, bint hess,
        bint want_grad, double l2, double denom, int n_threads, double power=0.0):
    """One fused pass; writes the gradient (or H v) into out, returns the loss.

    coef, v, out: (n + fit_intercept,) or (n + fit_intercept, k) C-contiguous
    arrays of X's dtype.
    The loss is sum(w * l) / denom + l2/2 |coef[:n]|^2 (0.0 in hess mode).
    power: the tweedie power (1 and 2 come as "poisson" and "gamma").
    """
    cdef fg_args a
    cdef bint f32 = cnp.PyArray_TYPE(X) == cnp.NPY_FLOAT32
    cdef Py_ssize_t isz = 4 if f32 else 8
    cdef Py_ssize_t k = cnp.PyArray_DIM(coef, 1) if cnp.PyArray_NDIM(coef) == 2 else 1
    cdef Py_ssize_t nrows = cnp.PyArray_DIM(X, 0)
    cdef const Py_ssize_t *rp = NULL
    cdef char *vdata = NULL
    if rows is not None:
        rp = <const Py_ssize_t *>cnp.PyArray_DATA(<cnp.ndarray>rows)
        nrows = cnp.PyArray_DIM(<cnp.ndarray>rows, 0)
    if hess:
        vdata = <char *>cnp.PyArray_DATA(<cnp.ndarray>v)
    _set_data(&a, X, y, w, k, LOSS_CODES[loss], isz)
    a.power = power
    _set_call(&a, rp, <char *>cnp.PyArray_DATA(coef), vdata, fit_intercept, hess,
              want_grad, isz)
    cdef PlanVal pv
    _dense_plan(&a, nrows, cnp.PyArray_DIM(X, 0), isz, &pv)
    _apply(&a, &pv)
    return _drive(&a, f32, nrows, &pv, n_threads, fit_intercept, l2, denom, out)


# ---------------------------------------------------------------------------
# The one chunk driver, for dense and CSR X: threads over the plan's chunks,
# one accumulator slot per chunk, the slots added in chunk order (bitwise the
# same for every n_threads), Ctrl-C checks, malformed CSR rows.
# ---------------------------------------------------------------------------

ctypedef double (*chunk_fn)(const void *a, Py_ssize_t r0, Py_ssize_t r1, double *g,
                            double *work, Py_ssize_t *bad) noexcept nogil

cdef double _chunk_dense_f64(const void *a, Py_ssize_t r0, Py_ssize_t r1, double *g,
                             double *work, Py_ssize_t *bad) noexcept nogil:
    cdef double r = fg_chunk_f64(<const fg_args *>a, r0, r1, g, work)
    if fg_ybad_seen(<const fg_args *>a):      # a y outside its range: stop the pass
        bad[0] = r0
    return r

cdef double _chunk_dense_f32(const void *a, Py_ssize_t r0, Py_ssize_t r1, double *g,
                             double *work, Py_ssize_t *bad) noexcept nogil:
    cdef double r = fg_chunk_f32(<const fg_args *>a, r0, r1, g, work)
    if fg_ybad_seen(<const fg_args *>a):
        bad[0] = r0
    return r

cdef double _chunk_csr_f64_i32(const void *a, Py_ssize_t r0, Py_ssize_t r1, double *g,
                               double *work, Py_ssize_t *bad) noexcept nogil:
    return fg_csr_chunk_f64_i32(<const fg_csr_args *>a, r0, r1, g, work, bad)

cdef double _chunk_csr_f64_i64(const void *a, Py_ssize_t r0, Py_ssize_t r1, double *g,
                               double *work, Py_ssize_t *bad) noexcept nogil:
    return fg_csr_chunk_f64_i64(<const fg_csr_args *>a, r0, r1, g, work, bad)

cdef double _chunk_csr_f32_i32(const void *a, Py_ssize_t r0, Py_ssize_t r1, double *g,
                               double *work, Py_ssize_t *bad) noexcept nogil:
    return fg_csr_chunk_f32_i32(<const fg_csr_args *>a, r0, r1, g, work, bad)

cdef double _chunk_csr_f32_i64(const void *a, Py_ssize_t r0, Py_ssize_t r1, double *g,
                               double *work, Py_ssize_t *bad) noexcept nogil:
    return fg_csr_chunk_f32_i64(<const fg_csr_args *>a, r0, r1, g, work, bad)


cdef inline bint _run_chunk(chunk_fn fn, const void *a, Py_ssize_t c, Py_ssize_t s,
                            Py_ssize_t per, Py_ssize_t nrows, Py_ssize_t glen,
                            double *slots, double *sloss, Py_ssize_t *sbad,
                            double *work) noexcept nogil:
    """Chunk c (logical rows [c*per, min((c+1)*per, nrows))) into slot s of the
    wave; True when a malformed (CSR) row stopped it."""
    cdef Py_ssize_t r0 = c * per
    cdef Py_ssize_t r1 = r0 + per
    if r1 > nrows:
        r1 = nrows
    memset(slots + s * glen, 0, glen * sizeof(double))
    sbad[s] = -1
    sloss[s] = fn(a, r0, r1, slots + s * glen, work, &sbad[s])
    return sbad[s] >= 0


cdef double _drive_chunks(chunk_fn fn, const void *a, Py_ssize_t nrows, const PlanVal *plan,
                          int n_threads, Py_ssize_t wlen, bint f32, Py_ssize_t n,
                          Py_ssize_t k, bint fit_intercept, bint hess, bint want_grad,
                          double l2, double denom, const char *cdata, const char *vdata,
                          object out, Py_ssize_t *bad_row) except? -1.0:
    """The pass over the nrows (logical) rows in the plan's chunks, then _finish
    (out, the loss).  A malformed CSR row: *bad_row set, 0.0 returned, out
    untouched.  A signal (Ctrl-C) raises its exception."""
    cdef Py_ssize_t glen = n * k + k
    cdef Py_ssize_t per = plan.chunk_rows
    cdef Py_ssize_t nchunks = (nrows + per - 1) // per
    # one accumulator slot per chunk of a wave; normally one wave holds every chunk
    cdef Py_ssize_t nslot = SLOT_BUDGET // (glen if glen > 0 else 1)
    if nslot < MIN_SLOTS:
        nslot = MIN_SLOTS
    if nslot > nchunks:
        nslot = nchunks
    if nslot < 1:
        nslot = 1
    cdef Py_ssize_t check_every = plan.check_chunks       # chunks between signal checks
    cdef int nt = n_threads
    if nt > nchunks:
        nt = <int>nchunks
    if nt < 1:
        nt = 1
    # slots this long are added up by all the threads, each a range of entries
    # (the plan's par_reduce); the order per entry is the chunk order either way
    cdef int ntr = nt if plan.par_reduce else 1
    # in the parallel loop only thread 0 checks, after every (check_every / nt)-th
    # chunk *it* ran: about every check_every chunks of the whole team (a test on the
    # chunk's index alone left the checks to chance: thread 0 runs ~1/nt of them)
    cdef Py_ssize_t own_every = check_every // nt if check_every > nt else 1
    cdef Py_ssize_t own_done = 0
    cdef Py_ssize_t *own = &own_done
    cdef Py_ssize_t c, c0, c1, s, i
    cdef int tid
    cdef double total_loss = 0.0, si
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag

    # one block of memory: acc | sloss | slots | per-thread work | sbad; on the
    # stack when it fits (small problems: a malloc is a tenth of their time)
    cdef double stack_mem[STACK_DOUBLES]
    cdef Py_ssize_t need = glen + 1 + nslot + nslot * glen + nt * wlen + nslot
    cdef double *mem = stack_mem
    if need > STACK_DOUBLES:
        mem = <double *>malloc(need * sizeof(double))
        if mem == NULL:
            raise MemoryError("fastgrad: cannot allocate the per-chunk accumulators")
    cdef double *acc = mem
    cdef double *sloss = acc + glen + 1
    cdef double *slots = sloss + nslot
    cdef double *work = slots + nslot * glen
    cdef Py_ssize_t *sbad = <Py_ssize_t *>(work + nt * wlen)
    memset(acc, 0, glen * sizeof(double))
    try:
        c0 = 0
        while c0 < nchunks and not stop[0]:
            c1 = c0 + nslot
            if c1 > nchunks:
                c1 = nchunks
            with nogil:
                if nt > 1:
                    # one parallel region per wave (normally per call); chunks are
                    # handed out dynamically, so a descheduled thread holds up no one
                    for c in prange(c0, c1, num_threads=nt, schedule='dynamic', chunksize=1):
                        if not stop[0]:
                            tid = threadid()
                            if _run_chunk(fn, a, c, c - c0, per, nrows, glen, slots, sloss,
                                          sbad, work + tid * wlen):
                                stop[0] = STOP_MALFORMED
                            if tid == 0:
                                own[0] += 1
                                if own[0] % own_every == 0:
                                    with gil:
                                        if PyErr_CheckSignals() != 0:
                                            stop[0] = STOP_SIGNAL
                else:
                    for c in range(c0, c1):
                        s = c - c0
                        if _run_chunk(fn, a, c, s, per, nrows, glen, slots, sloss, sbad,
                                      work):
                            stop[0] = STOP_MALFORMED
                            break
                        if (s + 1) % check_every == 0 and c + 1 < c1:
                            with gil:
                                if PyErr_CheckSignals() != 0:
                                    stop[0] = STOP_SIGNAL
                                    break
                # fixed-order reduction: chunk order, whatever thread ran it
                if not stop[0]:
                    for c in range(c0, c1):
                        total_loss += sloss[c - c0]
                    if ntr > 1:
                        for i in prange(glen, num_threads=ntr, schedule='static'):
                            si = acc[i]
                            for c in range(c1 - c0):
                                si = si + slots[c * glen + i]
                            acc[i] = si
                    else:
                        for c in range(c0, c1):
                            s = c - c0
                            for i in range(glen):
                                acc[i] += slots[s * glen + i]
            if stop[0] == STOP_MALFORMED:
                for s in range(c1 - c0):
                    if sbad[s] >= 0:
                        bad_row[0] = sbad[s]
                        break
                return 0.0
            c0 = c1
            if c0 < nchunks and not stop[0]:
                if PyErr_CheckSignals() != 0:
                    stop[0] = STOP_SIGNAL
        if stop[0]:
            # the exception (KeyboardInterrupt, ...) was set by PyErr_CheckSignals
            raise_pending()
        return _finish(f32, acc, total_loss, n, k, fit_intercept, hess, want_grad, l2,
                       denom, cdata, vdata, out)
    finally:
        if mem != stack_mem:
            free(mem)


cdef double _drive(fg_args *a, bint f32, Py_ssize_t nrows, const PlanVal *plan,
                   int n_threads, bint fit_intercept, double l2, double denom,
                   object out) except? -1.0:
    """The pass over the nrows (logical) rows of a dense X (_drive_chunks)."""
    cdef Py_ssize_t bad = -1
    return _drive_chunks(_chunk_dense_f32 if f32 else _chunk_dense_f64, a, nrows, plan,
                         n_threads, <Py_ssize_t>fg_work_size(a), f32, a.n, a.k,
                         fit_intercept, a.hess, a.want_grad, l2, denom,
                         <const char *>a.coef, <const char *>a.v, out, &bad)


# ---------------------------------------------------------------------------
# Lean entries for the common calls (per-call overhead of small problems).
# They accept only arguments that fastgrad._validation would pass through
# unchanged (the same objects, no copy, no error), so they compute exactly what
# the general path computes; for anything else they return None and the caller
# takes the general path, whose checks raise the documented errors.  They raise
# no error of their own (n_threads: _validation.check_n_threads's).  A call of
# more than one chunk runs on the thread count check_n_threads gives (its result
# is the same on any count: the chunks and their reduction order are fixed).
# ---------------------------------------------------------------------------

import numpy as np

cdef object _F64 = np.dtype(np.float64)      # the dtype singletons _validation
cdef object _F32 = np.dtype(np.float32)      # compares with `is`


cdef extern from *:
    # the gradient array of a lean call: X's dtype, without PyArray_EMPTY's
    # look-up of the descr (PyArray_NewFromDescr steals a reference to descr)
    """
    #define fg_new_array(descr, nd, dims) PyArray_NewFromDescr( \
        &PyArray_Type, (PyArray_Descr *)(descr), (nd), (dims), NULL, NULL, 0, NULL)
    """
    object _new_array "fg_new_array" (PyObject *descr, int nd, cnp.npy_intp *dims)


cdef inline bint _plain(object a, Py_ssize_t ndim, object descr):
    """a is exactly an ndarray of ndim dimensions, of dtype descr (the singleton),
    element-aligned: what _validation returns unchanged."""
    if not cnp.PyArray_CheckExact(a):
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>a
    return (cnp.PyArray_NDIM(arr) == ndim and <void *>cnp.PyArray_DESCR(arr) == <void *>descr
            and cnp.PyArray_ISALIGNED(arr))


cdef const Py_ssize_t *_plain_rows(object rows, Py_ssize_t m, Py_ssize_t *nrows):
    """rows as _validation.check_rows returns it unchanged (1-D C-contiguous
    aligned intp, at least one index, all in [0, m)), else NULL."""
    if not cnp.PyArray_CheckExact(rows):
        return NULL
    cdef cnp.ndarray r = <cnp.ndarray>rows
    if (cnp.PyArray_NDIM(r) != 1 or cnp.PyArray_TYPE(r) != cnp.NPY_INTP
            or not cnp.PyArray_ISNOTSWAPPED(r) or not cnp.PyArray_IS_C_CONTIGUOUS(r)
            or not cnp.PyArray_ISALIGNED(r)):
        return NULL
    cdef Py_ssize_t nr = cnp.PyArray_DIM(r, 0), i
    cdef const Py_ssize_t *p = <const Py_ssize_t *>cnp.PyArray_DATA(r)
    cdef size_t bad = 0
    for i in range(nr):      # an index outside [0, m) wraps to >= m as unsigned
        bad |= <size_t>p[i] >= <size_t>m
    if nr == 0 or bad:
        return NULL
    nrows[0] = nr
    return p


cdef inline bint _apart(cnp.ndarray out, object other):
    """out's bytes and other's (an ndarray, any strides, or None) lie apart: the
    bounds test of np.may_share_memory (overlapping bounds: the general path,
    whose check_out decides exactly)."""
    if other is None:
        return True
    cdef cnp.ndarray b = <cnp.ndarray>other
    cdef char *lo = <char *>cnp.PyArray_DATA(b)
    cdef char *hi = lo
    cdef int d
    cdef Py_ssize_t ext
    for d in range(cnp.PyArray_NDIM(b)):
        if cnp.PyArray_DIM(b, d) == 0:
            return True
        ext = (cnp.PyArray_DIM(b, d) - 1) * cnp.PyArray_STRIDE(b, d)
        if ext < 0:
            lo += ext
        else:
            hi += ext
    hi += cnp.PyArray_ITEMSIZE(b)
    cdef char *olo = <char *>cnp.PyArray_DATA(out)
    cdef char *ohi = olo + cnp.PyArray_NBYTES(out)
    return ohi <= lo or hi <= olo


cdef bint _plain_out(object out, int nd, const cnp.npy_intp *dims, object descr,
                     object a, object b, object c, object d):
    """out as _validation.check_out accepts it (exactly an ndarray of coef's shape
    and X's dtype, C-contiguous, writeable, aligned), its bytes apart from those
    of a, b, c, d (coef, X, y, sample_weight)."""
    if not cnp.PyArray_CheckExact(out):
        return False
    cdef cnp.ndarray o = <cnp.ndarray>out
    if (<void *>cnp.PyArray_DESCR(o) != <void *>descr or cnp.PyArray_NDIM(o) != nd
            or cnp.PyArray_DIM(o, 0) != dims[0] or (nd == 2 and cnp.PyArray_DIM(o, 1) != dims[1])
            or not cnp.PyArray_IS_C_CONTIGUOUS(o) or not cnp.PyArray_ISWRITEABLE(o)
            or not cnp.PyArray_ISALIGNED(o)):
        return False
    return _apart(o, a) and _apart(o, b) and _apart(o, c) and _apart(o, d)


cdef object _check_n_threads = None       # _validation.check_n_threads (imported lazily:
                                          # _validation imports this module's _backends)


cdef struct LeanCall:
    int nd                  # coef's dimensions: 1 ((n + fi,)) or 2 ((n + fi, k))
    bint fi, mean           # fit_intercept, reduction == "mean"
    bint y_range            # a y not checked yet: its range [y_lo, y_hi] is, per call
    double y_lo, y_hi
    double l2, denom        # denom: of a call on every row (mean: m or sum(w); sum: 1)


cdef inline void _y_range_of(int lcode, LeanCall *p) noexcept:
    """The values of y the lean entry takes for a loss code (the API's domains;
    NaN, which the general path lets through, sends a call there): logistic
    [0, 1], poisson [0, inf], gamma (0, inf] as [smallest subnormal, inf].  (C
    constants: a dict look-up here cost 4-5% of a 64 x 32 logistic call.)"""
    p.y_lo = 5e-324 if lcode == 4 else 0.0
    p.y_hi = 1.0 if lcode == 1 else INFINITY


cdef object _ONE_CHUNK = object()     # _lean_pass's threads_of: calls of one chunk only


cdef object _lean_pass(fg_args *a, const PlanVal *plans, const LeanCall *p,
                       cnp.ndarray X, cnp.ndarray y, object w, object coef, object rows,
                       object out, bint want_grad, int n_threads,
                       object threads_of=_ONE_CHUNK):
    """The pass of a lean call whose X, y, w are in their validated form, or None
    (the caller's general path) when: coef is not exactly an ndarray of X's dtype
    and shape (n + p.fi,) (p.nd 1) or (n + p.fi, k) (p.nd 2), C-contiguous and aligned;
    rows is not None and not as check_rows returns it, or rows come with w and
    reduction "mean" (the general path computes that denominator); out is not
    None and not as check_out accepts it, apart from coef, X, y, w; the rows used
    fill more than one chunk and n_threads is 0 (not resolved: the count matters
    then; else n_threads is _validation.check_n_threads's), unless threads_of is
    the call's n_threads argument (then resolved here by check_n_threads); X has no rows or no
    columns; or, with p.y_range, a y the call
    uses lies outside [p.y_lo, p.y_hi] (NaN too).
    a: fg_args with the fields of X, y, w, k, the loss and power set (_set_data;
    the call's fields are set here).  plans: the plans of the calls on every
    row, value_and_grad and value, or NULL (looked up in the cache)."""
    if not cnp.PyArray_CheckExact(coef):
        return None
    cdef cnp.ndarray c = <cnp.ndarray>coef
    cdef bint f32 = cnp.PyArray_TYPE(X) == cnp.NPY_FLOAT32
    cdef Py_ssize_t isz = 4 if f32 else 8
    cdef Py_ssize_t m = cnp.PyArray_DIM(X, 0)
    cdef int nd = p.nd
    cdef cnp.npy_intp dims[2]
    dims[0] = a.n + p.fi
    dims[1] = a.k
    if (m < 1 or a.n < 1 or <void *>cnp.PyArray_DESCR(c) != <void *>cnp.PyArray_DESCR(X)
            or cnp.PyArray_NDIM(c) != nd or cnp.PyArray_DIM(c, 0) != dims[0]
            or (nd == 2 and cnp.PyArray_DIM(c, 1) != dims[1])
            or not cnp.PyArray_IS_C_CONTIGUOUS(c) or not cnp.PyArray_ISALIGNED(c)):
        return None
    cdef Py_ssize_t nrows = m
    cdef const Py_ssize_t *rp = NULL
    cdef double denom = p.denom
    if rows is not None:
        if p.mean and w is not None:
            return None
        rp = _plain_rows(rows, m, &nrows)
        if rp == NULL:
            return None
        if p.mean:
            denom = <double>nrows
    cdef PlanVal pv
    cdef const PlanVal *pp = &pv
    _set_call(a, rp, <const char *>cnp.PyArray_DATA(c), NULL, p.fi, False, want_grad, isz)
    if rp == NULL and plans != NULL:
        pp = &plans[0 if want_grad else 1]
    else:
        _dense_plan(a, nrows, m, isz, &pv)
    global _check_n_threads
    if pp.nchunks != 1 and n_threads < 1:
        if threads_of is _ONE_CHUNK:
            return None
        if _check_n_threads is None:
            from ._validation import check_n_threads
            _check_n_threads = check_n_threads
        n_threads = _check_n_threads(threads_of)
    if n_threads < 1:
        n_threads = 1                       # one chunk: any count runs the same
    _apply(a, pp)
    # y's range: checked by the kernels as they gather y for the pointwise step
    # (one output, gradient or value: every row's y passes there), so that y is
    # read from memory once; else by a pass of its own first.  A y outside it
    # stops the pass before out is written (_chunk_dense_*), and the call goes
    # to the general path, whose check raises.
    cdef int ybad = 0
    if p.y_range:
        if a.k == 1 and not a.hess and a.loss != 0 and a.loss != 2:   # squared, multinomial
            a.ylo = p.y_lo
            a.yhi = p.y_hi
            a.ybad = &ybad
        elif not fg_y_in_range(a, f32, nrows, p.y_lo, p.y_hi):
            return None
    cdef double L
    if not want_grad:
        L = _drive(a, f32, nrows, pp, n_threads, p.fi, p.l2, denom, None)
        a.ybad = NULL
        return None if ybad else L
    cdef PyObject *descr = <PyObject *>cnp.PyArray_DESCR(X)
    if out is None:
        Py_INCREF(<object>descr)
        out = _new_array(descr, nd, dims)
    elif not _plain_out(out, nd, dims, <object>descr, coef, X, y, w):
        a.ybad = NULL
        return None
    L = _drive(a, f32, nrows, pp, n_threads, p.fi, p.l2, denom, out)
    a.ybad = NULL
    return None if ybad else (L, out)


def value_and_grad_common(object X, object y, object coef, object rows, object out,
                          object loss, object fit_intercept, object l2, object reduction,
                          object n_threads, object backend):
    """``fastgrad.value_and_grad`` for the common call (no sample_weight, no
    power), or None (then fastgrad._api runs _validation's checks).

    Taken when: X and y plain float arrays of the same dtype (X any
    element-aligned strides, y 1-D with y.shape[0] == X.shape[0]), loss exactly
    "squared", "logistic" (y in [0, 1]), "poisson" (y >= 0) or
    "gamma" (y > 0), reduction "mean" or "sum", backend
    "auto" or "native", fit_intercept True or False, l2 a float in [0, inf), and
    coef, rows and out as _lean_pass takes them.  n_threads
    other than None goes to _validation.check_n_threads once loss, reduction,
    backend and l2 are known valid (the arguments _validation checks before it),
    so an invalid one raises the general path's error; a valid one is used when
    the call fills more than one chunk (one chunk: the thread count does not
    matter), as is None's count then.  y's range is checked in the pass itself
    (_lean_pass).
    Returns (loss, gradient).
    """
    global _check_n_threads
    cdef object descr
    cdef int lcode
    cdef double l2v
    if cnp.PyArray_CheckExact(X) and cnp.PyArray_TYPE(<cnp.ndarray>X) == cnp.NPY_FLOAT32:
        descr = _F32
    else:
        descr = _F64
    if not (_plain(X, 2, descr) and _plain(y, 1, descr)):
        return None
    # the names as exact str (a str subclass or another type: the general path)
    if type(loss) is not str or type(reduction) is not str or type(backend) is not str:
        return None
    if loss == "squared":
        lcode = 0
    elif loss == "logistic":
        lcode = 1
    elif loss == "poisson":
        lcode = 3
    elif loss == "gamma":
        lcode = 4
    else:
        return None
    cdef bint mean = reduction == "mean"
    if not (mean or reduction == "sum") or not (backend == "auto" or backend == "native"):
        return None
    if type(l2) is not float:
        return None
    l2v = l2
    if not (l2v >= 0.0 and l2v < float("inf")):
        return None
    # a plain int >= 1 is valid, and resolved only for a call of more than one
    # chunk (_lean_pass); anything else is _validation.check_n_threads's to accept
    # or raise now (calling it for every int cost 7-8% of a 64 x 32 call)
    if n_threads is not None and not (type(n_threads) is int and n_threads >= 1):
        if _check_n_threads is None:
            from ._validation import check_n_threads
            _check_n_threads = check_n_threads
        _check_n_threads(n_threads)
    cdef bint fi
    if fit_intercept is True:
        fi = True
    elif fit_intercept is False:
        fi = False
    else:
        return None
    cdef cnp.ndarray Xa = <cnp.ndarray>X, ya = <cnp.ndarray>y
    cdef Py_ssize_t m = cnp.PyArray_DIM(Xa, 0)
    if (cnp.PyArray_DIM(ya, 0) != m
            or cnp.PyArray_STRIDE(ya, 0) % cnp.PyArray_ITEMSIZE(Xa) != 0):
        return None
    cdef fg_args a
    cdef LeanCall p
    _set_data(&a, Xa, ya, None, 1, lcode, cnp.PyArray_ITEMSIZE(Xa))
    p.nd = 1
    p.fi = fi
    p.mean = mean
    p.y_range = lcode != 0
    if p.y_range:
        _y_range_of(lcode, &p)
    p.l2 = l2v
    p.denom = <double>m if mean else 1.0
    return _lean_pass(&a, NULL, &p, Xa, ya, None, coef, rows, out, True, 0, n_threads)


cdef class ObjectivePlan:
    """What an Objective made once for the compiled core: its checked X, y,
    sample_weight (by fastgrad._validation) in fg_args, and the plans of its
    calls on every row.  It checks nothing: ``value_and_grad(coef, rows, out)``
    and ``value(coef, rows)`` run the pass when coef, rows and out are already in
    their checked form and the call is one chunk, ``threaded(coef, rows, out,
    want_grad, n_threads)`` (n_threads resolved by _validation.check_n_threads)
    also the calls of more chunks (_lean_pass); else they return None and the
    Objective runs _validation's checks and its general call.
    """
    cdef fg_args a
    cdef PlanVal plans[2]           # the calls on every row: value_and_grad, value
    cdef LeanCall p
    cdef cnp.ndarray X, y
    cdef object w
    cdef tuple args

    def __cinit__(self, cnp.ndarray X, cnp.ndarray y, object w, str loss, double power,
                  bint fit_intercept, int nd, Py_ssize_t k, double l2, double denom,
                  bint mean):
        self.args = (X, y, w, loss, power, fit_intercept, nd, k, l2, denom, mean)
        self.X, self.y, self.w = X, y, w
        self.p.nd = nd
        self.p.fi = fit_intercept
        self.p.mean = mean
        self.p.y_range = False              # y was checked by the Objective
        self.p.l2 = l2
        self.p.denom = denom
        cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(X)
        cdef Py_ssize_t m = cnp.PyArray_DIM(X, 0)
        _set_data(&self.a, X, y, w, k, LOSS_CODES[loss], isz)
        self.a.power = power
        _dense_plan(&self.a, m, m, isz, &self.plans[0])
        self.a.want_grad = 0
        _dense_plan(&self.a, m, m, isz, &self.plans[1])
        self.a.want_grad = 1

    def __reduce__(self):            # an Objective pickles (fg_args hold pointers)
        return (ObjectivePlan, self.args)

    def value_and_grad(self, coef, rows=None, out=None):
        """(loss, gradient), or None (see the class)."""
        cdef fg_args a = self.a                 # a copy: calls may run concurrently
        return _lean_pass(&a, self.plans, &self.p, self.X, self.y, self.w, coef, rows, out,
                          True, 0)

    def value(self, coef, rows=None):
        """The loss, or None (see the class)."""
        cdef fg_args a = self.a
        return _lean_pass(&a, self.plans, &self.p, self.X, self.y, self.w, coef, rows, None,
                          False, 0)

    def threaded(self, coef, rows, out, bint want_grad, int n_threads):
        """value_and_grad (want_grad) or value on n_threads threads (>= 1): also
        the calls of more than one chunk; None (see the class)."""
        cdef fg_args a = self.a
        return _lean_pass(&a, self.plans, &self.p, self.X, self.y, self.w, coef, rows,
                          out if want_grad else None, want_grad, n_threads)


cdef double _finish(bint f32, const double *acc, double total_loss, Py_ssize_t n,
                    Py_ssize_t k, bint fit_intercept, bint hess, bint want_grad,
                    double l2, double denom, const char *cdata, const char *vdata,
                    object out) except? -1.0:
    """out = acc / denom + l2 * (coef or v), intercept rows unpenalised."""
    cdef Py_ssize_t i, nk = n * k
    cdef Py_ssize_t glen = nk + (k if fit_intercept else 0)
    cdef const double *cd = <const double *>(vdata if hess else cdata)
    cdef const float *cf = <const float *>(vdata if hess else cdata)
    cdef double pen = 0.0, ci, inv = 1.0 / denom
    cdef cnp.ndarray out_a
    cdef double *od = NULL
    cdef float *of = NULL
    if not hess:
        for i in range(nk):
            ci = (<const float *>cdata)[i] if f32 else (<const double *>cdata)[i]
            pen += ci * ci
    if want_grad or hess:
        out_a = <cnp.ndarray>out
        if f32:
            of = <float *>cnp.PyArray_DATA(out_a)
            for i in range(nk):
                of[i] = <float>(acc[i] * inv + l2 * cf[i])
            for i in range(nk, glen):
                of[i] = <float>(acc[i] * inv)
        else:
            od = <double *>cnp.PyArray_DATA(out_a)
            for i in range(nk):
                od[i] = acc[i] * inv + l2 * cd[i]
            for i in range(nk, glen):
                od[i] = acc[i] * inv
    if hess:
        return 0.0
    return total_loss * inv + 0.5 * l2 * pen


# ---------------------------------------------------------------------------
# CSR X (fastgrad._sparse.CSR): the same driver around the kernels of fg_csr.c
# ---------------------------------------------------------------------------



def run_csr(object X, cnp.ndarray y, object w, object rows, cnp.ndarray coef,
            object v, object out, str loss, bint fit_intercept, bint hess,
            bint want_grad, double l2, double denom, int n_threads, double power=0.0):
    """``run`` for a CSR X (a ``fastgrad._sparse.CSR``): one pass over the stored
    values of the rows used; writes the gradient (or H v) into out, returns the loss.

    Chunks of rows are the plan's (``fastgrad._plan.csr_chunk_rows``), one accumulator
    slot per chunk, slots added in chunk order: bitwise identical for every
    n_threads.  A malformed row met on the way raises ValueError (out untouched).
    """
    cdef cnp.ndarray data = <cnp.ndarray>X.data
    cdef cnp.ndarray indices = <cnp.ndarray>X.indices
    cdef cnp.ndarray indptr = <cnp.ndarray>X.indptr
    cdef fg_csr_args a
    cdef bint f32 = cnp.PyArray_TYPE(data) == cnp.NPY_FLOAT32
    cdef bint i64 = cnp.PyArray_ITEMSIZE(indices) == 8
    cdef Py_ssize_t isz = 4 if f32 else 8
    cdef Py_ssize_t m = cnp.PyArray_DIM(indptr, 0) - 1
    cdef Py_ssize_t n = X.shape[1]
    cdef Py_ssize_t k = cnp.PyArray_DIM(coef, 1) if cnp.PyArray_NDIM(coef) == 2 else 1
    cdef cnp.ndarray rows_a, v_a
    cdef Py_ssize_t nrows = m

    a.data = cnp.PyArray_DATA(data)
    a.indices = cnp.PyArray_DATA(indices)
    a.indptr = cnp.PyArray_DATA(indptr)
    a.nnz = X.nnz
    a.n = n
    a.k = k
    _set_targets(&a, y, w, isz)
    cdef const Py_ssize_t *rp = NULL
    if rows is not None:
        rows_a = <cnp.ndarray>rows
        rp = <const Py_ssize_t *>cnp.PyArray_DATA(rows_a)
        nrows = cnp.PyArray_DIM(rows_a, 0)
    cdef const char *cdata = <const char *>cnp.PyArray_DATA(coef)
    cdef const char *vdata = NULL
    if hess:
        v_a = <cnp.ndarray>v
        vdata = <const char *>cnp.PyArray_DATA(v_a)
    _set_call(&a, rp, cdata, vdata, fit_intercept, hess, want_grad, isz)
    a.loss = LOSS_CODES[loss]
    a.power = power

    cdef PlanKey key
    cdef PlanVal pv
    memset(&key, 0, sizeof(PlanKey))
    key.csr = 1
    key.nrows = nrows
    key.n = n
    key.k = k
    key.m = m
    key.nnz = a.nnz
    key.isz = <int>isz
    key.idx = <int>cnp.PyArray_ITEMSIZE(indices)
    key.loss = a.loss
    key.mode = _mode(a.hess, a.want_grad)
    key.rows = rp != NULL
    _get_plan(&key, &pv)
    a.path = pv.path

    cdef chunk_fn fn
    if f32:
        fn = _chunk_csr_f32_i64 if i64 else _chunk_csr_f32_i32
    else:
        fn = _chunk_csr_f64_i64 if i64 else _chunk_csr_f64_i32
    cdef Py_ssize_t bad_row = -1
    cdef double value = _drive_chunks(fn, &a, nrows, &pv, n_threads,
                                      <Py_ssize_t>fg_csr_work_size(&a), f32, n, k,
                                      fit_intercept, hess, want_grad, l2, denom, cdata,
                                      vdata, out, &bad_row)
    if bad_row >= 0:
        from ._sparse import malformed_error
        raise malformed_error(X, rows, bad_row)
    return value
