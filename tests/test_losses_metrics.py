import torch

from model.losses import PerceptualLoss, reconstruction_loss
from model.metrics import delta_e, evaluate, psnr
from tests.helpers import TINY, make_network


def test_reconstruction_loss_is_linear_beyond_one_ab_unit():
    zero = torch.zeros(1, 2, 4, 4)
    assert reconstruction_loss(zero, zero) == 0
    # 11 ab units of error: |11/110| - beta/2 = 0.1 - 1/220
    assert torch.isclose(reconstruction_loss(zero + 11, zero), torch.tensor(0.1 - 1 / 220))


def test_perceptual_loss_is_zero_for_equal_images_and_has_gradients():
    loss = PerceptualLoss("paper")
    truth = torch.rand(2, 3, 64, 64)
    assert loss(truth, truth).item() == 0
    predicted = torch.rand(2, 3, 64, 64, requires_grad=True)
    value = loss(predicted, truth)
    value.backward()
    assert value > 0 and predicted.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in loss.parameters())
    assert len(PerceptualLoss("authors").layers) == 5


def test_delta_e_and_psnr():
    grey = torch.full((1, 3, 8, 8), 0.5)
    assert delta_e(grey, grey).item() < 1e-3
    assert abs(psnr(grey, grey + 0.1).item() - 20) < 1e-3  # MSE 0.01
    red = grey.clone()
    red[:, 0] = 0.6
    assert delta_e(red, grey).item() > 5


def test_evaluate_scores_model_and_baselines():
    truths = torch.rand(3, 3, 64, 64)
    scores = evaluate(make_network(TINY), truths, truths.flip(-1), batch_size=2)
    assert set(scores) == {"model", "grey", "reference mean"}
    assert all(set(entry) == {"delta_e", "psnr"} for entry in scores.values())
    assert scores["grey"]["delta_e"] > 0
