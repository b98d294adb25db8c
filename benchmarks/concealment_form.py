"""Conceal the person, keep a person: Penn-Fudan frames concealed by each loop variant, in one run.

    python -m benchmarks.concealment_form --data ../shared/data/pennfudan [--limit N] [--figure PNG]
        [--only PennPed00040,PennPed00074]
        [--head-scale S] [--faces T]

For each variant (mask shape, operator), every frame goes through ``deid.conceal`` (the person
finder, the loop, the head treatment, the check of the frame as written), and the concealed frame
is compared with the original and the annotation (``PedMasks``):

- ``private``: frames whose every person the adversary finds private as written;
- ``body``/``box``: people concealed in their silhouette's shape, and by their box (after the
  body-shaped loop left them matched, or without a pose); ``figure``: of all, the ones who wear
  their stand-in figure (:class:`deid.operators.Figure`) on their box or their widened body;
- ``bg changed``: pixels more than 3 px outside every labelled person, the fraction changed (mean
  over frames);
- ``person changed``: median fraction of a labelled person's pixels changed, and ``< 20%``
  the labelled persons left nearly untouched (the finder missed them, or their box barely
  overlaps them);
- ``head``: labelled persons with at least half of their head (the top eighth of their mask)
  changed; ``head top kept``: those with more than a tenth of the top sixteenth of their mask
  (the hair) unchanged; ``head kept, private``: labelled persons whose head is not concealed in
  a frame reported private (a wrong verdict);
- ``feet``: labelled persons with at least half of the bottom eighth of their mask (shins and
  feet) changed;
- ``finder recall`` and ``HOG recall``: labelled persons found on the concealed frames (IoU >=
  0.5), as a fraction of those found on the originals; ``PCK``: body keypoints of persons found
  in both within 0.1 of the labelled height of where they were;
- seconds per frame (median; the loop's and finder's time, not file I/O).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch

import deid
from benchmarks._masks import lowest_eighth
from benchmarks.person_finder import Frame, load_pennfudan, match
from deid.audit.form import keypoints_kept
from deid.detection import hog_people
from deid.finder import FinderConfig, Person, find_people
from deid.loop import ConcealConfig, FrameResult
from reid_model import default_metadata, load_images, load_viper, select

#: Variants: name -> the loop's settings (outfits drawn with seed 0).
VARIANTS = {
    "box fill": ConcealConfig(shape="box", operator="fill", seed=0),  # before issue 12, + the head
    "body fill": ConcealConfig(shape="body", operator="fill", seed=0),  # the default
    # the default with the box of before (no stand-in figure)
    "body fill no-figure": ConcealConfig(shape="body", operator="fill", seed=0, figure=False),
    # the default with each figure in the person's own pose
    "body fill own-pose": ConcealConfig(shape="body", operator="fill", seed=0, figure_pose="own"),
    "body redress": ConcealConfig(shape="body", operator="redress", seed=0),
    "body-only fill": ConcealConfig(shape="body-only", operator="fill", seed=0),
    "body-only redress": ConcealConfig(shape="body-only", operator="redress", seed=0),
}
#: The variants a run shows unless ``--variants`` names others.
SHOWN = ("box fill", "body fill", "body-only fill")


@dataclass
class Tally:
    frames: int = 0
    private: int = 0
    shapes: Counter[str] = field(default_factory=Counter)
    background: list[float] = field(default_factory=list)
    person: list[float] = field(default_factory=list)
    heads: int = 0
    tops_kept: int = 0
    private_heads_kept: int = 0
    feet: int = 0
    found_after: int = 0
    hog_after: int = 0
    pck: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def _changed(frame: Frame, image: torch.Tensor, private: bool, tally: Tally) -> None:
    changed = (image != frame.image).any(0).numpy()
    labelled = np.asarray(frame.masks.any(0), dtype=np.uint8)
    near = cv2.dilate(labelled, np.ones((7, 7), np.uint8)) > 0
    tally.background.append(float(changed[~near].mean()))
    for mask in frame.masks:
        tally.person.append(float(changed[mask].mean()))
        rows = np.nonzero(mask.any(1))[0]
        height = rows[-1] - rows[0] + 1
        head, top = mask.copy(), mask.copy()
        head[rows[0] + max(1, height // 8) :] = False
        top[rows[0] + max(1, height // 16) :] = False
        concealed = bool(changed[head].mean() >= 0.5)
        tally.heads += concealed
        tally.private_heads_kept += private and not concealed
        tally.tops_kept += bool(changed[top].mean() < 0.9)
        tally.feet += bool(changed[lowest_eighth(mask)].mean() >= 0.5)


def _detections(frame: Frame, image: torch.Tensor, before: list[Person], tally: Tally) -> None:
    after = [p for p in find_people(image) if not p.uncertain]
    sure_before = [p for p in before if not p.uncertain]
    pairs_after = dict(match(frame.boxes, [p.box for p in after]))
    pairs_before = dict(match(frame.boxes, [p.box for p in sure_before]))
    tally.found_after += len(pairs_after)
    tally.hog_after += len(match(frame.boxes, hog_people(image)))
    for i, j in pairs_after.items():
        if i in pairs_before:
            kept = keypoints_kept(
                sure_before[pairs_before[i]].keypoints[None],
                after[j].keypoints[None],
                torch.tensor([frame.boxes[i].h]),
            )
            tally.pck.append(float(kept.float().mean()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data/pennfudan"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N frames")
    parser.add_argument(
        "--only", default=None, help="only these frames (comma-separated names), e.g. the figure's"
    )
    parser.add_argument("--variants", default=",".join(SHOWN), help=f"comma-separated among {list(VARIANTS)}")
    parser.add_argument(
        "--figure", type=Path, default=None, help="write original / variants of a few frames here"
    )
    parser.add_argument("--figure-frames", default="PennPed00040,PennPed00074")
    parser.add_argument(
        "--viper", type=Path, default=Path("../shared/data/viper"), help="crops for the figure"
    )
    parser.add_argument("--figure-crops", type=int, default=12, help="VIPeR test crops (cam_a) in the figure")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--head-scale",
        type=float,
        default=1.0,
        help="every variant's head ellipse scale (ConcealConfig.head_scale)",
    )
    parser.add_argument(
        "--faces",
        type=float,
        default=FinderConfig().faces,
        help="the face net's threshold (FinderConfig.faces; 0: off)",
    )
    parser.add_argument(
        "--no-second-look", action="store_true", help="no second look (FinderConfig.look off)"
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.variants.split(",")]
    finder = FinderConfig(faces=args.faces or None, look=not args.no_second_look)  # 0: no face net
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"--variants: {unknown} not among {list(VARIANTS)}")
    torch.set_num_threads(args.threads)
    frames = load_pennfudan(args.data, args.limit)
    if args.only:
        only = set(args.only.split(","))
        frames = [f for f in frames if f.name in only]
        if missing := only - {f.name for f in frames}:
            parser.error(f"--only: no frame named {sorted(missing)} in {args.data}")
    persons = sum(len(f.boxes) for f in frames)
    before = {f.name: find_people(f.image) for f in frames}
    found_before = sum(
        len(match(f.boxes, [p.box for p in before[f.name] if not p.uncertain])) for f in frames
    )
    hog_before = sum(len(match(f.boxes, hog_people(f.image))) for f in frames)
    print(
        f"Penn-Fudan: {len(frames)} frames, {persons} labelled persons; on the originals the finder "
        f"finds {found_before}, HOG {hog_before} (IoU >= 0.5); seed 0; {args.threads} threads; "
        f"head scale {args.head_scale}; face net threshold {args.faces}; second look {finder.look}"
    )
    print(
        "| variant | private frames | body / box people (figure) | bg changed | person changed (median) "
        "| persons < 20% changed | head concealed | head top kept | head kept, private | feet | finder recall "
        "| HOG recall | PCK@0.1 | s/frame |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    shown: dict[str, dict[str, torch.Tensor]] = {}
    for name in names:
        config = replace(VARIANTS[name], head_scale=args.head_scale)
        tally = Tally()
        shown[name] = {}
        for frame in frames:
            start = time.perf_counter()
            try:
                result = deid.conceal(frame.image, details=True, config=config, finder=finder)
            except ValueError:  # nobody found: the frame is not written
                result = None
            assert result is None or isinstance(result, FrameResult)
            tally.seconds.append(time.perf_counter() - start)
            tally.frames += 1
            image = frame.image if result is None else result.image
            if result is not None:
                tally.private += bool(result.success)
                tally.shapes.update(str(p.shape) for p in result.people)
                tally.shapes["figure"] += sum(p.fallback_operator == "figure" for p in result.people)
            shown[name][frame.name] = image
            _changed(frame, image, result is not None and result.success, tally)
            _detections(frame, image, before[frame.name], tally)
        person = np.array(tally.person)
        print(
            f"| {name} | {tally.private}/{tally.frames} | {tally.shapes['body']} / {tally.shapes['box']} "
            f"({tally.shapes['figure']}) "
            f"| {100 * statistics.mean(tally.background):.1f}% | {100 * float(np.median(person)):.0f}% "
            f"| {int((person < 0.2).sum())} | {tally.heads}/{persons} | {tally.tops_kept} "
            f"| {tally.private_heads_kept} | {tally.feet}/{persons} "
            f"| {tally.found_after / max(found_before, 1):.2f} | {tally.hog_after / max(hog_before, 1):.2f} "
            f"| {statistics.mean(tally.pck) if tally.pck else float('nan'):.2f} "
            f"| {statistics.median(tally.seconds):.2f} |"
        )
    if args.figure:
        crops = _crops(args.viper, args.figure_crops, names)
        _figure(frames, shown, names, args.figure_frames.split(","), crops, args.figure)


def _crops(root: Path, count: int, names: list[str]) -> list[torch.Tensor]:
    """The first ``count`` VIPeR test persons' cam_a crops, then each variant's concealment of
    them, each as one strip (3, 128, 48 * count); empty without VIPeR."""
    if count <= 0 or not root.is_dir():
        return []
    ids = default_metadata()["split"]["test"][:count]
    samples = sorted(
        (s for s in select(load_viper(root), ids) if s.camera_id == 0), key=lambda s: s.person_id
    )
    originals = list(load_images([s.path for s in samples]))
    strips = [torch.cat(originals, dim=2)]
    for name in names:
        results = deid.conceal_people([[c] for c in originals], config=VARIANTS[name])
        strips.append(torch.cat([r.images[0] for r in results], dim=2))
    return strips


def _figure(
    frames: list[Frame],
    shown: dict[str, dict[str, torch.Tensor]],
    names: list[str],
    which: list[str],
    crops: list[torch.Tensor],
    path: Path,
) -> None:
    """Rows: the original crops and each variant's (2x), then per frame the original and each
    variant side by side (240 px high)."""
    rows = []
    for strip in crops:
        pixels = (strip.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        rows.append(cv2.resize(pixels, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST))
    for frame in (f for f in frames if f.name in which):
        tiles = [frame.image] + [shown[name][frame.name] for name in names]
        rgb = [(t.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for t in tiles]
        scale = 240 / rgb[0].shape[0]
        size = (round(rgb[0].shape[1] * scale), 240)
        rows.append(np.concatenate([cv2.resize(t, size, interpolation=cv2.INTER_AREA) for t in rgb], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(
        str(path), cv2.cvtColor(np.concatenate(rows), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]
    )
    print(f"figure: {path} (crops: original, then {', '.join(names)} by row; frames: the same by column)")


if __name__ == "__main__":
    main()
