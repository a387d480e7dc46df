/* fastgrad: the avx512 clone of fastgrad_kernels.c (x86-64-v4: AVX-512 F/BW/CD/DQ/VL), its entry points
 * suffixed _avx512; fg_isa.c calls them when the CPU runs them.  See fg_isa.h. */
#include "fg_isa.h"
#if FG_ISA_CLONES
#pragma GCC target("arch=x86-64-v4")
#define FG_ISA_CLONE 1
#define FG_ISA_SUFFIX _avx512
#include "fastgrad_kernels.c"
#else
typedef int fg_dense_avx512_not_compiled; /* portable build: the baseline only */
#endif
