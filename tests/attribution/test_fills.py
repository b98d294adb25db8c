import math

import torch

from attribution._fills import blurred, fill_masked
from reid_model import gaussian_blur


def test_attribution_blur_is_the_shared_blur_with_its_radius_rule():
    image = torch.rand(2, 3, 32, 16, generator=torch.Generator().manual_seed(1))
    for sigma in (2.4, 6.0):  # round(3 sigma) = 7, ceil(3 sigma) = 8 for 2.4
        expected = gaussian_blur(image, sigma, radius=round(3 * sigma), padding="reflect", rows_first=True)
        assert torch.equal(blurred(image, sigma=sigma), expected)
    assert math.ceil(3 * 2.4) != round(3 * 2.4)


def test_fill_masked_replaces_only_the_masked_pixels():
    images = torch.rand(2, 3, 8, 6, generator=torch.Generator().manual_seed(2))
    mask = torch.zeros(1, 1, 8, 6)
    mask[..., 2:5, 1:4] = 1
    out = fill_masked(images, mask, fill="mean")
    keep = mask.expand_as(images) == 0
    assert torch.equal(out[keep], images[keep])
    means = images.mean(dim=(2, 3), keepdim=True).expand_as(images)
    assert torch.allclose(out[~keep], means[~keep])
