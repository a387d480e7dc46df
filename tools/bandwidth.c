/*
 * The read bandwidth of this machine (tools/bandwidth.py): the sum of an
 * array on nt threads (OpenMP, equal contiguous ranges), eight independent
 * running sums per thread so that the additions' latency never limits it.
 * Built as a shared library and called through ctypes on a NumPy array.
 */
#include <stddef.h>
#ifdef _OPENMP
#include <omp.h>
#endif

double bw_sum(const double *x, ptrdiff_t n, int nt)
{
    double s = 0.0;
#pragma omp parallel num_threads(nt) reduction(+ : s)
    {
        int t = 0, T = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        T = omp_get_num_threads();
#endif
        const ptrdiff_t i0 = n * t / T, i1 = n * (t + 1) / T;
        double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        ptrdiff_t i = i0;
        for (; i + 8 <= i1; i += 8)
            for (int u = 0; u < 8; u++) a[u] += x[i + u];
        for (; i < i1; i++) a[0] += x[i];
        s += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
    return s;
}
