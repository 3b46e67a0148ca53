"""Freed tensor memory kept in the process for the next tensor, instead of handed back to the OS.

glibc's malloc serves every block over 32 MB with its own ``mmap`` and unmaps it when freed, so
the next tensor of that size arrives as fresh pages that the kernel faults in and zeroes one by
one. A network pass on large frames allocates and frees such tensors by the dozen: at 720p one
IFRNet pass took about 160,000 page faults and 0.25 s of kernel time of its own, every frame.
With unmapping switched off and the heap's top kept, the same blocks are reused from the second
frame on (what the tcmalloc or jemalloc that Intel's PyTorch CPU guide preloads also give, but
settable from inside a running Python). The process then keeps its peak footprint until it exits,
which a tool that converts frames of one size for its whole life reaches on the first frame anyway.
"""
from __future__ import annotations

import ctypes
import platform

__all__ = ["keep_freed_memory"]

# mallopt parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_NEVER_TRIM = 2**31 - 1  # the largest value the int parameter takes: 2 GiB free at the top


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed blocks for reuse (process-wide: scripts call it, never the
    library). True when it took effect; False where the C library is not glibc (macOS, Windows,
    musl), which is left as it is."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(_M_MMAP_MAX, 0) == 1 and mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM) == 1
