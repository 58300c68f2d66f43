"""The process's memory: the C allocator kept from handing every freed frame back to the
system, and the peak the process reached (`peak_resident_bytes`, for the tests and benchmarks
that hold memory to a bound).

glibc serves a block of 128 KiB or more by mmap and unmaps it when freed, so a loop that
allocates and frees full-frame tensors page-faults every one of them in again. The colour path
on the device does exactly that on a CPU (warps, masks and blurs of each frame): on the
example reel (`auto`, 2 cores) system time was 22 s of the run's 146; with blocks up to 256 MiB
kept on the heap and the heap never trimmed below 512 MiB it was 11 s, and the run 137 s.

That kept them only on the main thread's heap. glibc gives every other thread that allocates an
arena of its own (up to eight a core), grown in heaps of at most 64 MiB, and hands back a
heap that empties (other than the arena's first) whatever the trim threshold. The colour stage
runs in a thread of its own (run/stages.py), and its batches' tensors, megabytes to tens of
megabytes each, went that way: faulted in again batch after batch. So every thread now
allocates from the main heap: `make demo`'s command, three runs each way alternating, 2.35 to
2.68 million minor page faults -> 0.30 to 0.31 million, system time 5.5-6.2 -> 2.3-2.7 s, peak
resident memory 1687-1757 -> 1572-1607 MiB, 68.6-70.7 -> 66.2-68.7 s, the film the same to the
byte. One lock for every thread's allocations cost nothing measurable there: a frame's tensors
are few and large.

On the one heap, blocks of hundreds of MiB kept there fragmented it: an 8K frame
(tests/test_bad_input.py, `embed`, the command's peak growth) rose from 2.37-2.58 GiB to
2.52-3.17 (its bound is 3). A thread's arena had served every block over 64 MiB by mmap (no
heap can hold it), so blocks from 64 MiB up now go back to the system again, from every
thread: the 8K frame 2.05-2.23 GiB, the example reel as above (0.30 million faults, 2.3 s of
system time, 67.9 s, the same film).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import resource
from pathlib import Path

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # mallopt's (glibc's malloc.h)
KEEP_BLOCKS_UP_TO = 64 << 20  # kept on the heap below this; mmap, and unmapped when freed, above
TRIM_ABOVE = 512 << 20


def keep_freed_memory() -> bool:
    """Tell glibc's allocator to keep freed blocks, every thread's on the one heap; False where
    the C library is not glibc. Call it before any thread starts: a thread that has allocated
    already keeps an arena of its own."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    return bool(
        mallopt(M_MMAP_THRESHOLD, KEEP_BLOCKS_UP_TO)
        and mallopt(M_TRIM_THRESHOLD, TRIM_ABOVE)
        and mallopt(M_ARENA_MAX, 1)
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
