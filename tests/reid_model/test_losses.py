import math

import pytest
import torch

from reid_model import MarginTripletLoss, SoftmaxTripletLoss, margin_triplet_loss, softmax_triplet_loss


def _reference_softmax_loss(a, p, n):
    total = 0.0
    for i in range(len(a)):
        d_pos = math.sqrt(sum((float(x) - float(y)) ** 2 for x, y in zip(a[i], p[i], strict=True)))
        d_neg = math.sqrt(sum((float(x) - float(y)) ** 2 for x, y in zip(a[i], n[i], strict=True)))
        s_pos = math.exp(d_pos) / (math.exp(d_pos) + math.exp(d_neg))
        s_neg = 1 - s_pos
        total += s_pos**2 + (s_neg - 1) ** 2
    return total / len(a)


def test_softmax_loss_against_brute_force():
    g = torch.Generator().manual_seed(0)
    a, p, n = (torch.randn(7, 5, generator=g) for _ in range(3))
    assert softmax_triplet_loss(a, p, n).item() == pytest.approx(_reference_softmax_loss(a, p, n), rel=1e-5)
    assert SoftmaxTripletLoss()(a, p, n).item() == pytest.approx(_reference_softmax_loss(a, p, n), rel=1e-5)


def test_softmax_loss_is_small_when_condition_c_holds_clearly():
    a = torch.zeros(1, 2)
    assert softmax_triplet_loss(a, a.clone(), torch.tensor([[30.0, 0.0]])) < 1e-20
    assert softmax_triplet_loss(a, torch.tensor([[30.0, 0.0]]), a.clone()) == pytest.approx(2.0)


def test_margin_loss_against_brute_force():
    g = torch.Generator().manual_seed(1)
    a, p, n = (torch.randn(6, 4, generator=g) for _ in range(3))
    expected = sum(max(0.0, float((a[i] - p[i]).norm() - (a[i] - n[i]).norm()) + 0.5) for i in range(6)) / 6
    assert margin_triplet_loss(a, p, n, margin=0.5).item() == pytest.approx(expected, rel=1e-5)
    assert MarginTripletLoss(margin=0.5)(a, p, n).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("loss", [softmax_triplet_loss, margin_triplet_loss])
def test_gradcheck(loss):
    g = torch.Generator().manual_seed(2)
    inputs = tuple(torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    assert torch.autograd.gradcheck(loss, inputs)


def test_shape_mismatch():
    with pytest.raises(ValueError, match="must all have shape"):
        softmax_triplet_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3, 3))
