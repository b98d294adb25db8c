"""A person's concealment rendered again on new appearances: the frames of their video track.

The loop decides a person's treatment on a few appearances (:func:`deid.loop.conceal_people`);
:func:`render_person` applies the very same treatment (operator, mask in normalized crop
coordinates, body margin, head) to any other appearance of theirs, each cut to its own body.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from deid.adversary import Adversary
from deid.loop.appearances import People
from deid.loop.bodies import Body
from deid.loop.results import PersonResult
from deid.operators.base import Operator


def render_person(
    result: PersonResult,
    images: Sequence[torch.Tensor],
    bodies: Sequence[Body],
    adversary: Adversary,
    *,
    head: str,
) -> list[torch.Tensor]:
    """``result``'s treatment on ``images`` (``(3, H, W)`` each, any sizes) with their ``bodies``.

    The mask is cut to each body widened by ``result.margin`` when the person was concealed in
    the body's shape (``result.shape == "body"``), else it covers the crop; ``head`` is done to
    each body's head. Changed pixels are rounded to uint8 levels, as the loop renders them.

    Raises:
        ValueError: ``result`` carries no operator or mask (it was not made by the loop).

    Example:
        >>> result = conceal_person(track_crops[:4])  # doctest: +SKIP
        >>> frames = render_person(result, track_crops, track_bodies, adversary, head="blur")  # doctest: +SKIP
    """
    people, operator, masks = _people(result, images, bodies, adversary, head)
    return people.draw(operator, masks)


def person_covers(
    result: PersonResult,
    images: Sequence[torch.Tensor],
    bodies: Sequence[Body],
    adversary: Adversary,
    *,
    head: str,
) -> list[torch.Tensor]:
    """Per image, ``(H, W)`` bool: the pixels :func:`render_person` sets on it (the mask cut to
    the body, and the head), among them those it sets to their own value, which its image
    cannot tell from the pixels left alone (see :meth:`deid.loop.appearances.People.covers`).

    Example:
        >>> frames = render_person(result, crops, bodies, adversary, head="blur")  # doctest: +SKIP
        >>> covers = person_covers(result, crops, bodies, adversary, head="blur")  # doctest: +SKIP
        >>> all(not (f != c).any(0)[~k].any() for f, c, k in zip(frames, crops, covers))  # doctest: +SKIP
        True
    """
    people, _, masks = _people(result, images, bodies, adversary, head)
    return people.covers(masks)


def _people(
    result: PersonResult,
    images: Sequence[torch.Tensor],
    bodies: Sequence[Body],
    adversary: Adversary,
    head: str,
) -> tuple[People, Operator, torch.Tensor]:
    """``images`` as one person's appearances, and the operator and mask ``(1, 1, h, w)`` that
    render ``result`` on them."""
    if result.operator is None or result.mask is None:
        raise ValueError("result must come from the conceal loop (it has no operator or mask to render)")
    margin = result.margin if result.shape == "body" else None
    people = People([list(images)], adversary, bodies=list(bodies), margin=margin, head=head)
    return people, result.operator, result.mask[None]
