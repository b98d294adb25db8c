"""What the loop may change in each appearance: the person's body (widened by a margin), and
where their head is.

With ``shape="body"`` (the default) the loop's grid cells are intersected with the person's
silhouette widened by a margin, so the background around a person is not changed; whoever the
body-shaped loop leaves matched is concealed again with a wider body, then by box
(:func:`deid.loop.search.conceal_people`). ``"body-only"`` never widens (such people are reported
not private); with ``shape="box"`` the cells cover the whole crop, as before issue 12. The
silhouette and the keypoints come from the pose model run on the appearance's own crop
(:func:`deid.finder.find_person_in_crop`): one path for benchmark crops and for the people cut
from a frame. An appearance whose pose the model cannot confirm keeps the whole crop as its
body (concealed like a box) and its head is taken to be in the crop's top band.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from deid.loop.heads import Ellipse, band_ellipse, head_ellipse

#: How the loop's mask is shaped (``ConcealConfig.shape``).
SHAPES = ("body", "body-only", "box")


@dataclass(frozen=True, eq=False)
class Body:
    """One appearance's person, in the appearance's own pixels.

    Attributes:
        silhouette: ``(H, W)`` bool, the person's pixels (the whole crop without a pose).
        keypoints: ``(33, 3)`` ``x, y, visibility`` (MediaPipe's order), or None when the pose
            model could not confirm a person in the crop.
        head_scale: the head's ellipse's scale (``ConcealConfig.head_scale``).
    """

    silhouette: torch.Tensor
    keypoints: torch.Tensor | None
    head_scale: float = 1.0

    @classmethod
    def whole(cls, height: int, width: int) -> Body:
        """A crop without a pose: all of it is the person."""
        return cls(torch.ones(height, width, dtype=torch.bool), None)

    @property
    def posed(self) -> bool:
        return self.keypoints is not None

    def region(self, margin: float) -> torch.Tensor:
        """``(1, H, W)`` float: what the concealment may change, the silhouette widened by
        ``margin`` times the crop's width on every side (a square neighbourhood)."""
        silhouette = self.silhouette.float()[None, None]
        radius = round(margin * self.silhouette.shape[1])
        if radius >= 1:  # a square's maximum is a row's then a column's (2k taps a pixel, not k^2)
            silhouette = F.max_pool2d(silhouette, (1, 2 * radius + 1), stride=1, padding=(0, radius))
            silhouette = F.max_pool2d(silhouette, (2 * radius + 1, 1), stride=1, padding=(radius, 0))
        return silhouette[0]

    def head(self) -> Ellipse:
        """The head's ellipse ``(cx, cy, rx, ry)`` in the crop's pixels."""
        if self.keypoints is None:
            return band_ellipse(*self.silhouette.shape)
        return head_ellipse(self.keypoints, self.head_scale)


def head_scaled(bodies: Sequence[Body], scale: float) -> list[Body]:
    """``bodies`` with their heads' ellipses at ``scale`` (the loop's ``head_scale``)."""
    return [body if body.head_scale == scale else replace(body, head_scale=scale) for body in bodies]


def find_bodies(images: Sequence[torch.Tensor]) -> list[Body]:
    """Each crop's person (:class:`Body`) from the pose model, a whole-crop body where no pose is
    confirmed. The crops go to the pose model together, and an image given more than once (the
    same tensor) is looked at once.

    Example:
        >>> [body.posed for body in find_bodies([reid_model.read_image("000_45.bmp")])]  # doctest: +SKIP
        [True]
    """
    from deid.finder import find_people_in_crops

    slots: dict[int, int] = {}
    unique: list[torch.Tensor] = []
    for image in images:
        if id(image) not in slots:
            slots[id(image)] = len(unique)
            unique.append(image)
    bodies = [
        Body.whole(*image.shape[-2:]) if person.uncertain else Body(person.mask, person.keypoints)
        for image, person in zip(unique, find_people_in_crops(unique), strict=True)
    ]
    return [bodies[slots[id(image)]] for image in images]
