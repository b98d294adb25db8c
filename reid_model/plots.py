"""Embeddings on their first two principal components, each crop drawn at its point.

The seed's qualitative figure: the persons of a split part projected by PCA, a thin line joining
one person's views. Drawn with OpenCV on a uint8 RGB canvas (its anti-aliased lines and text need
8 bits); the figure leaves as a float32 ``(3, H, W)`` RGB tensor in [0, 1] like any other image.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import cv2
import numpy as np
import torch

from reid_model.checks import check_images, check_positive, check_same_length
from reid_model.io import resize

#: Frame colour of a thumbnail by camera index (RGB, 0..255): camera 0 orange, camera 1 blue, ...
CAMERA_COLOURS: tuple[tuple[int, int, int], ...] = (
    (230, 120, 0),
    (0, 100, 220),
    (0, 160, 70),
    (190, 30, 160),
)
_BACKGROUND = 248
_INK = (20, 20, 20)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def principal_components(embeddings: torch.Tensor, *, k: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Project embeddings on their first ``k`` principal components (SVD of the centred data).

    Each component's sign is fixed so that its largest loading is positive: the same embeddings
    always give the same picture.

    Args:
        embeddings: ``(N, D)`` floats, N >= 2.
        k: how many components, 1 <= k <= min(N, D).

    Returns:
        ``points (N, k)`` in the embeddings' dtype and device, and ``explained (k,)``: the fraction
        of the total variance along each component.

    Example:
        >>> points, explained = principal_components(torch.randn(10, 8))
        >>> points.shape, explained.shape
        (torch.Size([10, 2]), torch.Size([2]))
    """
    if not isinstance(embeddings, torch.Tensor) or embeddings.ndim != 2 or not embeddings.is_floating_point():
        got = (
            f"{embeddings.dtype} {tuple(embeddings.shape)}"
            if isinstance(embeddings, torch.Tensor)
            else type(embeddings).__name__
        )
        raise ValueError(f"embeddings must be a float tensor of shape (N, D), got {got}")
    n, d = embeddings.shape
    if n < 2:
        raise ValueError(f"embeddings must have at least 2 rows for a PCA, got {n}")
    if not 1 <= k <= min(n, d):
        raise ValueError(f"k must be in [1, {min(n, d)}] for embeddings of shape {(n, d)}, got {k}")
    if not bool(torch.isfinite(embeddings).all()):
        raise ValueError("embeddings must be finite, got NaN or infinite values")
    data = embeddings.detach().double()
    centred = data - data.mean(dim=0)
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    axes = vh[:k]
    largest = axes.gather(1, axes.abs().argmax(dim=1, keepdim=True))
    axes = axes * torch.where(largest < 0, -1.0, 1.0).to(axes)
    variance = singular.square()
    total = variance.sum()
    explained = variance[:k] / total if total > 0 else torch.zeros(k, dtype=variance.dtype)
    return (centred @ axes.T).to(embeddings.dtype), explained.to(embeddings.dtype)


def plot_embeddings(
    embeddings: torch.Tensor,
    images: torch.Tensor,
    person_ids: torch.Tensor | Sequence[int],
    *,
    cameras: torch.Tensor | Sequence[int] | None = None,
    camera_names: Sequence[str] = (),
    title: str = "",
    size: int = 2400,
    thumb_height: int | None = None,
) -> torch.Tensor:
    """Draw each image at its embedding's point on the first two principal components.

    A thin line in the person's colour joins every view of a person to the person's first view;
    lines are drawn under the thumbnails and again, faint, over them. Each thumbnail has a frame
    in its camera's colour (:data:`CAMERA_COLOURS`). The title's second line gives the number of
    persons and images and the variance the two components explain; the axes are labelled.

    Args:
        embeddings: ``(N, D)`` floats, N >= 2.
        images: ``(N, 3, H, W)`` RGB in [0, 1], the crops the embeddings come from.
        person_ids: ``(N,)`` integers; views with the same id are joined by a line.
        cameras: ``(N,)`` camera indices >= 0 for the frame colours (:data:`CAMERA_COLOURS`,
            repeated after the fourth); None draws no frames.
        camera_names: the legend's name of camera k, e.g. ``("cam_a", "cam_b")``; ``camera k``
            where none is given.
        title: first line of the title, e.g. the model and the split part.
        size: width and height of the square figure in pixels, >= 400.
        thumb_height: thumbnail height in pixels; None picks one from ``size`` and N
            (64 for 254 images at 2400, 44 for 808, 68 for 202). The width keeps the images' aspect.

    Returns:
        The figure ``(3, size, size)`` float32 RGB in [0, 1], on the CPU.

    Example:
        >>> figure = plot_embeddings(torch.randn(6, 8), torch.rand(6, 3, 128, 48), [0, 0, 1, 1, 2, 2])
        >>> figure.shape
        torch.Size([3, 2400, 2400])
    """
    check_images(images)
    ids = _as_labels(person_ids, "person_ids")
    check_same_length("embeddings", embeddings, "images", images)
    check_same_length("person_ids", ids, "images", images)
    cams = None if cameras is None else _as_labels(cameras, "cameras")
    if cams is not None:
        check_same_length("cameras", cams, "images", images)
        if min(cams, default=0) < 0:
            raise ValueError(f"cameras must be indices >= 0, got {min(cams)}")
    if not isinstance(size, int) or size < 400:
        raise ValueError(f"size must be an integer >= 400 pixels, got {size!r}")
    count = len(images)
    if thumb_height is None:
        auto = round(16 * size / 2400 * (254 / max(count, 1)) ** 0.35) * 4  # 64 for 254 images at 2400
        thumb_height = int(np.clip(auto, 16, min(128, size // 4)))
    check_positive("thumb_height", thumb_height)
    if thumb_height > size // 4:
        raise ValueError(f"thumb_height must be at most a quarter of size ({size // 4}), got {thumb_height}")
    points, explained = principal_components(embeddings)
    thumb_width = max(1, round(thumb_height * images.shape[-1] / images.shape[-2]))

    canvas = np.full((size, size, 3), _BACKGROUND, dtype=np.uint8)
    scale = size / 2400
    title_band = _draw_title(canvas, title, ids, explained, cams, camera_names, scale)
    left, bottom = round(60 * scale), size - round(60 * scale)
    box = (left, title_band, size - round(20 * scale), bottom)  # x0, y0, x1, y1 of the plot area
    _draw_axes(canvas, box, explained, scale)
    pad = round(8 * scale) + 2
    centres = _to_pixels(points.double().cpu().numpy(), box, (thumb_width / 2 + pad, thumb_height / 2 + pad))

    segments = _pair_segments(ids)
    colours = [_person_colour(ids[first]) for first, _ in segments]
    line_width = max(1, round(2 * scale))
    _draw_lines(canvas, segments, centres, colours, line_width)
    thumbs = _thumbnails(images, thumb_height, thumb_width)
    frame = max(1, round(2 * scale))
    for i in sorted(range(count), key=lambda i: (ids[i], i)):  # one person's views one after the other
        x0, y0 = centres[i][0] - thumb_width // 2, centres[i][1] - thumb_height // 2
        if cams is not None:
            colour = CAMERA_COLOURS[cams[i] % len(CAMERA_COLOURS)]
            corner = (x0 + thumb_width + frame - 1, y0 + thumb_height + frame - 1)
            cv2.rectangle(canvas, (x0 - frame, y0 - frame), corner, colour, -1)
        canvas[y0 : y0 + thumb_height, x0 : x0 + thumb_width] = thumbs[i]
    over = canvas.copy()  # the lines again, faint, so that a line hidden by thumbnails still shows
    _draw_lines(over, segments, centres, colours, max(1, line_width // 2))
    figure = cv2.addWeighted(over, 0.45, canvas, 0.55, 0.0)
    return torch.from_numpy(figure).permute(2, 0, 1).float().div_(255.0).contiguous()


def _as_labels(values: torch.Tensor | Sequence[int], name: str) -> list[int]:
    if isinstance(values, torch.Tensor):
        if values.ndim != 1 or values.is_floating_point():
            raise ValueError(
                f"{name} must be integers of shape (N,), got {values.dtype} {tuple(values.shape)}"
            )
        return [int(v) for v in values.tolist()]
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of integers, got {type(values).__name__}") from exc


def _to_pixels(
    points: np.ndarray, box: tuple[int, int, int, int], inset: tuple[float, float]
) -> list[tuple[int, int]]:
    """Map PCA points to pixel centres inside ``box``, inset so no thumbnail crosses its edge."""
    x0, y0, x1, y1 = box
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    unit = (points - lo) / span  # [0, 1]; a flat component sits at 0, the low edge
    xs = x0 + inset[0] + unit[:, 0] * (x1 - x0 - 2 * inset[0])
    ys = y1 - inset[1] - unit[:, 1] * (y1 - y0 - 2 * inset[1])  # PC2 points up
    return [(round(x), round(y)) for x, y in zip(xs, ys, strict=True)]


def _pair_segments(ids: list[int]) -> list[tuple[int, int]]:
    """Index pairs (a person's first view, another view of that person), in input order."""
    first: dict[int, int] = {}
    segments = []
    for i, pid in enumerate(ids):
        if pid in first:
            segments.append((first[pid], i))
        else:
            first[pid] = i
    return segments


def _person_colour(pid: int) -> tuple[int, int, int]:
    """A fairly dark colour for a person id (golden-ratio hues): neighbours differ, runs agree."""
    r, g, b = colorsys.hsv_to_rgb((pid * 0.618033988749895) % 1.0, 0.85, 0.75)
    return round(r * 255), round(g * 255), round(b * 255)


def _draw_lines(
    canvas: np.ndarray,
    segments: list[tuple[int, int]],
    centres: list[tuple[int, int]],
    colours: list[tuple[int, int, int]],
    width: int,
) -> None:
    for (a, b), colour in zip(segments, colours, strict=True):
        cv2.line(canvas, centres[a], centres[b], colour, width, cv2.LINE_AA)


def _thumbnails(images: torch.Tensor, height: int, width: int) -> np.ndarray:
    """``(N, height, width, 3)`` uint8 RGB thumbnails, antialiased when shrinking."""
    small = resize(images.detach().float().cpu(), (height, width))
    return small.mul(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _text(canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float, thickness: int) -> None:
    cv2.putText(canvas, text, origin, _FONT, scale, _INK, thickness, cv2.LINE_AA)


def _draw_title(
    canvas: np.ndarray,
    title: str,
    ids: list[int],
    explained: torch.Tensor,
    cameras: list[int] | None,
    camera_names: Sequence[str],
    scale: float,
) -> int:
    """Write the title, its numbers and the legend; return the y where the plot area starts."""
    size, left, thickness = canvas.shape[1], round(30 * scale), max(1, round(2 * scale))
    first, font = title or "embeddings", 1.5 * scale
    while font > 0.3 and cv2.getTextSize(first, _FONT, font, thickness + 1)[0][0] > size - 2 * left:
        font *= 0.9  # shrink a long title until it fits
    _text(canvas, first, (left, round(58 * scale)), font, thickness + 1)
    pc1, pc2 = (100 * float(e) for e in explained[:2])
    second = (
        f"{len(set(ids))} persons, {len(ids)} images; the first two principal components explain "
        f"{pc1:.1f}% + {pc2:.1f}% = {pc1 + pc2:.1f}% of the variance"
    )
    _text(canvas, second, (left, round(112 * scale)), 1.0 * scale, thickness)
    pieces: list[str | tuple[int, int, int]] = []
    if cameras is not None:
        pieces.append("frame:")
        for camera in sorted(set(cameras)):
            name = camera_names[camera] if 0 <= camera < len(camera_names) else f"camera {camera}"
            pieces += ["  ", CAMERA_COLOURS[camera % len(CAMERA_COLOURS)], f" {name}"]
        pieces.append(";   ")
    pieces.append("line: joins the views of one person")
    _draw_legend(canvas, pieces, (left, round(156 * scale)), 0.9 * scale, thickness)
    return round(176 * scale)


def _draw_legend(
    canvas: np.ndarray,
    pieces: list[str | tuple[int, int, int]],
    origin: tuple[int, int],
    font: float,
    thickness: int,
) -> None:
    """Write text pieces left to right; a colour piece is a small filled square of that colour."""
    x, y = origin
    (_, height), _ = cv2.getTextSize("Ag", _FONT, font, thickness)
    for piece in pieces:
        if isinstance(piece, str):
            _text(canvas, piece, (x, y), font, thickness)
            x += cv2.getTextSize(piece, _FONT, font, thickness)[0][0]
        else:
            cv2.rectangle(canvas, (x, y - height), (x + height, y), piece, -1)
            x += height


def _draw_axes(
    canvas: np.ndarray, box: tuple[int, int, int, int], explained: torch.Tensor, scale: float
) -> None:
    """A thin frame round the plot area and its two axis labels (PC2's turned upright)."""
    x0, y0, x1, y1 = box
    cv2.rectangle(canvas, (x0, y0), (x1, y1), (170, 170, 170), max(1, round(scale)))
    font, thickness = 0.9 * scale, max(1, round(2 * scale))
    for axis, value in enumerate(explained[:2]):
        label = f"PC{axis + 1} ({100 * float(value):.1f}% of the variance)"
        (w, h), base = cv2.getTextSize(label, _FONT, font, thickness)
        strip = np.full((h + base + 4, w + 4, 3), _BACKGROUND, dtype=np.uint8)
        cv2.putText(strip, label, (2, h + 2), _FONT, font, _INK, thickness, cv2.LINE_AA)
        if axis == 0:
            top, left = y1 + round(12 * scale), (x0 + x1 - strip.shape[1]) // 2
        else:
            strip = np.ascontiguousarray(np.rot90(strip))
            top, left = (y0 + y1 - strip.shape[0]) // 2, max(0, x0 - strip.shape[1] - round(10 * scale))
        bottom, right = (
            min(top + strip.shape[0], canvas.shape[0]),
            min(left + strip.shape[1], canvas.shape[1]),
        )
        canvas[top:bottom, left:right] = strip[: bottom - top, : right - left]
