"""The privacy audit: conceal test persons, then let attackers the conceal loop never saw try them.

For each concealment method (the loop with an operator, or a baseline anonymizer) and each
attacker (:mod:`deid.attackers`), the audit measures re-identification of concealed queries
(from ``query_camera``) against the original gallery (the other cameras): rank-1/5, mAP and the
seed's triplet error (concealed anchor, original positive from another camera, original
negative), beside the same attacker on original queries and beside chance. It adds the utility
of the concealed crops (:mod:`deid.utility`) and concealed-to-concealed matching (``c2c``: can a
concealed person still be followed across cameras under a pseudonym).

An adaptive attacker is adapted per method on the method's concealed *training* persons.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from deid.audit.attackers import Attacker
from deid.audit.concealers import (
    Concealer,
)
from deid.audit.form import FORM_KEYS, Poses, form_scores, read_poses
from deid.audit.table import COLUMNS
from deid.audit.utility import area_concealed, person_detected, psnr, ssim
from deid.loop import LINKS
from reid_model import DatasetError, Sample, Split, load_images, retrieval_scores, select

#: PSNR of identical images is infinite; tables report it capped at this many dB.
PSNR_CAP = 100.0


def _stack(images: Any, n: int, what: str) -> torch.Tensor:
    out = images if isinstance(images, torch.Tensor) and images.ndim == 4 else torch.stack(list(images))
    if len(out) != n:
        raise ValueError(f"{what} must hold {n} items (one per appearance), got {len(out)}")
    return out


def _normalize_output(
    output: Any, originals: torch.Tensor, method: str
) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """(images (N, 3, H, W), mask (N, 1, H, W), fallback or None) from a concealer's output."""
    if hasattr(output, "images") and hasattr(output, "mask"):
        images, mask, fallback = output.images, output.mask, getattr(output, "fallback", None)
    else:
        images, mask = output
        fallback = None
    n = len(originals)
    images = _stack(images, n, f"method {method!r}: concealed images")
    if images.shape != originals.shape:
        raise ValueError(
            f"method {method!r} must return images of shape {tuple(originals.shape)}, "
            f"got {tuple(images.shape)}"
        )
    if isinstance(mask, torch.Tensor) and mask.ndim == 3:
        mask = mask[None]
    mask = mask if isinstance(mask, torch.Tensor) else _stack(mask, n, f"method {method!r}: masks")
    mask = mask.to(images.device, images.dtype)
    if mask.shape[-2:] != images.shape[-2:]:
        mask = F.interpolate(mask, size=images.shape[-2:], mode="bilinear", align_corners=False).clamp(0, 1)
    return images, mask.expand(n, 1, *images.shape[-2:]), fallback


def _conceal_all(
    concealer: Concealer,
    images: torch.Tensor,
    labels: torch.Tensor,
    method: str,
    batch_size: int,
    link: str = "track",
) -> tuple[torch.Tensor, torch.Tensor, list[Any]]:
    """Conceal every person's appearances together (``link="track"``) or each appearance as a
    person of its own (``"none"``); returns images, masks, fallback flags."""
    if link == "none":
        groups = [torch.tensor([i]) for i in range(len(labels))]
    else:
        groups = [torch.nonzero(labels == p).flatten() for p in labels.unique().tolist()]
    concealed, masks = (
        torch.empty_like(images),
        torch.empty(len(images), 1, *images.shape[-2:], dtype=images.dtype),
    )
    fallbacks: list[Any] = []
    people = getattr(concealer, "conceal_people", None)
    for start in range(0, len(groups), batch_size if people is not None else 1):
        chunk = groups[start : start + (batch_size if people is not None else 1)]
        appearances = [list(images[idx].unbind(0)) for idx in chunk]
        outputs = people(appearances) if people is not None else [concealer(appearances[0])]
        for idx, output in zip(chunk, outputs, strict=True):
            person_images, person_mask, fallback = _normalize_output(output, images[idx], method)
            concealed[idx], masks[idx] = person_images, person_mask
            fallbacks.append(fallback)
    return concealed, masks, fallbacks


def _utility(
    concealed: torch.Tensor,
    originals: torch.Tensor,
    detector: bool,
    poses: Poses | None = None,
) -> dict[str, float]:
    """Utility of ``concealed`` against ``originals``. The area and the untouched part are the
    pixels actually changed (a body-shaped mask covers more cells than it changes pixels)."""
    changed = (concealed != originals).any(1, keepdim=True).to(concealed.dtype)

    def mean(values: torch.Tensor) -> float:
        values = values.double()
        finite = values[~values.isnan()]
        return float(finite.mean()) if len(finite) else float("nan")

    return {
        "area": mean(area_concealed(changed)),
        "ssim": mean(ssim(concealed, originals)),
        "ssim_untouched": mean(ssim(concealed, originals, mask=changed)),
        "psnr": mean(psnr(concealed, originals).clamp(max=PSNR_CAP)),
        "psnr_untouched": mean(psnr(concealed, originals, mask=changed).clamp(max=PSNR_CAP)),
        "detected": mean(person_detected(concealed).float()) if detector else float("nan"),
        **(
            form_scores(concealed, originals, poses)
            if poses is not None
            else dict.fromkeys(FORM_KEYS, float("nan"))
        ),
    }


def audited_persons(split: Split, max_persons: int | None = None) -> list[int]:
    """The test persons an audit conceals and attacks: the first ``max_persons`` of the split's
    (all of them without a limit)."""
    return sorted(split.test)[:max_persons] if max_persons else sorted(split.test)


def check_audited(samples: Sequence[Sample], persons: Sequence[int], *, query_camera: int = 0) -> None:
    """Refuse an audit that cannot rank: fewer than two of ``persons`` seen both by
    ``query_camera`` (the concealed queries) and by another camera (the gallery).

    Raises:
        DatasetError: naming how many of the persons are seen by both.
    """
    wanted = set(persons)
    queried = {s.person_id for s in samples if s.person_id in wanted and s.camera_id == query_camera}
    gallery = {s.person_id for s in samples if s.person_id in wanted and s.camera_id != query_camera}
    both = queried & gallery
    if len(both) < 2:
        raise DatasetError(
            f"the audit needs at least 2 test persons seen by camera {query_camera} and by another "
            f"camera, got {len(both)} of the {len(wanted)} audited"
        )


def run_audit(
    concealers: Mapping[str, Concealer],
    samples: Sequence[Sample],
    split: Split,
    attackers: Sequence[Attacker],
    *,
    images: torch.Tensor | None = None,
    query_camera: int = 0,
    max_persons: int | None = None,
    adapt_persons: int | None = None,
    detector: bool = True,
    batch_size: int = 32,
    seed: int = 0,
    link: str = "track",
    log: Any = None,
) -> list[dict[str, Any]]:
    """Audit concealment methods against attackers on the test persons of ``split``.

    Args:
        concealers: method name -> concealer (see :class:`Concealer`; e.g.
            :func:`baseline_concealers` and :func:`loop_concealers`).
        samples: the dataset, ``Sample(path, person_id, camera_id)`` each.
        split: its test persons are audited; its training persons adapt adaptive attackers.
        attackers: :class:`deid.attackers.Attacker` instances (names must be distinct).
        images: optional ``(N, 3, 128, 48)`` images aligned with ``samples`` (else loaded).
        query_camera: queries come from this camera, the gallery from the others.
        max_persons: audit only the first this many test persons (quick runs).
        adapt_persons: adaptive attackers see only the first this many training persons
            concealed (concealing and fine-tuning on all of them is the slow part of an audit).
        detector: run OpenCV's HOG people detector and the pose model on the crops (the
            ``detected`` columns and those of :func:`deid.audit.form.form_scores`).
        batch_size: persons concealed per call by concealers that take many at once.
        seed: fixes the triplets of the seed's error.
        link: ``"track"`` conceals a person's appearances together (one treatment, so the
            person stays linkable under a pseudonym); ``"none"`` gives each appearance a
            treatment of its own. ``c2c_rank1`` (concealed query, concealed gallery) is the
            linking rate either way.
        log: optional callable taking one progress line (e.g. ``print``).

    Returns:
        One row per method and attacker, with the keys in ``COLUMNS``; fractions in [0, 1].

    Example:
        >>> rows = run_audit(baseline_concealers(), samples, split, attackers)  # doctest: +SKIP
        >>> print(format_table(rows))  # doctest: +SKIP
    """
    if link not in LINKS:
        raise ValueError(f"link must be one of {list(LINKS)}, got {link!r}")
    names = [a.name for a in attackers]
    if len(set(names)) != len(names):
        raise ValueError(f"attackers must have distinct names, got {names}")
    if not concealers or not attackers:
        raise ValueError("audit needs at least one concealer and one attacker")
    index = {s: i for i, s in enumerate(samples)}

    def load(part: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        chosen = select(samples, part)
        data = (
            images[[index[s] for s in chosen]]
            if images is not None
            else load_images([s.path for s in chosen])
        )
        return (
            data,
            torch.tensor([s.person_id for s in chosen]),
            torch.tensor([s.camera_id for s in chosen]),
        )

    test_ids = audited_persons(split, max_persons)
    check_audited(samples, test_ids, query_camera=query_camera)
    originals, labels, cameras = load(test_ids)
    adaptive = any(a.adaptive for a in attackers)
    train = load(sorted(split.train)[:adapt_persons]) if adaptive else None
    say = log or (lambda line: None)

    before: dict[str, tuple[torch.Tensor, dict[str, float]]] = {}
    for attacker in attackers:
        features = attacker.features(originals)
        scores = retrieval_scores(
            attacker.compare(features, features),
            labels,
            cameras,
            query_camera=query_camera,
            seed=seed,
        )
        before[attacker.name] = (features, scores)
    detected_before = float(person_detected(originals).float().mean()) if detector else float("nan")
    poses = read_poses(originals) if detector else None

    rows = []
    for method, concealer in concealers.items():
        started = time.perf_counter()
        concealed, _, fallbacks = _conceal_all(concealer, originals, labels, method, batch_size, link)
        seconds = time.perf_counter() - started
        utility = _utility(concealed, originals, detector, poses)
        known = [bool(f) for f in fallbacks if f is not None]
        fallback_rate = float(np.mean(known)) if known else float("nan")
        say(f"{method}: concealed {len(originals)} crops in {seconds:.1f}s, area {utility['area']:.1%}")
        train_concealed = None
        if train is not None:
            train_started = time.perf_counter()
            train_concealed = _conceal_all(concealer, train[0], train[1], method, batch_size, link)[0]
            say(
                f"  concealed {len(train[0])} training crops for adaptive attackers "
                f"in {time.perf_counter() - train_started:.1f}s"
            )
        for attacker in attackers:
            attack_started = time.perf_counter()
            original_features, scores_before = before[attacker.name]
            used = attacker
            if attacker.adaptive and train is not None and train_concealed is not None:
                used = attacker.adapt(train_concealed, train[0], train[1], train[2])
                original_features = used.features(originals)
            concealed_features = used.features(concealed)
            after = retrieval_scores(
                used.compare(concealed_features, original_features),
                labels,
                cameras,
                query_camera=query_camera,
                seed=seed,
            )
            c2c = retrieval_scores(
                used.compare(concealed_features, concealed_features),
                labels,
                cameras,
                query_camera=query_camera,
                seed=seed,
            )
            rows.append(
                {
                    "method": method,
                    "attacker": attacker.name,
                    "persons": len(test_ids),
                    **{f"{k}_before": scores_before[k] for k in ("rank1", "rank5", "mAP", "seed_error")},
                    **after,
                    "c2c_rank1": c2c["rank1"],
                    "c2c_mAP": c2c["mAP"],
                    **utility,
                    "detected_before": detected_before,
                    "fallback_rate": fallback_rate,
                    "conceal_seconds": seconds,
                    "attack_seconds": time.perf_counter() - attack_started,
                }
            )
            say(
                f"  {attacker.name}: rank-1 {scores_before['rank1']:.1%} -> {after['rank1']:.1%} "
                f"({rows[-1]['attack_seconds']:.1f}s)"
            )
    return [{k: row[k] for k in COLUMNS} for row in rows]
