"""Input checks shared by the library. Each raises with the argument, what it got, what it wanted."""

from __future__ import annotations

import math

import torch

#: Float round-off tolerated outside [0, 1] by :func:`check_images` (e.g. 1.0000001 after a resize).
RANGE_TOLERANCE = 1e-4


def check_images(
    images: object, name: str = "images", *, batched: bool = True, unit_range: bool = True
) -> torch.Tensor:
    """Check that ``images`` is a float tensor of shape (B, 3, H, W) (or (3, H, W) when not
    ``batched``), with no empty dimension except B, finite and (when ``unit_range``) in [0, 1]
    within :data:`RANGE_TOLERANCE`, and return it.

    ``unit_range=False`` is for internal callers fed an attribution method's noisy samples."""
    shape = "(B, 3, H, W)" if batched else "(3, H, W)"
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape}, got {type(images).__name__}")
    if images.ndim != (4 if batched else 3) or images.shape[-3] != 3:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor with values in [0, 1], got {images.dtype}")
    if images.shape[-1] == 0 or images.shape[-2] == 0:
        raise ValueError(
            f"{name} must have H >= 1 and W >= 1, got an empty tensor of shape {tuple(images.shape)}"
        )
    if images.numel() == 0:
        return images
    values = images.detach()
    # one pass: a NaN makes both ends NaN, an infinity an end infinite
    low, high = (float(end) for end in torch.aminmax(values))
    if not (math.isfinite(low) and math.isfinite(high)):
        bad = int((~torch.isfinite(values)).sum())
        raise ValueError(f"{name} must have values that are all finite, got {bad} NaN or infinite value(s)")
    if unit_range and (low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE):
        hint = " (uint8-scale pixels? divide by 255)" if high > 1.5 else ""
        raise ValueError(
            f"{name} must have values in [0, 1] (tolerance {RANGE_TOLERANCE}), "
            f"got values in [{low:.6g}, {high:.6g}]{hint}"
        )
    return images


def check_mask(mask: object, images: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """Check that ``mask`` is (B, 1, H, W) or (1, 1, H, W) matching ``images`` spatially."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, 1, H, W), got {type(mask).__name__}")
    b, _, h, w = images.shape
    if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[2:] != (h, w) or mask.shape[0] not in (1, b):
        raise ValueError(
            f"{name} must have shape ({b}, 1, {h}, {w}) or (1, 1, {h}, {w}), got {tuple(mask.shape)}"
        )
    return mask


def check_same_length(name_a: str, a: object, name_b: str, b: object) -> None:
    """Check that two sized arguments have the same length."""
    la, lb = len(a), len(b)  # type: ignore[arg-type]
    if la != lb:
        raise ValueError(f"{name_a} and {name_b} must have the same length, got {la} and {lb}")


def check_positive(name: str, value: float) -> None:
    """Check that a number is strictly positive."""
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def check_choice(name: str, value: str, choices: object) -> None:
    """Check that ``value`` is one of ``choices``."""
    options = sorted(choices)  # type: ignore[call-overload]
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
