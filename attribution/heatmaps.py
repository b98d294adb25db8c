"""Heatmaps: an attribution laid over its image, alone or side by side for a probe/gallery pair."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import cv2
import matplotlib
import numpy as np
import torch

from attribution._fills import blurred
from reid_model.io import write_image

#: Colour maps: diverging for signed maps (red supports the match, blue opposes it).
SIGNED_CMAP = "RdBu_r"
POSITIVE_CMAP = "inferno"


def _check_pair(image: torch.Tensor, attribution: torch.Tensor) -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] != 3:
        got = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must have shape (3, H, W), got {got}")
    if not isinstance(attribution, torch.Tensor):
        raise TypeError(
            f"attribution must be a torch.Tensor of shape (1, H, W), got {type(attribution).__name__}"
        )
    if attribution.ndim == 2:
        attribution = attribution[None]
    if attribution.ndim != 3 or attribution.shape[0] != 1 or attribution.shape[1:] != image.shape[1:]:
        raise ValueError(
            f"attribution must have shape (1, {image.shape[1]}, {image.shape[2]}) "
            "to match the image, "
            f"got {tuple(attribution.shape)}"
        )
    return attribution


def overlay(
    image: torch.Tensor,
    attribution: torch.Tensor,
    *,
    alpha: float = 0.7,
    signed: bool = True,
    percentile: float = 99.0,
    smooth: float = 0.0,
) -> torch.Tensor:
    """Colour ``image (3, H, W)`` by ``attribution (1, H, W)``; zero attribution leaves it as is.

    Values are scaled by the ``percentile`` of their magnitude (robust to a few extreme pixels).
    ``smooth`` blurs the map first with a Gaussian of that fraction of the image height (pixel
    methods such as Integrated Gradients are speckled; 0.02 makes regions readable).
    Signed maps use a diverging colour map (red = supports the match, blue = against it);
    ``signed=False`` shows the positive part only.

    Returns:
        The overlay ``(3, H, W)`` in [0, 1], on the image's device.

    Example:
        >>> overlay(torch.rand(3, 128, 48), torch.randn(1, 128, 48)).shape
        torch.Size([3, 128, 48])
    """
    attribution = _check_pair(image, attribution)
    values = attribution[0].detach().float().cpu()
    if smooth > 0:
        values = blurred(values[None, None], sigma=smooth * values.shape[0])[0, 0]
    if not signed:
        values = values.clamp(min=0)
    scale = float(torch.quantile(values.abs().flatten(), percentile / 100.0)) if values.numel() else 0.0
    scale = scale if scale > 0 else float(values.abs().max()) or 1.0
    scaled = (values / scale).clamp(-1, 1)
    if signed:
        cmap, position = matplotlib.colormaps[SIGNED_CMAP], (scaled + 1) / 2
    else:
        cmap, position = matplotlib.colormaps[POSITIVE_CMAP], scaled
    colours = torch.from_numpy(cmap(position.numpy())[..., :3]).permute(2, 0, 1).float()
    weight = alpha * scaled.abs()[None]
    base = image.detach().float().cpu().clamp(0, 1)
    return ((1 - weight) * base + weight * colours).clamp(0, 1).to(image.device)


#: Pixels between the panels :func:`side_by_side` lays out.
GAP = 4


def side_by_side(*images: torch.Tensor, gap: int = GAP) -> torch.Tensor:
    """Lay images ``(3, H_i, W_i)`` out left to right on a white strip, top-aligned, ``gap`` apart.

    Example:
        >>> side_by_side(torch.rand(3, 128, 48), torch.rand(3, 64, 24)).shape
        torch.Size([3, 128, 76])
    """
    if not images:
        raise ValueError("side_by_side needs at least one image, got none")
    height = max(int(im.shape[1]) for im in images)
    width = sum(int(im.shape[2]) for im in images) + gap * (len(images) - 1)
    canvas = torch.ones(3, height, width)
    x = 0
    for im in images:
        canvas[:, : im.shape[1], x : x + im.shape[2]] = im.detach().float().cpu()
        x += int(im.shape[2]) + gap
    return canvas


def pair_heatmap(
    probe: torch.Tensor,
    probe_attribution: torch.Tensor,
    gallery: torch.Tensor,
    gallery_attribution: torch.Tensor,
    **overlay_options: Any,
) -> torch.Tensor:
    """Probe, its overlay, the gallery's overlay and the gallery, side by side (each at its size).

    Example:
        >>> pair_heatmap(torch.rand(3, 128, 48), torch.randn(1, 128, 48),
        ...              torch.rand(3, 128, 48), torch.randn(1, 128, 48)).shape
        torch.Size([3, 128, 204])
    """
    return side_by_side(
        probe,
        overlay(probe, probe_attribution, **overlay_options),
        overlay(gallery, gallery_attribution, **overlay_options),
        gallery,
    )


def save_heatmap(
    path: str | os.PathLike[str],
    image: torch.Tensor,
    attribution: torch.Tensor,
    **overlay_options: Any,
) -> None:
    """Write the overlay of ``attribution (1, H, W)`` on ``image (3, H, W)`` to ``path`` (atomic).

    Example:
        >>> save_heatmap("out/probe.png", image, attribution)  # doctest: +SKIP
    """
    write_image(path, overlay(image, attribution, **overlay_options))


#: What the four panels of :func:`pair_heatmap` show, named above them by :func:`labelled`.
PAIR_LABELS = ("probe", "why: probe", "why: gallery", "gallery")


def labelled(
    image: torch.Tensor, labels: Sequence[tuple[int, str]], caption: Sequence[str], *, scale: int = 2
) -> torch.Tensor:
    """``image (3, H, W)`` enlarged ``scale`` times (pixels kept sharp), with a white band above
    naming its panels (``labels``: each panel's left edge in ``image``'s pixels and its name) and
    one below holding the ``caption`` lines.

    Example:
        >>> labelled(torch.rand(3, 128, 48), [(0, "probe")], ["distance 0.61"]).shape
        torch.Size([3, 290, 96])
    """
    pixels = (image.detach().float().cpu().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    pixels = cv2.resize(pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    font, size, line = cv2.FONT_HERSHEY_SIMPLEX, 0.32, 13
    top = np.full((line + 4, pixels.shape[1], 3), 255, np.uint8)
    for x, text in labels:
        cv2.putText(top, text, (x * scale + 2, line - 1), font, size, (0, 0, 0), 1, cv2.LINE_AA)
    bottom = np.full((line * len(caption) + 4, pixels.shape[1], 3), 255, np.uint8)
    for i, text in enumerate(caption):
        cv2.putText(bottom, text, (2, line * (i + 1) - 2), font, size, (0, 0, 0), 1, cv2.LINE_AA)
    return torch.from_numpy(np.concatenate([top, pixels, bottom])).permute(2, 0, 1).float() / 255


def save_pair_heatmap(
    path: str | os.PathLike[str],
    probe: torch.Tensor,
    probe_attribution: torch.Tensor,
    gallery: torch.Tensor,
    gallery_attribution: torch.Tensor,
    *,
    caption: Sequence[str] = (),
    **overlay_options: Any,
) -> None:
    """Write :func:`pair_heatmap` to ``path`` (PNG, atomic); with ``caption`` (lines of text:
    the distance, the method), enlarged twice with its panels named (:data:`PAIR_LABELS`) above
    and the caption below."""
    image = pair_heatmap(probe, probe_attribution, gallery, gallery_attribution, **overlay_options)
    if caption:
        widths = [int(probe.shape[-1])] * 2 + [int(gallery.shape[-1])] * 2
        lefts = [sum(widths[:i]) + GAP * i for i in range(4)]
        image = labelled(image, list(zip(lefts, PAIR_LABELS, strict=True)), caption)
    write_image(path, image)
