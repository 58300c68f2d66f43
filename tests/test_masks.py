"""Soft masks: the blur and erosion OpenCV makes, on any device, for a picture and a batch."""

import cv2
import numpy as np
import torch

from remaster.color.masks import convolved_blur, eroded, gaussian_blur, pooled_erosion


def test_the_devices_blur_and_erosion_are_opencvs():
    """What a GPU runs (convolutions, max pooling) equals what the CPU runs (OpenCV), for one
    picture and for a batch."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(3, 37, 53, generator=generator) * 255
    for sigma in (1.5, 2.0):
        expected = np.stack([cv2.GaussianBlur(image, (0, 0), sigma) for image in images.numpy()])
        assert np.array_equal(gaussian_blur(images, sigma).numpy(), expected)
        assert np.allclose(convolved_blur(images, sigma).numpy(), expected, atol=1e-3)
        assert np.allclose(convolved_blur(images[1], sigma).numpy(), expected[1], atol=1e-3)
    masks = torch.rand(3, 37, 53, generator=generator) > 0.2
    square = np.ones((3, 3), np.uint8)
    expected = np.stack([cv2.erode(mask, square) for mask in masks.numpy().astype(np.uint8)])
    assert 0 < expected.mean() < masks.float().mean()  # it did erode
    for erosion in (eroded, pooled_erosion):
        assert np.array_equal(erosion(masks).numpy(), expected)
        assert np.array_equal(erosion(masks[2]).numpy(), expected[2])
