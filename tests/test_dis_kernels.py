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


def test_the_sweep_kernel_compiles_for_an_h100_or_h200():
    """The interpreter runs the kernels' arithmetic, not Triton's compiler: compiled here for
    sm_90 (Triton's own ptxas, no GPU needed), each sweep has its barrier between diagonals,
    reads its neighbours' flows past the cache and sums each patch within a warp, at the blocks
    and warps `sweeps` launches with for 640x360 and 1280x720 frames."""
    if importlib.util.find_spec("triton") is None:
        pytest.skip("Triton is not installed")
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    kernels = dis.kernels()
    kernel = kernels._sweep_kernel
    constants = ("BACKWARD", "SIZE", "AREA", "BLOCK")
    pointers = 9  # the pictures, the grid's tensors and the flow; then the ints
    signature = {
        name: "constexpr" if name in constants else "*fp32" if k < pointers else "i32"
        for k, name in enumerate(kernel.arg_names)
    }
    for rows, backward in ((118, False), (238, True)):  # patch rows at 640x360 and 1280x720
        block, warps = kernels.sweep_shape(triton.cdiv(rows, dis.STRIPES))
        values = {"BACKWARD": backward, "SIZE": 8, "AREA": 64, "BLOCK": block}
        source = ASTSource(fn=kernel, signature=signature, constexprs=values)
        compiled = triton.compile(
            source, target=GPUTarget("cuda", 90, 32), options={"num_warps": warps}
        )
        # The barrier as Triton's own IR has it (the PTX has a few more of its own).
        barriers = [line for line in compiled.asm["ttir"].splitlines() if "barrier" in line]
        assert len(barriers) == 1 and "ld.global.cg" in compiled.asm["ptx"], (rows, backward)
        # A warp holds whole patches, so a descent step's sums cross no warp: as (patches, 64)
        # each sum took two barriers, eight a step, 20 to 28 in all.
        assert compiled.asm["ptx"].count("bar.sync") < 8, (rows, backward)
