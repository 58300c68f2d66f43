"""Checkpoints: safetensors weights with the architecture and provenance as metadata.

Loading never unpickles anything: a file is either a valid safetensors file whose metadata
names this format and an architecture that builds, with every tensor present, shaped right and
finite, or it is refused with a `CheckpointError` naming the file and what is wrong.

    python -m model.checkpoint init --preset small --seed 0 weights.safetensors
    python -m model.checkpoint export runs/small-cpu/best.safetensors shipped.safetensors
    python -m model.checkpoint info weights.safetensors
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from model.config import ModelConfig, preset
from model.errors import CheckpointError
from model.files import atomic_output
from model.network import Color2Embed

FORMAT = "remaster.color2embed"
# The weights `remaster` uses when none are given (shipped by the training work).
DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "remaster.safetensors"
FORMAT_VERSION = "1"
# DistributedDataParallel and torch.compile wrap modules; their prefixes never reach a file.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def clean_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    cleaned = {}
    for key, value in state.items():
        for prefix in _WRAPPER_PREFIXES:
            key = key.removeprefix(prefix)
        cleaned[key] = value
    return cleaned


def save_checkpoint(
    path: Path | str,
    network: torch.nn.Module,
    provenance: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> None:
    """Write `network`'s weights (cast to `dtype`) and config; atomically, via a temporary file."""
    if not isinstance(network, Color2Embed):
        network = getattr(network, "module", None) or getattr(network, "_orig_mod", None)
    if not isinstance(network, Color2Embed):
        raise TypeError("save_checkpoint takes a Color2Embed (or a DDP/compiled wrapper of one)")
    state = {
        key: value.detach()
        .to("cpu", dtype if value.is_floating_point() else value.dtype)
        .contiguous()
        for key, value in clean_state_dict(network.state_dict()).items()
    }
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": network.config.to_json(),
        "provenance": json.dumps(provenance or {}, sort_keys=True),
    }
    with atomic_output(path) as temporary:
        save_file(state, str(temporary), metadata=metadata)
        # safetensors creates the file owner-only; give it the usual permissions of a new file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)


def read_metadata(path: Path | str) -> dict[str, Any]:
    """The checkpoint's metadata: config (ModelConfig), provenance (dict), format_version."""
    path = Path(path)
    raw = _open(path, lambda handle: handle.metadata() or {})
    if raw.get("format") != FORMAT:
        raise CheckpointError(
            path, f"is not a remaster checkpoint (metadata format {raw.get('format')!r})"
        )
    if raw.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            path,
            f"has format version {raw.get('format_version')!r}; "
            f"this remaster reads {FORMAT_VERSION}",
        )
    try:
        config = ModelConfig.from_json(raw["config"])
        provenance = json.loads(raw.get("provenance", "{}"))
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(path, f"has an unusable config: {error}") from None
    return {"config": config, "provenance": provenance, "format_version": raw["format_version"]}


def load_checkpoint(path: Path | str, device: str | torch.device = "cpu"):
    """Build the network the file describes and load its weights (as float32).

    Returns (Color2Embed in eval mode, metadata dict from `read_metadata`).
    """
    path = Path(path)
    metadata = read_metadata(path)
    network = Color2Embed(metadata["config"])
    expected = network.state_dict()
    state = _open(path, lambda handle: {key: handle.get_tensor(key) for key in handle.keys()})
    _check_tensors(path, metadata["config"], expected, clean_state_dict(state))
    network.load_state_dict({key: value.float() for key, value in state.items()})
    return network.to(device).eval(), metadata


def _open(path: Path, read):
    if not path.is_file():
        raise CheckpointError(path, "does not exist")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return read(handle)
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(
            path, f"is not a readable safetensors file (truncated or corrupt?): {error}"
        ) from None


def _check_tensors(
    path: Path,
    config: ModelConfig,
    expected: dict[str, torch.Tensor],
    found: dict[str, torch.Tensor],
) -> None:
    problems = []
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing:
        problems.append(f"{len(missing)} tensors missing (first: {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors (first: {unexpected[0]})")
    for key in sorted(set(expected) & set(found)):
        if expected[key].shape != found[key].shape:
            problems.append(
                f"{key} has shape {tuple(found[key].shape)}, expected {tuple(expected[key].shape)}"
            )
            break
    if problems:
        raise CheckpointError(
            path,
            f"does not match its architecture (preset {config.preset!r}): " + "; ".join(problems),
        )
    for key, value in found.items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise CheckpointError(path, f"tensor {key} holds NaN or infinite values")


def _main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m model.checkpoint", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="write a freshly initialised (untrained) network")
    init.add_argument("output", type=Path)
    init.add_argument("--preset", default="small")
    init.add_argument("--seed", type=int, default=0)
    init.add_argument(
        "--pretrained-vgg",
        type=Path,
        default=None,
        help="VGG weights file for the colour encoder (default: the offline VGG-16)",
    )
    export = commands.add_parser("export", help="re-save a checkpoint for shipping (fp16)")
    export.add_argument("source", type=Path)
    export.add_argument("output", type=Path)
    info = commands.add_parser("info", help="print a checkpoint's config and provenance")
    info.add_argument("path", type=Path)
    args = parser.parse_args()
    try:
        if args.command == "init":
            from model.network import build_network

            torch.manual_seed(args.seed)
            network = build_network(preset(args.preset), pretrained_vgg=args.pretrained_vgg)
            save_checkpoint(args.output, network, {"trained": False, "seed": args.seed})
            print(f"wrote untrained {args.preset!r} network to {args.output}")
        elif args.command == "export":
            network, metadata = load_checkpoint(args.source)
            provenance = {**metadata["provenance"], "exported_from": args.source.name}
            save_checkpoint(args.output, network, provenance, dtype=torch.float16)
            size = args.output.stat().st_size / 2**20
            print(f"wrote {args.output} ({size:.1f} MiB, float16)")
        else:
            metadata = read_metadata(args.path)
            print(
                json.dumps(
                    {
                        "config": json.loads(metadata["config"].to_json()),
                        "provenance": metadata["provenance"],
                    },
                    indent=2,
                )
            )
    except CheckpointError as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    _main()
