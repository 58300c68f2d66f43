import numpy as np
import pytest
import torch

from model.data import (
    IMAGE_SUFFIXES,
    SelfReferenceDataset,
    StreamBatchSampler,
    list_media,
    random_crop,
    read_video_frame,
    validation_pairs,
)
from tests.media import write_photos, write_video


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return list_media([write_photos(tmp_path_factory.mktemp("photos"), 5)], IMAGE_SUFFIXES)


def test_samples_are_a_function_of_seed_and_position(photos):
    first = SelfReferenceDataset(photos, crop=48, seed=7)
    second = SelfReferenceDataset(photos, crop=48, seed=7)
    for index in (0, 3, 11):  # 11 is in the third epoch
        truth, reference = first[index]
        again_truth, again_reference = second[index]
        assert truth.shape == reference.shape == (3, 48, 48)
        assert torch.equal(truth, again_truth) and torch.equal(reference, again_reference)
    assert not torch.equal(first[0][0], SelfReferenceDataset(photos, crop=48, seed=8)[0][0])


def test_every_source_once_per_epoch(photos):
    dataset = SelfReferenceDataset(photos, crop=48, seed=0)
    assert sorted(str(dataset.source_at(i)[1]) for i in range(5)) == sorted(map(str, photos))


def test_ranks_split_each_step_and_resuming_continues_the_stream():
    ranks = [list(StreamBatchSampler(4, 0, 3, rank=r, world_size=2)) for r in range(2)]
    for step in range(3):
        together = sorted(ranks[0][step] + ranks[1][step])
        assert together == list(range(step * 8, step * 8 + 8))
    resumed = list(StreamBatchSampler(4, 2, 3, rank=1, world_size=2))
    assert resumed == ranks[1][2:]


def test_random_crop_size_and_scale():
    rng = np.random.default_rng(0)
    image = np.zeros((300, 500, 3), np.float32)
    for _ in range(5):
        assert random_crop(image, 64, rng).shape == (64, 64, 3)


def test_validation_pairs_are_fixed(photos):
    truths, references = validation_pairs(photos, size=64, seed=1)
    again_truths, again_references = validation_pairs(photos, size=64, seed=1)
    assert truths.shape == references.shape == (5, 3, 64, 64)
    assert torch.equal(truths, again_truths) and torch.equal(references, again_references)


def test_video_frames_are_sampled_from_real_encoded_video(tmp_path):
    path = write_video(tmp_path / "clip.mp4")
    frame = read_video_frame(path, np.random.default_rng(0))
    assert frame.shape == (96, 128, 3) and frame.dtype == np.float32
    assert frame.std() > 0.05  # a real picture, not a blank frame
    dataset = SelfReferenceDataset([], [path], crop=48, seed=0, video_weight=3)
    assert len(dataset) == 3 and dataset[0][0].shape == (3, 48, 48)
