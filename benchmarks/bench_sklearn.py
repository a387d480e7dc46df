"""scikit-learn fits (issue 19): stock against fastgrad.sklearn.patch(), 1 thread.

The cases, data and estimators are those of ``python -m fastgrad bench --sklearn``
(``fastgrad._bench.sklearn_fits``, in the one home of measurement code): this file only
wraps them for asv.  ``time_fit`` times one end-to-end ``fit`` per flavour
("stock", "fastgrad"; "sklearnex" and "glum" skip where they do not import or have
no form of the model); ``track_speedup`` is the stock fit time over the patched one,
timed alternately in one process (> 1: the patch is faster).  BLAS and OpenMP are
pinned to one thread, ``patch(n_threads=1)``.  Commits without fastgrad.sklearn skip.
"""
from fastgrad._bench import suite as S
from fastgrad._bench import timing

#: the large cases run only with FASTGRAD_ASV_GRID=full (each fit takes seconds)
LARGE = ["lr_binary_500000x100_f64", "lr_multinomial10_200000x100",
         "lr_binary_500000x100_f32", "lr_binary_500000x100_F_weights",
         "lr_newton_cg_500000x100", "tweedie0_500000x100"]
SMALL = ["lr_small_1000x20", "lrcv_5000x20"]
CASE_NAMES = SMALL + (LARGE if S.FULL_GRID else ["lr_binary_500000x100_f64"])


def _home():
    """fastgrad's measurement module, or asv's skip on commits without it."""
    S.skip_unless_native()
    try:
        from fastgrad._bench import sklearn_fits as B
        import fastgrad.sklearn as fsk
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise NotImplementedError(f"no fastgrad.sklearn or scikit-learn here: {exc}")
    return B, fsk


class _Fits(S.PinnedBench):
    param_names = ["case"]
    params = [CASE_NAMES]
    timeout = 900

    def setup(self, case):
        B, self.fsk = _home()
        self.B = B
        self.case = B.CASES[case]
        self.X, self.y, self.sw = B.make_data(self.case)
        self.fit_kw = {} if self.sw is None else {"sample_weight": self.sw}
        self.pin(1)

    def teardown(self, *params):
        super().teardown(*params)
        fsk = getattr(self, "fsk", None)
        if fsk is not None:
            fsk.unpatch()

    def _stock(self):
        return self.B.make_estimator(self.case).fit(self.X, self.y, **self.fit_kw)

    def _patched(self):
        with self.fsk.patched(n_threads=1):
            return self.B.make_estimator(self.case).fit(self.X, self.y, **self.fit_kw)


class SklearnFit(_Fits):
    param_names = ["case", "flavour"]
    params = [CASE_NAMES, ["stock", "fastgrad", "sklearnex", "glum"]]

    def setup(self, case, flavour):
        super().setup(case)
        if flavour == "fastgrad":
            self.fsk.patch(n_threads=1)
        if flavour in ("sklearnex", "glum"):
            why = self.B._peer_available(flavour)
            if why is not None:
                raise NotImplementedError(f"{flavour}: {why}")
            try:
                if flavour == "sklearnex":
                    self.B.make_estimator(self.case, "sklearnex")
                else:
                    self.B.make_glum(self.case, self.X, self.sw)
            except (ImportError, ValueError) as exc:
                raise NotImplementedError(f"{flavour}: {exc}")
        self.flavour = flavour

    def time_fit(self, case, flavour):
        if flavour == "glum":
            self.B.make_glum(self.case, self.X, self.sw).fit(self.X, self.y,
                                                              sample_weight=self.sw)
        elif flavour == "sklearnex":
            self.B.make_estimator(self.case, "sklearnex").fit(self.X, self.y, **self.fit_kw)
        else:           # stock, or patched in setup
            self.B.make_estimator(self.case).fit(self.X, self.y, **self.fit_kw)


class SklearnSpeedup(_Fits):
    def track_speedup(self, case):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            t = timing.time_round_robin({"stock": self._stock, "fastgrad": self._patched},
                                 repeat=5, min_time=self.B.MIN_SAMPLE_S)
        return t["stock"]["median"] / t["fastgrad"]["median"]

    track_speedup.unit = "x"
