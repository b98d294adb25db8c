"""A hand-crafted re-id matcher: LOMO features (Liao et al., CVPR 2015) and the XQDA metric.

Nothing here is a neural network, so an attacker built on it needs no training on concealed
images: it is the classic ELF/LOMO family a privacy audit should face. For each image (resized
to 128 x 48) and each of three scales (halved each time):

- an optional multi-scale Retinex evens out the lighting of the two cameras;
- 10 x 10 windows sliding by 5 pixels collect a joint HSV histogram (8 x 8 x 8 bins) and two
  Scale-Invariant Local Ternary Pattern histograms (SILTP, 4 neighbours at radius 3 and 5,
  81 bins each);
- each bin keeps its maximum over the windows of one horizontal row (the "local maximal
  occurrence" that makes the descriptor robust to viewpoint).

Histograms are log-scaled and each feature group is L2-normalized: 26,960 dimensions on
128 x 48 crops. :meth:`HandcraftedMatcher.fit` learns XQDA (Cross-view Quadratic Discriminant
Analysis) on training persons after a PCA, and :meth:`HandcraftedMatcher.embed` maps images to
a space where plain L2 distance is the XQDA distance. Every step is batched tensor arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from reid_model.checks import check_choice, check_images, check_positive
from reid_model.io import resize

HSV_BINS = 8
SILTP_RADII = (3, 5)
SILTP_TAU = 0.3
WINDOW = 10
STRIDE = 5
SCALES = 3
RETINEX_SIGMAS = (5.0, 20.0)
METRICS = ("xqda", "pca", "none")


def rgb_to_hsv(images: torch.Tensor) -> torch.Tensor:
    """Convert RGB ``(B, 3, H, W)`` in [0, 1] to HSV ``(B, 3, H, W)``, every channel in [0, 1].

    Example:
        >>> rgb_to_hsv(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)).flatten().tolist()
        [0.0, 1.0, 1.0]
    """
    r, g, b = images.unbind(1)
    value, argmax = images.max(1)
    chroma = value - images.min(1).values
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    hue = torch.stack([((g - b) / safe) % 6, (b - r) / safe + 2, (r - g) / safe + 4], 1)
    hue = hue.gather(1, argmax[:, None]).squeeze(1) / 6.0
    hue = torch.where(chroma > 0, hue, torch.zeros_like(hue))
    saturation = torch.where(
        value > 0, chroma / torch.where(value > 0, value, torch.ones_like(value)), 0 * value
    )
    return torch.stack([hue, saturation, value], 1)


def _gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = int(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    out = F.pad(images, (radius, radius, 0, 0), mode="replicate")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.pad(out, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def retinex(
    images: torch.Tensor, *, sigmas: Sequence[float] = RETINEX_SIGMAS, clip: float = 0.01
) -> torch.Tensor:
    """Multi-scale Retinex with a per-image colour balance: ``(B, 3, H, W)`` in, same out.

    Each channel becomes the mean over ``sigmas`` of ``log(I) - log(G_sigma * I)``; the result is
    stretched to [0, 1] per image between its ``clip`` and ``1 - clip`` quantiles (over all three
    channels, so hues are kept).

    Example:
        >>> retinex(torch.rand(2, 3, 128, 48)).shape
        torch.Size([2, 3, 128, 48])
    """
    check_images(images)
    log_image = torch.log1p(images * 255.0)
    msr = torch.zeros_like(images)
    for sigma in sigmas:
        msr = msr + log_image - torch.log1p(_gaussian_blur(images, sigma) * 255.0)
    msr = msr / len(sigmas)
    flat = msr.flatten(1)
    low = torch.quantile(flat, clip, dim=1).view(-1, 1, 1, 1)
    high = torch.quantile(flat, 1 - clip, dim=1).view(-1, 1, 1, 1)
    return ((msr - low) / (high - low).clamp_min(1e-6)).clamp(0.0, 1.0)


def _siltp_codes(gray: torch.Tensor, radius: int, tau: float) -> torch.Tensor:
    """SILTP codes in [0, 81) of a gray batch ``(B, H, W)``: 4 neighbours, 3 states each."""
    padded = F.pad(gray[:, None], (radius, radius, radius, radius), mode="replicate")[:, 0]
    h, w = gray.shape[-2:]
    r = radius
    neighbours = (
        padded[:, r : r + h, 2 * r :],  # right
        padded[:, :h, r : r + w],  # up
        padded[:, r : r + h, :w],  # left
        padded[:, 2 * r :, r : r + w],  # down
    )
    codes = torch.zeros_like(gray, dtype=torch.long)
    for k, neighbour in enumerate(neighbours):
        state = (neighbour > (1 + tau) * gray).long() + 2 * (neighbour < (1 - tau) * gray).long()
        codes += state * 3**k
    return codes


def _max_occurrence(codes: torch.Tensor, bins: int) -> torch.Tensor:
    """Histograms of ``codes (B, H, W)`` in sliding windows, maxed along rows: ``(B, rows, bins)``.

    A 10 x 10 window sliding by 5 is the union of 2 x 2 cells of 5 x 5 pixels, so cell histograms
    are counted once (a single ``bincount``) and summed in pairs.
    """
    b, h, w = codes.shape
    rows, cols = (h - WINDOW) // STRIDE + 1, (w - WINDOW) // STRIDE + 1
    if rows < 1 or cols < 1:
        raise ValueError(f"images at this scale must be at least {WINDOW}x{WINDOW}, got {h}x{w}")
    cell_rows, cell_cols = rows + 1, cols + 1
    codes = codes[:, : cell_rows * STRIDE, : cell_cols * STRIDE]
    cell_r = torch.arange(cell_rows * STRIDE, device=codes.device) // STRIDE
    cell_c = torch.arange(cell_cols * STRIDE, device=codes.device) // STRIDE
    cell = (cell_r[:, None] * cell_cols + cell_c[None, :])[None]
    batch = torch.arange(b, device=codes.device).view(b, 1, 1)
    index = (batch * (cell_rows * cell_cols) + cell) * bins + codes
    counts = torch.bincount(index.flatten(), minlength=b * cell_rows * cell_cols * bins)
    cells = counts.view(b, cell_rows, cell_cols, bins)
    windows = cells[:, :-1, :-1] + cells[:, 1:, :-1] + cells[:, :-1, 1:] + cells[:, 1:, 1:]
    return windows.amax(dim=2)


def _normalize_group(histograms: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    feature = torch.log1p(torch.cat([h.flatten(1) for h in histograms], 1).to(dtype))
    return F.normalize(feature, dim=1)


def lomo_features(images: torch.Tensor, *, use_retinex: bool = False, chunk_size: int = 128) -> torch.Tensor:
    """LOMO descriptors ``(B, D)`` of images ``(B, 3, H, W)`` in [0, 1], resized to 128 x 48.

    D is 26,960 for 128 x 48 crops: (512 HSV + 2 x 81 SILTP bins) x (24 + 11 + 5) rows.

    Example:
        >>> lomo_features(torch.rand(2, 3, 128, 48)).shape
        torch.Size([2, 26960])
    """
    check_images(images)
    dtype = images.dtype if images.dtype in (torch.float32, torch.float64) else torch.float32
    images = resize(images.to(dtype), (128, 48))
    chunks = []
    for start in range(0, len(images), chunk_size):
        batch = images[start : start + chunk_size]
        if use_retinex:
            batch = retinex(batch)
        colour: list[torch.Tensor] = []
        texture: dict[int, list[torch.Tensor]] = {radius: [] for radius in SILTP_RADII}
        for scale in range(SCALES):
            if scale:
                batch = F.avg_pool2d(batch, 2)
            hsv = (rgb_to_hsv(batch) * HSV_BINS).long().clamp_(0, HSV_BINS - 1)
            joint = (hsv[:, 0] * HSV_BINS + hsv[:, 1]) * HSV_BINS + hsv[:, 2]
            colour.append(_max_occurrence(joint, HSV_BINS**3))
            gray = (
                batch * torch.tensor([0.299, 0.587, 0.114], dtype=dtype, device=batch.device).view(1, 3, 1, 1)
            ).sum(1)
            for radius in SILTP_RADII:
                texture[radius].append(_max_occurrence(_siltp_codes(gray, radius, SILTP_TAU), 3**4))
        groups = [colour, *texture.values()]
        chunks.append(torch.cat([_normalize_group(g, dtype) for g in groups], 1))
    if not chunks:
        return torch.empty(0, 26960, dtype=dtype, device=images.device)
    return torch.cat(chunks)


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
