"""A stronger adversary from VIPeR alone: LOMO + XQDA as an embedder, and its fusion with a network.

LOMO + XQDA (:mod:`reid_model.lomo`, :func:`reid_model.handcrafted.fit_xqda`) is the classic
hand-crafted matcher; a small network trained on a few hundred persons sees the person
differently (shapes and learnt colour invariances rather than row-wise colour and texture
histograms), so the two err on different people and their fusion is stronger than either.

- :class:`LomoEmbedder` is LOMO + XQDA as an :class:`reid_model.Embedder` (checkpoints, the
  conceal loop's adversary, the audit): the descriptor of the image and, with ``retinex``, of its
  Retinex-balanced version, side by side; with ``flip``, averaged with the descriptor of the
  mirrored image. Histograms count pixels into hard bins, so it has no useful gradient
  (``differentiable = False``): the loop asks it whether a person is still matched, never where.
- :class:`FusedEmbedder` concatenates its parts' embeddings, each scaled so that its
  root-mean-square distance over the fitting images is ``sqrt(weight)``: plain L2 distance
  between fused embeddings is then ``sqrt(sum_i weight_i * (d_i / rms_i) ** 2)``, a score fusion
  of normalized distances that is still an embedding (galleries, ``torch.cdist``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from reid_model.embedders import ARCHITECTURES, Embedder, build_embedder
from reid_model.handcrafted import fit_xqda
from reid_model.inference import embed
from reid_model.lomo import lomo_features

#: LOMO's dimensions on 128 x 48 crops, per descriptor (plain, or Retinex-balanced).
LOMO_DIM = 26_960


def lomo_descriptors(images: torch.Tensor, *, retinex: bool = True, flip: bool = True) -> torch.Tensor:
    """LOMO descriptors ``(B, 26960 or 53920)`` of ``images (B, 3, H, W)`` in [0, 1]: the plain
    one and, with ``retinex``, the Retinex-balanced one beside it; with ``flip``, each averaged
    with the mirrored image's.

    Example:
        >>> lomo_descriptors(torch.rand(2, 3, 128, 48), retinex=False).shape
        torch.Size([2, 26960])
    """
    return torch.cat(
        [lomo_features(images, use_retinex=r, flip=flip) for r in ((False, True) if retinex else (False,))], 1
    )


def _labels(labels: Sequence[int] | torch.Tensor, n: int) -> torch.Tensor:
    labels_t = torch.as_tensor(labels).long()
    if labels_t.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {tuple(labels_t.shape)}")
    return labels_t


class LomoEmbedder(Embedder):
    """LOMO descriptors projected by a learnt XQDA metric; build it with :meth:`fit`.

    Args:
        retinex: also describe the Retinex-balanced image, beside the plain one.
        flip: average each descriptor with the mirrored image's.
        embedding_dim: columns of the projection (XQDA keeps those with eigenvalue > 1).

    Example:
        >>> images, labels = torch.rand(8, 3, 128, 48), [0, 0, 1, 1, 2, 2, 3, 3]
        >>> LomoEmbedder.fit(images, labels, xqda_dim=2)(images).shape
        torch.Size([8, 2])
    """

    arch = "lomo_xqda"
    differentiable = False

    def __init__(
        self, *, retinex: bool = True, flip: bool = True, embedding_dim: int = 100, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        self.retinex, self.flip, self.embedding_dim = bool(retinex), bool(flip), embedding_dim
        features = LOMO_DIM * (2 if retinex else 1)
        self.center: torch.Tensor
        self.register_buffer("center", torch.zeros(features))
        self.projection = nn.Parameter(torch.zeros(features, embedding_dim), requires_grad=False)

    @classmethod
    def fit(
        cls,
        images: torch.Tensor,
        labels: Sequence[int] | torch.Tensor,
        *,
        retinex: bool = True,
        flip: bool = True,
        pca_dim: int = 600,
        xqda_dim: int = 100,
    ) -> LomoEmbedder:
        """Learn the metric on training persons: ``images (N, 3, H, W)`` in [0, 1], ``labels (N,)``."""
        descriptors = lomo_descriptors(images, retinex=retinex, flip=flip)
        return cls.from_descriptors(
            descriptors, labels, retinex=retinex, flip=flip, pca_dim=pca_dim, xqda_dim=xqda_dim
        )

    @classmethod
    def from_descriptors(
        cls,
        descriptors: torch.Tensor,
        labels: Sequence[int] | torch.Tensor,
        *,
        retinex: bool = True,
        flip: bool = True,
        pca_dim: int = 600,
        xqda_dim: int = 100,
    ) -> LomoEmbedder:
        """:meth:`fit` on descriptors already computed by :func:`lomo_descriptors` with the same options."""
        labels_t = _labels(labels, len(descriptors))
        center, projection = fit_xqda(descriptors.double(), labels_t, pca_dim=pca_dim, xqda_dim=xqda_dim)
        fitted = cls(retinex=retinex, flip=flip, embedding_dim=projection.shape[1])
        fitted.center.copy_(center.float())
        fitted.projection.data.copy_(projection.float())
        return fitted.eval()

    def descriptors(self, images: torch.Tensor) -> torch.Tensor:
        """:func:`lomo_descriptors` of ``images`` with this embedder's options, before the metric."""
        return lomo_descriptors(images, retinex=self.retinex, flip=self.flip)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        # Histograms read the raw [0, 1] colours: no normalization. Values outside [0, 1] (an
        # attribution method's noisy samples) count as the nearest end.
        return self.descriptors(self.check_input(images).detach().clamp(0.0, 1.0))

    def embed_features(self, features: torch.Tensor) -> torch.Tensor:
        return (features.to(self.center) - self.center) @ self.projection

    def config(self) -> dict[str, Any]:
        return {"retinex": self.retinex, "flip": self.flip, "embedding_dim": self.embedding_dim}


def _part_spec(model: Embedder) -> dict[str, Any]:
    return {
        "arch": model.arch,
        "config": model.config(),
        "mean": model.mean.flatten().tolist(),
        "std": model.std.flatten().tolist(),
    }


class FusedEmbedder(Embedder):
    """Several embedders as one: their embeddings side by side, each scaled by its weight.

    Build it with :meth:`fuse` (scales measured on fitting images); a checkpoint holds the parts'
    architectures, their weights and the scales.

    Args:
        parts: per part ``{"arch", "config", "mean", "std"}`` (the part's normalization).
        weights: each part's share of the squared fused distance (normalized to sum to 1).

    Example:
        >>> images, labels = torch.rand(8, 3, 128, 48), [0, 0, 1, 1, 2, 2, 3, 3]
        >>> lomo = LomoEmbedder.fit(images, labels, xqda_dim=2)
        >>> FusedEmbedder.fuse([lomo, lomo], images)(images).shape
        torch.Size([8, 4])
    """

    arch = "fused"

    def __init__(self, *, parts: Sequence[dict[str, Any]], weights: Sequence[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not parts or len(parts) != len(weights):
            raise ValueError(
                f"parts and weights must be non-empty and of one length, got {len(parts)} and {len(weights)}"
            )
        if any(not w > 0 for w in weights):
            raise ValueError(f"weights must all be > 0, got {list(weights)}")
        self.specs = [dict(spec) for spec in parts]
        self.weights = [float(w) / sum(weights) for w in weights]
        built = [
            build_embedder(
                spec["arch"], **dict(spec.get("config", {})), mean=tuple(spec["mean"]), std=tuple(spec["std"])
            )
            for spec in self.specs
        ]
        self.parts = nn.ModuleList(built)
        self.embedding_dim = sum(part.embedding_dim for part in built)
        self.differentiable = all(part.differentiable for part in built)
        self.scales: torch.Tensor
        self.register_buffer("scales", torch.ones(len(self.specs)))

    @classmethod
    def fuse(
        cls, models: Sequence[Embedder], images: torch.Tensor, *, weights: Sequence[float] | None = None
    ) -> FusedEmbedder:
        """Fuse ``models`` (equal weights by default), each part's distances normalized by their
        root-mean-square over ``images (N, 3, H, W)``.

        The images should be of persons the parts were not fitted on (validation persons, or an
        attacker's unlabelled gallery): on their own training persons LOMO + XQDA and a network
        spread people further apart than on anyone else, which would skew the weights.
        """
        weights = [1.0] * len(models) if weights is None else list(weights)
        fused = cls(parts=[_part_spec(m) for m in models], weights=weights)
        for part, model in zip(fused.parts, models, strict=True):
            part.load_state_dict(model.state_dict())
        fused.eval()
        for i, model in enumerate(models):
            embeddings = embed(model, images).double()
            rms = torch.cdist(embeddings, embeddings).pow(2).mean().sqrt().clamp_min(1e-12)
            fused.scales[i] = float(fused.weights[i] ** 0.5 / rms)
        return fused

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.check_input(images)
        return self.combine([part(images) for part in self.parts])

    def combine(self, embeddings: Sequence[torch.Tensor]) -> torch.Tensor:
        """The fused embeddings ``(B, D)`` from each part's own ``(B, D_i)``: scaled, side by side."""
        return torch.cat([e * scale for e, scale in zip(embeddings, self.scales, strict=True)], 1)

    def config(self) -> dict[str, Any]:
        return {"parts": [dict(spec) for spec in self.specs], "weights": list(self.weights)}


ARCHITECTURES[LomoEmbedder.arch] = LomoEmbedder
ARCHITECTURES[FusedEmbedder.arch] = FusedEmbedder
