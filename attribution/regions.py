"""Regions of a person crop: body parts for reports, grid cells and superpixels for masks.

A set of regions is a bool tensor ``(R, H, W)`` (region ``r`` covers the pixels where
``regions[r]`` is true); body parts come as a dict name -> ``(H, W)`` in top-to-bottom order.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from reid_model.checks import check_positive

#: Body parts as horizontal bands, (top, bottom) as fractions of the crop height. Calibrated on
#: VIPeR's 128x48 crops, where the head ends near 16 % of the height, the waist near 52 % and
#: the ankles near 88 %; persons fill the crop's width, so the bands span it.
BODY_BANDS: dict[str, tuple[float, float]] = {
    "head": (0.0, 0.16),
    "upper_body": (0.16, 0.52),
    "lower_body": (0.52, 0.88),
    "feet": (0.88, 1.0),
}


def _check_size(height: int, width: int) -> None:
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"height and width must be >= 1, got {height} x {width}")


def grid_regions(height: int, width: int, *, rows: int = 8, cols: int = 4) -> torch.Tensor:
    """A ``rows x cols`` grid of cells, as a partition ``(rows * cols, height, width)`` (bool).

    Cells are numbered row by row from the top left; sizes differ by at most one pixel.

    Example:
        >>> grid_regions(128, 48, rows=8, cols=4).shape
        torch.Size([32, 128, 48])
    """
    _check_size(height, width)
    if not 1 <= rows <= height or not 1 <= cols <= width:
        raise ValueError(f"rows and cols must be in [1, {height}] and [1, {width}], got {rows} and {cols}")
    row = torch.arange(height) * rows // height
    col = torch.arange(width) * cols // width
    labels = row[:, None] * cols + col[None, :]
    return labels[None] == torch.arange(rows * cols)[:, None, None]


def superpixel_regions(
    image: torch.Tensor, *, n_segments: int = 48, compactness: float = 10.0
) -> torch.Tensor:
    """SLIC superpixels of one image ``(3, H, W)`` in [0, 1], as a partition ``(R, H, W)`` (bool).

    ``R`` is close to ``n_segments`` (SLIC adapts it to the image); the result is on the
    image's device.

    Example:
        >>> superpixel_regions(torch.rand(3, 128, 48), n_segments=24).dtype
        torch.bool
    """
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] != 3:
        got = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must be a tensor of shape (3, H, W), got {got}")
    check_positive("n_segments", n_segments)
    from skimage.segmentation import slic  # only for superpixels: not on the conceal path

    array = image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float64)
    labels = slic(array, n_segments=n_segments, compactness=compactness, start_label=0, channel_axis=-1)
    _, dense = np.unique(labels, return_inverse=True)
    labels_t = torch.from_numpy(dense.reshape(labels.shape)).to(image.device)
    return labels_t[None] == torch.arange(int(labels_t.max()) + 1, device=image.device)[:, None, None]


def body_regions(
    height: int, width: int, *, bands: Mapping[str, tuple[float, float]] | None = None
) -> dict[str, torch.Tensor]:
    """Body parts of a person crop as bands of its height: name -> ``(height, width)`` bool.

    With the default :data:`BODY_BANDS` the parts are ``head``, ``upper_body``, ``lower_body``
    and ``feet``, and they partition the crop. Other bands may overlap or leave gaps.

    Args:
        height, width: the crop's size in pixels (any resolution: the bands are fractions).
        bands: name -> (top, bottom) fractions in [0, 1]; :data:`BODY_BANDS` when omitted.

    Example:
        >>> parts = body_regions(128, 48)
        >>> list(parts), int(parts["head"].sum())
        (['head', 'upper_body', 'lower_body', 'feet'], 960)
    """
    _check_size(height, width)
    bands = BODY_BANDS if bands is None else bands
    if not bands:
        raise ValueError("bands must name at least one region, got none")
    rows = torch.arange(height, dtype=torch.float64)
    centres = (rows + 0.5) / height
    out = {}
    for name, (top, bottom) in bands.items():
        if not 0.0 <= top < bottom <= 1.0:
            raise ValueError(f"band {name!r} must satisfy 0 <= top < bottom <= 1, got ({top}, {bottom})")
        inside = (centres >= top) & (centres < bottom) if bottom < 1.0 else centres >= top
        out[name] = inside[:, None].expand(height, width).clone()
    return out


def stack_regions(regions: Mapping[str, torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """Turn a dict of ``(H, W)`` masks (or a tensor ``(R, H, W)``) into bool ``(R, H, W)``; a
    dict of per-image masks ``(B, H, W)`` (or a tensor ``(R, B, H, W)``) into ``(R, B, H, W)``."""
    if isinstance(regions, Mapping):
        if not regions:
            raise ValueError("regions must hold at least one region, got an empty mapping")
        shapes = {tuple(torch.as_tensor(m).shape) for m in regions.values()}
        if len(shapes) != 1:
            raise ValueError(f"regions must all have one shape, got {sorted(shapes)}")
        regions = torch.stack([torch.as_tensor(m) for m in regions.values()])
    if not isinstance(regions, torch.Tensor) or regions.ndim not in (3, 4):
        got = tuple(regions.shape) if isinstance(regions, torch.Tensor) else type(regions).__name__
        raise ValueError(f"regions must have shape (R, H, W) or (R, B, H, W), got {got}")
    return regions.bool()


def region_scores(
    attributions: torch.Tensor, regions: Mapping[str, torch.Tensor] | torch.Tensor
) -> torch.Tensor:
    """Summed attribution per region: ``(B, 1, H, W)`` x ``(R, H, W)`` -> ``(B, R)``.

    Args:
        attributions: per-pixel attributions ``(B, 1, H, W)``.
        regions: bool masks ``(R, H, W)`` at the attributions' resolution, or a dict of
            ``(H, W)`` masks (the columns then follow the dict's order); or per-image masks
            ``(R, B, H, W)`` (a dict of ``(B, H, W)``), e.g. body parts from each image's pose.

    Example:
        >>> attributions = torch.ones(2, 1, 128, 48)
        >>> region_scores(attributions, grid_regions(128, 48, rows=2, cols=1))
        tensor([[3072., 3072.],
                [3072., 3072.]])
    """
    masks = stack_regions(regions)
    if not isinstance(attributions, torch.Tensor) or attributions.ndim != 4 or attributions.shape[1] != 1:
        got = (
            tuple(attributions.shape)
            if isinstance(attributions, torch.Tensor)
            else type(attributions).__name__
        )
        raise ValueError(f"attributions must have shape (B, 1, H, W), got {got}")
    size = tuple(attributions.shape[2:])
    if masks.shape[-2:] != size or (masks.ndim == 4 and masks.shape[1] != attributions.shape[0]):
        raise ValueError(
            f"regions must be (R, {size[0]}, {size[1]}) or (R, {attributions.shape[0]}, {size[0]}, "
            f"{size[1]}) to match the attributions, got {tuple(masks.shape)}"
        )
    weights = masks.to(device=attributions.device, dtype=attributions.dtype)
    if masks.ndim == 4:
        return torch.einsum("bhw,rbhw->br", attributions[:, 0], weights)
    return torch.einsum("bhw,rhw->br", attributions[:, 0], weights)


def region_labels(regions: torch.Tensor) -> torch.Tensor:
    """Turn a partition ``(R, H, W)`` into a label map ``(H, W)`` (long, values 0..R-1).

    Pixels in no region get the label ``R``; overlapping regions are an error.
    """
    masks = stack_regions(regions)
    counts = masks.sum(dim=0)
    if bool((counts > 1).any()):
        raise ValueError(
            f"regions must not overlap (each pixel in at most one region), got "
            f"{int((counts > 1).sum())} pixels in several regions"
        )
    labels = masks.long().argmax(dim=0)
    labels[counts == 0] = len(masks)
    return labels
