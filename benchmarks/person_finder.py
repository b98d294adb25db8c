"""The person finder against HOG alone on Penn-Fudan's 96 frames, in one run.

    python benchmarks/person_finder.py --data ../shared/data/pennfudan [--figure benchmarks/figures/person_finder.png]

Prints, in one run, for OpenCV's HOG detector alone (``deid.detection.hog_people``, the finder
before issue 11), for HOG proposals confirmed by the landmark model without the person
detector, and for the finder (``deid.finder.find_people``) with its default and its thorough
settings, with its default before people were looked for beside the people found
(``beside=False``, the finder of the first issue-11 release, small parts at most half as
tall), and with its default before HOG also searched the frame enlarged (``upscale=1``; the
two earlier pipelines are run so too): recall and precision at IoU >= 0.5 against the
annotated boxes, false boxes per frame, the fraction of labelled persons with at least 90% of
their mask inside the boxes found (what concealing those boxes would cover), the median mask
IoU against ``PedMasks`` per matched person, the fraction of matched persons whose head
keypoint (the nose) falls inside their labelled mask, and median milliseconds per frame and
per labelled person. Uncertain proposals (concealed by box by default) are counted as boxes in
a separate row, so the precision of what gets concealed is visible too.

Penn-Fudan labels the upright pedestrians of each frame, not everyone in it: a box on a person
the annotation leaves out (in the background, seated, on a bicycle) counts as false here.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from deid.boxes import Box
from deid.detection import hog_people
from deid.finder import POSE_CONNECTIONS, FinderConfig, Person, find_people
from reid_model.io import read_image

_BOX = re.compile(r"\((\d+), (\d+)\) - \((\d+), (\d+)\)")


@dataclass(frozen=True)
class Frame:
    name: str
    image: torch.Tensor
    masks: np.ndarray  # (K, H, W) bool, one per labelled person
    boxes: list[Box]


def load_pennfudan(root: Path, limit: int | None = None) -> list[Frame]:
    """Frames, per-person masks and boxes (0-based, ``x, y, w, h``) of Penn-Fudan.

    Raises:
        FileNotFoundError: ``root`` has no ``PNGImages/*.png``.
    """
    paths = sorted((root / "PNGImages").glob("*.png"))[:limit]
    if not paths:
        raise FileNotFoundError(f"{root}: no PNGImages/*.png (expected the Penn-Fudan dataset's folder)")
    frames = []
    for path in paths:
        labels = cv2.imread(str(root / "PedMasks" / f"{path.stem}_mask.png"), cv2.IMREAD_UNCHANGED)
        text = (root / "Annotation" / f"{path.stem}.txt").read_text(encoding="latin-1")
        boxes = [
            Box(x0 - 1, y0 - 1, x1 - x0 + 1, y1 - y0 + 1)
            for x0, y0, x1, y1 in (map(int, m) for m in _BOX.findall(text))
        ]
        masks = np.stack([labels == k for k in range(1, len(boxes) + 1)])
        frames.append(Frame(path.stem, read_image(path), masks, boxes))
    return frames


def box_iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    return inter / (a.w * a.h + b.w * b.h - inter)


def match(truth: list[Box], found: list[Box], threshold: float = 0.5) -> list[tuple[int, int]]:
    """Greedy one-to-one matching by IoU (best pairs first): ``(truth index, found index)``."""
    pairs = sorted(
        ((box_iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)), reverse=True
    )
    used_t, used_f, out = set(), set(), []
    for iou, i, j in pairs:
        if iou < threshold:
            break
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
            out.append((i, j))
    return out


@dataclass
class Tally:
    truth: int = 0
    found: int = 0
    matched: int = 0
    frames: int = 0
    mask_ious: list[float] | None = None
    heads_in: int = 0
    heads: int = 0
    covered: int = 0

    def line(self, name: str, ms_frame: float, ms_person: float) -> str:
        recall = self.matched / max(self.truth, 1)
        precision = self.matched / max(self.found, 1)
        false = (self.found - self.matched) / max(self.frames, 1)
        miou = f"{statistics.median(self.mask_ious):.3f}" if self.mask_ious else "-"
        covered = self.covered / max(self.truth, 1)
        head = f"{self.heads_in / self.heads:.3f}" if self.heads else "-"
        return (
            f"| {name:<34} | {recall:.3f} | {precision:.3f} | {false:5.2f} | {covered:.3f} | {miou:>5} "
            f"| {head:>5} | {ms_frame:6.0f} | {ms_person:5.0f} |"
        )


def count_covered(frame: Frame, boxes: list[Box]) -> int:
    """Labelled persons with at least 90% of their mask's pixels inside the union of ``boxes``
    (what a box-wise concealment would change)."""
    inside = np.zeros(frame.masks.shape[1:], dtype=bool)
    for b in boxes:
        inside[max(0, b.y) : b.y + b.h, max(0, b.x) : b.x + b.w] = True
    return sum(int((mask & inside).sum() >= 0.9 * mask.sum()) for mask in frame.masks)


def score_people(frame: Frame, people: list[Person], confirmed: Tally, everything: Tally) -> None:
    sure = [p for p in people if not p.uncertain]
    for tally, chosen in ((confirmed, sure), (everything, people)):
        tally.truth += len(frame.boxes)
        tally.found += len(chosen)
        tally.frames += 1
        pairs = match(frame.boxes, [p.box for p in chosen])
        tally.matched += len(pairs)
        tally.covered += count_covered(frame, [p.box for p in chosen])
        if tally is confirmed:
            assert tally.mask_ious is not None
            for i, j in pairs:
                mask = chosen[j].mask.numpy()
                truth = frame.masks[i]
                tally.mask_ious.append(float((mask & truth).sum() / max((mask | truth).sum(), 1)))
                x, y = (round(float(v)) for v in chosen[j].keypoints[0, :2])
                tally.heads += 1
                inside = 0 <= y < truth.shape[0] and 0 <= x < truth.shape[1] and bool(truth[y, x])
                tally.heads_in += inside


def draw(frame: Frame, people: list[Person]) -> np.ndarray:
    """The frame (BGR uint8) with silhouettes tinted, boxes and skeletons drawn."""
    bgr = cv2.cvtColor(
        (frame.image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR
    )
    colours = [(60, 60, 230), (60, 200, 60), (230, 120, 40), (0, 200, 230), (200, 60, 200), (230, 230, 60)]
    overlay = bgr.copy()
    for k, person in enumerate(people):
        colour = (128, 128, 128) if person.uncertain else colours[k % len(colours)]
        overlay[person.mask.numpy()] = colour
    out = cv2.addWeighted(bgr, 0.55, overlay, 0.45, 0)
    for k, person in enumerate(people):
        colour = (128, 128, 128) if person.uncertain else colours[k % len(colours)]
        b = person.box
        cv2.rectangle(out, (b.x, b.y), (b.x + b.w - 1, b.y + b.h - 1), colour, 2)
        label = f"{'?' if person.uncertain else ''}{person.score:.2f}"
        cv2.putText(out, label, (b.x + 2, b.y + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
        if person.uncertain:
            continue
        pts = person.keypoints.numpy()
        for a, c in POSE_CONNECTIONS:
            pa, pc = tuple(int(v) for v in pts[a, :2]), tuple(int(v) for v in pts[c, :2])
            cv2.line(out, pa, pc, (255, 255, 255), 1, cv2.LINE_AA)
        for x, y, _ in pts:
            cv2.circle(out, (int(x), int(y)), 2, colour, -1, cv2.LINE_AA)
    return out


def figure(frames: list[Frame], found: dict[str, list[Person]], names: list[str], path: Path) -> None:
    """A row of frames (scaled to 220 px high) with what the finder found; written as PNG.

    Silhouettes are tinted per person, skeletons drawn in white, boxes labelled with the presence
    score; uncertain proposals are grey boxes marked ``?``; the annotation's boxes are thin black."""
    tiles = []
    for name in names:
        frame = next(f for f in frames if f.name == name)
        tile = draw(frame, found[name])
        for box in frame.boxes:  # the annotation, thin black
            cv2.rectangle(tile, (box.x, box.y), (box.x + box.w - 1, box.y + box.h - 1), (0, 0, 0), 1)
        scale = 220 / tile.shape[0]
        tiles.append(cv2.resize(tile, (round(tile.shape[1] * scale), 220), interpolation=cv2.INTER_AREA))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(tiles, axis=1), [cv2.IMWRITE_PNG_COMPRESSION, 9])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data/pennfudan"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N frames")
    parser.add_argument("--figure", type=Path, default=None, help="write a PNG of a few frames here")
    parser.add_argument("--figure-frames", default="PennPed00001,PennPed00007,PennPed00034,PennPed00074")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the models")
    args = parser.parse_args()
    frames = load_pennfudan(args.data, args.limit)
    torch.set_num_threads(args.threads)
    find_people(frames[0].image)  # load the models once before timing

    hog = Tally(mask_ious=[])
    hog_ms = []
    for frame in frames:
        start = time.perf_counter()
        boxes = hog_people(frame.image)
        hog_ms.append(1000 * (time.perf_counter() - start))
        hog.truth += len(frame.boxes)
        hog.found += len(boxes)
        hog.frames += 1
        hog.matched += len(match(frame.boxes, boxes))
        hog.covered += count_covered(frame, boxes)

    persons = sum(len(f.boxes) for f in frames)
    per_person = persons / len(frames)
    finders = {
        # the earlier pipelines as they were: HOG on the frame at its own scale
        "HOG + landmarks (no detector)": FinderConfig(
            detector=False, hit_threshold=-0.8, hog_scale=1.1, upscale=1.0
        ),
        "finder without looks beside (before)": FinderConfig(beside=False, part=0.5, upscale=1.0),
        "finder, HOG at the frame's scale (before)": FinderConfig(upscale=1.0),
        "finder": FinderConfig(),
        "finder, thorough": FinderConfig.thorough(),
    }
    print(
        f"Penn-Fudan: {len(frames)} frames, {persons} labelled persons; medians over frames; {args.threads} threads"
    )
    for name, config in finders.items():
        print(f"{name}: {config}")
    print(
        "| pipeline | recall@0.5 | precision | false boxes/frame | covered >= 90% | median mask IoU "
        "| head in mask | ms/frame | ms/person |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    hog_med = statistics.median(hog_ms)
    print(hog.line("HOG alone (before issue 11)", hog_med, hog_med / per_person))
    shown: dict[str, list[Person]] = {}
    for name, config in finders.items():
        confirmed, everything = Tally(mask_ious=[]), Tally()
        finder_ms, found = [], {}
        for frame in frames:
            start = time.perf_counter()
            people = find_people(frame.image, config=config)
            finder_ms.append(1000 * (time.perf_counter() - start))
            found[frame.name] = people
            score_people(frame, people, confirmed, everything)
        median = statistics.median(finder_ms)
        print(confirmed.line(f"{name}, confirmed", median, median / per_person))
        print(everything.line(f"{name}, + uncertain boxes", median, median / per_person))
        uncertain = sum(p.uncertain for people in found.values() for p in people)
        print(
            f"|   ({name}: {uncertain / len(frames):.2f} uncertain boxes per frame; ms/frame mean "
            f"{statistics.mean(finder_ms):.0f}, max {max(finder_ms):.0f}) |"
        )
        if name == "finder":
            shown = found
    if args.figure:
        names = [n for n in args.figure_frames.split(",") if n in shown]
        figure(frames, shown, names, args.figure)
        print(f"figure: {args.figure} ({args.figure.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
