#pragma once
// Returns the heap's free memory to the operating system (glibc's malloc_trim), so that the
// service's RSS follows its live memory after a peak instead of staying at it: the embedded
// ledger frees much at once when it prunes below the watermark, and a replay's peak (the journal
// since the last snapshot, before the first pruning pass) would otherwise stay resident for the
// process's life (issue 12's soak: each life plateaued at its replay's peak). Elsewhere a no-op.
// It walks every arena under its lock: call it after a batch of frees, not per allocation.
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sc {

inline void returnFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace sc
