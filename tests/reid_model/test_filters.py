import numpy as np
import pytest
import torch

from reid_model import gaussian_blur
from reid_model.filters import blur_radius, gaussian_kernel1d


def _brute_blur(image: np.ndarray, sigma: float, radius: int, mode: str) -> np.ndarray:
    """2-D convolution with the outer product of the 1-D Gaussian, in float64, pixel by pixel."""
    x = np.arange(-radius, radius + 1)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    kernel = np.outer(k, k)
    padded = np.pad(
        image, ((0, 0), (radius, radius), (radius, radius)), mode="edge" if mode == "replicate" else mode
    )
    out = np.zeros_like(image)
    for i in range(image.shape[1]):
        for j in range(image.shape[2]):
            out[:, i, j] = (padded[:, i : i + 2 * radius + 1, j : j + 2 * radius + 1] * kernel).sum(
                axis=(1, 2)
            )
    return out


@pytest.mark.parametrize(("sigma", "padding"), [(0.7, "replicate"), (1.5, "replicate"), (1.2, "reflect")])
@pytest.mark.parametrize("rows_first", [False, True])
# 13 x 9: both passes are matrix products; 7 x 250: the row pass too, the column pass (250 pixels,
# more than MATRIX_LENGTHS kernel lengths) a convolution
@pytest.mark.parametrize("size", [(13, 9), (7, 250)])
def test_gaussian_blur_against_brute_force(sigma, padding, rows_first, size):
    image = torch.rand(1, 2, *size, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = gaussian_blur(image, sigma, padding=padding, rows_first=rows_first)
    expected = _brute_blur(image[0].numpy(), sigma, blur_radius(sigma), padding)
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-12)


def test_gaussian_blur_keeps_constants_and_radius_zero_is_the_identity():
    flat = torch.full((2, 3, 5, 4), 0.25)
    for padding in ("replicate", "reflect"):
        # reflect on a 5 x 4 image with radius 18: the kernel is cut to the image and renormalized
        assert torch.allclose(gaussian_blur(flat, 6.0, padding=padding), flat)
    image = torch.rand(1, 3, 6, 5)
    assert torch.equal(gaussian_blur(image, 2.0, radius=0), image)
    assert blur_radius(2.0) == 6 and blur_radius(0.01) == 1
    assert gaussian_kernel1d(2.0).sum().item() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: gaussian_blur(x, 0.0), r"sigma must be > 0, got 0.0"),
        (lambda x: gaussian_blur(x, 1.0, radius=-1), r"radius must be >= 0, got -1"),
        (
            lambda x: gaussian_blur(x, 1.0, padding="zeros"),
            r"padding must be one of \['reflect', 'replicate'\], got 'zeros'",
        ),
        (lambda x: gaussian_blur(x[0], 1.0), r"images must have shape \(B, C, H, W\), got \(3, 8, 5\)"),
    ],
)
def test_gaussian_blur_rejects_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call(torch.rand(1, 3, 8, 5))
