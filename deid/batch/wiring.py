"""What the batch runner plugs in by default: the adversary, the conceal loop and heatmaps.

Kept apart from :mod:`deid.batch` so the runner can be tested with stand-ins, and so the
names the conceal loop uses live in one small place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from deid.batch.inputs import BatchError
from deid.batch.results import CropResult, per_group
from deid.loop.frames import recut_checker

if TYPE_CHECKING:
    from deid.adversary import Adversary
    from deid.batch.config import BatchConfig
    from deid.batch.results import ConcealBatch, ConcealGroup, HeatmapWriter, WrittenCheck
    from deid.loop.results import PersonResult

T = TypeVar("T")
#: ``conceal(people, formats, draw)``: the loop on ``people``, each drawing its treatment anew when
#: ``draw`` > 0.
Conceal = Callable[[list[list[torch.Tensor]], list[list[str]], int], list["PersonResult"]]


def build_adversary(config: BatchConfig) -> Adversary:
    """The run's adversary: the bundled model and gallery, or ``--weights`` and its gallery.

    A checkpoint ``model.safetensors`` needs its gallery of other people's embeddings beside it
    as ``model_gallery.safetensors`` (tensors ``embeddings (G, D)`` and ``labels (G,)``), the
    layout of the bundled default.

    With ``--group-by reid`` a group is the adversary's own guess, so every appearance is also
    checked against its own original (``include_self``): a look-alike put in the wrong group
    cannot make a person private against someone else's photo only.
    """
    from deid.adversary import Adversary
    from reid_model import CheckpointError, load_checkpoint, load_gallery

    target: dict[str, Any] = {} if config.top_k is None else {"top_k": config.top_k}
    if config.group_by == "reid":
        target["include_self"] = True
    if not config.weights:
        return Adversary.default(device=config.device, fused=config.adversary == "strong", **target)
    weights = Path(config.weights)
    gallery_path = weights.with_name(weights.stem + "_gallery.safetensors")
    try:
        model = load_checkpoint(weights, device=config.device)
        gallery = load_gallery(gallery_path, width=model.embedding_dim)[0]
    except (CheckpointError, FileNotFoundError, OSError) as exc:
        raise BatchError(
            f"cannot use --weights {weights}: {exc}; a checkpoint needs its gallery beside it as "
            f"{gallery_path.name} (embeddings (G, D), labels (G,))",
            param="weights",
        ) from exc
    return Adversary([model], [gallery.to(config.device)], **target)


def person_concealer(config: BatchConfig, adversary: Adversary) -> ConcealBatch:
    """``conceal_batch`` backed by :func:`deid.loop.conceal_people` with the run's settings.

    A claimed person (a group of files) is first split into the parts the adversary sees as one
    person (:func:`deid.loop.grouping.split_groups`), or, with ``config.link == "none"``, into its
    appearances (:func:`deid.loop.grouping.apart`); each part is concealed as a person, and each
    crop's result carries why it was (or was not) concealed with its group. Every output of a
    split group is then judged against every original of its group too
    (:func:`_hold_against_groups`).
    """
    from deid.loop.grouping import apart, split_groups
    from deid.loop.search import conceal_people
    from reid_model.io import output_format

    def conceal(
        people: list[list[torch.Tensor]], formats: list[list[str]], draw: int = 0
    ) -> list[PersonResult]:
        seed = config.loop.seed  # draw k: the seed moved on k, so each person draws anew
        loop = config.loop if draw == 0 or seed is None else replace(config.loop, seed=seed + draw)
        return conceal_people(
            people,
            config=loop,
            adversary=adversary,
            device=config.device,
            keep_attributions=config.heatmaps,
            formats=formats,
            claimed=False,  # split into the parts the adversary links (conceal_batch)
        )

    def conceal_batch(people: list[list[torch.Tensor]], paths: list[list[Path]]) -> list[list[CropResult]]:
        splits = apart(people) if config.link == "none" else split_groups(adversary, people)
        parts = [(p, part) for p, split in enumerate(splits) for part in split.parts]
        # an output keeps its input's suffix, so its format: each appearance is checked as written
        formats = [[output_format(path) for path in files] for files in paths]
        results = conceal(
            [[people[p][i] for i in part] for p, part in parts],
            [[formats[p][i] for i in part] for p, part in parts],
        )
        out: list[list[CropResult | None]] = [[None] * len(person) for person in people]
        for (p, part), r in zip(parts, results, strict=True):
            for j, i in enumerate(part):
                out[p][i] = CropResult(r, j, splits[p].reasons[i])
        # A split appearance was checked against its own original; it must not match the other
        # appearances its group claimed either (`deid verify` checks against the whole group).
        split_up = [p for p, split in enumerate(splits) if len(split.parts) > 1]
        held = _hold_against_groups(
            adversary, [(people[p], out[p], formats[p]) for p in split_up], conceal, config.link
        )
        for p, kept in zip(split_up, held, strict=True):
            out[p] = list(kept)
        return [[_filled(result) for result in person] for person in out]

    return conceal_batch


def _written(result: CropResult) -> torch.Tensor:
    """The appearance as its output file will hold it."""
    from reid_model.io import decode_image

    return result.image if result.encoded is None else decode_image(result.encoded, name="the checked output")


def _hold_against_groups(
    adversary: Adversary,
    groups: list[tuple[list[torch.Tensor], list[CropResult | None], list[str]]],
    conceal: Conceal,
    link: str = "track",
) -> list[list[CropResult]]:
    """Check each split group's outputs against every original of the group; fix or flag those matched.

    ``groups`` holds per group its originals, its parts' results and its output formats. Each
    output must defeat the adversary against its own original (the loop's check) and against
    the group's other originals. With ``link="track"``, the groups where a part's output still
    matches another appearance are concealed again, each as one person (in one call of
    ``conceal``), each appearance checked against every original of its group. With
    ``link="none"`` one treatment must never serve two appearances: each matched appearance is
    concealed again as a person of its own, checked against its own original and the group's
    other originals (:func:`_apart_again`). A result concealed again is kept only if its outputs
    pass both checks, otherwise the matched outputs are reported not private.
    """
    firsts = [[_filled(r) for r in results] for _, results, _ in groups]
    bads = [
        _matched(adversary, originals, first) for (originals, _, _), first in zip(groups, firsts, strict=True)
    ]
    flag = "; it still matches another appearance of its group, so it is NOT private"
    out = [
        [r.not_private(flag) if b and r.success else r for r, b in zip(first, bad, strict=True)]
        for first, bad in zip(firsts, bads, strict=True)
    ]
    if link == "none":
        return _apart_again(adversary, groups, firsts, bads, out, conceal)
    redo = [
        g
        for g, (first, bad) in enumerate(zip(firsts, bads, strict=True))
        if any(r.success and b for r, b in zip(first, bad, strict=True))
    ]
    # Each appearance twice: the loop checks an appearance against the person's *other* originals,
    # so its copy makes it defeat its own original as well as the rest of the group's.
    wholes = (
        conceal([list(groups[g][0]) * 2 for g in redo], [groups[g][2] * 2 for g in redo], 0) if redo else []
    )
    note = "on its own it still matched another appearance of its group, so it was concealed again with the group"
    for g, whole in zip(redo, wholes, strict=True):
        originals, first = groups[g][0], firsts[g]
        again = [CropResult(whole, j, f"{first[j].group_reason}; {note}") for j in range(len(originals))]
        if whole.success and not any(_matched(adversary, originals, again)):
            out[g] = again
    return out


def _apart_again(
    adversary: Adversary,
    groups: list[tuple[list[torch.Tensor], list[CropResult | None], list[str]]],
    firsts: list[list[CropResult]],
    bads: list[list[bool]],
    out: list[list[CropResult]],
    conceal: Conceal,
) -> list[list[CropResult]]:
    """``out`` with each appearance that ``bads`` says still matched (under ``--link none``), or
    that wears the colours of an earlier appearance of its group (a treatment that links them),
    concealed again as a person of its own: itself twice, then the group's other originals, so
    the loop checks it against its own original and theirs (the others' renderings are
    dropped). Drawn anew, up to :data:`DRAWS` times, while it still matches or wears another's
    colours (a redrawn one kept if private, noted if linked). Otherwise ``out``'s result stays.
    """
    worn = [[_colours(r) for r in first] for first in firsts]
    redo = [
        (g, i)
        for g, (first, bad) in enumerate(zip(firsts, bads, strict=True))
        for i, (r, b) in enumerate(zip(first, bad, strict=True))
        if r.success and (b or _linked(_colours(r), worn[g][:i]))
    ]
    note = "on its own it still matched another appearance of its group, or wore the colours of one, so it was concealed again, on its own, judged against the group"
    for draw in range(1, DRAWS + 1):
        if not redo:
            break
        wholes = conceal(
            [_with_others(groups[g][0], i) for g, i in redo],
            [_with_others(groups[g][2], i) for g, i in redo],
            draw,
        )
        left = []
        for (g, i), whole in zip(redo, wholes, strict=True):
            again = CropResult(whole, 0, f"{firsts[g][i].group_reason}; {note}")
            candidate = [*firsts[g][:i], again, *firsts[g][i + 1 :]]
            if not whole.success or _matched(adversary, groups[g][0], candidate)[i]:
                left.append((g, i))
                continue
            out[g][i], worn[g][i] = again, _colours(again)
            if _linked(worn[g][i], [c for j, c in enumerate(worn[g]) if j != i]):
                left.append((g, i))
        redo = left
    for g, person in enumerate(out):  # whoever still shares colours with another of their group
        for i, r in enumerate(person):
            if r.success and _linked(worn[g][i], [c for j, c in enumerate(worn[g]) if j != i]):
                person[i] = replace(r, group_reason=f"{r.group_reason}; {_LINKED}")
    return out


#: How many times :func:`_apart_again` draws an appearance's treatment anew.
DRAWS = 3
_LINKED = "it wears the colours of another appearance of its group: linkable by them"


def _linked(colours: tuple[Any, Any] | None, others: list[tuple[Any, Any] | None]) -> bool:
    return colours is not None and colours in others


def _colours(result: CropResult) -> tuple[Any, Any] | None:
    """The top and bottom colours a result's outfit shows (None: no outfit)."""
    outfit = result.person.outfit
    return None if outfit is None else (outfit.get("top"), outfit.get("bottom"))


def _with_others(items: list[T], i: int) -> list[T]:
    """Item ``i`` twice, then the others in order."""
    return [items[i], items[i], *(item for j, item in enumerate(items) if j != i)]


def _matched(adversary: Adversary, originals: list[torch.Tensor], candidate: list[CropResult]) -> list[bool]:
    """Per appearance of a group, whether its output as written still matches its own original
    or another original of the group."""
    from deid.loop.appearances import private_recut

    written = [_written(r) for r in candidate]
    alone = private_recut(adversary, originals, written)
    together = private_recut(
        adversary, originals, written, groups=torch.zeros(len(written), dtype=torch.long)
    )
    return [not (a and t) for a, t in zip(alone, together, strict=True)]


def _filled(result: CropResult | None) -> CropResult:
    if result is None:  # every appearance is in exactly one part: this cannot happen
        raise RuntimeError("an appearance was left out of its group's split")
    return result


def heatmap_writer(adversary: Adversary) -> HeatmapWriter:
    """Write each crop's attribution overlay (PNG) with ``attribution.save_heatmap``.

    Uses the conceal loop's own attribution (what drove the mask) when given; otherwise the
    match of the crop to itself under the first adversary model, by Integrated Gradients
    from a black image.
    """
    from attribution import DistanceScore, explain, save_heatmap
    from reid_model import embed

    model = adversary.models[0]

    def write_heatmaps(
        originals: list[torch.Tensor], attributions: list[torch.Tensor | None], paths: list[Path]
    ) -> None:
        for image, attribution, path in zip(originals, attributions, paths, strict=True):
            if attribution is None or not bool(attribution.abs().sum() > 0):
                batch = image[None]
                attribution = explain(DistanceScore(model, embed(model, batch)), batch)[0]
            elif tuple(attribution.shape[-2:]) != tuple(image.shape[-2:]):
                attribution = torch.nn.functional.interpolate(
                    attribution[None].float(),
                    size=tuple(image.shape[-2:]),
                    mode="bilinear",
                    align_corners=False,
                )[0]
            path.parent.mkdir(parents=True, exist_ok=True)
            save_heatmap(path, image, attribution)

    return write_heatmaps


def concealers(
    config: BatchConfig,
    conceal_group: ConcealGroup | None,
    conceal_batch: ConcealBatch | None,
    write_heatmaps: HeatmapWriter | None,
    adversary: Adversary | None = None,
) -> tuple[ConcealBatch, HeatmapWriter | None, WrittenCheck | None]:
    """The conceal function, heatmap writer and written-frame check of a run: the given ones,
    else the bundled loop (whose adversary also checks the people re-cut from written frames);
    ``adversary``: the run's, already built (:func:`build_adversary`), else built here."""
    if conceal_batch is None and conceal_group is not None:
        conceal_batch = per_group(conceal_group)
    check_written = None
    if conceal_batch is None or (config.heatmaps and write_heatmaps is None):
        adversary = adversary or build_adversary(config)
        if conceal_batch is None:
            check_written = recut_checker(adversary)
        conceal_batch = conceal_batch or person_concealer(config, adversary)
        if config.heatmaps and write_heatmaps is None:
            write_heatmaps = heatmap_writer(adversary)
    return conceal_batch, write_heatmaps if config.heatmaps else None, check_written
