"""Per-person fill colours: a two-tone "outfit" unlike the person, chosen against the adversary.

Under the chance-level target the concealed appearance must sit no closer to the person's
originals than to half of the gallery. A fill that carries no information about the person
meets that for only about half of the people (the true identity then ranks anywhere, uniformly),
so the loop fills each person with an outfit that moves them away: a top and a bottom colour
from the 27 colours of a 3-level RGB cube, woven in one of four patterns (plain, bands, stripes,
checks). The patterns are there for the hand-crafted attacker: LOMO's texture and colour
histograms put some people near every plain fill, and a pattern moves the fill away from them
(on the 127 VIPeR test persons, against the bundled ensemble with the fused model, a private
whole-crop outfit exists for 88 people among the plain outfits, 122 among all four patterns).
Filling the whole crop with an outfit gives the same image for everyone, so the 2916 outfits are
embedded once per adversary and scored against every person at the cost of one distance matrix.
The same holds for any image drawn from the outfit alone (:class:`OutfitTable`): the stand-in
figure's outfits are scored with the figure standing on them
(:data:`deid.operators.figure.FIGURE_OUTFITS`).

The outfit is drawn at random among those that defeat the adversary on the whole crop, not the
single best one: a deterministic choice is a function of the person's look that anyone with the
public model could recompute and use to narrow the gallery, while a random choice among the
private outfits tells an attacker little more than that the person is unlike the outfit.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

from deid.adversary import Adversary
from deid.operators.base import Operator
from deid.operators.redressing import Redress, shading
from reid_model import write_bytes_atomic

#: The colours an outfit's top and bottom are drawn from: a 3-level RGB cube.
COLORS = torch.tensor(list(itertools.product((0.0, 0.5, 1.0), repeat=3)))
#: Fraction of the crop's height, from the top, that the top colour covers.
SPLIT = 0.5
#: The patterns an outfit is woven in: a pattern adds -/+ ``PATTERN_AMPLITUDE / 2`` to its
#: colours in alternate cells; ``bands`` are 1/32 of the crop's height, ``stripes`` and the
#: squares of ``checks`` 1/16 (so a pattern looks the same at any crop size).
PATTERNS = ("plain", "bands", "stripes", "checks")
#: The brightness step between a pattern's light and dark cells.
PATTERN_AMPLITUDE = 0.5
#: The default adversary's outfit embeddings, shipped so a process need not embed 2916 images
#: before its first crop (``scripts/bundle_outfits.py`` writes it; a test checks it is current).
BUNDLED = Path(__file__).parent / "weights" / "outfits.safetensors"
#: The redress shading's low-pass sigma, as a fraction of the width.
REDRESS_SIGMA = Redress.sigma
#: Outfits scored per pass: 64 outfits x 256 appearance pairs x 202 negatives is 13 MB per model.
_CHUNK = 64


def pattern_offsets(patterns: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(N, 1, H, W)`` the brightness each pattern (indices into :data:`PATTERNS`) adds to its colours."""
    height, width = size
    rows = (torch.arange(height) * 16 // height)[:, None]
    cols = (torch.arange(width) * 16 // height)[None, :]
    light = torch.stack(
        [
            torch.zeros(height, width, dtype=torch.bool),
            ((torch.arange(height) * 32 // height) % 2 == 0)[:, None].expand(height, width),
            (cols % 2 == 0).expand(height, width),
            (rows % 2) != (cols % 2),
        ]
    )
    offsets = torch.where(light, PATTERN_AMPLITUDE / 2, -PATTERN_AMPLITUDE / 2)
    offsets[0] = 0.0  # plain
    return offsets[patterns][:, None]


def outfit_canvases(
    tops: torch.Tensor, bottoms: torch.Tensor, size: tuple[int, int], patterns: torch.Tensor | None = None
) -> torch.Tensor:
    """Images ``(N, 3, H, W)`` of two-tone outfits from colours ``(N, 3)``, plain or woven in
    ``patterns (N,)`` (indices into :data:`PATTERNS`)."""
    height, width = size
    split = round(SPLIT * height)
    rows = torch.arange(height)[None, None, :, None] < split
    canvas = torch.where(rows, tops[:, :, None, None], bottoms[:, :, None, None]).expand(-1, -1, -1, width)
    if patterns is None:
        return canvas
    return (canvas + pattern_offsets(patterns, size).to(canvas)).clamp(0.0, 1.0)


@dataclass(frozen=True, eq=False)
class OutfitFill(Operator):
    """Fill with two-tone outfits: row ``i`` of ``tops``, ``bottoms`` and ``patterns`` dresses image ``i``.

    For a batch of people hold one row per person: :meth:`for_people` picks each image's row, so
    the conceal loop renders people with it like with any other operator.

    Args:
        tops, bottoms: ``(N, 3)`` RGB colours in [0, 1], the top and bottom of each outfit.
        opacity: how much of the outfit covers the image, in (0, 1].
        contrast: None for flat colours; else the outfit is shaded by the image's
            low-frequency luminance at this contrast (the ``redress`` operator, see
            :mod:`deid.operators.redressing`).
        patterns: ``(N,)`` each outfit's pattern, an index into :data:`PATTERNS`; all plain when None.

    Example:
        >>> fill = OutfitFill(COLORS[[0, 26]], COLORS[[26, 0]])  # black over white, white over black
        >>> dressed = fill.for_people(torch.tensor([1, 0, 0]))(torch.rand(3, 3, 8, 4), torch.ones(3, 1, 8, 4))
        >>> dressed[0, :, 0, 0].tolist(), dressed[1, :, -1, 0].tolist()
        ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    """

    tops: torch.Tensor
    bottoms: torch.Tensor
    opacity: float = 1.0
    contrast: float | None = None
    patterns: torch.Tensor | None = None
    name: ClassVar[str] = "outfit"

    def __post_init__(self) -> None:
        for label, colors in (("tops", self.tops), ("bottoms", self.bottoms)):
            if not isinstance(colors, torch.Tensor) or colors.ndim != 2 or colors.shape[1] != 3:
                got = tuple(colors.shape) if isinstance(colors, torch.Tensor) else type(colors).__name__
                raise ValueError(f"{label} must be RGB colours of shape (N, 3), got {got}")
        if len(self.tops) != len(self.bottoms):
            raise ValueError(
                f"tops and bottoms must give one colour per outfit, got {len(self.tops)} and {len(self.bottoms)}"
            )
        if not 0.0 < self.opacity <= 1.0:
            raise ValueError(f"opacity must be in (0, 1], got {self.opacity}")
        if self.patterns is not None and not (
            isinstance(self.patterns, torch.Tensor)
            and self.patterns.shape == (len(self.tops),)
            and not self.patterns.is_floating_point()
            and bool(((self.patterns >= 0) & (self.patterns < len(PATTERNS))).all())
        ):
            raise ValueError(
                f"patterns must be one index in [0, {len(PATTERNS)}) per outfit ({len(self.tops)}), "
                f"got {self.patterns!r}"
            )

    def for_people(self, persons: torch.Tensor) -> OutfitFill:
        """The outfits of ``persons (B,)``, one row per image of the batch."""
        patterns = None if self.patterns is None else self.patterns[persons]
        return OutfitFill(self.tops[persons], self.bottoms[persons], self.opacity, self.contrast, patterns)

    def transform(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if len(images) != len(self.tops):
            raise ValueError(
                f"images must be one per outfit ({len(self.tops)}), got {len(images)}; "
                "for a batch of people use for_people(persons)"
            )
        size = (images.shape[-2], images.shape[-1])
        canvas = outfit_canvases(self.tops, self.bottoms, size, self.patterns).to(images)
        if self.contrast is not None:  # redressed: the outfit shaded like the garment it replaces
            canvas = canvas * shading(images, mask, contrast=self.contrast, sigma=REDRESS_SIGMA, split=SPLIT)
        return torch.lerp(images, canvas, self.opacity)

    def shaded(self, opacity: float = 1.0, contrast: float | None = None) -> OutfitFill:
        """The same outfits at ``opacity``, shaded at ``contrast`` (see the class's arguments)."""
        return OutfitFill(self.tops, self.bottoms, opacity, contrast, self.patterns)

    def where(self, people: torch.Tensor, other: OutfitFill) -> OutfitFill:
        """Row by row, ``other``'s outfit where ``people (N,)`` bool is true, else this one's."""
        pick = people[:, None]
        patterns = None
        if self.patterns is not None or other.patterns is not None:
            patterns = torch.where(people, other.pattern_index(), self.pattern_index())
        return OutfitFill(
            torch.where(pick, other.tops, self.tops),
            torch.where(pick, other.bottoms, self.bottoms),
            self.opacity,
            self.contrast,
            patterns,
        )

    def pattern_index(self) -> torch.Tensor:
        """``(N,)`` each outfit's pattern, an index into :data:`PATTERNS` (plain where none is set)."""
        if self.patterns is not None:
            return self.patterns
        return torch.zeros(len(self.tops), dtype=torch.long)

    def flat(self) -> OutfitFill:
        """The same outfits unshaded at full opacity: the whole-crop images :func:`choose_outfits` scores."""
        if self.opacity == 1.0 and self.contrast is None:
            return self
        return self.shaded()

    def colors(self, person: int) -> list[list[float]]:
        """``[top, bottom]`` RGB colours of outfit ``person``."""
        return [self.tops[person].tolist(), self.bottoms[person].tolist()]

    def describe(self, person: int) -> dict[str, Any]:
        """Outfit ``person`` as a report records it: ``{"top": rgb, "bottom": rgb, "pattern": name}``."""
        pattern = 0 if self.patterns is None else int(self.patterns[person])
        top, bottom = self.colors(person)
        return {"top": top, "bottom": bottom, "pattern": PATTERNS[pattern]}


@dataclass(frozen=True)
class OutfitTable:
    """The whole-crop images of every outfit (2916) whose embeddings :func:`draw_outfits` scores.

    Attributes:
        key: what the adversary's cache calls the table (with the input size).
        bundled: the default adversary's table, shipped (None: none is).
        draw: ``(tops, bottoms, size, patterns) -> (N, 3, H, W)`` the images, as :func:`outfit_canvases`.
        marks: ``size -> {name: tensor}`` what else a saved table must have been drawn with (beside
            the palette and the patterns) to be loaded.
        allowed: ``(tops, bottoms, patterns) -> (N,)`` bool, the outfits a draw may take (all by default).
    """

    key: str
    bundled: Path | None
    draw: Callable[[torch.Tensor, torch.Tensor, tuple[int, int], torch.Tensor], torch.Tensor]
    marks: Callable[[tuple[int, int]], dict[str, torch.Tensor]] = field(default=lambda size: {})
    allowed: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] = field(
        default=lambda tops, bottoms, patterns: torch.ones(len(tops), dtype=torch.bool)
    )


#: The outfits alone, filling the whole crop.
PLAIN = OutfitTable("outfits", BUNDLED, outfit_canvases)


def _outfit_embeddings(adversary: Adversary, table: OutfitTable = PLAIN) -> list[torch.Tensor]:
    """Per model, embeddings of every whole-crop outfit at the adversary's input size, cached on it."""
    key = f"{table.key} {adversary.input_size}"
    if key not in adversary.cache and adversary.cache.get("bundled") and table.bundled is not None:
        load_outfit_embeddings(adversary, table.bundled, table)
    if key not in adversary.cache:
        tops, bottoms, patterns = _all_outfits()
        images = table.draw(tops, bottoms, adversary.input_size, patterns)
        adversary.cache[key] = adversary.embed(images)
    cached: list[torch.Tensor] = adversary.cache[key]
    return cached


def save_outfit_embeddings(adversary: Adversary, path: Path, table: OutfitTable = PLAIN) -> None:
    """Write the adversary's outfit embeddings with the palette, patterns and input size they were made with."""
    tensors = {f"model{i}": e.contiguous() for i, e in enumerate(_outfit_embeddings(adversary, table))}
    size = torch.tensor(adversary.input_size)
    tensors["colors"], tensors["split"], tensors["size"] = COLORS, torch.tensor(SPLIT), size
    tensors["patterns"] = _pattern_table(adversary.input_size)
    tensors.update(table.marks(adversary.input_size))
    metadata = {"models": _model_names(adversary), "table": table.key}
    write_bytes_atomic(path, save(tensors, metadata=metadata))


def _model_names(adversary: Adversary) -> str:
    """The adversary's models by architecture, in order: what an outfit file was made for."""
    return ",".join(model.arch for model in adversary.models)


def load_outfit_embeddings(adversary: Adversary, path: Path, table: OutfitTable = PLAIN) -> bool:
    """Fill the adversary's cache with ``table`` from ``path`` if it holds that table, made with
    today's palette, patterns (and the table's marks) at its input size, for the adversary's
    models (or for an ensemble that begins with them)."""
    size = adversary.input_size
    if not path.is_file():
        return False
    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata() or {}
    made_for = metadata.get("models")
    tensors = load_file(str(path))
    n_models = len(adversary.models)
    marks = {"patterns": _pattern_table(size), **table.marks(size)}
    if not (
        made_for is not None
        and metadata.get("table", PLAIN.key) == table.key  # files before tables were plain
        and made_for.split(",")[: len(adversary.models)] == _model_names(adversary).split(",")
        and torch.equal(tensors["colors"], COLORS)
        and float(tensors["split"]) == SPLIT
        and tensors.get("size", torch.tensor(())).tolist() == list(size)
        and all(torch.equal(tensors.get(name, torch.tensor(())), mark) for name, mark in marks.items())
        and all(f"model{i}" in tensors for i in range(n_models))
    ):
        return False
    adversary.cache[f"{table.key} {size}"] = [tensors[f"model{i}"] for i in range(n_models)]
    return True


def _pattern_table(size: tuple[int, int]) -> torch.Tensor:
    """Every pattern at ``size``: what an outfit file's embeddings were woven with."""
    return pattern_offsets(torch.arange(len(PATTERNS)), size)


def _all_outfits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tops, bottoms and patterns of every outfit: each colour pair in each pattern."""
    pattern, top, bottom = torch.cartesian_prod(
        torch.arange(len(PATTERNS)), torch.arange(len(COLORS)), torch.arange(len(COLORS))
    ).unbind(1)
    return COLORS[top], COLORS[bottom], pattern


def choose_outfits(
    adversary: Adversary,
    originals: list[torch.Tensor],
    groups: torch.Tensor,
    *,
    opacity: float = 1.0,
    contrast: float | None = None,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
) -> OutfitFill:
    """Draw each person's outfit at random among those that, filling the whole crop, are private.

    ``originals`` are the adversary's embeddings of the appearances and ``groups (A,)`` their
    persons ``0 .. P-1``; the result holds one outfit per person. A person for whom no outfit is
    private gets the one with the lowest match rate. ``opacity`` and ``contrast`` are the
    fill's (see :class:`OutfitFill`). ``generator``: one for the whole draw, or one per person
    (each person's draw then depends on their generator alone).
    """
    return draw_outfits(adversary, originals, groups, 1, generator=generator)[0].shaded(opacity, contrast)


def draw_outfits(
    adversary: Adversary,
    originals: list[torch.Tensor],
    groups: torch.Tensor,
    n: int,
    *,
    table: OutfitTable = PLAIN,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
) -> list[OutfitFill]:
    """``n`` draws, with replacement, of each person's outfit among those whose images in
    ``table`` are private and the table allows (the lowest match rate's where none is); see
    :func:`choose_outfits`."""
    n_people = int(groups.max()) + 1
    embeddings = _outfit_embeddings(adversary, table)
    n_outfits = len(embeddings[0])
    worst = torch.zeros(n_outfits, n_people)
    private = torch.ones(n_outfits, n_people, dtype=torch.bool)
    for start in range(0, n_outfits, _CHUNK):  # bounds the (K, pairs, G) comparison's memory
        part = slice(start, start + _CHUNK)
        check = adversary.check_shared([e[part] for e in embeddings], originals, groups)  # (k, A)
        index = groups.expand(len(check.private), -1)
        worst[part] = worst[part].scatter_reduce(1, index, check.match_rate, "amax")
        private[part] = private[part].scatter_reduce(1, index, check.private, "amin")
    tops, bottoms, patterns = _all_outfits()
    barred = ~table.allowed(tops, bottoms, patterns)
    private[barred], worst[barred] = False, float("inf")
    weights = private.T.float()  # (P, K): a uniform draw among the private outfits
    none = weights.sum(1) == 0
    weights[none] = torch.nn.functional.one_hot(worst.T[none].argmin(1), n_outfits).float()
    if generator is None or isinstance(generator, torch.Generator):
        choice = torch.multinomial(weights, n, replacement=True, generator=generator)
    else:
        if len(generator) != n_people:
            raise ValueError(f"generator: one per person expected ({n_people}), got {len(generator)}")
        choice = torch.stack(
            [
                torch.multinomial(w, n, replacement=True, generator=g)
                for w, g in zip(weights, generator, strict=True)
            ]
        )
    return [OutfitFill(tops[c], bottoms[c], patterns=patterns[c]) for c in choice.T]
