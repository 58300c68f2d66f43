"""Debian packages: find a .deb, download it with apt-get when it is missing, unpack it."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PROGRAM = "training_data"  # prefixes the one-line errors


def run_tool(args: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run an external tool; a missing tool ends the run with one line instead of a traceback."""
    try:
        return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise SystemExit(
            f"{PROGRAM}: `{args[0]}` not found; fetching the photos needs a Debian-based "
            "system with apt-get and dpkg (or the .deb files already in --debs)"
        ) from None


def tool_failure(result: subprocess.CompletedProcess[str]) -> SystemExit:
    """The one-line error for a tool that ran and failed: its command and last output line."""
    lines = (result.stderr or result.stdout or "").strip().splitlines()
    reason = lines[-1] if lines else f"exit status {result.returncode}"
    return SystemExit(f"{PROGRAM}: `{' '.join(result.args)}` failed: {reason}")


@dataclass
class DebFetcher:
    """Finds a package's .deb in `debs`, downloading it with apt-get when it is missing."""

    debs: Path
    updated: bool = False  # `apt-get update` runs at most once, and only after a failure

    def find(self, package: str) -> Path | None:
        found = sorted(self.debs.glob(f"{package}_*.deb"))
        return found[-1] if found else None

    def fetch(self, package: str) -> Path:
        deb = self.find(package)
        if deb is not None:
            return deb
        self.debs.mkdir(parents=True, exist_ok=True)
        print(f"downloading {package} into {self.debs} ...", flush=True)
        result = run_tool(["apt-get", "download", package], cwd=self.debs)
        if result.returncode != 0 and not self.updated:
            print("apt-get download failed; running apt-get update once and retrying", flush=True)
            self.updated = True
            update = run_tool(["apt-get", "update"])
            if update.returncode != 0:
                raise tool_failure(update)
            result = run_tool(["apt-get", "download", package], cwd=self.debs)
        if result.returncode != 0:
            raise tool_failure(result)
        deb = self.find(package)
        if deb is None:
            raise SystemExit(f"{PROGRAM}: apt-get download left no {package}_*.deb in {self.debs}")
        return deb


def unpack(deb: Path, work: Path, package: str) -> Path:
    """`dpkg -x` the package into work/PACKAGE once; a marker file names the unpacked .deb."""
    root = work / package
    marker = root / ".unpacked-from"
    if marker.is_file() and marker.read_text().strip() == deb.name:
        return root
    root.mkdir(parents=True, exist_ok=True)
    print(f"unpacking {deb.name} into {root} ...", flush=True)
    result = run_tool(["dpkg", "-x", str(deb), str(root)])
    if result.returncode != 0:
        raise tool_failure(result)
    marker.write_text(deb.name + "\n")
    return root
