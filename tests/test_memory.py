"""The peak memory the bounded-memory tests and benchmarks read is the process's own, and
memory a thread frees is kept for its next frame."""

import subprocess
import sys

import pytest

from remaster.run.malloc import peak_resident_bytes

CHILD = "from remaster.run.malloc import peak_resident_bytes; print(peak_resident_bytes())"


def test_a_child_started_by_a_large_parent_reads_its_own_peak():
    held = b"\1" * (768 << 20)  # written, so every page is resident
    assert peak_resident_bytes() > 768 << 20
    child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    # Python and one small module: tens of MiB. getrusage's ru_maxrss gives the parent's peak.
    assert 0 < int(child.stdout) < 256 << 20, int(child.stdout) / 2**20
    del held  # held, resident, until the child had run


# A worker thread allocating and freeing what a batch does: three blocks of 40 MiB, ten times.
# It prints the minor page faults of its first round and of the nine after.
THREAD = """
import resource, threading
import numpy as np
from remaster.run.malloc import keep_freed_memory
KEEP = %s
if KEEP:
    assert keep_freed_memory()
faults = []
def work():
    for _ in range(10):
        blocks = [np.ones(5 << 20) for _ in range(3)]  # written, so every page is touched
        del blocks
        faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt)
worker = threading.Thread(target=work)
worker.start()
worker.join()
print(faults[0], faults[-1] - faults[0])
"""


def thread_faults(keep: bool) -> tuple[int, int]:
    child = subprocess.run([sys.executable, "-c", THREAD % keep], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    first, rest = map(int, child.stdout.split())
    return first, rest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_thread_reuses_the_memory_it_freed():
    # glibc's defaults hand the blocks back as they are freed, so every round faults them in
    # again (on one machine 1089 faults in the first round, 9765 in the nine after): the count
    # sees it. Without the one arena, a thread's emptied heaps go back the same way (4806).
    first, rest = thread_faults(keep=False)
    assert rest > first, (first, rest)
    # Kept (one arena, no trimming, no mmap below 64 MiB): the rounds after the first fault in
    # nothing new.
    first, rest = thread_faults(keep=True)
    assert rest < first / 10, (first, rest)
