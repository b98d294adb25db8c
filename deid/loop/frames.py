"""One image in, one image out: a crop goes to the loop as it is; a frame is searched for people,
each person cut out, concealed, pasted back and judged again as cut from the pasted frame.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import torch

from deid.adversary import Adversary, resolve_adversary
from deid.loop.appearances import private_recut
from deid.loop.config import ConcealConfig
from deid.loop.results import FrameResult
from deid.loop.search import conceal_people
from reid_model import read_image
from reid_model.checks import check_images
from reid_model.io import as_written


def conceal(
    image: torch.Tensor | str | os.PathLike[str],
    *,
    details: bool = False,
    config: ConcealConfig | None = None,
    adversary: Adversary | None = None,
    device: str | torch.device = "cpu",
    output_format: str = ".png",
    top_k: int | None = None,
    max_match_rate: float | None = None,
    **options: Any,
) -> torch.Tensor | FrameResult:
    """Conceal the person in a crop, or every detected person in a full frame.

    Works with no other argument: the bundled adversary and gallery are used. A crop goes straight
    in; a larger frame goes through the person finder first (:func:`deid.detection.detect_people`,
    unsure people included), each person is concealed and pasted back, and each is judged again
    as cut from the pasted frame (a person matched there is reported not private). A frame with
    no detection raises, rather than pass as anonymized.

    The verdict holds for the image as it will be saved: the pixels the loop changed are
    rounded to uint8 levels (``k / 255``), so writing the result as 8-bit PNG, BMP or TIFF
    (``reid_model.io.write_image``) changes none of them, and each person was checked after
    encoding in ``output_format`` and decoding again. For a lossy ``output_format`` (``".jpg"``)
    each person's crop is checked as encoded on its own, and a full frame's people once more as
    cut from the whole frame encoded in ``output_format``.

    Args:
        image: ``(3, H, W)`` float RGB in [0, 1], or an image file path.
        details: return a :class:`FrameResult` (masks, steps, scores, fallback) instead of the image.
        output_format: the file format the result will be written in (``".png"``, ``".jpg"``, ...).
        config, options: loop settings (see :class:`ConcealConfig`).
        top_k, max_match_rate: the bundled adversary's privacy target; with an ``adversary`` they
            must match its own (:func:`deid.adversary.resolve_adversary`).

    Example:
        >>> concealed = deid.conceal("examples/images/000_45.bmp")  # doctest: +SKIP
        >>> concealed.shape
        torch.Size([3, 128, 48])
    """
    from deid.boxes import crop_boxes, paste_crops
    from deid.detection import detect_people, is_person_crop

    if isinstance(image, str | os.PathLike):
        image = read_image(image)
    check_images(image, "image", batched=False)
    config = replace(config or ConcealConfig(), **options)
    adversary = resolve_adversary(adversary, device=device, top_k=top_k, max_match_rate=max_match_rate)
    if is_person_crop(image):
        result = conceal_people(
            [[image]], config=config, adversary=adversary, device=device, formats=[[output_format]]
        )[0]
        frame = FrameResult(result.images[0], [result], [], True)
    else:
        crops, boxes = crop_boxes(image, detect_people(image))
        if not crops:
            raise ValueError(
                f"no person detected in the frame of {image.shape[2]}x{image.shape[1]} pixels; "
                "pass person boxes or a person crop"
            )
        people = conceal_people(
            [[c] for c in crops],
            config=config,
            adversary=adversary,
            device=device,
            formats=[[output_format]] * len(crops),
        )
        pasted = paste_crops(image, [p.images[0] for p in people], boxes)
        # Judge each person as cut from the frame as it will be saved: a neighbour's concealment
        # pasted over an overlapping box, or the frame's encoding, can change the verdict.
        recut, _ = crop_boxes(as_written(pasted, output_format)[1], boxes)
        held = private_recut(adversary, crops, recut)
        people = [
            p if ok or not p.success else replace(p, success=False)
            for p, ok in zip(people, held, strict=True)
        ]
        frame = FrameResult(pasted, people, boxes, True)
    return frame if details else frame.image
