"""Triplet losses on embeddings ``anchor``, ``positive``, ``negative`` of shape (B, D)."""

from __future__ import annotations

import torch
from torch import nn


def triplet_distances(
    anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """L2 distances ``(d+, d-)``, each (B,), with a small epsilon so gradients stay finite at 0."""
    if not anchor.shape == positive.shape == negative.shape or anchor.ndim != 2:
        raise ValueError(
            "anchor, positive and negative must all have shape (B, D), got "
            f"{tuple(anchor.shape)}, {tuple(positive.shape)} and {tuple(negative.shape)}"
        )
    d_pos = ((anchor - positive).pow(2).sum(1) + 1e-12).sqrt()
    d_neg = ((anchor - negative).pow(2).sum(1) + 1e-12).sqrt()
    return d_pos, d_neg


def softmax_triplet_loss(
    anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor
) -> torch.Tensor:
    """Hoffer & Ailon's loss: softmax over (d+, d-), squared error against (0, 1), batch mean.

    Example:
        >>> a = torch.zeros(1, 2); p = torch.zeros(1, 2); n = torch.tensor([[3.0, 4.0]])
        >>> round(float(softmax_triplet_loss(a, p, n)), 6)  # 2 * (1 / (1 + e^5))^2
        8.9e-05
    """
    d_pos, d_neg = triplet_distances(anchor, positive, negative)
    soft = torch.softmax(torch.stack([d_pos, d_neg], dim=1), dim=1)
    target = torch.tensor([0.0, 1.0], dtype=soft.dtype, device=soft.device)
    return (soft - target).pow(2).sum(1).mean()


def margin_triplet_loss(
    anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, *, margin: float = 0.3
) -> torch.Tensor:
    """The hinge triplet loss ``max(0, d+ - d- + margin)``, batch mean."""
    d_pos, d_neg = triplet_distances(anchor, positive, negative)
    return torch.relu(d_pos - d_neg + margin).mean()


class SoftmaxTripletLoss(nn.Module):
    """Module form of :func:`softmax_triplet_loss` (the seed's loss)."""

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        return softmax_triplet_loss(anchor, positive, negative)


class MarginTripletLoss(nn.Module):
    """Module form of :func:`margin_triplet_loss`."""

    def __init__(self, *, margin: float = 0.3) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        return margin_triplet_loss(anchor, positive, negative, margin=self.margin)


LOSSES = {"softmax": SoftmaxTripletLoss, "margin": MarginTripletLoss}
