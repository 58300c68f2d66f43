"""The process's memory: the C allocator kept from handing every freed frame back to the
system, and the peak the process reached (`peak_resident_bytes`, for the tests and benchmarks
that hold memory to a bound).

glibc serves a block of 128 KiB or more by mmap and unmaps it when freed, so a loop that
allocates and frees full-frame tensors page-faults every one of them in again. The colour path
on the device does exactly that on a CPU (warps, masks and blurs of each frame): on the
example reel (`auto`, 2 cores) system time was 22 s of the run's 146; with blocks up to 256 MiB
kept on the heap and the heap never trimmed below 512 MiB it was 11 s, and the run 137 s.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import resource
from pathlib import Path

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


def peak_resident_bytes() -> int:
    """The most resident memory this process has held, from Linux's VmHWM (this process's own
    pages since it started its program). Not getrusage's ru_maxrss: on exec Linux carries the
    old program's peak into it, and Python starts a child by vfork, so a child's ru_maxrss is
    at least its parent's: benchmarks/pipeline_speed.py, which colours frames itself before it
    starts the command, once read its own 1923 MiB as the command's (whose own peak is about
    1290). ru_maxrss only where /proc is missing."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        status = ""
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    if found:
        return int(found.group(1)) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
