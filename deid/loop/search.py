"""The conceal loop: hide, step by step, what makes a person re-identifiable.

For each person (one or more appearances): the adversary embeds the original appearances; while
some concealed appearance is still matched to some original appearance (see
:class:`deid.adversary.Adversary`), the match is attributed to grid cells of the crop, the most
identity-revealing cells are added to the person's mask, and the operator is applied again. One
mask, in the crop's normalized coordinates, and one operator setting go to every appearance of
the person. A step budget bounds the loop; when it runs out the whole crop is concealed and the
result says so. People are processed together in batches, so a folder runs at batch speed.

The default adversary is an ensemble (the bundled network and a colour-stripe matcher) and the
default fill is a per-person two-tone outfit drawn among those that defeat it (``colors``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from attribution import DistanceScore, cam_layer, explain, grid_regions, region_scores
from deid.adversary import Adversary, PrivacyCheck, match_pairs
from deid.loop.appearances import MODEL_SIZE, People, private_people
from deid.loop.config import ConcealConfig
from deid.loop.fallback import conceal_whole_crops
from deid.loop.results import PersonResult
from deid.loop.steps import cell_masks, check_people, refine
from deid.operators.base import Operator
from deid.operators.outfit import Outfits, choose_outfits
from deid.operators.registry import build_operator
from reid_model.checks import check_images

#: Attribution methods that take a baseline: the loop gives them the fully concealed images.
BASELINE_METHODS = frozenset({"integrated_gradients", "occlusion", "feature_ablation"})


def _scores(check: PrivacyCheck, index: torch.Tensor) -> dict[str, float]:
    return {
        "match_rate": float(check.match_rate[index].max()),
        "rank": float(check.rank[index].min()),
    }


def _references(originals: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Per appearance, the mean original embedding of the appearances it is checked against."""
    a_idx, b_idx = match_pairs(groups)
    sums = torch.zeros_like(originals).index_add_(0, a_idx, originals[b_idx])
    return sums / torch.bincount(a_idx, minlength=len(groups)).clamp(min=1)[:, None].to(originals)


def _has_cam_layer(model: torch.nn.Module) -> bool:
    try:
        cam_layer(model)
    except ValueError:
        return False
    return True


def _attribute(
    adversary: Adversary,
    images: torch.Tensor,
    references: list[torch.Tensor],
    concealed: torch.Tensor,
    config: ConcealConfig,
) -> torch.Tensor:
    """Per-appearance evidence for the match ``(A, 1, H, W)``, pooled over the adversary's models.

    The score is minus the distance to the appearance's reference embedding; only positive
    attribution (evidence for the match) counts, normalized per appearance and model. Methods
    with a baseline take the fully ``concealed`` images as it, so a pixel's attribution is its
    share of what concealing it would change.
    """
    pooled = torch.zeros(len(images), 1, *images.shape[-2:])
    options: dict[str, Any] = {"baseline": concealed} if config.method in BASELINE_METHODS else {}
    if config.method == "integrated_gradients":
        options["n_steps"] = config.ig_steps
    for model, reference in zip(adversary.models, references, strict=True):
        method = config.method
        if method == "grad_cam" and not _has_cam_layer(model):
            method = "saliency"  # e.g. the colour matcher: no convolutional map to take Grad-CAM of
        attributions = explain(DistanceScore(model, reference), images, method=method, **options)
        positive = attributions.detach().float().cpu().clamp(min=0)
        pooled += positive / positive.sum(dim=(1, 2, 3), keepdim=True).clamp(min=1e-12)
    return pooled


def _operator(
    config: ConcealConfig, adversary: Adversary, originals: list[torch.Tensor], groups: torch.Tensor
) -> Operator | Outfits:
    """The configured operator, or with ``colors="outfit"`` each person's drawn outfit."""
    if config.operator != "fill" or config.colors != "outfit":
        return build_operator(config.operator, config.strength)
    return _outfits(config, adversary, originals, groups, opacity=config.strength)


def _filled(treatment: str | None, operator: Operator | Outfits, config: ConcealConfig) -> bool:
    """Whether a person's final images wear their outfit: the loop's or the fallback's."""
    return treatment == "outfit" or (isinstance(operator, Outfits) and treatment in (None, config.operator))


def _outfits(
    config: ConcealConfig,
    adversary: Adversary,
    originals: list[torch.Tensor],
    groups: torch.Tensor,
    *,
    opacity: float = 1.0,
) -> Outfits:
    """Each person's outfit, drawn with the configured seed (or fresh entropy)."""
    seed = secrets.randbits(63) if config.seed is None else config.seed
    return choose_outfits(
        adversary,
        originals,
        groups,
        int(groups.max()) + 1,
        MODEL_SIZE,
        opacity=opacity,
        generator=torch.Generator().manual_seed(seed),
    )


def _written_check(
    batch: People,
    adversary: Adversary,
    originals: list[torch.Tensor],
    concealed: Sequence[torch.Tensor | None],
) -> tuple[list[bytes], PrivacyCheck]:
    """Encode every final appearance in its output format, decode it, and check what was decoded."""
    encoded, decoded = [], []
    for i, image in enumerate(concealed):
        if image is None:
            raise RuntimeError(f"appearance {i} was never rendered")
        data, back = batch.written(i, image)
        encoded.append(data)
        decoded.append(back.to(image))
    embeddings = adversary.embed(batch._to_model(decoded))
    return encoded, adversary.check(embeddings, originals, batch.groups)


def conceal_people(
    people: Sequence[Sequence[torch.Tensor]],
    *,
    config: ConcealConfig | None = None,
    adversary: Adversary | None = None,
    device: str | torch.device = "cpu",
    keep_attributions: bool = False,
    formats: Sequence[Sequence[str]] | None = None,
) -> list[PersonResult]:
    """Conceal several people at once; each person is a list of appearances ``(3, H, W)``.

    Every check, the final one included, is taken on the image as written: rounded to uint8,
    encoded in its output format and decoded again (the final check on exactly the bytes
    returned in :attr:`PersonResult.encoded`). A person private as a float tensor but matched
    once written goes on to larger masks or the fallback like any other matched person.

    Args:
        people: per person, its appearances as float RGB tensors in [0, 1] (any size).
        config: loop settings (defaults: :class:`ConcealConfig`).
        adversary: the re-id adversary and its gallery; the bundled default when None.
        device: where the adversary runs when it is built here.
        keep_attributions: keep the first step's attributions in the results (for heatmaps).
        formats: per person and appearance, the output file format (``".png"``, ``".jpg"``,
            ...) the verdict must hold for; ``".png"`` (lossless uint8) for all when None.

    Returns:
        One :class:`PersonResult` per person, in order.
    """
    config = config or ConcealConfig()
    if adversary is None:
        adversary = Adversary.default(device=device, max_match_rate=config.max_match_rate, top_k=config.top_k)
    if not people or any(len(person) == 0 for person in people):
        raise ValueError("people must be a non-empty list of non-empty lists of appearances")
    for p, person in enumerate(people):  # values here; People reports the wrong types and shapes
        for a, appearance in enumerate(person):
            if (
                isinstance(appearance, torch.Tensor)
                and appearance.ndim == 3
                and appearance.is_floating_point()
            ):
                check_images(appearance, f"people[{p}][{a}]", batched=False)
    batch = People(people, formats)
    groups = batch.groups
    n_people = len(people)
    cells = grid_regions(*MODEL_SIZE, rows=config.grid[0], cols=config.grid[1])
    schedule = config.schedule(len(cells))
    # order[p, r]: when cell r joined person p's mask (0, 1, 2, ...), or a large number if never.
    never = len(cells) + 1
    order = torch.full((n_people, len(cells)), never, dtype=torch.long)
    originals = adversary.embed(batch.model_inputs)
    references = [_references(o, groups) for o in originals]
    before = adversary.check(originals, originals, groups)
    operator = _operator(config, adversary, originals, groups)
    whole = batch.render(operator, torch.ones(n_people, 1, *MODEL_SIZE))[1]  # fully concealed views
    latest = [o.clone() for o in originals]  # embeddings under each person's current mask
    steps = torch.zeros(n_people, dtype=torch.long)
    done = torch.zeros(n_people, dtype=torch.bool)
    first_attributions = torch.zeros(len(groups), 1, *MODEL_SIZE) if keep_attributions else None
    for step in range(len(schedule)):
        active = ~done
        if step == 0:  # nothing concealed yet: the check of the originals themselves
            private, view = private_people(before, groups, n_people), batch.model_inputs
        else:
            masks = cell_masks(cells, order < never)
            private, view = check_people(batch, operator, adversary, masks, originals, active, latest)
        if step > 0 and config.refine and bool(private.any()):
            refine(batch, operator, adversary, cells, order, private, schedule[step - 1], originals, latest)
        done |= private
        if bool(done.all()) or step == len(schedule) - 1:
            break
        keep = ~private[groups[active[groups]]]  # the rendered appearances still to conceal
        todo = ~done[groups]
        pooled = _attribute(adversary, view[keep], [r[todo] for r in references], whole[todo], config)
        if first_attributions is not None and step == 0:
            first_attributions[todo] = pooled
        person_maps = torch.zeros(n_people, 1, *MODEL_SIZE).index_add_(0, groups[todo], pooled)
        cell_score = region_scores(person_maps, cells).masked_fill(order < never, float("-inf"))
        add = schedule[step + 1] - schedule[step]
        ranked = cell_score.topk(add, dim=1).indices
        rows = torch.nonzero(~done).flatten()
        order[rows[:, None], ranked[rows]] = schedule[step] + torch.arange(add)
        steps[rows] += 1

    masks = cell_masks(cells, order < never)
    concealed = batch.render(operator, masks)[0]
    loop_check = adversary.check(latest, originals, groups)
    fallback_op: list[str | None] = [None] * n_people
    failed = ~private_people(loop_check, groups, n_people)
    outfits = operator if isinstance(operator, Outfits) else None
    if bool(failed.any()):
        masks[failed] = 1.0
        if outfits is None and config.fallback_operator == "auto":
            outfits = _outfits(config, adversary, originals, groups)
        concealed, loop_check = conceal_whole_crops(
            batch,
            adversary,
            config,
            operator,
            masks,
            originals,
            failed,
            fallback_op,
            concealed,
            latest,
            outfits,
        )
    encoded, check = _written_check(batch, adversary, originals, concealed)
    final_private = private_people(check, groups, n_people)
    late = private_people(loop_check, groups, n_people) & ~final_private
    if bool(late.any()):  # the written bytes disagree with the loop's last check: whole crop
        masks[late] = 1.0
        failed |= late
        if outfits is None and config.fallback_operator == "auto":
            outfits = _outfits(config, adversary, originals, groups)
        concealed, _ = conceal_whole_crops(
            batch,
            adversary,
            config,
            operator,
            masks,
            originals,
            late,
            fallback_op,
            concealed,
            latest,
            outfits,
        )
        encoded, check = _written_check(batch, adversary, originals, concealed)
        final_private = private_people(check, groups, n_people)

    results = []
    for p in range(n_people):
        idx = torch.nonzero(groups == p).flatten()
        results.append(
            PersonResult(
                images=[concealed[i] for i in idx.tolist()],
                mask=masks[p],
                steps=int(steps[p]),
                success=bool(final_private[p]),
                fallback=bool(failed[p]),
                fallback_operator=fallback_op[p],
                area=float(masks[p].mean()),
                scores_before=_scores(before, idx),
                scores_after=_scores(check, idx),
                attributions=first_attributions[idx] if first_attributions is not None else None,
                outfit=outfits.colors(p)
                if outfits is not None and _filled(fallback_op[p], operator, config)
                else None,
                encoded=[encoded[i] for i in idx.tolist()],
            )
        )
    return results


def conceal_person(
    images: Sequence[torch.Tensor] | torch.Tensor,
    *,
    config: ConcealConfig | None = None,
    adversary: Adversary | None = None,
    device: str | torch.device = "cpu",
    keep_attributions: bool = False,
    **options: Any,
) -> PersonResult:
    """Conceal all appearances of one person with one mask and one operator setting.

    Every concealed appearance is checked against every original appearance.

    Args:
        images: the appearances, ``(N, 3, H, W)`` or a list of ``(3, H, W)`` of any sizes.
        config: loop settings; ``options`` (e.g. ``operator="pixelate"``) override its fields.

    Example:
        >>> a, b = reid_model.read_image("000_45.bmp"), reid_model.read_image("000_90.bmp")  # doctest: +SKIP
        >>> result = deid.conceal_person([a, b], operator="blur")  # doctest: +SKIP
        >>> result.success, round(result.area, 2)  # doctest: +SKIP
        (True, 0.25)
    """
    config = replace(config or ConcealConfig(), **options)
    appearances = (
        list(images.unbind(0)) if isinstance(images, torch.Tensor) and images.ndim == 4 else list(images)
    )
    return conceal_people(
        [appearances], config=config, adversary=adversary, device=device, keep_attributions=keep_attributions
    )[0]
