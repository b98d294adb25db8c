"""The appearances of a batch of people: their crops at the adversary's size, and their verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import torch
import torch.nn.functional as F

from deid.adversary import Adversary, PrivacyCheck
from deid.loop.bodies import Body
from deid.loop.heads import conceal_head, ellipse_mask
from deid.operators.base import Operator
from reid_model.io import as_written, quantize, read_back


def check_appearance(image: object, where: str) -> None:
    """Refuse anything but a float ``(3, H, W)`` tensor, naming ``where`` it was found."""
    if (
        not isinstance(image, torch.Tensor)
        or image.ndim != 3
        or image.shape[0] != 3
        or not image.is_floating_point()
    ):
        got = (
            f"{tuple(image.shape)} {image.dtype}" if isinstance(image, torch.Tensor) else type(image).__name__
        )
        raise ValueError(f"each appearance must be a float tensor (3, H, W), got {got} at {where}")


class People:
    """The appearances of a batch of people, grouped by size so operators run batched.

    Masks live in the crop coordinates of the ``adversary``'s input size (:attr:`size`), and the
    adversary sees every appearance resized to it. ``formats`` gives, per person and appearance, the file format its output is written in
    (``".png"``, ``".jpg"``, ...; default ``".png"``). Rendered appearances are rounded to uint8
    and the adversary sees them as encoded in that format and decoded again: every check of the
    loop is taken on the image as it will be written.

    ``bodies`` (one per appearance, in order) shape what is concealed: with ``margin`` set, a
    person's mask is cut to their silhouette widened by ``margin`` of the crop's width, and
    nothing outside it changes; with ``margin=None`` (or no bodies) the mask covers the crop.
    ``head`` (``"blur"``, ``"pixelate"``, ``"fill"``; ``"keep"`` by default) is done to every
    appearance's head before the operator (so where the mask covers the head, the operator's
    pixels are what is written), and the adversary sees it concealed as it will be written.
    """

    def __init__(
        self,
        people: Sequence[Sequence[torch.Tensor]],
        adversary: Adversary,
        formats: Sequence[Sequence[str]] | None = None,
        bodies: Sequence[Body] | None = None,
        *,
        margin: float | None = None,
        head: str = "keep",
    ) -> None:
        self.size = adversary.input_size
        self._views = adversary.views
        self.images = [img for person in people for img in person]
        if bodies is not None and len(bodies) != len(self.images):
            raise ValueError(
                f"bodies must give one body per appearance ({len(self.images)}), got {len(bodies)}"
            )
        self.bodies = list(bodies) if bodies is not None else None
        self.margin = margin
        self.head = head
        self._heads = None if self.bodies is None or head == "keep" else [b.head() for b in self.bodies]
        if formats is None:
            formats = [[".png"] * len(person) for person in people]
        if len(formats) != len(people) or any(
            len(f) != len(person) for f, person in zip(formats, people, strict=False)
        ):
            got = [len(f) for f in formats]
            raise ValueError(
                f"formats must give one format per appearance, {[len(p) for p in people]} per person, got {got}"
            )
        self.formats = [str(f) for person in formats for f in person]
        self.groups = torch.tensor([p for p, person in enumerate(people) for _ in person], dtype=torch.long)
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, img in enumerate(self.images):
            check_appearance(img, f"appearance {i}")
            by_size.setdefault((img.shape[1], img.shape[2]), []).append(i)
        self.by_size = {
            size: (torch.tensor(idx), torch.stack([self.images[i] for i in idx]))
            for size, idx in by_size.items()
        }
        self.regions = {size: self._regions(idx) for size, idx in by_size.items()}

    @cached_property
    def model_inputs(self) -> torch.Tensor:
        """Every appearance as the adversary sees it (:meth:`deid.adversary.Adversary.views`)."""
        return self._views(self.images)

    @cached_property
    def headed(self) -> dict[tuple[int, int], torch.Tensor]:
        """Per size, the batch with its heads concealed, once: every render starts from it."""
        return {size: self._headed(idx, batch) for size, (idx, batch) in self.by_size.items()}

    def _regions(self, idx: list[int]) -> torch.Tensor | None:
        """``(B, 1, H, W)`` what may change in appearances ``idx`` (of one size), or None: all."""
        if self.bodies is None or self.margin is None:
            return None
        return torch.stack([self.bodies[i].region(self.margin) for i in idx]).to(self.images[idx[0]])

    def _headed(self, idx: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """Appearances ``idx`` (``batch``) with their heads concealed (:attr:`head`)."""
        if self._heads is None:
            return batch
        heads = self._heads
        return torch.stack([conceal_head(batch[j], heads[i], self.head) for j, i in enumerate(idx.tolist())])

    def _cut(self, size: tuple[int, int], keep: torch.Tensor | slice, masks: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` the masks ``(P, 1, h, w)`` of the appearances ``keep`` of one ``size``'s
        batch at their resolution, cut to their bodies."""
        mask = masks[self.groups[self.by_size[size][0][keep]]]
        if size != self.size:
            mask = F.interpolate(mask, size=size, mode="nearest")
        regions = self.regions[size]
        return mask if regions is None else mask.to(regions) * regions[keep]

    def covers(self, masks: torch.Tensor) -> list[torch.Tensor]:
        """Per appearance, ``(H, W)`` bool: the pixels its treatment sets with each person's mask
        ``(P, 1, h, w)`` (:meth:`draw`): the mask cut to the body, and the head when it is
        concealed. They include the pixels the treatment sets to their own value (a black fill
        on a black coat), which :meth:`draw`'s images cannot tell from the pixels left alone."""
        out: dict[int, torch.Tensor] = {}
        for size, (idx, _) in self.by_size.items():
            cut = self._cut(size, slice(None), masks.float())[:, 0] > 0
            for j, i in enumerate(idx.tolist()):
                head = None if self._heads is None else ellipse_mask(*size, self._heads[i]).to(cut.device)
                out[i] = cut[j] if head is None else cut[j] | head
        return [out[i] for i in range(len(self.images))]

    def areas(self, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per appearance ``(A,)``, the fraction of the person's pixels and of the crop that each
        person's mask ``(P, 1, h, w)`` (at :attr:`size`) conceals, cut to the body as rendered;
        without bodies the person is the whole crop."""
        person, crop = torch.zeros(len(self.images)), torch.zeros(len(self.images))
        for size, (idx, _) in self.by_size.items():
            changed = self._cut(size, slice(None), masks.float())
            if self.bodies is None:
                silhouettes = torch.ones_like(changed)
            else:
                silhouettes = torch.stack([self.bodies[i].silhouette for i in idx.tolist()])[:, None].float()
            person[idx] = (changed * silhouettes).sum((1, 2, 3)) / silhouettes.sum((1, 2, 3)).clamp(min=1)
            crop[idx] = changed.mean((1, 2, 3))
        return person, crop

    def written(self, index: int, image: torch.Tensor) -> tuple[bytes, torch.Tensor]:
        """Appearance ``index`` as it is written: its file's bytes and the image decoded from them."""
        return as_written(image, self.formats[index])

    def render(
        self, operator: Operator, masks: torch.Tensor, subset: torch.Tensor | None = None
    ) -> tuple[list[torch.Tensor | None], torch.Tensor]:
        """Apply ``operator`` with each person's mask ``(P, 1, h, w)`` at input resolution.

        Args:
            operator: the concealing operator (:meth:`Operator.for_people` gives each batch its own).
            masks: one mask per person, in normalized crop coordinates (:attr:`size`).
            subset: ``(A,)`` bool, the appearances to render (default all).

        Returns:
            The concealed appearances at input resolution, their changed pixels rounded to uint8
            levels (None outside ``subset``), and the model-size versions of the rendered ones as written and decoded
            again (see :meth:`written`), in appearance order.
        """
        out, seen = self._draw(operator, masks, subset, judged=True)
        return out, self._views([img for img in seen if img is not None])

    def draw(self, operator: Operator, masks: torch.Tensor) -> list[torch.Tensor]:
        """:meth:`render` of every appearance, without what the adversary would see of them."""
        return [image for image in self._draw(operator, masks, None, judged=False)[0] if image is not None]

    def _draw(
        self, operator: Operator, masks: torch.Tensor, subset: torch.Tensor | None, *, judged: bool
    ) -> tuple[list[torch.Tensor | None], list[torch.Tensor | None]]:
        subset = torch.ones(len(self.images), dtype=torch.bool) if subset is None else subset
        out: list[torch.Tensor | None] = [None] * len(self.images)
        seen: list[torch.Tensor | None] = [None] * len(self.images)
        for size, (idx, batch) in self.by_size.items():
            keep = subset[idx]
            if not bool(keep.any()):
                continue
            idx, batch, treated = idx[keep], batch[keep], self.headed[size][keep]
            mask = self._cut(size, keep, masks).to(batch)
            # The head first (:attr:`headed`): a fill over it then leaves the fill alone.
            narrowed = operator.for_people(self.groups[idx])
            if self.bodies is not None:
                narrowed = narrowed.for_poses([self.bodies[i].keypoints for i in idx.tolist()])
            concealed = narrowed(treated, mask)
            for j, i in enumerate(idx.tolist()):
                image = concealed[j]
                changed = image != batch[j]  # pixels left alone stay bit-exact
                out[i] = torch.where(changed, quantize(image).to(image), image)
                if judged:
                    seen[i] = read_back(image, self.formats[i]).to(image)
        return out, seen


def private_recut(
    adversary: Adversary,
    originals: list[torch.Tensor],
    recut: list[torch.Tensor],
    *,
    groups: torch.Tensor | None = None,
) -> list[bool]:
    """Whether each written image is private against the originals of its person.

    The conceal loop's rule (:meth:`deid.adversary.Adversary.check`). By default each image is
    its own person, checked against its own original: after pasting, a neighbour's concealment or
    the frame's encoding can change what the adversary sees. ``groups (N,)`` puts images in one
    person, each then checked against that person's *other* originals.
    """
    groups = torch.arange(len(originals)) if groups is None else groups
    verdict = adversary.check(
        adversary.embed(adversary.views(recut)), adversary.embed(adversary.views(originals)), groups
    )
    return [bool(p) for p in verdict.private]


def private_people(check: PrivacyCheck, groups: torch.Tensor, n_people: int) -> torch.Tensor:
    """Per person ``(P,)``: whether every appearance of theirs in ``check`` is private."""
    return torch.ones(n_people, dtype=torch.bool).scatter_reduce(0, groups, check.private, "amin")
