"""The DIS flow's Triton kernels, checked on the CPU by Triton's interpreter (the cases are in
tests/dis_kernel_cases.py), and which flow `--flow auto` takes where."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from remaster.color import dis
from remaster.color.flow import flow_for

ROOT = Path(__file__).resolve().parent.parent


def test_kernels_equal_the_torch_steps_under_tritons_interpreter():
    """In a process of its own: Triton's interpreter must be on before Triton is first imported
    (its library functions are made then), and torch's optimizers import it."""
    if importlib.util.find_spec("triton") is None:
        pytest.skip("Triton is not installed")
    cases = ROOT / "tests" / "dis_kernel_cases.py"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(cases)],
        cwd=ROOT, env={**os.environ, "TRITON_INTERPRET": "1"}, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "3 passed" in run.stdout, run.stdout[-2000:]  # none skipped


def test_auto_flow_is_ours_fused_on_a_gpu_triton_supports_and_opencvs_elsewhere(monkeypatch):
    assert flow_for("auto", "cpu") == "opencv" and not dis.fuses(torch.device("cpu"))
    assert flow_for("opencv", "cuda") == "opencv" and flow_for("torch", "cpu") == "torch"
    with_triton = importlib.util.find_spec("triton") is not None
    # A GPU, as torch would report one: Triton's kernels from compute capability 8.0 on.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.version, "hip", None)
    for capability, fused in (((9, 0), with_triton), ((8, 0), with_triton), ((7, 5), False)):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda _=None, c=capability: c)
        assert dis.fuses(torch.device("cuda")) == fused
        assert flow_for("auto", "cuda") == ("torch" if fused else "opencv")
