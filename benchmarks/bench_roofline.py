"""Each call's time over its roofline, as ``python -m fastgrad bench --roofline`` prints it.

track_ratio returns time / max(read time of X, the call's FMAs at the GEMM rate), the
read bandwidth (the faster of a streaming sum and ``A @ v``) and the GEMM rate measured
in the same process with the same threads, round-robin with the call (fastgrad/_bench/roofline.py holds all of it;
this class is a thin asv face). Lower is better; 1.0 is the machine's limit.
FASTGRAD_ASV_GRID=full adds the 2-thread runs.
"""
from fastgrad._bench import suite as S


def _roofline():
    try:
        from fastgrad._bench import roofline
    except ImportError:                 # an older fastgrad: asv skips the benchmark
        return None
    return roofline


def _labels():
    r = _roofline()
    return [c.label for c in r.full_cases()] if r is not None else ["-"]


class Roofline:
    params = (_labels(), [1, 2] if S.FULL_GRID else [1])
    param_names = ["case", "threads"]
    unit = "time / roofline"
    timeout = 900

    def setup(self, label, threads):
        r = _roofline()
        if r is None:
            raise NotImplementedError("this fastgrad has no fastgrad._bench.roofline")
        from fastgrad import _backends
        if _backends._native is None:
            raise NotImplementedError("no compiled core")
        self.case = next(c for c in r.full_cases() if c.label == label)
        self.stick = r.Yardstick(threads)
        self.data = r.with_x(r.make_x(self.case), self.case)

    def teardown(self, label, threads):
        self.data = None
        self.stick.close()

    def track_ratio(self, label, threads):
        from threadpoolctl import threadpool_limits
        r = _roofline()
        with threadpool_limits(threads):
            return r.measure_case(self.case, self.stick, threads, 7, self.data)["ratio"]
