"""Unmasked image filters behind the operators: each maps ``(B, 3, H, W)`` to ``(B, 3, H, W)``.

The operators in :mod:`deid.operators` blend these with a mask (the Gaussian blur is
:func:`reid_model.filters.gaussian_blur`, shared with the other packages). Everything here is
vectorised torch, except :func:`inpaint_images`, which hands each image to OpenCV as 16-bit
numpy arrays (no uint8, no BGR: each channel is inpainted on its own; the fast-marching
order depends only on the mask, so this matches a 3-channel call).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

#: Rec. 601 luma weights, used as the grey an image desaturates to.
LUMA = (0.299, 0.587, 0.114)
INPAINT_METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


def block_average(images: torch.Tensor, block: int) -> torch.Tensor:
    """Replace each ``block x block`` cell (the last ones may be smaller) by its mean."""
    h, w = images.shape[-2:]
    pooled = F.avg_pool2d(images, block, stride=block, ceil_mode=True)
    out = pooled.repeat_interleave(block, dim=-2).repeat_interleave(block, dim=-1)
    return out[..., :h, :w]


def hue_saturation_matrix(
    hue: float, saturation: float, *, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """A ``(3, 3)`` RGB matrix: hue rotated by ``hue`` degrees about the grey axis, then saturation.

    The rotation keeps the mean of R, G and B; desaturation moves each pixel towards its luma.
    """
    theta = math.radians(hue)
    cos, sin = math.cos(theta), math.sin(theta)
    axis = torch.full((3,), 1.0 / math.sqrt(3.0), dtype=torch.float64)
    cross = torch.tensor(
        [[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]],
        dtype=torch.float64,
    )
    rotation = cos * torch.eye(3, dtype=torch.float64) + sin * cross + (1 - cos) * torch.outer(axis, axis)
    luma = torch.tensor(LUMA, dtype=torch.float64)
    grey = luma.expand(3, 3)  # every output channel takes the luma
    desaturate = saturation * torch.eye(3, dtype=torch.float64) + (1 - saturation) * grey
    return (desaturate @ rotation).to(dtype=dtype, device=device)


def color_transform(images: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Apply a ``(3, 3)`` colour matrix to every pixel of ``images (B, 3, H, W)``."""
    return torch.einsum("ij,bjhw->bihw", matrix, images)


def inpaint_images(images: torch.Tensor, mask: torch.Tensor, *, radius: float, method: str) -> torch.Tensor:
    """OpenCV inpainting of ``images (B, 3, H, W)`` where ``mask (B or 1, 1, H, W) > 0``.

    Runs per image and channel on 16-bit copies (OpenCV's Telea mis-handles float input and
    takes 3 channels only at 8 bits), so values keep a 1/65535 precision. An image masked
    everywhere has nothing to inpaint from and becomes mid grey. The result has the inputs'
    dtype and device and no gradient.
    """
    flag = INPAINT_METHODS[method]
    arrays = np.round(images.detach().to("cpu", torch.float64).clamp(0, 1).numpy() * 65535).astype(np.uint16)
    holes = (mask.detach() > 0).to("cpu").numpy().astype(np.uint8)
    out = arrays.copy()
    for i, image in enumerate(arrays):
        hole = holes[i if holes.shape[0] > 1 else 0, 0]
        if hole.all():
            out[i] = 32768
            continue
        if not hole.any():
            continue
        for c in range(image.shape[0]):
            out[i, c] = cv2.inpaint(np.ascontiguousarray(image[c]), hole, radius, flag)
    return torch.from_numpy(out.astype(np.float64) / 65535).to(device=images.device, dtype=images.dtype)
