"""Is a concealed person still a person: pose, keypoints, and what changed around them.

Issue 12's utility half: a de-identified pedestrian should stay detectable, with their pose,
and the background should stay as it was. The pose model (:func:`deid.finder.find_person_in_crop`)
reads each original crop once (:func:`read_poses`): its presence score, 33 keypoints and
silhouette. :func:`form_scores` then reads the concealed crops and compares:

- ``pose_detected``: fraction of concealed crops the pose model confirms (presence >= its
  confirm threshold), beside ``pose_detected_before`` on the originals;
- ``pck``: of the crops confirmed in both, the fraction of the 13 body keypoints (nose,
  shoulders, elbows, wrists, hips, knees, ankles) within 0.1 of the person's height (the
  original silhouette's) of where they were (PCK@0.1);
- ``person_changed``: fraction of the original silhouette's pixels changed;
- ``background_changed``: fraction of the pixels farther than ``margin`` pixels from the
  silhouette changed, and ``ssim_background`` the SSIM over those pixels only.

Crops without a confirmed pose in the original count in ``pose_detected`` but not in the
others (their silhouette is unknown).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from deid.audit.utility import ssim
from reid_model.checks import check_images

#: The body keypoints PCK is taken over (MediaPipe's order): nose, shoulders, elbows, wrists,
#: hips, knees, ankles.
BODY_KEYPOINTS = (0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
#: PCK's tolerance, as a fraction of the person's height.
PCK_FRACTION = 0.1
#: What :func:`form_scores` returns.
FORM_KEYS = (
    "pose_detected_before",
    "pose_detected",
    "pck",
    "person_changed",
    "background_changed",
    "ssim_background",
)


@dataclass(frozen=True)
class Poses:
    """What the pose model reads in a batch of crops.

    Attributes:
        present: ``(N,)`` bool, a person confirmed.
        keypoints: ``(N, 33, 3)`` in the crops' pixels.
        silhouettes: ``(N, H, W)`` bool (the whole crop where no person is confirmed).
    """

    present: torch.Tensor
    keypoints: torch.Tensor
    silhouettes: torch.Tensor


def read_poses(images: torch.Tensor) -> Poses:
    """The pose model on each crop of ``images (N, 3, H, W)``."""
    from deid.finder import find_person_in_crop

    images = check_images(images)
    people = [find_person_in_crop(image) for image in images]
    return Poses(
        torch.tensor([not p.uncertain for p in people], dtype=torch.bool),
        torch.stack([p.keypoints for p in people]),
        torch.stack([p.mask for p in people]),
    )


def keypoints_kept(before: torch.Tensor, after: torch.Tensor, heights: torch.Tensor) -> torch.Tensor:
    """``(N, 13)`` bool: which of the :data:`BODY_KEYPOINTS` of ``after (N, 33, 2|3)`` lie within
    :data:`PCK_FRACTION` of ``heights (N,)`` of those of ``before``; their mean is PCK."""
    points = list(BODY_KEYPOINTS)
    error = torch.linalg.vector_norm(after[:, points, :2] - before[:, points, :2], dim=-1)
    return error <= PCK_FRACTION * heights.to(error)[:, None]


def _heights(silhouettes: torch.Tensor) -> torch.Tensor:
    rows = silhouettes.any(2)
    index = torch.arange(silhouettes.shape[1])
    top = torch.where(rows, index, silhouettes.shape[1]).min(1).values
    bottom = torch.where(rows, index, -1).max(1).values
    return (bottom - top + 1).clamp(min=1).float()


def form_scores(
    concealed: torch.Tensor, originals: torch.Tensor, before: Poses | None = None, *, margin: int = 2
) -> dict[str, float]:
    """How much of the person's form survives in ``concealed`` against ``originals`` (both
    ``(N, 3, H, W)``), and how much of the background changed (see the module's text).

    Args:
        concealed, originals: the crops after and before.
        before: :func:`read_poses` of ``originals`` (read here when None).
        margin: pixels around the silhouette that count neither as person nor as background.

    Returns:
        ``pose_detected_before``, ``pose_detected``, ``pck``, ``person_changed``,
        ``background_changed``, ``ssim_background`` (NaN where nothing was measured).
    """
    concealed, originals = check_images(concealed), check_images(originals, "originals")
    before = read_poses(originals) if before is None else before
    after = read_poses(concealed)
    nan = float("nan")
    both = before.present & after.present
    pck = nan
    if bool(both.any()):
        kept = keypoints_kept(
            before.keypoints[both], after.keypoints[both], _heights(before.silhouettes[both])
        )
        pck = float(kept.float().mean())
    out = dict.fromkeys(FORM_KEYS, nan)
    out["pose_detected_before"] = float(before.present.float().mean())
    out["pose_detected"] = float(after.present.float().mean())
    out["pck"] = pck
    posed = before.present
    if not bool(posed.any()):
        return out
    changed = (concealed[posed] != originals[posed]).any(1)
    person = before.silhouettes[posed]
    near = F.max_pool2d(person.float()[:, None], 2 * margin + 1, stride=1, padding=margin)[:, 0] > 0
    background = ~near
    out["person_changed"] = float(((changed & person).sum((1, 2)) / person.sum((1, 2)).clamp(min=1)).mean())
    out["background_changed"] = float(
        ((changed & background).sum((1, 2)) / background.sum((1, 2)).clamp(min=1)).mean()
    )
    scores = ssim(concealed[posed], originals[posed], mask=near[:, None].to(concealed.dtype))
    finite = scores[~scores.isnan()]
    out["ssim_background"] = float(finite.mean()) if len(finite) else nan
    return out
