"""The peak memory the bounded-memory tests and benchmarks read is the process's own."""

import subprocess
import sys

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
