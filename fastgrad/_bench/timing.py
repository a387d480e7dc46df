"""Timing: medians of calls timed in turn (round-robin) in one process, and
thread pinning."""
import gc
import math
import os
import statistics
import threading
import time

#: a timing sample of the bench lasts at least this long (small cases loop the call)
MIN_SAMPLE_TIME = 0.02


#: the longest settle() waits for the other threads of the process to go idle
SETTLE_TIMEOUT = 0.5
_TASKS = "/proc/self/task"


def _others_running():
    """How many other threads of this process are running now (Linux: the state
    field of /proc/self/task/*/stat), or None where that cannot be read."""
    me = str(threading.get_native_id())
    try:
        tids = os.listdir(_TASKS)
    except OSError:
        return None
    running = 0
    for tid in tids:
        if tid == me:
            continue
        try:
            with open(f"{_TASKS}/{tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue                      # the thread ended meanwhile
        if stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] == b"R":
            running += 1
    return running


def settle(timeout=SETTLE_TIMEOUT):
    """Wait (at most timeout seconds) until no other thread of the process runs.

    A thread pool spins for a while after its last task before it sleeps:
    OpenBLAS's workers about 2**28 cycles (0.1 s), OpenMP's a few ms.  With
    several threads on a machine of as many cores, a call timed while another
    pool still spins shares its cores with the spinners: a 2-thread fastgrad
    call right after a 2-thread ``X @ v`` took 20-40 ms instead of 15 ms on a
    2-core Xeon.  Timing each pool only after the others have gone to sleep
    measures each at the thread count it was given.  Returns the seconds
    waited; where threads cannot be inspected (not Linux) it waits for nothing."""
    t0 = time.perf_counter()
    while True:
        busy = _others_running()
        waited = time.perf_counter() - t0
        if not busy or waited >= timeout:
            return waited
        time.sleep(0.001)


def _numbers(fns, min_time):
    """Calls per timing sample so that one sample lasts at least min_time."""
    numbers = {}
    for name, fn in fns.items():
        count, t0 = 0, time.perf_counter()
        while True:
            fn()
            count += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time / 4 or count >= 1000:
                break
        per_call = elapsed / count
        numbers[name] = max(1, int(math.ceil(min_time / max(per_call, 1e-9))))
    return numbers


def time_round_robin(fns, repeat, min_time=MIN_SAMPLE_TIME, warmup=True, settled=False):
    """Median seconds per call of each function of the dict fns, timed in turn,
    repeat times.

    Each repeat runs every function once (``number`` calls), rotating the order
    so that no one of them always runs right after another; the garbage
    collector is off while timing, as in ``timeit``.  With min_time > 0 the
    calls per sample are found by calling each function first (which warms it
    up); with min_time = 0 a sample is one call, after one warm-up call each
    unless warmup is False.  With settled, each sample starts only after the
    other threads of the process have gone idle (settle(): for calls of more
    than one thread, whose pools spin after a call).  Returns {name: {"median", "min", "number",
    "samples"}}.
    """
    if min_time > 0:
        numbers = _numbers(fns, min_time)
    else:
        numbers = {name: 1 for name in fns}
        if warmup:
            for fn in fns.values():
                fn()
    names = list(fns)
    samples = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeat):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                fn, number = fns[name], numbers[name]
                if settled:
                    settle()
                t0 = time.perf_counter()
                for _ in range(number):
                    fn()
                samples[name].append((time.perf_counter() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: {"median": statistics.median(samples[name]), "min": min(samples[name]),
                   "number": numbers[name], "samples": samples[name]} for name in names}


def medians(fns, repeat=5):
    """[median seconds per call] of a list of functions timed in turn, one call a
    sample, after one warm-up call each."""
    t = time_round_robin(dict(enumerate(fns)), repeat, min_time=0)
    return [t[i]["median"] for i in range(len(fns))]


def median_time(fn, repeat=5):
    """Median seconds of one call of fn over repeat calls (after one warm-up)."""
    return medians([fn], repeat)[0]


class Pinned:
    """BLAS and OpenMP pools limited to n_threads until ``restore()``."""

    def __init__(self, n_threads):
        from threadpoolctl import threadpool_limits
        self._limits = threadpool_limits(limits=n_threads)

    def restore(self):
        self._limits.restore_original_limits()
