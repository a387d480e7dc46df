"""The kernel plan: how a call runs, decided in one place.

From (shape, dtype, layout or CSR, loss, op, keywords) and the machine (cache
sizes and the ISA clone that runs, read once at import) the plan names the
kernel path, its tile (``block_rows``, ``block_cols``), the rows per chunk
(the unit of the threads and of the deterministic reduction) and the thread
count.  The compiled core runs what it is given: ``fg_chunk`` and
``fg_csr_chunk`` switch on the path, the row paths read their block size and
streaming flags from the plan, and ``_native.pyx`` cuts the rows into the
plan's chunks.  ``fastgrad.explain`` prints a plan; ``show_config`` the machine.

Every threshold and block size is below with its reason.  Those that were tuned
to a cache are derived from the cache sizes read at import, in proportions that
give back the numbers measured on the machines where they were tuned (an AMD
EPYC with 32 KiB L1d, 1 MiB L2, 32 MiB L3: see README, "Kernel paths").

The plan is a pure function of its arguments and of the machine; the result of
a call never depends on it beyond rounding, and for a given machine it does not
depend on the thread count (chunks are cut by shape only), so results are
bitwise identical for every ``n_threads``.
"""
import enum
import functools
import glob
import mmap
import os
import platform

# ---------------------------------------------------------------------------
# The machine, read once
# ---------------------------------------------------------------------------

#: used when neither os.sysconf nor sysfs gives a size: the caches of the
#: machines the constants were measured on (so the plan then behaves as tuned)
DEFAULT_CACHES = {"L1d": 32 << 10, "L2": 1 << 20, "L3": 32 << 20}

_SYSCONF = {"L1d": "SC_LEVEL1_DCACHE_SIZE", "L2": "SC_LEVEL2_CACHE_SIZE",
            "L3": "SC_LEVEL3_CACHE_SIZE"}


def _parse_size(text):
    """'32K', '1024K', '32M', '1048576' -> bytes (None when unreadable)."""
    text = text.strip().upper()
    mult = 1
    if text.endswith("K"):
        mult, text = 1 << 10, text[:-1]
    elif text.endswith("M"):
        mult, text = 1 << 20, text[:-1]
    elif text.endswith("G"):
        mult, text = 1 << 30, text[:-1]
    try:
        v = int(text) * mult
    except ValueError:
        return None
    return v if v > 0 else None


def read_caches(sysfs="/sys/devices/system/cpu/cpu0/cache"):
    """{level: (bytes, source)} for L1d, L2, L3: os.sysconf, else sysfs, else
    DEFAULT_CACHES (the source says which)."""
    out = {}
    for level, name in _SYSCONF.items():
        try:
            v = os.sysconf(name)
        except (ValueError, OSError, AttributeError):
            v = -1
        if v and v > 0:
            out[level] = (int(v), f"os.sysconf({name})")
    for d in sorted(glob.glob(os.path.join(sysfs, "index*"))):
        try:
            with open(os.path.join(d, "level")) as f:
                lvl = int(f.read())
            with open(os.path.join(d, "type")) as f:
                typ = f.read().strip()
            with open(os.path.join(d, "size")) as f:
                size = _parse_size(f.read())
        except (OSError, ValueError):
            continue
        key = {1: "L1d", 2: "L2", 3: "L3"}.get(lvl)
        if key is None or size is None or typ not in ("Data", "Unified"):
            continue
        if key not in out:
            out[key] = (size, os.path.join(d, "size"))
    for level, size in DEFAULT_CACHES.items():
        if level not in out:
            out[level] = (size, "default (not readable on this system)")
    return out


def read_cpu_model():
    """The CPU's model name (/proc/cpuinfo, else platform), with the x86 family and
    model numbers where /proc/cpuinfo has them (a VM may show a bare "AMD EPYC")."""
    facts = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip().lower()
                if key in ("model name", "cpu model", "hardware", "cpu family", "model") \
                        and key not in facts:
                    facts[key] = val.strip()
                if not line.strip():
                    break
    except OSError:
        pass
    name = (facts.get("model name") or facts.get("cpu model") or facts.get("hardware")
            or platform.processor() or platform.machine() or "unknown")
    if "cpu family" in facts and "model" in facts:
        name += f" (family {facts['cpu family']} model {facts['model']})"
    return name


def read_cpu_vendor():
    """The x86 vendor string of /proc/cpuinfo ("GenuineIntel", "AuthenticAMD"), or
    "" where there is none."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, val = line.partition(":")
                if key.strip().lower() == "vendor_id":
                    return val.strip()
                if not line.strip():
                    break
    except OSError:
        pass
    return ""


CACHES = read_caches()
L1D, L2, L3 = (CACHES[k][0] for k in ("L1d", "L2", "L3"))
CPU_MODEL = read_cpu_model()
CPU_VENDOR = read_cpu_vendor()


def _native():
    from . import _backends
    return _backends._native


def _isa():
    """The ISA of the clone that runs: "avx512", "avx2" or "baseline" (None: no
    compiled core).  FASTGRAD_ISA, read when the core is imported, caps it."""
    nat = _native()
    return None if nat is None else nat.isa_selected()


@functools.lru_cache(maxsize=None)
def _vector_paths():
    """The paths written with vector extensions are compiled in."""
    nat = _native()
    return bool(nat is not None and nat.have_vector_paths())


# ---------------------------------------------------------------------------
# The paths
# ---------------------------------------------------------------------------

class Path(enum.IntEnum):
    """The kernel paths; the numbers are fastgrad_kernels.h's enum fg_path."""
    ROWS = 0            # one output, blocks of rows (about half of L1d), 4 rows a step
    ROWS_STREAM = 1     # the same, rows from memory: prefetch ahead, row-after-row dots
    ROWS_VEC = 2        # one output, n in {4, 8, 12, 16}, contiguous rows: g in registers
    ROWS_MULTI = 3      # several outputs (y of shape (m, k)): one row at a time
    COLS = 4            # F-ordered: panels of block_rows rows, 8 (or 4) columns a sweep
    COLS_SMALL = 5      # F-ordered, 2 <= n <= 8, one output, no rows=: gradient in registers
    MULTINOMIAL = 6     # softmax: blocks of rows in register tiles (baseline: 4 rows a step), any layout
    CSR_ROWS = 7        # CSR, one output, rows=: blocks of up to 8 rows
    CSR_FLAT = 8        # CSR, one output, consecutive rows: flat spans of values
    CSR_MULTI = 9       # CSR, several outputs or multinomial: one row at a time
    NUMPY = 10          # the NumPy backend (not a compiled path)

    @property
    def label(self):
        return self.name.lower()


#: mode codes of the C (fastgrad_kernels.h: FG_MODE_GRAD, _VALUE, _HESSP)
class Mode(enum.IntEnum):
    GRAD = 0
    VALUE = 1
    HESSP = 2


class Loss(enum.IntEnum):
    """fastgrad_kernels.h's loss codes."""
    SQUARED = 0
    LOGISTIC = 1
    MULTINOMIAL = 2
    POISSON = 3
    GAMMA = 4
    TWEEDIE = 5


#: op name of explain -> the mode of the C
OPS = {"value_and_grad": Mode.GRAD, "grad": Mode.GRAD, "value": Mode.VALUE,
       "hessp": Mode.HESSP}

# streaming flags of the row paths (fastgrad_kernels.h: FG_STREAM_*)
STREAM_PREFETCH = 1
STREAM_SEQ = 2
STREAM_L2 = 4           # the prefetch distance in rows in the bits from STREAM_AHEAD_SHIFT
STREAM_SPLIT = 8        # with STREAM_L2: half of each row ahead by the dot phase, half by the axpys
STREAM_MN_COLS = 16     # the avx2 multinomial tiles: F-ordered blocks read in place (MN_COLS_MAX_K)
STREAM_QUARTERS = 32    # with SEQ: the chunk's four quarters read in lockstep (QUARTERS)
STREAM_PANEL = 64       # cols: the panel's z and d in vector registers (PANEL_REGS)
STREAM_AHEAD_SHIFT = 8

# ---------------------------------------------------------------------------
# Thresholds and block sizes, each with its reason
# ---------------------------------------------------------------------------

#: bytes of X per chunk: the unit handed to a thread and of the fixed-order
#: reduction.  Large enough that zeroing and adding a chunk's accumulator slot
#: (n k doubles) and handing it out stay a small part of its pass; small enough
#: that 64 MiB of X still makes 16 chunks to balance over the threads.  Not a
#: cache size (a chunk streams through the caches, its blocks are the tiles).
CHUNK_BYTES = 4 << 20
#: at least this many rows per chunk (tiny rows: the slot still dominates)
MIN_CHUNK_ROWS = 64
#: the driver checks for signals (Ctrl-C) after about this many bytes of X:
#: 128 MiB, tens of milliseconds at memory speed, so a KeyboardInterrupt comes
#: well within half a second, and the check (taking the GIL) costs nothing
CHECK_BYTES = 1 << 27

#: the multinomial tiles (avx512 clone, fg_kernel_impl.h rows_mn8; the avx2
#: clone's rows_mn4 alike, measured there in its commit message): blocks of
#: rows whose X fills about half of L1d (the nearest multiple of 8 rows), read
#: K/3 times by the z tiles and K/6 times by the g tiles after the softmax, so
#: from L1; the other half holds coef^T, g^T's tile and the block's z, d.
#: 500,000 x 100 f64 C (24 KiB on a 48 KiB L1d: 32 rows), one process, CPU
#: time: K = 10 16 rows 60.6 ms, 32 rows 61.2, 64 rows 61.4, 128 rows 64.2;
#: K = 32 142.7, 134.4, 137.7, 141.2; K = 3 36.3, 35.1, 36.1, 40.3 ms
MN_BLOCK_BYTES = L1D // 2
#: the avx2 clone's multinomial tiles (rows_mn4) on F-ordered X: a block read
#: in place by column tiles (z^T for 8 rows x 4 classes, a vector of 4 rows of a
#: feature times a broadcast coef; g^T for 4 features x 2 classes, dot products
#: down the rows) for float32 and for float64 up to this many classes; else
#: transposed 4 x 4 into a buffer of rows for the row tiles.  The column tiles
#: read the block once a tile of classes, each feature a column (and a page)
#: apart, so they lose as the classes grow; the transpose reads it once, but
#: float32 then pays a conversion a use.  AMD EPYC Zen 3 (L2 512 KiB), 500,000
#: x 100 F, 1 thread, side by side, column tiles / transpose: float64 K = 3
#: 0.68-0.80, 4 0.69-0.73, 6 0.82-0.88, 10 1.02-1.05, 32 1.19-1.25; float32 K =
#: 3 0.75-0.78, 10 0.67-0.69, 32 0.65-0.71.
MN_COLS_MAX_K = 6
#: the capacity of rows_mn8's block buffers (FG_MN8_MAXB)
MN_MAX_BLOCK_ROWS = 256

#: the row paths' blocks: rows whose X fills about half of L1d, so a block is
#: still in L1 when its axpy reads it again after the pointwise step (the other
#: half holds coef, g and the block's z, d); 16 KiB on a 32 KiB L1d
ROW_BLOCK_BYTES = L1D // 2
#: the capacity of the row paths' block buffers (fg_kernel_impl.h, FG_BR)
MAX_BLOCK_ROWS = 64

#: a chunk at least this big is taken to come from memory: the row paths then
#: prefetch and read rows front to back.  Below it, X is likely still in cache
#: from the previous call (a training loop on a small problem), where those
#: only add instructions (64 x 32: twice the instructions row after row).
#: A quarter of L2: 256 KiB on a 1 MiB L2, the value measured on it.
STREAM_BYTES = L2 // 4
#: rows longer than this are not prefetched nor read row after row: the
#: hardware prefetcher streams long rows by itself, and 8 rows ahead of 4 in
#: use must fit in L1d with room to spare (sixteen rows per L1d).  Side by side,
#: 40,000 x 1000 C squared: 1.27-1.39x one read without, 1.56-1.64x with;
#: 500,000 x 100: 1.05-1.16x with, 1.26-1.29x without.  2 KiB on a 32 KiB L1d.
STREAM_MAX_ROW_BYTES = L1D // 16
#: the row-after-row dots from this many features on (shorter rows: dot4's
#: four rows at once load coef once for four rows and are as fast).  C harness,
#: 500,000 x 100: 4 rows interleaved 29.8 ms, row after row 26.0 ms, a plain
#: sum of X 21.1 ms.
SEQ_MIN_FEATURES = 16
#: float64 rows one after the other from memory (STREAM_SEQ): the rows are
#: prefetched into L2 (prefetcht1) at least this many bytes and 8 rows ahead,
#: and the losses other than squared (their pointwise step runs over a block of
#: rows, between the dots and the axpys) take blocks of this many bytes of X.
#: Prefetched into L1 8 rows ahead, the stream from memory stalled through the
#: pointwise step and the axpys; into L2 it runs on.  Side by side in one
#: process on a Zen 4 (1 MiB L2), C float64, new/old: 500,000 x 100 logistic
#: 0.61-0.66, its hessp 0.70-0.77, poisson and tweedie 0.58-0.64, squared
#: 0.66-0.73; 1,000,000 x 50 logistic 0.72, squared 1.01; 2,000,000 x 20
#: logistic 0.88, squared 0.94.  8 rows ahead (6.4 KiB) or 16 the same; blocks
#: of 8 rows (6.4 KiB) or 12 better than 20 (L1d/2) or 32.  A quarter of L1d:
#: 8 KiB on a 32 KiB L1d.  float64 only: float32 X (half the bytes for the same
#: arithmetic) is bound by the arithmetic, and there logistic hessp ran
#: 1.09-1.16x slower with it (ahead 4 to 16 KiB), squared 1.05-1.25x.
STREAM_AHEAD_BYTES = L1D // 4
#: with STREAM_L2, each row ahead prefetched half by the dot phase and half by
#: the axpy phase (STREAM_SPLIT), so that memory stays busy through the whole
#: block, where the L2 hint (prefetcht1) fills L2 without taking L1 lines: on
#: Intel cores.  There a prefetch holds an L1 fill buffer, so a burst in the dot
#: phase stalls, and spreading it helped: Xeon (family 6 model 167, L2 2 MiB),
#: the kernel alone (tools/kernel_floor.py), whole rows -> split, 500,000 x 100
#: f64 C logistic 33.1-33.8 -> 31.3-31.4 ms, hessp 35.1 -> 31.2, 1,000,000 x 40
#: 28.9 -> 26.9.  AMD Zen fills L1 on either hint (prefetcht0 and prefetcht1
#: timed the same there), and the split was slower: EPYC Zen 3 (family 25 model
#: 1, L2 512 KiB), the kernel alone side by side, split / whole rows, 500,000 x
#: 100 logistic 1.14-1.15x, hessp 1.11-1.13x, 1,000,000 x 40 logistic 0.99-1.07x.
PREFETCH_SPLIT = CPU_VENDOR == "GenuineIntel"
#: the streamed row paths (STREAM_SEQ) read their chunk as four quarters in
#: lockstep (STREAM_QUARTERS): each block takes a quarter of its rows from each
#: quarter of the chunk, so four streams run from memory where one did.  One
#: core reads more of memory at once from four streams than from one: Xeon
#: (family 6 model 167, L1d 48 KiB, L2 2 MiB), 1 thread, a C sum of 400 MB in
#: four interleaved quarters 0.86x the time of the same sum front to back.  The
#: kernel alone (tools/kernel_floor.py's, quarters / one stream, medians of 5,
#: 1 thread), from memory: 500,000 x 100 f64 C logistic 0.95-0.96, hessp 0.95,
#: squared 0.95; 500,000 x 200 f64 logistic 0.92; 1,000,000 x 40 f64 logistic
#: 1.00; 500,000 x 100 f32 logistic 0.93, squared 0.93; 1,000,000 x 40 f32
#: logistic 0.88.  The package's calls (tools/ab_compare.py --cases full, with
#: the avx512 clone's 8-wide float64 dot, medians of 3): 500,000 x 100 C f64
#: 0.91-0.95, f32 0.83-0.94.  The squared loss keeps its four rows a step (one
#: row of each quarter): blocks of the plan's rows were 0.97 (f64) and 1.03
#: (f32).  rows_vec does not take them (see plan_dense).  Not
#: measured on an AMD core, where the hardware prefetchers differ (see
#: PREFETCH_SPLIT): there the chunk is read front to back as before.
QUARTERS = CPU_VENDOR == "GenuineIntel"

#: The column path with its panel in vector registers (STREAM_PANEL, cols_v8 in
#: src_c/fg_kernel_impl.h): z of a panel of 64 float64 rows is 8 vectors of 8
#: doubles, held through the sweep over the n columns (per column 8 loads and 8
#: multiply-adds), and d likewise for g, 8 columns at a time; the portable
#: column loops load and store z for every line and every 8 columns.  Only the
#: avx512 clone has the 32 registers it takes.  Intel Xeon (family 6 model 167,
#: L1d 48 KiB, L2 2 MiB), the kernel alone (tools/kernel_floor.py's, medians of
#: 5), 500,000 x 100 f64 F from memory, against the portable loops: logistic
#: 0.87, squared 0.86, hessp 0.89 (from cache 0.55-0.67); the package
#: (tools/ab_compare.py): 0.88-0.91.  Not for float32 X (panels of 128 rows,
#: 16 vectors): 1.16-1.25x the time from memory, 0.65-0.69 from cache.
PANEL_REGS_ISAS = ("avx512",)
PANEL_REGS_ROWS = 64

#: the bytes of a cache line (every x86-64 and ARM server core this runs on)
LINE_BYTES = 64
#: the column path's panel: rows of an F-ordered X whose segment of each
#: column is this many bytes, 8 cache lines (64 rows of float64, 128 of
#: float32).  The next panel is prefetched by software while the current one
#: is swept twice (its first half during the z sweep, its second during the g
#: sweep) when the chunk comes from memory (STREAM_BYTES, as the row paths), so the panel no longer needs segments long
#: enough for the hardware prefetcher to pick each column up (the reason the
#: panels were 256 to 2048 rows before), and short panels are read again from
#: L1/L2 rather than L2/L3.  Side by side in one process, 1 thread, Xeon
#: AVX-512 (48 KiB L1d, 2 MiB L2), time / a read of X, segments of 4 / 8 / 16
#: / 32 / 128 lines: 500,000 x 100 float64 squared 1.23 (8) 1.30 1.30 1.32
#: 1.80 (128, the old 2048 rows); float32 2.77 (4) 1.23 (8) 1.34 1.32 1.55;
#: logistic alike; 1,000,000 x 50 float64 1.13 (8) 1.13 1.21 1.31; 2,000,000
#: x 24 float32 1.61 (4) 1.38 (8) 1.40 1.43; 40,000 x 1000 float64 1.74 (8),
#: 2.2-2.3 for the others (tools/layout_floor.py: 1.73 for any blocked
#: order there).
COL_SEGMENT_BYTES = 8 * LINE_BYTES
#: the multinomial tiles on F-ordered X: the block is transposed into a buffer
#: of rows; at least the column path's segment of each column a block (shorter
#: segments starve the prefetcher: K = 10, 16 rows 84.9 ms, 32 rows 74.1, 64
#: rows 67.3, 128 rows 66.6)
MN_F_SEGMENT = COL_SEGMENT_BYTES
#: the panel's z, t, d (k doubles a row each) stay within a quarter of L2
#: (256 KiB on a 1 MiB L2) so the pointwise step runs from L2
COL_WORK_BYTES = L2 // 4
#: column sweeps: 8 columns at once (8 accumulating streams, one load of z
#: per 8 columns); 4 with rows= (gathered segments) and for the hessp of a
#: non-squared loss on float32 X (two products per value: register pressure)
COL_SWEEP, COL_SWEEP_NARROW = 8, 4
#: cols_small: F-ordered with at most this many columns keeps one vector of
#: gradient per column in registers (8 of the 16/32 vector registers)
COLS_SMALL_MAX_N = 8
#: rows_vec: row lengths whose gradient fits in NV = n / 4 vector registers
ROWS_VEC_N = (4, 8, 12, 16)
#: cols_small from memory: each column of X and y prefetched a page ahead (into
#: L1, before the block's pointwise step).  The hardware prefetchers stop at a
#: page boundary; with N + 1 streams, each touched a page on, every stream is
#: under way before the kernel reaches it.  4,000,000 x 8 float64 F logistic,
#: side by side in the package on a Xeon (family 6 model 167), new/old: 0.76
#: (4 KiB ahead), 0.73-0.79 (2-3 KiB), 0.87-0.90 (6-8 KiB); the kernel alone
#: against a read of X and y: 1.59x -> 1.07x (the columns alone or y alone
#: 1.34x, 64 rows ahead 1.15x).  (The same for rows_vec's rows, in its axpy
#: phase, gained in the kernel alone at some distances and nothing in the
#: package: not taken.)
PAGE_BYTES = mmap.PAGESIZE
#: rows_vec from memory, blocks of at least a page: a block's worth of rows half
#: a page ahead, and of y, prefetched into L1 before the block's pointwise step
#: (instead of the next block in the dot phase, mixed with the block's own
#: misses).  Side by side in the package (ab_compare, Xeon family 6 model 167,
#: a loaded host), logistic 4,000,000 x 8 f64 C new/old 0.928-0.950 in 4 runs;
#: a whole page or 1.5 pages ahead 0.74-1.31 (erratic).  The kernel alone in a
#: C harness against a read of X and y, 4,000,000 rows f64: 8 features squared
#: 1.16-1.27x -> 1.05-1.08x, hessp 1.24-1.33x -> 1.02-1.03x; 12 features
#: logistic 1.30-1.34x -> 1.17-1.20x; 16 features 1.35-1.40x -> 1.15-1.25x.
#: Blocks under a page (4 features: prefetches in the axpy phase were worse,
#: 1.6x -> 1.8x) keep the next block prefetched in the dot phase.
ROWS_VEC_AHEAD_BYTES = PAGE_BYTES // 2

#: CSR chunks: about this many bytes of values and indices, and at least
#: CSR_SLOT_FACTOR values per accumulator entry so that zeroing and reducing
#: the slots stays a small part of the pass (as CHUNK_BYTES)
CSR_CHUNK_BYTES = 4 << 20
CSR_SLOT_FACTOR = 8
CSR_MIN_CHUNK_ROWS = 16
#: accumulators at least this long (n k + k doubles, 128 KiB) are reduced by
#: all the threads, each a range of entries (a long serial reduction of many
#: slots was a visible part of wide sparse problems); each entry still adds
#: the slots in chunk order, so the result is the same bit for bit
PAR_REDUCE = 1 << 14


def _layout(sr, sc, n):
    """'C' (rows contiguous and packed), 'rows' (rows contiguous, spaced),
    'F' (columns contiguous, n > 1) or 'strided' (neither: rows gathered).
    sr, sc: strides of X in elements."""
    if sc == 1:
        return "C" if sr == n else "rows"
    if sr == 1 and n > 1:
        return "F"
    return "strided"


_LAYOUT_WORDS = {"C": "C-ordered", "rows": "row-contiguous (strided rows)",
                 "F": "F-ordered", "strided": "strided (rows gathered)"}


class Plan:
    """How one call runs (what explain reports, and what the core is given)."""
    __slots__ = ("backend", "path", "isa", "block_rows", "block_cols", "chunk_rows",
                 "n_chunks", "n_threads", "stream", "par_reduce", "check_chunks", "why")

    def __init__(self, backend, path, isa, block_rows, block_cols, chunk_rows, n_chunks,
                 n_threads, stream, par_reduce, why, check_chunks=1):
        self.check_chunks = check_chunks
        self.backend, self.path, self.isa = backend, path, isa
        self.block_rows, self.block_cols = block_rows, block_cols
        self.chunk_rows, self.n_chunks, self.n_threads = chunk_rows, n_chunks, n_threads
        self.stream, self.par_reduce, self.why = stream, par_reduce, why

    def as_dict(self):
        return {"backend": self.backend, "path": self.path.label, "isa": self.isa,
                "block_rows": self.block_rows, "block_cols": self.block_cols,
                "n_threads": self.n_threads, "reason": self.why}

    def __repr__(self):
        return f"Plan({self.as_dict()!r})"


def _round_up(x, q):
    return -(-x // q) * q


def _chunks(nrows, rowbytes, tile):
    """(rows per chunk, number of chunks): CHUNK_BYTES of X, a multiple of tile
    (plan_dense passes the column panel's rows for every layout: F-ordered
    chunks are then whole panels, and the chunks of the other layouts are
    those they were measured with)."""
    per = max(CHUNK_BYTES // max(rowbytes, 1), MIN_CHUNK_ROWS)
    per = _round_up(per, max(tile, 1))
    return per, -(-nrows // per)


def row_block(rowbytes):
    """Rows per block of the row paths: ROW_BLOCK_BYTES of X, 4 to MAX_BLOCK_ROWS,
    a multiple of 4 (the row paths take 4 rows a step)."""
    b = (ROW_BLOCK_BYTES // max(rowbytes, 1)) & ~3
    return min(max(b, 4), MAX_BLOCK_ROWS)


def mn_block(rowbytes, itemsize, layout):
    """Rows per block of the multinomial tiles of the avx512 and avx2 clones (see
    MN_BLOCK_BYTES, MN_F_SEGMENT): a multiple of 8, 8 to MN_MAX_BLOCK_ROWS."""
    b = (MN_BLOCK_BYTES + 4 * rowbytes) // max(rowbytes, 1) // 8 * 8   # nearest multiple of 8
    if layout == "F":
        b = max(b, MN_F_SEGMENT // itemsize)
    return min(max(b, 8), MN_MAX_BLOCK_ROWS)


def col_block(n, k, itemsize):
    """Rows per panel of the column path (see COL_SEGMENT_BYTES), with its z,
    t and d within COL_WORK_BYTES."""
    b = COL_SEGMENT_BYTES // itemsize
    b = min(b, COL_WORK_BYTES // (max(k, 1) * 8))
    return max(b & ~7, 16)


def stream_flags(first_chunk_bytes, rowbytes, n, layout, rows):
    """FG_STREAM_* flags of the one-output row paths (see STREAM_BYTES and
    STREAM_MAX_ROW_BYTES, SEQ_MIN_FEATURES)."""
    if layout not in ("C", "rows") or first_chunk_bytes < STREAM_BYTES:
        return 0
    if rowbytes > STREAM_MAX_ROW_BYTES:
        return 0
    return STREAM_PREFETCH | (STREAM_SEQ if n >= SEQ_MIN_FEATURES else 0)


def _check_chunks(chunk_bytes, k, mode):
    """Chunks between two checks for signals (see CHECK_BYTES).  The bytes are
    weighted by the work a value costs beyond a read: k products per value for
    k outputs (twice that for hessp), four of them about as long as the read
    (CSR multinomial, K = 300, hessp: 1.3 s between checks unweighted)."""
    weight = max(1.0, k * (2 if mode == Mode.HESSP else 1) / 4.0)
    return int(CHECK_BYTES // (chunk_bytes * weight + 1.0)) + 1


def _threads(n_threads, n_chunks):
    """Never more threads than chunks (a thread without a chunk only waits)."""
    return max(1, min(int(n_threads), n_chunks))


def _chunk_words(nchunks, per, nrows, nt):
    if nchunks <= 1:
        return f"; one chunk of {nrows} rows, one thread"
    return f"; {nchunks} chunks of {per} rows, {nt} thread{'s' if nt != 1 else ''}"


def _mb(x):
    if x >= 1 << 20:
        return f"{x / (1 << 20):g} MiB"
    return f"{x >> 10} KiB" if x >= 1 << 10 else f"{x} bytes"


@functools.lru_cache(maxsize=1024)
def plan_dense(nrows, n, k, itemsize, sr, sc, loss, mode, rows, n_threads):
    """The plan of a dense call.

    nrows: rows the call uses (len(rows) with rows=); n, k: features and
    outputs (classes); itemsize 4 or 8; sr, sc: X's strides in elements;
    loss: Loss; mode: Mode; rows: rows= given; n_threads: the resolved count.
    """
    loss, mode = Loss(loss), Mode(mode)
    layout = _layout(sr, sc, n)
    rowbytes = n * itemsize
    dt = "float32" if itemsize == 4 else "float64"
    vec = _vector_paths()
    where = f"{_LAYOUT_WORDS[layout]} {dt} X of {n} features"
    stream = 0
    block_cols = None
    # the rows per chunk (the column panel's multiple, whatever the layout) and
    # the bytes of X of the first chunk: from STREAM_BYTES on it comes from memory
    per, nchunks = _chunks(nrows, rowbytes, col_block(n, k, itemsize))
    first = min(per, nrows) * rowbytes
    if loss == Loss.MULTINOMIAL and vec:
        path = Path.MULTINOMIAL
        if _isa() in ("avx512", "avx2"):
            wide = _isa() == "avx512"
            block_rows = mn_block(rowbytes, itemsize, layout)
            # rows read in place from memory (the row paths' rule): the block two
            # ahead prefetched through each block's tiles (rows_mn8's cursor; Xeon,
            # 500,000 x 100 C, against a burst of prefetches from the first z tile:
            # f64 K = 3, 10 0.90-0.91x the time, K = 32 0.96-0.98x, f32 K = 3 0.93x,
            # f32 K = 10 1.04-1.05x (bound by its arithmetic: each float loaded,
            # converted and broadcast; with no prefetch at all 1.17x).  Its counting
            # costs 3-10 % from L2, so not where the chunks are likely in cache)
            stream = STREAM_PREFETCH if (layout in ("C", "rows") and not rows
                                         and first >= STREAM_BYTES) else 0
            mn_cols = (not wide and layout == "F" and not rows
                       and (itemsize == 4 or k <= MN_COLS_MAX_K))
            if mn_cols:
                stream |= STREAM_MN_COLS
            why = (f"{where}, multinomial with {k} classes: blocks of {block_rows} rows"
                   + (f" (L1d/2 = {_mb(MN_BLOCK_BYTES)} of X)" if layout != "F" else
                      f" ({MN_F_SEGMENT} bytes of each column)")
                   + (", read in place by column tiles (z for 8 rows x 4 classes, g for "
                      f"4 features x 2 classes: float32, or at most {MN_COLS_MAX_K} "
                      "classes; the block two ahead prefetched a line of each column a "
                      "tile)" if mn_cols else
                      ", copied into a buffer of rows" if layout not in ("C", "rows") or rows
                      else "")
                   + (", z for 8 rows x 3 classes a tile (8 doubles of features a "
                      "vector), the softmax vectorised over the rows, then g^T += d^T X_b "
                      "in tiles of 6 classes x 4 vectors" if wide else
                      ", the softmax vectorised over the rows" if mn_cols else
                      ", z for 4 rows a tile (groups of 4 classes a vector, the other "
                      "classes along the features), the softmax vectorised over the rows, "
                      "then g^T += d^T X_b in tiles of 4 classes x 3 vectors")
                   + (f"; chunks of at least L2/4 = {_mb(STREAM_BYTES)} come from memory, "
                      "so each block's tiles prefetch the block two ahead"
                      if stream & STREAM_PREFETCH else ""))
        else:
            block_rows = 4
            why = (f"{where}, multinomial with {k} classes: 4 rows a step, whatever the "
                   f"layout (the 2 n K multiply-adds a row dwarf strided loads)")
    elif layout == "F":
        if vec and n <= COLS_SMALL_MAX_N and k == 1 and not rows:
            path, block_rows = Path.COLS_SMALL, row_block(rowbytes)
            if first >= STREAM_BYTES:
                stream = STREAM_PREFETCH | ((PAGE_BYTES // itemsize) << STREAM_AHEAD_SHIFT)
            why = (f"{where} (at most {COLS_SMALL_MAX_N}), one output: blocks of rows, "
                   f"4 rows of a column per vector, the gradient in registers"
                   + (f", each column and y prefetched a page ({_mb(PAGE_BYTES)}) ahead "
                      f"(chunks of at least L2/4 = {_mb(STREAM_BYTES)} come from memory)"
                      if stream else ""))
        else:
            path, block_rows = Path.COLS, col_block(n, k, itemsize)
            narrow = rows or (itemsize == 4 and mode == Mode.HESSP and loss != Loss.SQUARED)
            block_cols = COL_SWEEP_NARROW if narrow else COL_SWEEP
            if not rows and first >= STREAM_BYTES:
                stream = STREAM_PREFETCH
            regs = (_isa() in PANEL_REGS_ISAS and itemsize == 8 and k == 1 and not rows
                    and block_rows == PANEL_REGS_ROWS)
            if regs:
                stream |= STREAM_PANEL
            why = (f"{where}: column panels of {block_rows} rows ({_mb(COL_SEGMENT_BYTES)} "
                   f"of each column, z within L2/4 = {_mb(COL_WORK_BYTES)}), "
                   + (f"z and d of the panel held in {PANEL_REGS_ROWS // 8} vector registers "
                      "of 8 doubles for the sweep over the columns, g 8 columns at a time"
                      if regs else f"swept {block_cols} columns at a time")
                   + (f", the next panel prefetched (chunks of at least L2/4 = "
                      f"{_mb(STREAM_BYTES)} come from memory)" if stream & STREAM_PREFETCH
                      else ""))
    elif loss == Loss.MULTINOMIAL or k > 1:
        path, block_rows = Path.ROWS_MULTI, 1
        why = f"{where}, {k} outputs: one row at a time, all outputs per row"
    else:
        block_rows = row_block(rowbytes)
        if vec and sc == 1 and n in ROWS_VEC_N:
            path = Path.ROWS_VEC
            stream = STREAM_PREFETCH if (layout == "C" and not rows
                                         and first >= STREAM_BYTES) else 0
            ahead = 0
            if stream and block_rows * rowbytes >= PAGE_BYTES:
                ahead = max(4, (ROWS_VEC_AHEAD_BYTES // rowbytes) & ~3)
                stream |= ahead << STREAM_AHEAD_SHIFT
            # not QUARTERS: the kernel alone ran faster with them (4,000,000 x 8
            # f64 C logistic 0.82-0.84, squared 0.85), but the package's calls
            # did not (tools/ab_compare.py, 1.01-1.02; hessp, which kept one
            # stream, 1.06 with the loop that could take them)
            why = (f"{where} (4, 8, 12 or 16): 4 rows a step with the gradient in "
                   f"registers, blocks of {block_rows} rows (L1d/2 = {_mb(ROW_BLOCK_BYTES)})"
                   + ((f", the rows {ahead} ahead (half a page) and y prefetched" if ahead
                       else ", the next block prefetched")
                      + f" (chunks of at least L2/4 = {_mb(STREAM_BYTES)} come from memory)"
                      if stream else ""))
        else:
            stream = stream_flags(first, rowbytes, n, layout, rows) if sc == 1 else 0
            path = Path.ROWS_STREAM if stream else Path.ROWS
            l2 = stream & STREAM_SEQ and layout == "C" and not rows and itemsize == 8
            quarters = bool(QUARTERS and stream & STREAM_SEQ and layout == "C" and not rows)
            if quarters:
                stream |= STREAM_QUARTERS
            four = ("; the chunk read as four quarters in lockstep (four streams from memory, "
                    "an Intel core)" if quarters else "")
            if l2:
                ahead = max(8, -(-STREAM_AHEAD_BYTES // rowbytes))
                stream |= (STREAM_L2 | (STREAM_SPLIT if PREFETCH_SPLIT else 0)
                           | (ahead << STREAM_AHEAD_SHIFT))
                if loss != Loss.SQUARED:
                    block_rows = min(max((STREAM_AHEAD_BYTES // rowbytes) & ~3, 4),
                                     MAX_BLOCK_ROWS)
                why = (f"{where}: chunks of at least L2/4 = {_mb(STREAM_BYTES)} come from "
                       f"memory and rows of at most L1d/16 = {_mb(STREAM_MAX_ROW_BYTES)} are "
                       f"prefetched {ahead} ahead into L2 (L1d/4 = {_mb(STREAM_AHEAD_BYTES)}), "
                       "the dot products row after row; "
                       + ("four rows a step" if loss == Loss.SQUARED else
                          f"blocks of {block_rows} rows (L1d/4)"
                          + (", each row ahead prefetched half by the dot products and "
                             "half by the axpys (an Intel core: the L2 hint keeps the "
                             "lines out of L1)" if PREFETCH_SPLIT else ""))
                       + four)
            elif stream:
                why = (f"{where}: chunks of at least L2/4 = {_mb(STREAM_BYTES)} come from "
                       f"memory and rows of at most L1d/16 = {_mb(STREAM_MAX_ROW_BYTES)} are "
                       "prefetched 8 ahead"
                       + (", the dot products row after row" if stream & STREAM_SEQ else "")
                       + f"; blocks of {block_rows} rows (L1d/2)" + four)
            else:
                cause = ("rows gathered into a buffer" if sc != 1 else
                         f"rows longer than L1d/16 = {_mb(STREAM_MAX_ROW_BYTES)} stream by "
                         "themselves" if rowbytes > STREAM_MAX_ROW_BYTES else
                         f"chunks under L2/4 = {_mb(STREAM_BYTES)} are likely in cache")
                why = (f"{where}: blocks of {block_rows} rows (L1d/2 = "
                       f"{_mb(ROW_BLOCK_BYTES)}), 4 rows a step; {cause}")
    nt = _threads(n_threads, nchunks)
    par = n * k + k >= PAR_REDUCE
    why += (_chunk_words(nchunks, per, nrows, nt)
            + (", slots reduced by all threads" if par and nt > 1 else "") + ".")
    return Plan("native", path, _isa(), block_rows, block_cols, per, nchunks, nt, stream,
                par, why, _check_chunks(per * rowbytes, k, mode))


def csr_chunk_rows(m, nnz, glen, bytes_per_value):
    """Rows per chunk of a CSR X: CSR_CHUNK_BYTES of values and indices, at least
    CSR_SLOT_FACTOR values per accumulator entry; by the matrix and coef only."""
    per_row = (nnz / m if m > 0 else 0.0) + 1.0
    target = float(CSR_CHUNK_BYTES // bytes_per_value)
    target = max(target, float(CSR_SLOT_FACTOR * glen))
    per = min(target / per_row + 1.0, 1e15)
    return int(max(per, CSR_MIN_CHUNK_ROWS))


@functools.lru_cache(maxsize=1024)
def plan_csr(nrows, m, nnz, n, k, itemsize, index_itemsize, loss, mode, rows, n_threads):
    """The plan of a CSR call (nrows: rows used; m, nnz: the matrix's)."""
    loss, mode = Loss(loss), Mode(mode)
    dt = "float32" if itemsize == 4 else "float64"
    where = f"CSR {dt} X ({nnz} stored values, int{8 * index_itemsize} indices)"
    if k == 1 and loss != Loss.MULTINOMIAL:
        if rows:
            path, block_rows = Path.CSR_ROWS, 8
            why = f"{where}, one output, rows=: blocks of up to 8 rows of about 2048 values"
        else:
            path, block_rows = Path.CSR_FLAT, 64
            why = (f"{where}, one output, consecutive rows: blocks of up to 64 rows as one "
                   "flat span of values (gather, pointwise step, scatter)")
    else:
        path, block_rows = Path.CSR_MULTI, 1
        why = f"{where}, {k} outputs: one row at a time"
    glen = n * k + k
    per = csr_chunk_rows(m, nnz, glen, itemsize + index_itemsize)
    nchunks = -(-nrows // per)
    nt = _threads(n_threads, nchunks)
    par = glen >= PAR_REDUCE
    why += (_chunk_words(nchunks, per, nrows, nt)
            + (", slots reduced by all threads" if par and nt > 1 else "") + ".")
    chunk_bytes = (nnz / m if m > 0 else 0.0) * (itemsize + index_itemsize) * per
    return Plan("native", path, _isa(), block_rows, None, per, nchunks, nt, 0, par, why,
                _check_chunks(chunk_bytes, k, mode))


def plan_numpy(loss, k, csr):
    why = ("NumPy backend: X @ coef, the pointwise step and X.T @ d as whole-array "
           "operations (BLAS's own threads); fastgrad runs no threads of its own.")
    return Plan("numpy", Path.NUMPY, None, None, None, None, 1, 1, 0, False, why)


def native_fields(csr, nrows, n, k, itemsize, sr, sc, m, nnz, index_itemsize, loss, mode,
                  rows):
    """What _native.pyx's plan cache stores: (path, stream, block_rows,
    chunk_rows, n_chunks, par_reduce, check_chunks, block_cols or 0); the thread count is capped
    per call at n_chunks (the thread count never changes the chunks)."""
    if csr:
        p = plan_csr(nrows, m, nnz, n, k, itemsize, index_itemsize, loss, mode, rows, 1)
    else:
        p = plan_dense(nrows, n, k, itemsize, sr, sc, loss, mode, rows, 1)
    return (int(p.path), p.stream, p.block_rows, p.chunk_rows, p.n_chunks,
            1 if p.par_reduce else 0, p.check_chunks, p.block_cols or 0)


def machine():
    """The facts the plan uses about this machine (for show_config)."""
    nat = _native()
    return {
        "cpu model": CPU_MODEL,
        "isa clones compiled": (list(nat.isa_compiled()) if nat is not None else None),
        "isa clones this CPU runs": (list(nat.isa_compiled_runnable()) if nat is not None
                                     else None),
        "isa selected": _isa(),
        "L1d": CACHES["L1d"][0], "L1d from": CACHES["L1d"][1],
        "L2": CACHES["L2"][0], "L2 from": CACHES["L2"][1],
        "L3": CACHES["L3"][0], "L3 from": CACHES["L3"][1],
    }
