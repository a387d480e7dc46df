/* OpenMP facts for the Cython layer, in a form that compiles without OpenMP. */
#ifndef FG_OMP_H
#define FG_OMP_H
#ifdef _OPENMP
#include <omp.h>
static int fg_have_openmp(void) { return 1; }
static int fg_omp_max_threads(void) { return omp_get_max_threads(); }
#else
static int fg_have_openmp(void) { return 0; }
static int fg_omp_max_threads(void) { return 1; }
#endif
#endif
