"""A second look at a frame: the people a more thorough finder confirms that the first look's
boxes leave uncovered.

The first look (:class:`~deid.finder.config.FinderConfig`) misses some people: seen from behind,
at the frame's edge, half hidden by a plant. A frame's verdict cannot speak for a person no look
found, so the frame path (:func:`deid.loop.frames.plan_frame`) looks again with the thorough
settings (smaller detector tiles) and conceals whoever that look confirms outside the boxes
found; the video path lists them as ``missed``.

On Penn-Fudan's 96 frames (``deid conceal``, seed 0) the look adds 20 people (looked at, one by
one): both labelled people the finder and the face net miss
(PennPed00010, 00071: seen from behind), 7 people the annotation leaves out (at a frame's edge,
seated behind a plant or a railing, behind others), 3 parts of people outside their boxes (legs,
a hand), and 8 things that are not people (hydrants, car parts, a news box, a tree, a lamp post).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from deid.boxes import Box, box_pixels
from deid.finder.config import MIN_FRAME, FinderConfig, Person
from deid.finder.pipeline import find_people

#: The second look's settings: the thorough finder's, without the face net.
SECOND_LOOK = FinderConfig.thorough(faces=None)
#: The look at a frame with its people concealed (:func:`deid.loop.untreated.in_the_clear`): the
#: second look's, with HOG's proposals too (the default finder's, on the frame and enlarged
#: twice), for people about 50 pixels tall, whom the thorough look's tiles are too large for and
#: no look found on the original beside a neighbour (a woman beside a man in red on frame 300 of
#: PETS S2.L1 saved as an image, reported private untouched in a new user's review).
WRITTEN_LOOK = FinderConfig.thorough(faces=None, hit_threshold=FinderConfig.hit_threshold)
#: The looks at a frame of small people (:func:`looks_for`): tiles of 200, 120 and 80 pixels, a
#: tile's windows at most twice its side (as the video's thorough look,
#: ``deid.video.follow.THOROUGH``, with a smaller tile), with HOG's proposals. The thorough look's
#: tiles (300 and 200) suit people 100 pixels tall and more: on PETS S2.L1's frames saved as
#: images (people 40-60 px tall) it left walkers untouched on frames 520, 560 and 720, reported
#: private; tiles of 200 and 120 confirm them (and the blue posts at the lawn's edge, which they
#: take for people), and the 80-pixel tile far walkers and people beside others that those miss
#: (a new user's review of 15 more frames), at twice the look's time.
SMALL_LOOK = FinderConfig.thorough(
    faces=None, tiles=(200, 120, 80), tile_reach=2.0, hit_threshold=FinderConfig.hit_threshold
)
#: A frame with a person's box shorter than this (pixels), or none, is a frame of small people.
SMALL_PERSON = 100
#: The fraction of a person's silhouette the boxes must cover for them to count as found.
COVERED = 0.7


def second_look(image: torch.Tensor, *, config: FinderConfig = SECOND_LOOK) -> list[Person]:
    """The people :func:`~deid.finder.pipeline.find_people` confirms in ``image (3, H, W)`` with
    ``config`` (those it is unsure of left out), each with ``how="second look"``. An image smaller
    than the finder can search has none.

    Example:
        >>> second_look(torch.zeros(3, 40, 20))
        []
    """
    height, width = image.shape[-2:]
    if height < MIN_FRAME[0] or width < MIN_FRAME[1]:
        return []
    return [replace(p, how="second look") for p in find_people(image, config=config) if not p.uncertain]


def looks_for(boxes: Sequence[Box], *, written: bool = False) -> FinderConfig:
    """The second look's settings for a frame whose people the first look (or the user) put in
    ``boxes``: :data:`SMALL_LOOK` when one is under :data:`SMALL_PERSON` pixels tall or there are
    none (nothing then says the frame's people are large), else :data:`SECOND_LOOK`, or, for the
    look at the frame as ``written`` (:func:`deid.loop.untreated.in_the_clear`), :data:`WRITTEN_LOOK`.

    Example:
        >>> looks_for([Box(0, 0, 40, 120), Box(50, 0, 20, 60)]) is SMALL_LOOK
        True
        >>> looks_for([Box(0, 0, 40, 120)], written=True) is WRITTEN_LOOK
        True
    """
    if not boxes or min(box.h for box in boxes) < SMALL_PERSON:
        return SMALL_LOOK
    return WRITTEN_LOOK if written else SECOND_LOOK


def uncovered(people: Sequence[Person], held: torch.Tensor, covered: float = COVERED) -> list[Person]:
    """The ``people`` whose silhouettes ``held`` ``(H, W)`` bool (the pixels boxes cover, or a
    treatment set: :func:`deid.boxes.box_pixels`, :func:`deid.boxes.held_pixels`) covers less
    than ``covered`` of.

    Example:
        >>> uncovered([], torch.zeros(40, 20, dtype=torch.bool))
        []
    """
    for person in people:
        if tuple(person.mask.shape) != tuple(held.shape):
            raise ValueError(
                f"held must have the silhouettes' shape {tuple(person.mask.shape)}, got {tuple(held.shape)}"
            )
    return [p for p in people if float(held[p.mask].float().mean()) < covered]


def uncovered_people(
    image: torch.Tensor,
    boxes: Sequence[Box],
    *,
    config: FinderConfig = SECOND_LOOK,
    covered: float = COVERED,
) -> list[Person]:
    """The people the :func:`second_look` with ``config`` confirms in ``image (3, H, W)`` whose
    silhouettes ``boxes`` cover less than ``covered`` of.

    Example:
        >>> uncovered_people(torch.zeros(3, 40, 20), [])
        []
    """
    height, width = image.shape[-2:]
    return uncovered(second_look(image, config=config), box_pixels(boxes, height, width), covered)
