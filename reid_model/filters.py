"""The one Gaussian blur of the project: a separable, truncated Gaussian on ``(B, C, H, W)`` batches.

Used by ``reid_model``'s Retinex (LOMO features), ``attribution``'s measurement fills and
heatmap smoothing, and ``deid``'s blur operator. Callers that have always used another radius
rule or padding pass ``radius`` and ``padding`` explicitly, so their results are unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from reid_model.checks import check_choice, check_positive

#: How the image is extended beyond its edges.
PADDINGS = ("replicate", "reflect")


def blur_radius(sigma: float) -> int:
    """The default kernel radius, ``max(1, ceil(3 sigma))``.

    Example:
        >>> blur_radius(2.0), blur_radius(0.1)
        (6, 1)
    """
    return max(1, math.ceil(3.0 * sigma))


def gaussian_kernel1d(
    sigma: float,
    *,
    radius: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A normalized 1-D Gaussian ``exp(-x^2 / 2 sigma^2)``, shape ``(2 radius + 1,)``.

    Args:
        sigma: standard deviation in pixels, > 0.
        radius: half width in pixels, >= 0 (0 is no blur); None uses :func:`blur_radius`.

    Example:
        >>> gaussian_kernel1d(1.0, radius=2).shape
        torch.Size([5])
    """
    check_positive("sigma", sigma)
    radius = blur_radius(sigma) if radius is None else radius
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    x = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(
    images: torch.Tensor,
    sigma: float,
    *,
    radius: int | None = None,
    padding: str = "replicate",
    rows_first: bool = False,
) -> torch.Tensor:
    """Separable Gaussian blur of ``images (B, C, H, W)``, same shape out.

    Args:
        images: ``(B, C, H, W)`` float images.
        sigma: standard deviation in pixels, > 0.
        radius: kernel half width, >= 0; None uses :func:`blur_radius` (``ceil(3 sigma)``).
        padding: ``"replicate"`` (edge pixels repeated) or ``"reflect"`` (mirrored; the kernel is
            cut to ``size - 1`` where the image is smaller and renormalized, as reflection needs).
        rows_first: run the vertical pass before the horizontal one. The two orders agree up
            to float rounding; the option keeps the outputs of callers that used it unchanged.

    Example:
        >>> gaussian_blur(torch.ones(1, 3, 8, 5), 2.0).allclose(torch.ones(1, 3, 8, 5))
        True
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    check_choice("padding", padding, PADDINGS)
    kernel = gaussian_kernel1d(sigma, radius=radius, dtype=images.dtype, device=images.device)
    out = images
    for dim in (2, 3) if rows_first else (3, 2):
        out = _blur_along(out, dim, kernel, padding)
    return out


#: A pass is one matrix product instead of a depthwise convolution when the image is at most this
#: many kernel lengths long along it: a batch of 128 x 48 crops at sigma 5 is blurred 16 times faster
#: (a dense product costs the image's length per pixel, the convolution the kernel's length, but
#: the depthwise convolution is the slower kernel by far on the CPU).
MATRIX_LENGTHS = 20


def _blur_along(images: torch.Tensor, dim: int, kernel: torch.Tensor, padding: str) -> torch.Tensor:
    """One pass of the separable blur along ``dim`` (2: rows, 3: columns) of ``(B, C, H, W)``."""
    radius = (kernel.numel() - 1) // 2
    size = images.shape[dim]
    pad = radius if padding == "replicate" else min(radius, size - 1)
    k = kernel[radius - pad : radius + pad + 1]
    if padding == "reflect":
        k = k / k.sum()
    if size <= MATRIX_LENGTHS * k.numel():
        matrix = _blur_matrix(size, k, padding)
        return images @ matrix.T if dim == 3 else matrix @ images
    channels = images.shape[1]
    k = k.view(1, 1, -1).expand(channels, 1, -1)
    weight = k[..., None] if dim == 2 else k[:, :, None, :]
    pads = (0, 0, pad, pad) if dim == 2 else (pad, pad, 0, 0)
    return F.conv2d(F.pad(images, pads, mode=padding), weight, groups=channels)


def _blur_matrix(size: int, kernel: torch.Tensor, padding: str) -> torch.Tensor:
    """The ``(size, size)`` matrix of a 1-D blur by ``kernel`` with the image extended by ``padding``:
    each output pixel's weights, the taps that fall beyond the edge added to the pixel they read."""
    radius = (kernel.numel() - 1) // 2
    taps = torch.arange(size, device=kernel.device)[:, None] + torch.arange(
        -radius, radius + 1, device=kernel.device
    )
    if padding == "replicate":
        taps = taps.clamp(0, size - 1)
    else:  # reflect (radius <= size - 1, so one reflection is enough)
        taps = taps.abs()
        taps = torch.where(taps > size - 1, 2 * (size - 1) - taps, taps)
    matrix = torch.zeros(size, size, dtype=kernel.dtype, device=kernel.device)
    return matrix.scatter_add_(1, taps, kernel.expand(size, -1).contiguous())
