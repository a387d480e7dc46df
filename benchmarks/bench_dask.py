"""fastgrad.dask against dask's own expressions, on one persisted array.

The asv class times the value_and_grad comparison on a small array; run as a
script for the full table (fastgrad._bench.dask_cluster; about 5 minutes, 3.2 GB
of X in the workers):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_dask.py
    python benchmarks/bench_dask.py --rows 400000 --repeat 3      # a quick look
"""


class DaskCluster:
    """asv: the value_and_grad comparison on 400,000 x 100 float64 in 8 chunks."""
    timeout = 300

    def setup(self):
        try:
            import dask  # noqa: F401
            import distributed  # noqa: F401

            import fastgrad.dask as fd
        except ImportError as exc:
            raise NotImplementedError(f"fastgrad.dask needs dask and distributed: {exc}")
        from fastgrad._bench.dask_cluster import make_data, start_cluster
        self.cluster, self.client = start_cluster(2)
        self.X, self.y, _, self.coef = make_data(self.client, 400_000, 100, 8)
        self.fd = fd
        self.obj = fd.Objective(self.X, self.y, reduction="sum")

    def teardown(self):
        self.client.close()
        self.cluster.close()

    def time_fastgrad_dask(self):
        self.fd.value_and_grad(self.X, self.y, self.coef, reduction="sum")

    def time_fastgrad_dask_objective(self):
        self.obj(self.coef)

    def time_dask_expression(self):
        (self.X.T @ (self.X @ self.coef - self.y)).compute()


if __name__ == "__main__":
    from fastgrad._bench.dask_cluster import main
    main()
