"""The C allocator kept from handing every freed frame back to the system.

glibc serves a block of 128 KiB or more by mmap and unmaps it when freed, so a loop that
allocates and frees full-frame tensors page-faults every one of them in again. The colour path
on the device does exactly that on a CPU (warps, masks and blurs of each frame): on the
example reel (`auto`, 2 cores) system time was 22 s of the run's 146; with blocks up to 256 MiB
kept on the heap and the heap never trimmed below 512 MiB it was 11 s, and the run 137 s.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (glibc's malloc.h)
KEEP_BLOCKS_UP_TO = 256 << 20
TRIM_ABOVE = 512 << 20


def keep_freed_memory() -> bool:
    """Tell glibc's allocator to keep freed blocks; False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    return bool(
        mallopt(M_MMAP_THRESHOLD, KEEP_BLOCKS_UP_TO) and mallopt(M_TRIM_THRESHOLD, TRIM_ABOVE)
    )
