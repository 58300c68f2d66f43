import json
import pickle

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from model.checkpoint import CheckpointError, clean_state_dict, load_checkpoint, save_checkpoint
from model.config import SMALL
from tests.helpers import TINY, make_network


def outputs(network, seed=0):
    generator = torch.Generator().manual_seed(seed)
    lightness = torch.rand(2, 1, 32, 48, generator=generator) * 100
    reference = torch.rand(1, 3, 64, 64, generator=generator)
    with torch.no_grad():
        return network.decode(lightness, network.fold(network.embed(reference)))


def test_round_trip_restores_architecture_weights_and_provenance(tmp_path):
    network = make_network(TINY, seed=3)
    path = tmp_path / "w.safetensors"
    save_checkpoint(path, network, {"steps": 12, "data": "photos"})
    loaded, metadata = load_checkpoint(path)
    assert metadata["config"] == TINY
    assert metadata["provenance"] == {"steps": 12, "data": "photos"}
    assert torch.equal(outputs(network), outputs(loaded))


def test_half_precision_export_loads_as_float32(tmp_path):
    network = make_network(TINY)
    path = tmp_path / "w16.safetensors"
    save_checkpoint(path, network, dtype=torch.float16)
    loaded, _ = load_checkpoint(path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert (outputs(network) - outputs(loaded)).abs().max() < 0.5  # ab units, of +-110


def test_wrapper_prefixes_are_stripped():
    state = {"module.a": torch.zeros(1), "_orig_mod.b": torch.zeros(1), "c": torch.zeros(1)}
    assert set(clean_state_dict(state)) == {"a", "b", "c"}


def expect_error(path, fragment):
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value)
    assert fragment in str(caught.value)


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nothing.safetensors", "does not exist")


def test_truncated_file(tmp_path):
    path = tmp_path / "w.safetensors"
    save_checkpoint(path, make_network(TINY))
    data = path.read_bytes()
    for cut in (4, 200, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        expect_error(path, "truncated or corrupt")


def test_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "was-executed"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"state_dict": Exploit()}))
    expect_error(path, "truncated or corrupt")
    assert not marker.exists()


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(2)}, str(path))
    expect_error(path, "not a remaster checkpoint")


def rewrite(path, new_path, *, metadata_changes=None, tensor_changes=None):
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    metadata.update(metadata_changes or {})
    for key, value in (tensor_changes or {}).items():
        if value is None:
            tensors.pop(key)
        else:
            tensors[key] = value
    save_file(tensors, str(new_path), metadata=metadata)


def test_config_that_does_not_match_the_weights(tmp_path):
    path = tmp_path / "w.safetensors"
    save_checkpoint(path, make_network(TINY))
    mismatched = tmp_path / "mismatched.safetensors"
    rewrite(path, mismatched, metadata_changes={"config": SMALL.to_json()})
    expect_error(mismatched, "does not match its architecture (preset 'small')")


def test_missing_and_misshapen_and_non_finite_tensors(tmp_path):
    path = tmp_path / "w.safetensors"
    save_checkpoint(path, make_network(TINY))
    key = "decoder.head.2.weight"
    broken = tmp_path / "broken.safetensors"
    rewrite(path, broken, tensor_changes={key: None})
    expect_error(broken, "1 tensors missing (first: decoder.head.2.weight)")
    rewrite(path, broken, tensor_changes={key: torch.zeros(3, 3)})
    expect_error(broken, "decoder.head.2.weight has shape (3, 3)")
    with safe_open(str(path), framework="pt") as handle:
        bad = handle.get_tensor(key).clone()
    bad.view(-1)[0] = float("nan")
    rewrite(path, broken, tensor_changes={key: bad})
    expect_error(broken, "NaN or infinite")


def test_unusable_config_and_future_version(tmp_path):
    path = tmp_path / "w.safetensors"
    save_checkpoint(path, make_network(TINY))
    broken = tmp_path / "broken.safetensors"
    rewrite(path, broken, metadata_changes={"config": json.dumps({"preset": "x", "wings": 2})})
    expect_error(broken, "unusable config")
    rewrite(path, broken, metadata_changes={"format_version": "99"})
    expect_error(broken, "format version '99'")


def test_command_line_init_export_and_info(tmp_path):
    import subprocess
    import sys

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "model.checkpoint", *map(str, args)],
            capture_output=True,
            text=True,
        )

    source, shipped = tmp_path / "init.safetensors", tmp_path / "shipped.safetensors"
    assert run("init", "--preset", "small", source).returncode == 0
    result = run("export", source, shipped)
    assert result.returncode == 0 and "float16" in result.stdout
    assert shipped.stat().st_size < 0.6 * source.stat().st_size
    info = json.loads(run("info", shipped).stdout)
    assert info["config"]["preset"] == "small"
    assert info["provenance"] == {"trained": False, "seed": 0, "exported_from": source.name}
    broken = run("info", tmp_path / "missing.safetensors")
    assert broken.returncode == 1 and "does not exist" in broken.stderr
