/* fastgrad: the avx512 clone of fg_csr.c (x86-64-v4: AVX-512 F/BW/CD/DQ/VL), its entry points
 * suffixed _avx512; fg_isa.c calls them when the CPU runs them.  See fg_isa.h, and
 * fg_dense_avx512.c for the vector widths (FG_AVX512_YMM: the `omp simd` loops at
 * 256 bits). */
#include "fg_isa.h"
#if FG_ISA_CLONES
#ifdef FG_AVX512_YMM
#pragma GCC target("arch=x86-64-v4,prefer-vector-width=256")
#else
#pragma GCC target("arch=x86-64-v4")
#endif
#define FG_ISA_CLONE 1
#define FG_ISA_SUFFIX _avx512
#include "fg_csr.c"
#else
typedef int fg_csr_avx512_not_compiled; /* portable build: the baseline only */
#endif
