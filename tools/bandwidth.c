/*
 * The read bandwidth of this machine (tools/bandwidth.py): the sum of an
 * array on nt threads (OpenMP, equal contiguous ranges), eight independent
 * running sums per thread so that the additions' latency never limits it.
 * bw_sum_streams: the same sum with each thread's range read as ns equal
 * parts in lockstep (ns streams from memory at once, as the row paths'
 * quarters read a chunk).
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

double bw_sum_streams(const double *x, ptrdiff_t n, int nt, int ns)
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
        const ptrdiff_t len = (i1 - i0) / ns / 8 * 8;   /* each stream's values */
        double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (ptrdiff_t i = 0; i < len; i += 8)
            for (int q = 0; q < ns; q++) {
                const double *p = x + i0 + q * len + i;
                for (int u = 0; u < 8; u++) a[u] += p[u];
            }
        for (ptrdiff_t i = i0 + ns * len; i < i1; i++) a[0] += x[i];
        s += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
    return s;
}
