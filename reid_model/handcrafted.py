"""A hand-crafted re-id matcher: LOMO features (:mod:`reid_model.lomo`) and the XQDA metric.

Nothing here is a neural network, so an attacker built on it needs no training on concealed
images: it is the classic ELF/LOMO family a privacy audit should face.
:meth:`HandcraftedMatcher.fit` learns XQDA (Cross-view Quadratic Discriminant Analysis) on
training persons after a PCA, and :meth:`HandcraftedMatcher.embed` maps images to a space where
plain L2 distance is the XQDA distance.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from reid_model.checks import check_choice, check_images, check_positive
from reid_model.lomo import lomo_features

METRICS = ("xqda", "pca", "none")


def _pair_covariances(features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Covariances of within-person and between-person differences over all ordered pairs."""
    n = len(features)
    _, group, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    sums = torch.zeros(len(counts), features.shape[1], dtype=features.dtype, device=features.device)
    sums.index_add_(0, group, features)
    total = features.sum(0)
    gram = features.T @ features
    all_pairs = 2 * n * gram - 2 * torch.outer(total, total)
    weighted = features.T @ (features * counts[group].to(features.dtype)[:, None])
    within = 2 * weighted - 2 * sums.T @ sums
    n_within = float((counts**2).sum() - n)
    n_between = float(n * n - (counts**2).sum())
    if n_within <= 0:
        raise ValueError("labels must include at least one person with two or more images")
    if n_between <= 0:
        raise ValueError("labels must include at least two persons")
    return within / n_within, (all_pairs - within) / n_between


def fit_xqda(
    features: torch.Tensor,
    labels: torch.Tensor,
    *,
    metric: str = "xqda",
    pca_dim: int = 600,
    xqda_dim: int = 100,
    regularization: float = 1e-3,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Learn a PCA then XQDA metric on descriptors ``features (N, F)`` of persons ``labels (N,)``.

    Returns ``mean (F,)`` and ``projection (F, D)``: plain L2 distance between
    ``(x - mean) @ projection`` is the learnt distance. ``metric="pca"`` stops after the PCA.
    """
    mean = features.mean(0)
    centred = features - mean
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    keep = int(min(pca_dim, (singular > singular[0] * 1e-6).sum()))
    pca = vh[:keep].T
    if metric == "pca":
        return mean, pca
    reduced = centred @ pca
    within, between = _pair_covariances(reduced, labels)
    eye = torch.eye(keep, dtype=within.dtype, device=within.device)
    chol = torch.linalg.cholesky(within + regularization * eye)
    half = torch.linalg.solve_triangular(chol, between, upper=False)
    whitened = torch.linalg.solve_triangular(chol, half.T, upper=False)
    eigvals, eigvecs = torch.linalg.eigh((whitened + whitened.T) / 2)
    order = eigvals.argsort(descending=True)[:xqda_dim]
    eigvals, eigvecs = eigvals[order], eigvecs[:, order]
    useful = eigvals > 1
    if not useful.any():
        useful[0] = True
    eigvals, eigvecs = eigvals[useful], eigvecs[:, useful]
    directions = torch.linalg.solve_triangular(chol.T, eigvecs, upper=True)
    scale = (1 - 1 / eigvals.clamp_min(1 + 1e-9)).sqrt()
    return mean, pca @ (directions * scale)


class HandcraftedMatcher:
    """LOMO features with an XQDA metric (or PCA, or none): a re-id matcher without a network.

    Args:
        metric: ``"xqda"`` (learnt by :meth:`fit`, the default), ``"pca"`` (a PCA learnt by
            :meth:`fit`, then L2) or ``"none"`` (L2 on the raw features, no fitting needed).
        pca_dim: dimensions kept by the PCA that precedes XQDA (at most the number of
            training images minus one).
        xqda_dim: at most this many XQDA dimensions (only those with eigenvalue > 1 are kept).
        regularization: added to the within-person covariance's diagonal.
        use_retinex: apply multi-scale Retinex before the histograms.

    Example:
        >>> matcher = HandcraftedMatcher(metric="xqda")
        >>> images = torch.rand(8, 3, 128, 48)
        >>> matcher = matcher.fit(images, [0, 0, 1, 1, 2, 2, 3, 3])
        >>> matcher.distance(images[:2], images[2:]).shape
        torch.Size([2, 6])
    """

    def __init__(
        self,
        *,
        metric: str = "xqda",
        pca_dim: int = 600,
        xqda_dim: int = 100,
        regularization: float = 1e-3,
        use_retinex: bool = False,
    ) -> None:
        check_choice("metric", metric, METRICS)
        check_positive("pca_dim", pca_dim)
        check_positive("xqda_dim", xqda_dim)
        self.metric = metric
        self.pca_dim = pca_dim
        self.xqda_dim = xqda_dim
        self.regularization = regularization
        self.use_retinex = use_retinex
        self.mean: torch.Tensor | None = None
        self.projection: torch.Tensor | None = None

    @property
    def fitted(self) -> bool:
        """Whether the matcher is ready to embed (always true for ``metric="none"``)."""
        return self.metric == "none" or self.projection is not None

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """LOMO descriptors ``(B, 26960)`` of ``images (B, 3, H, W)``, before any learnt metric."""
        return lomo_features(images, use_retinex=self.use_retinex)

    def fit(self, images: torch.Tensor, labels: Sequence[int] | torch.Tensor) -> HandcraftedMatcher:
        """Learn the metric from training persons: ``images (N, 3, H, W)``, ``labels (N,)``.

        Returns the matcher itself. With ``metric="none"`` nothing is learnt.
        """
        check_images(images)
        labels_t = torch.as_tensor(labels, device=images.device).long()
        if labels_t.shape != (len(images),):
            raise ValueError(f"labels must have shape ({len(images)},), got {tuple(labels_t.shape)}")
        if self.metric == "none":
            return self
        self.mean, self.projection = fit_xqda(
            self.features(images).double(),
            labels_t,
            metric=self.metric,
            pca_dim=self.pca_dim,
            xqda_dim=self.xqda_dim,
            regularization=self.regularization,
        )
        return self

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(B, D)`` of ``images (B, 3, H, W)`` whose L2 distance is the learnt metric.

        Raises:
            RuntimeError: the matcher needs :meth:`fit` first (metrics ``"xqda"`` and ``"pca"``).
        """
        features = self.features(images)
        if self.metric == "none":
            return features
        if self.projection is None or self.mean is None:
            raise RuntimeError(f"HandcraftedMatcher(metric={self.metric!r}) must be fit before embedding")
        projected = (features.double() - self.mean.to(features.device)) @ self.projection.to(features.device)
        return projected.to(features.dtype)

    def distance(self, query: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
        """``distmat (Q, G)`` between images ``query (Q, 3, H, W)`` and ``gallery (G, 3, H, W)``."""
        return torch.cdist(self.embed(query), self.embed(gallery))
