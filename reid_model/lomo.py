"""LOMO features (Liao et al., CVPR 2015), the descriptor of :class:`reid_model.HandcraftedMatcher`.

For each image (resized to the model input size, 128 x 48) and each of three scales (halved
each time):

- an optional multi-scale Retinex evens out the lighting of the two cameras;
- 10 x 10 windows sliding by 5 pixels collect a joint HSV histogram (8 x 8 x 8 bins) and two
  Scale-Invariant Local Ternary Pattern histograms (SILTP, 4 neighbours at radius 3 and 5,
  81 bins each);
- each bin keeps its maximum over the windows of one horizontal row (the "local maximal
  occurrence" that makes the descriptor robust to viewpoint).

Histograms are log-scaled and each feature group is L2-normalized: 26,960 dimensions on
128 x 48 crops. Every step is batched tensor arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from reid_model.checks import check_images
from reid_model.embedders import INPUT_SIZE
from reid_model.filters import gaussian_blur
from reid_model.io import resize

HSV_BINS = 8
SILTP_RADII = (3, 5)
SILTP_TAU = 0.3
WINDOW = 10
STRIDE = 5
SCALES = 3
RETINEX_SIGMAS = (5.0, 20.0)
#: Differences at most this large are a float rounding's, not the image's (a float32 rounding of
#: values <= 1 is at most 6e-8; an 8-bit level is 0.0039): a pixel whose channels differ by no
#: more is grey (hue and saturation 0), a SILTP neighbour no more above or below the centre's
#: bounds is equal. Without it, the hue of a grey pixel and the codes of a flat region came
#: from rounding: the resize's rounding by torch's thread count, or another CPU's, moved the
#: fused adversary's distances by 0.2% (median) to 4% (99th percentile) on concealed PETS
#: crops, enough to turn verdicts. Real differences in 8-bit images (a level or more, and their
#: resizes) are far larger. Colour bins also take what such a rounding could move across a
#: bin's edge (:func:`_colour_codes`).
ROUNDING = 1e-5
#: The Retinex stretch's smallest range (log units; the 1%-99% range of VIPeR's crops is at
#: least 1.13): a flat crop (a filled box) stays flat instead of its rounding noise being
#: stretched over [0, 1].
RETINEX_MIN_RANGE = 0.1


def rgb_to_hsv(images: torch.Tensor) -> torch.Tensor:
    """Convert RGB ``(B, 3, H, W)`` in [0, 1] to HSV ``(B, 3, H, W)``, every channel in [0, 1];
    a pixel whose channels differ by at most :data:`ROUNDING` is grey.

    Example:
        >>> rgb_to_hsv(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)).flatten().tolist()
        [0.0, 1.0, 1.0]
    """
    r, g, b = images.unbind(1)
    # channel by channel rather than reductions over the channel dimension (1.8 times faster)
    value = torch.maximum(torch.maximum(r, g), b)
    chroma = value - torch.minimum(torch.minimum(r, g), b)
    chroma = torch.where(chroma > ROUNDING, chroma, torch.zeros_like(chroma))  # grey (:data:`ROUNDING`)
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    red = (r >= g) & (r >= b)  # ties as ``max``'s first index: red, then green
    green = ~red & (g >= b)
    reddish = (g - b) / safe  # in [-1, 1]: ``% 6`` is adding 6 below 0, which is cheaper
    reddish = torch.where(reddish < 0, reddish + 6, reddish)
    hue = torch.where(red, reddish, torch.where(green, (b - r) / safe + 2, (r - g) / safe + 4))
    hue = torch.where(chroma > 0, hue / 6.0, torch.zeros_like(hue))
    saturation = torch.where(
        value > 0, chroma / torch.where(value > 0, value, torch.ones_like(value)), 0 * value
    )
    return torch.stack([hue, saturation, value], 1)


def retinex(
    images: torch.Tensor, *, sigmas: Sequence[float] = RETINEX_SIGMAS, clip: float = 0.01
) -> torch.Tensor:
    """Multi-scale Retinex with a per-image colour balance: ``(B, 3, H, W)`` in, same out.

    Each channel becomes the mean over ``sigmas`` of ``log(I) - log(G_sigma * I)``; the result is
    stretched to [0, 1] per image between its ``clip`` and ``1 - clip`` quantiles (over all three
    channels, so hues are kept), over a range of at least :data:`RETINEX_MIN_RANGE`.

    Example:
        >>> retinex(torch.rand(2, 3, 128, 48)).shape
        torch.Size([2, 3, 128, 48])
    """
    check_images(images)
    log_image = _log1p(images * 255.0)
    msr = torch.zeros_like(images)
    for sigma in sigmas:
        msr = msr + log_image - _log1p(gaussian_blur(images, sigma, radius=int(3 * sigma)) * 255.0)
    msr = msr / len(sigmas)
    flat = msr.flatten(1)
    low = _quantile(flat, clip).view(-1, 1, 1, 1)
    high = _quantile(flat, 1 - clip).view(-1, 1, 1, 1)
    return ((msr - low) / (high - low).clamp_min(RETINEX_MIN_RANGE)).clamp(0.0, 1.0)


def _colour_codes(hsv: torch.Tensor) -> torch.Tensor:
    """Joint HSV bins in [0, 512) of ``hsv (B, 3, H, W)``; a component that a rounding of the
    RGB channels (:data:`ROUNDING`) could move across a bin's edge counts in the bin above it.

    A flat colour lies on an edge more often than chance: two equal channels put its hue on 0
    or 1/2, and ratios such as 1/2 its saturation or hue within a sixth; the rounding of a
    resize then chose its bin (the hue also by wrapping from 0 to 0.99999, bin 7). A rounding
    ``r`` of the channels moves the hue by at most ``r / (3 chroma)``, the saturation by
    ``2 r / value`` and the value by ``r``, so each is counted that much higher (the hue around
    the circle).
    """
    hue, saturation, value = hsv.unbind(1)
    chroma = saturation * value
    hue = torch.where(chroma > 0, hue + ROUNDING / (3 * chroma.clamp_min(ROUNDING)), hue).remainder(1.0)
    saturation = saturation + 2 * ROUNDING / value.clamp_min(ROUNDING)
    bins = [
        (c * HSV_BINS).to(torch.int16).clamp_(0, HSV_BINS - 1) for c in (hue, saturation, value + ROUNDING)
    ]
    return (bins[0] * HSV_BINS + bins[1]) * HSV_BINS + bins[2]


def _siltp_codes(gray: torch.Tensor, radius: int, tau: float) -> torch.Tensor:
    """SILTP codes in [0, 81) of a gray batch ``(B, H, W)``: 4 neighbours, 3 states each (above
    ``(1 + tau)`` times the centre, below ``(1 - tau)`` times it, by more than :data:`ROUNDING`)."""
    padded = F.pad(gray[:, None], (radius, radius, radius, radius), mode="replicate")[:, 0]
    h, w = gray.shape[-2:]
    r = radius
    neighbours = (
        padded[:, r : r + h, 2 * r :],  # right
        padded[:, :h, r : r + w],  # up
        padded[:, r : r + h, :w],  # left
        padded[:, 2 * r :, r : r + w],  # down
    )
    codes = torch.zeros_like(gray, dtype=torch.uint8)  # in bytes: the codes are below 81
    for k, neighbour in enumerate(neighbours):
        above = neighbour > (1 + tau) * gray + ROUNDING
        below = neighbour < (1 - tau) * gray - ROUNDING
        codes += (above.to(torch.uint8) + 2 * below.to(torch.uint8)) * 3**k
    return codes


#: The bytes of cell histograms :func:`_max_occurrence` counts at once: 64 crops of 128 x 48 at
#: 512 bins counted 8 at a time (1 MB) took 2.6 ms, all at once (8.5 MB) 7.8 ms.
CELL_BYTES = 1 << 20


def _max_occurrence(codes: torch.Tensor, bins: int) -> torch.Tensor:
    """Histograms of ``codes (B, H, W)`` in sliding windows, maxed along rows: ``(B, rows, bins)``.

    A 10 x 10 window sliding by 5 is the union of 2 x 2 cells of 5 x 5 pixels, so cell histograms
    are counted once and summed in pairs, in bytes: a cell holds at most 25 pixels and a window
    100, so the numbers are the same as in int64. Counting straight into bytes (``index_put_``
    with ``accumulate``) rather than ``bincount``'s int64 is 2.9 times faster for 128 crops at
    512 bins (0.037 against 0.107 s), equal bit for bit. The images are counted a few at a time,
    so that the table of counts stays in the CPU's cache (:data:`CELL_BYTES`).
    """
    b, h, w = codes.shape
    rows, cols = (h - WINDOW) // STRIDE + 1, (w - WINDOW) // STRIDE + 1
    if rows < 1 or cols < 1:
        raise ValueError(f"images at this scale must be at least {WINDOW}x{WINDOW}, got {h}x{w}")
    cell_rows, cell_cols = rows + 1, cols + 1
    step = max(1, CELL_BYTES // (cell_rows * cell_cols * bins))
    if b > step:
        return torch.cat([_max_occurrence(codes[i : i + step], bins) for i in range(0, b, step)])
    codes = codes[:, : cell_rows * STRIDE, : cell_cols * STRIDE]
    cell_r = torch.arange(cell_rows * STRIDE, device=codes.device) // STRIDE
    cell_c = torch.arange(cell_cols * STRIDE, device=codes.device) // STRIDE
    cell = (cell_r[:, None] * cell_cols + cell_c[None, :])[None]
    batch = torch.arange(b, device=codes.device).view(b, 1, 1)
    index = (batch * (cell_rows * cell_cols) + cell) * bins + codes
    cells = torch.zeros(b * cell_rows * cell_cols * bins, dtype=torch.uint8, device=codes.device)
    one = torch.ones((), dtype=torch.uint8, device=codes.device).expand(index.numel())
    cells = cells.index_put_((index.flatten(),), one, accumulate=True).view(b, cell_rows, cell_cols, bins)
    pairs = cells[:, :, :-1] + cells[:, :, 1:]  # two cells side by side, then two such rows
    return (pairs[:, :-1] + pairs[:, 1:]).amax(dim=2)


def _normalize_group(histograms: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    feature = _log1p(torch.cat([h.flatten(1) for h in histograms], 1).to(dtype))
    return F.normalize(feature, dim=1)


def _log1p(values: torch.Tensor) -> torch.Tensor:
    """``log(1 + values)`` of a new tensor ``values`` >= 0, in place: within a float rounding of
    :func:`torch.log1p` (``1 + values`` is exact for whole numbers, within a rounding otherwise:
    2.6% of the values of 64 random crops times 255 differ, by one unit in the last place), which
    is not vectorized on the CPU (0.074 against 0.017 s for 512 x 26,960 values; 5.7 against
    0.5 ms for the 64 crops)."""
    return values.add_(1).log_()


def _quantile(values: torch.Tensor, q: float) -> torch.Tensor:
    """Per row of ``values (B, N)``, its ``q`` quantile interpolated linearly, as
    :func:`torch.quantile`'s (to a float rounding), from the few values at that end of the row
    rather than the whole row sorted (2 against 5 to 7 ms for 64 crops' 18,432 values)."""
    n = values.shape[1]
    position = q * (n - 1)
    below = int(position)  # q in [0, 1]: at most n - 1
    above = min(below + 1, n - 1)
    if q <= 0.5:
        ends = torch.topk(values, above + 1, dim=1, largest=False).values
        low, high = ends[:, below], ends[:, above]
    else:
        ends = torch.topk(values, n - below, dim=1).values
        low, high = ends[:, n - 1 - below], ends[:, n - 1 - above]
    return torch.lerp(low, high, position - below)


def _mirror_table() -> torch.Tensor:
    """Per SILTP code, the code with its right and left neighbours' states swapped."""
    codes = torch.arange(3**4)
    right, left = codes % 3, (codes // 9) % 3
    return (codes + 8 * (right - left)).to(torch.uint8)


_MIRRORED = _mirror_table()


def _mirror_siltp(codes: torch.Tensor) -> torch.Tensor:
    """The SILTP codes of the mirrored image from the image's: flipped, right and left swapped
    (looked up in :func:`_mirror_table`'s table: 3.4 times as fast as the arithmetic on 64
    crops' codes, whose integer remainders were 9% of the descriptors' time)."""
    return _MIRRORED[codes.long()].flip(-1)


def lomo_features(
    images: torch.Tensor, *, use_retinex: bool = False, flip: bool = False, chunk_size: int = 128
) -> torch.Tensor:
    """LOMO descriptors ``(B, D)`` of images ``(B, 3, H, W)`` in [0, 1], resized to 128 x 48.

    D is 26,960 for 128 x 48 crops: (512 HSV + 2 x 81 SILTP bins) x (24 + 11 + 5) rows. With
    ``flip``, each descriptor is the mean of the image's and its mirror image's. The mirror image's
    Retinex balance, colour bins and texture codes are the image's mirrored (the SILTP codes with
    their right and left neighbours swapped), so only its histograms are counted again; they
    agree with describing the mirrored image itself up to float rounding in the blur and pooling.

    Example:
        >>> lomo_features(torch.rand(2, 3, 128, 48)).shape
        torch.Size([2, 26960])
    """
    check_images(images)
    dtype = images.dtype if images.dtype in (torch.float32, torch.float64) else torch.float32
    images = resize(images.to(dtype), INPUT_SIZE)
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=dtype, device=images.device).view(1, 3, 1, 1)
    chunks = []
    for start in range(0, len(images), chunk_size):
        batch = images[start : start + chunk_size]
        if use_retinex:
            batch = retinex(batch)
        # per view (the image, then its mirror image), per feature group, one histogram per scale
        n_groups = 1 + len(SILTP_RADII)
        views: list[list[list[torch.Tensor]]] = [[[] for _ in range(n_groups)] for _ in range(1 + flip)]
        for scale in range(SCALES):
            if scale:
                batch = F.avg_pool2d(batch, 2)
            joint = _colour_codes(rgb_to_hsv(batch))
            gray = (batch * weights).sum(1)
            siltp = [_siltp_codes(gray, radius, SILTP_TAU) for radius in SILTP_RADII]
            codes = [joint, *siltp]
            if flip:
                codes += [joint.flip(-1), *(_mirror_siltp(c) for c in siltp)]
            for i, code in enumerate(codes):
                group = i % n_groups  # 0: colour, then SILTP per radius
                views[i // n_groups][group].append(_max_occurrence(code, HSV_BINS**3 if group == 0 else 3**4))
        described = [torch.cat([_normalize_group(g, dtype) for g in groups], 1) for groups in views]
        chunks.append(described[0] if len(described) == 1 else (described[0] + described[1]) / 2)
    if not chunks:
        return torch.empty(0, 26960, dtype=dtype, device=images.device)
    return torch.cat(chunks)
