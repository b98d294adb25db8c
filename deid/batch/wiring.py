"""What the batch runner plugs in by default: the adversary, the conceal loop and heatmaps.

Kept apart from :mod:`deid.batch` so the runner can be tested with stand-ins, and so the
names the conceal loop uses live in one small place.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from deid.batch.inputs import BatchError
from deid.batch.results import CropResult, per_group
from deid.loop.frames import recut_checker

if TYPE_CHECKING:
    from deid.adversary import Adversary
    from deid.batch.config import BatchConfig
    from deid.batch.results import ConcealBatch, ConcealGroup, HeatmapWriter, WrittenCheck
    from deid.loop.results import PersonResult


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
    person (:func:`deid.loop.grouping.split_groups`); each part is concealed as a person, and each
    crop's result carries why it was (or was not) concealed with its group.
    """
    from deid.loop.grouping import split_groups
    from deid.loop.search import conceal_people
    from reid_model.io import output_format

    def conceal(people: list[list[torch.Tensor]], formats: list[list[str]]) -> list[PersonResult]:
        return conceal_people(
            people,
            config=config.loop,
            adversary=adversary,
            device=config.device,
            keep_attributions=config.heatmaps,
            formats=formats,
            claimed=False,  # split into the parts the adversary links (conceal_batch)
        )

    def conceal_batch(people: list[list[torch.Tensor]], paths: list[list[Path]]) -> list[list[CropResult]]:
        splits = split_groups(adversary, people)
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
        held = _hold_against_groups(adversary, [(people[p], out[p], formats[p]) for p in split_up], conceal)
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
    conceal: Callable[[list[list[torch.Tensor]], list[list[str]]], list[PersonResult]],
) -> list[list[CropResult]]:
    """Check each split group's outputs against every original of the group; fix or flag those matched.

    ``groups`` holds per group its originals, its parts' results and its output formats. Each
    output must defeat the adversary against its own original (the loop's check) and against
    the group's other originals. The groups where a part's output still matches another
    appearance are concealed again, each as one person (in one call of ``conceal``), each
    appearance checked against every original of its group; that result is kept only if every
    output passes both checks, otherwise the matched outputs are reported not private.
    """
    from deid.loop.appearances import private_recut

    def matched(originals: list[torch.Tensor], candidate: list[CropResult]) -> list[bool]:
        written = [_written(r) for r in candidate]
        alone = private_recut(adversary, originals, written)
        together = private_recut(
            adversary, originals, written, groups=torch.zeros(len(written), dtype=torch.long)
        )
        return [not (a and t) for a, t in zip(alone, together, strict=True)]

    firsts = [[_filled(r) for r in results] for _, results, _ in groups]
    bads = [matched(originals, first) for (originals, _, _), first in zip(groups, firsts, strict=True)]
    redo = [
        g
        for g, (first, bad) in enumerate(zip(firsts, bads, strict=True))
        if any(r.success and b for r, b in zip(first, bad, strict=True))
    ]
    # Each appearance twice: the loop checks an appearance against the person's *other* originals,
    # so its copy makes it defeat its own original as well as the rest of the group's.
    wholes = conceal([list(groups[g][0]) * 2 for g in redo], [groups[g][2] * 2 for g in redo]) if redo else []
    out = [list(first) for first in firsts]
    note = "on its own it still matched another appearance of its group, so it was concealed again with the group"
    flag = "; it still matches another appearance of its group, so it is NOT private"
    for g, whole in zip(redo, wholes, strict=True):
        originals, first, bad = groups[g][0], firsts[g], bads[g]
        again = [CropResult(whole, j, f"{first[j].group_reason}; {note}") for j in range(len(originals))]
        if whole.success and not any(matched(originals, again)):
            out[g] = again
        else:
            out[g] = [r.not_private(flag) if b and r.success else r for r, b in zip(first, bad, strict=True)]
    return out


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
