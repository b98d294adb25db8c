"""Embedders: networks that map person crops ``(B, 3, 128, 48)`` in [0, 1] to embeddings ``(B, D)``.

All share one interface: ``forward_features(images) -> (B, C, h, w)`` (the last conv block, for
Grad-CAM) and ``forward(images) -> (B, D)``. Inputs are normalized inside the network, so callers
and attribution baselines work in plain [0, 1] image space.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from reid_model.checks import check_choice, check_images

#: Per-channel mean and std of the VIPeR seed-split training images (RGB, [0, 1] scale).
VIPER_MEAN = (0.4298, 0.4107, 0.3965)
VIPER_STD = (0.2297, 0.2175, 0.2179)
#: Every model's input (height, width): crops are resized to it before embedding.
INPUT_SIZE: tuple[int, int] = (128, 48)


class Embedder(nn.Module):
    """Base class: normalization, input checks and the shared interface."""

    input_size: tuple[int, int] = INPUT_SIZE
    embedding_dim: int
    arch: str
    #: Whether gradients of the embedding say where in the image it looks (attribution needs them).
    differentiable: bool = True
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        *,
        mean: tuple[float, float, float] = VIPER_MEAN,
        std: tuple[float, float, float] = VIPER_STD,
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def check_input(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` if they are a float batch at the input size, else a clear error."""
        # Not range-checked: attribution methods (NoiseTunnel) feed noisy samples; entry points check.
        check_images(images, unit_range=False)
        if tuple(images.shape[-2:]) != self.input_size:
            h, w = self.input_size
            raise ValueError(
                f"images must be {h} high x {w} wide for {self.arch}, got {tuple(images.shape)}; "
                "resize them with reid_model.resize first"
            )
        return images

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        return (self.check_input(images) - self.mean) / self.std

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def embed_features(self, features: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.embed_features(self.forward_features(images))

    def config(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this architecture (saved in checkpoints)."""
        return {}


class TripletEmbedder(Embedder):
    """The seed's triplet network (Hoffer & Ailon style), exactly as in its table.

    Input 3x128x48; conv 64 (7x5) -> ReLU + maxpool 2 -> dropout; conv 128 (6x3) -> ReLU + maxpool
    -> dropout; conv 256 (5x3) -> ReLU + maxpool -> dropout; conv 256 (3x1) -> ReLU + maxpool;
    conv 128 (3x1) -> ReLU + maxpool -> 128-d embedding. 941,440 parameters.

    Example:
        >>> model = TripletEmbedder().eval()
        >>> model(torch.rand(2, 3, 128, 48)).shape
        torch.Size([2, 128])
    """

    arch = "triplet"
    embedding_dim = 128

    def __init__(self, *, dropout: float = 0.25, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dropout = dropout

        def block(cin: int, cout: int, kernel: tuple[int, int], drop: bool) -> nn.Sequential:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel), nn.ReLU(inplace=True)]
            layers.append(nn.MaxPool2d(2))
            if drop:
                layers.append(nn.Dropout(dropout))
            return nn.Sequential(*layers)

        self.features = nn.Sequential(
            block(3, 64, (7, 5), True),
            block(64, 128, (6, 3), True),
            block(128, 256, (5, 3), True),
            block(256, 256, (3, 1), False),
            block(256, 128, (3, 1), False),
        )

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(self.normalize(images))

    def embed_features(self, features: torch.Tensor) -> torch.Tensor:
        return features.flatten(1)

    def config(self) -> dict[str, Any]:
        return {"dropout": self.dropout}


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class StripeEmbedder(Embedder):
    """A small residual network with horizontal-stripe pooling: a stronger CPU-friendly adversary.

    Stem conv 3x3 -> residual stages (widths ``widths``, each halving the resolution) -> the map
    is pooled globally and in ``stripes`` horizontal stripes (the body from head to feet, as in
    PCB), concatenated, projected to ``embedding_dim`` and batch-normalized (BNNeck).

    Example:
        >>> model = StripeEmbedder().eval()
        >>> model(torch.rand(2, 3, 128, 48)).shape
        torch.Size([2, 256])
    """

    arch = "stripe"

    def __init__(
        self,
        *,
        widths: tuple[int, ...] = (32, 64, 128, 256),
        stripes: int = 4,
        embedding_dim: int = 256,
        dropout: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.widths = tuple(widths)
        self.stripes = stripes
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 3, 2, 1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        stages: list[nn.Module] = []
        cin = widths[0]
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(_BasicBlock(cin, width, stride), _BasicBlock(width, width, 1)))
            cin = width
        self.stages = nn.Sequential(*stages)
        self.drop = nn.Dropout(dropout)
        self.project = nn.Linear(cin * (1 + stripes), embedding_dim, bias=False)
        self.neck = nn.BatchNorm1d(embedding_dim)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(self.normalize(images)))

    def embed_features(self, features: torch.Tensor) -> torch.Tensor:
        pooled = [features.mean(dim=(2, 3))]
        for stripe in features.chunk(self.stripes, dim=2):
            pooled.append(stripe.amax(dim=(2, 3)))
        return self.neck(self.project(self.drop(torch.cat(pooled, dim=1))))

    def config(self) -> dict[str, Any]:
        return {
            "widths": list(self.widths),
            "stripes": self.stripes,
            "embedding_dim": self.embedding_dim,
            "dropout": self.dropout,
        }


def same_embedder(a: Embedder, b: Embedder) -> bool:
    """Whether ``a`` and ``b`` embed every image alike: one architecture and configuration, one
    input normalization and bitwise the same weights."""
    if type(a) is not type(b) or a.config() != b.config() or a.input_size != b.input_size:
        return False
    if not (torch.equal(a.mean, b.mean) and torch.equal(a.std, b.std)):
        return False
    mine, theirs = a.state_dict(), b.state_dict()
    return mine.keys() == theirs.keys() and all(
        mine[k].dtype == theirs[k].dtype and torch.equal(mine[k], theirs[k].to(mine[k].device)) for k in mine
    )


ARCHITECTURES: dict[str, type[Embedder]] = {
    TripletEmbedder.arch: TripletEmbedder,
    StripeEmbedder.arch: StripeEmbedder,
}


def build_embedder(arch: str, **config: Any) -> Embedder:
    """Build an embedder by architecture name (``"triplet"`` or ``"stripe"``).

    Example:
        >>> build_embedder("triplet").embedding_dim
        128
    """
    check_choice("arch", arch, ARCHITECTURES)
    if "widths" in config:
        config["widths"] = tuple(config["widths"])
    return ARCHITECTURES[arch](**config)
