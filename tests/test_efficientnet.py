import cv2
import numpy as np
import pytest
import torch
from skimage import data

from model.config import LITE
from model.efficientnet import EfficientNetLite0, SameConv2d, load_pretrained
from model.network import build_network


def test_offline_imagenet_weights_recognise_a_real_photo():
    network = load_pretrained(EfficientNetLite0(with_classifier=True)).eval()
    cat = cv2.resize(data.chelsea(), (224, 224), interpolation=cv2.INTER_AREA)
    with torch.no_grad():
        logits = network.classify(torch.from_numpy(cat).permute(2, 0, 1)[None].float() / 255)
    # ImageNet 281-285 are the domestic cats (tabby, tiger cat, Persian, Siamese, Egyptian).
    assert int(logits.argmax()) in range(281, 286)


@pytest.mark.parametrize("size", [7, 8, 33])
def test_same_padding_halves_any_size_like_tensorflow(size):
    conv = SameConv2d(1, 1, 3, stride=2, bias=False)
    assert conv(torch.zeros(1, 1, size, size)).shape[-1] == int(np.ceil(size / 2))


def test_lite_preset_builds_with_pretrained_content_and_frozen_statistics():
    network = build_network(LITE)
    backbone = network.content_encoder.backbone
    reference = load_pretrained(EfficientNetLite0(num_blocks=11))
    assert torch.equal(
        backbone._blocks[10]._project_conv.weight, reference._blocks[10]._project_conv.weight
    )
    network.train()
    assert not any(m.training for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))
    with torch.no_grad():
        features = network.content_encoder(torch.rand(1, 1, 64, 96) * 2 - 1)
    assert [f.shape[1] for f in features] == [32, 16, 24, 40, 112]
    assert [f.shape[-1] for f in features] == [96, 48, 24, 12, 6]
