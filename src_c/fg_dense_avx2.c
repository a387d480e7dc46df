/* fastgrad: the avx2 clone of fastgrad_kernels.c (x86-64-v3: AVX2 + FMA), its entry points
 * suffixed _avx2; fg_isa.c calls them when the CPU runs them.  See fg_isa.h. */
#include "fg_isa.h"
#if FG_ISA_CLONES
#pragma GCC target("arch=x86-64-v3")
#define FG_ISA_CLONE 1
#define FG_ISA_SUFFIX _avx2
#include "fastgrad_kernels.c"
#else
typedef int fg_dense_avx2_not_compiled; /* portable build: the baseline only */
#endif
