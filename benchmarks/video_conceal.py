"""Conceal a real pedestrian video and measure it: speed, coverage, consistency, privacy per track.

    python -m benchmarks.video_conceal [--video ../shared/data/video/pets09_s2l1.avi]
        [--frames N] [--out runs/video] [--sheet benchmarks/figures/video_sheet.png] [--measured]
        [--misses misses.png] [--adversary strong|fast] [--no-motion] [--head-scale S] [--shape S] [--verify]

Prints, from one run:
- frames per second of the whole ``conceal_video`` call, and per stage;
- coverage: on every 20th frame, and on the frames 5, 10 and 15 after those (5 and 15:
  between the follower's looks), an independent look (the finder in small tiles) at the
  original frame; a person it confirms is *treated* when at least 30% of their silhouette
  changed in the written video (PETS has no person masks; this is the stand-in); all of them,
  and the passers-by, those whose silhouette mostly differs from the clip's still background
  (:data:`MOVING`: not a sign post the look takes for a person), the untreated ones listed
  (``--misses`` draws them), and over all those frames; of the passers-by treated, those with
  at least half of the top of their head changed (their head's ellipse from the keypoints,
  above the face's highest keypoint: the hair, which the silhouette often leaves out), and
  those with at least half of the bottom of their silhouette changed
  (:func:`benchmarks._masks.lowest_eighth`: the lowest eighth, shins and feet, which a box cut
  at the ankles the pose model places too high leaves out); the passers-by with more than a
  tenth of their silhouette outside every box of the report (a box that cuts a person at a
  side); and on those frames the background changed (:func:`_background`: outside every person
  the look proposes and everything that moves, PETS having no person masks);
- consistency: per track, the mean CIELAB colour of the changed pixels in each frame's box (all
  of it; the part no nearer person's box covers; the part no other person's box reaches, where
  only the track's own treatment can be drawn); the fraction of a track's frames within
  Delta E 10 of the track's median colour; and the same at the same place of the body (the part
  in front, boxes scaled to one grid: the frame's mean colour there against the track's median
  colour of those cells, so a two-tone outfit half hidden behind a nearer person is not counted
  as a change of colour), over the whole box and inside the person's silhouette (the issue's
  measure: an independent look, the pose model in each original crop; a farther person's
  treatment drawn in the box beside this one's body is not theirs);
- privacy per track, by the audit's attackers (the adversary network, both independent
  embedders, LOMO + XQDA fitted on VIPeR's training persons): each track long enough is queried
  with its concealed crop from its first third against every track's original crop from its last
  third (sightings the follower made, not bridged ones); rank-1 against chance (one over the
  tracks);
- the report's own verdicts (tracks private as written); for a run judged by the fast
  adversary (``--adversary fast``), the written video judged again, sighting by sighting, by
  the strong one's judge.
- with ``--verify``, ``deid verify``'s check of the written video against its report
  (:func:`deid.video.verify_video`, with a copy of the adversary whose caches are empty, as in a
  new process): its seconds and its counts beside the report's verdicts.
The contact sheet shows every 40th frame, original above, concealed below.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from benchmarks._masks import lowest_eighth
from benchmarks._video import DATA, video_parser
from deid.adversary import Adversary
from deid.audit.setup import audit_split, build_attackers
from deid.batch.config import ADVERSARIES
from deid.boxes import Box, nearest_last_order
from deid.finder import FinderConfig, Person, find_people, find_people_in_crops
from deid.loop import ConcealConfig
from deid.loop.bodies import SHAPES
from deid.loop.heads import ellipse_mask, head_ellipse
from deid.operators.figure import FIGURE_POSES
from deid.video import FollowConfig, VideoReader, VideoReport, conceal_video
from deid.video.io import as_float, cut_bytes, to_tensor
from deid.video.verification import judged_again, verify_video
from reid_model import load_viper
from reid_model.io import resize


def main() -> None:
    parser = video_parser(__doc__, frames=None, help_frames="only the first N frames")
    parser.add_argument("--viper", type=Path, default=DATA / "viper")
    parser.add_argument("--out", type=Path, default=Path("runs/video"))
    parser.add_argument("--sheet", type=Path, default=None, help="write the contact sheet here")
    parser.add_argument(
        "--misses",
        type=Path,
        default=None,
        help="draw the untreated passers-by here (PNG: original, written)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--head-scale", type=float, default=1.0, help="ConcealConfig.head_scale")
    parser.add_argument("--shape", choices=SHAPES, default="body", help="ConcealConfig.shape")
    parser.add_argument(
        "--figure-pose",
        choices=FIGURE_POSES,
        default=ConcealConfig.figure_pose,
        help="ConcealConfig.figure_pose",
    )
    parser.add_argument("--thorough-every", type=int, default=FollowConfig.thorough_every)
    parser.add_argument(
        "--adversary", choices=ADVERSARIES, default="strong", help="the loop's bundled adversary"
    )
    parser.add_argument(
        "--no-motion", action="store_true", help="the follower without its motion look (FollowConfig.motion)"
    )
    parser.add_argument("--verify", action="store_true", help="time deid verify on the written video")
    parser.add_argument(
        "--measured",
        action="store_true",
        help="measure the video and report an earlier run left in --out (concealed.mp4 and its .json)",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    source = args.video
    if args.frames is not None:
        source = _head(args.video, args.out / f"head{args.frames}.mp4", args.frames)
    output = args.out / "concealed.mp4"

    if args.measured:
        report = VideoReport.read(output.with_name(output.name + ".json"))
    else:
        start = time.perf_counter()
        report = conceal_video(
            source,
            output,
            config=ConcealConfig(
                seed=args.seed, head_scale=args.head_scale, shape=args.shape, figure_pose=args.figure_pose
            ),
            follow=FollowConfig(thorough_every=args.thorough_every, motion=not args.no_motion),
            adversary=Adversary.default(fused=args.adversary == "strong"),
            progress=False,
        )
        elapsed = time.perf_counter() - start
        print(
            f"speed: {report.frames_read / elapsed:.2f} frames/s whole call ({elapsed:.0f} s); "
            f"stages s {report.seconds}"
        )
    print(f"{report.frames_written}/{report.frames_read} frames, {len(report.tracks)} tracks")
    private = sum(t.private for t in report.tracks)
    frames = sum(len(t.sightings) for t in report.tracks)
    private_frames = sum(t.private_frames for t in report.tracks)
    print(
        f"report: {private}/{len(report.tracks)} tracks private in every frame; {private_frames}/{frames} sightings private"
    )

    originals = {f.index: f.pixels for f in VideoReader.open(source)}
    written = {f.index: f.pixels for f in VideoReader.open(output)}
    _coverage(originals, written, report, misses=args.misses)
    _consistency(report, originals, written)
    _privacy(report, originals, written, args.viper, args.seed)
    if args.adversary != "strong":
        _judged_strong(report, source, output)
    if args.verify:
        _verified(output.with_name(output.name + ".json"), report, args.adversary)
    if args.sheet is not None:
        _sheet(originals, written, args.sheet)
        print(f"contact sheet: {args.sheet}")


def _head(video: Path, out: Path, frames: int) -> Path:
    from deid.video import VideoWriter

    reader = VideoReader.open(video)
    with VideoWriter(out, reader.info) as writer:
        for frame in reader:
            if frame.index >= frames:
                break
            writer.write(frame)
    return out


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(int) - b.astype(int)).max(-1) > 25


#: A person the independent look confirms counts as a passer-by when at least this much of their
#: silhouette differs from the clip's still background (:func:`_still`): on PETS S2.L1 the look
#: also confirms a sign post, a sign's pole, a rail and patches of ground; of those left
#: untreated, the things had at most 0.28 of it moving and the people 0.97 or more (checked by
#: eye). A person standing in one place for more than half the clip would count as background.
MOVING = 0.5


def _still(originals: dict[int, np.ndarray]) -> np.ndarray:
    """The clip's still background: the median of every 5th frame (a still camera)."""
    return np.median(np.stack([originals[i] for i in sorted(originals)[::5]]), 0).astype(np.uint8)


def _coverage(
    originals: dict[int, np.ndarray],
    written: dict[int, np.ndarray],
    report: VideoReport,
    *,
    misses: Path | None,
) -> None:
    """People an independent look confirms, treated or not: on every 20th frame (frames the
    follower's finder also looked at, thoroughly on every other one) and on the frames 5, 10
    and 15 after them (5 and 15: frames only the tracking reaches); all of them, and the
    passers-by (:data:`MOVING`), whose untreated ones are listed (and drawn in ``misses``:
    original left, written right); then the passers-by of all those frames together, and how
    many of them have more than a tenth of their silhouette outside every box of the report (a
    box that cuts a person at a side, where the judge never looked)."""
    look = FinderConfig(tiles=(200, 120), upscale=2.0)
    still = _still(originals)
    drawn: list[np.ndarray] = []
    everyone: list[bool] = []
    outside: list[float] = []  # per passer-by, the share of their silhouette outside every box
    boxes = _in_frame(report)
    background = [0, 0]  # pixels of the background changed, and all of them
    for offset, what in (
        (0, "every 20th frame"),
        (5, "frames 5 after those, between looks"),
        (10, "frames 10 after"),
        (15, "frames 15 after"),
    ):
        people: list[tuple[bool, bool]] = []  # (treated, moving)
        hair: list[bool] = []
        feet: list[bool] = []
        untreated: list[str] = []
        for index in range(offset, len(originals), 20):
            changed = _changed(originals[index], written[index])
            moved = _changed(originals[index], still)
            found = find_people(to_tensor(originals[index]), config=look)
            boxed = np.zeros(changed.shape, dtype=bool)
            for b in boxes.get(index, {}).values():
                boxed[b.y : b.y + b.h, b.x : b.x + b.w] = True
            background_pixels = _background(
                moved,
                [p.mask.numpy() if p.uncertain else p.mask.numpy() | _hair(p, moved.shape) for p in found],
            )
            background[0] += int(changed[background_pixels].sum())
            background[1] += int(background_pixels.sum())
            for person in found:
                if person.uncertain:
                    continue
                mask = person.mask.numpy()
                treated = bool(changed[mask].mean() >= 0.3)
                moving = bool(moved[mask].mean() >= MOVING)
                people.append((treated, moving))
                if not moving:
                    continue
                outside.append(float((mask & ~boxed).sum() / max(mask.sum(), 1)))
                top = _hair(person, changed.shape)
                if treated and top.any():
                    hair.append(bool(changed[top].mean() >= 0.5))
                if treated:
                    feet.append(bool(changed[lowest_eighth(mask)].mean() >= 0.5))
                if not treated:
                    b = person.box
                    untreated.append(
                        f"{index} ({b.x}, {b.y}, {b.w}, {b.h}) {changed[mask].mean():.0%} changed"
                    )
                    drawn.append(_pair(originals[index], written[index], b))
        passing = [ok for ok, moving in people if moving]
        everyone += passing
        print(
            f"coverage ({what}): people an independent look confirms: {_share([ok for ok, _ in people])}; "
            f"those moving (passers-by): {_share(passing)}; of the treated passers-by, the top of the "
            f"head at least half changed: {sum(hair)}/{len(hair)}; the bottom of the silhouette at least "
            f"half changed: {sum(feet)}/{len(feet)}"
        )
        print(f"  passers-by untreated (frame, box, changed): {'; '.join(untreated) or 'none'}")
    print(f"coverage (every 5th frame): passers-by: {_share(everyone)}")
    cut = np.array(outside)
    print(
        f"  with more than a tenth of their silhouette outside every box: {int((cut > 0.1).sum())}/"
        f"{len(cut)} (more than a quarter: {int((cut > 0.25).sum())}; mean {cut.mean() if outside else 0:.1%})"
    )
    print(
        f"background (every 5th frame): {background[0] / max(background[1], 1):.1%} of the pixels outside "
        "every person the look proposes and everything that moves (grown by BACKGROUND_MARGIN) changed"
    )
    if misses is not None and drawn:
        _write(misses, _rows(drawn))
        print(f"  drawn in {misses}")


#: Pixels this close to a proposed person (or to what moves) are not counted as background: a
#: concealment may widen a body a little (``ConcealConfig.margin``) and reach over the hair.
BACKGROUND_MARGIN = 4


def _background(moved: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """``(H, W)`` bool: the frame's background, as far as PETS (no person masks) lets it be told:
    outside every person the independent look proposes (the silhouette of one it confirms with
    the top of their head, the box of one it is unsure of) and everything that moves from the
    clip's still background (people it missed who walk), each grown by
    :data:`BACKGROUND_MARGIN` pixels. A person concealed by their whole box changes the
    background around their silhouette."""
    people = moved.copy()
    for mask in masks:
        people |= mask
    side = 2 * BACKGROUND_MARGIN + 1
    return cv2.dilate(people.astype(np.uint8), np.ones((side, side), np.uint8)) == 0


def _share(treated: list[bool]) -> str:
    return f"{sum(treated)}/{len(treated)} treated, untreated {1 - sum(treated) / max(len(treated), 1):.1%}"


def _pair(original: np.ndarray, written: np.ndarray, box: Box, *, margin: int = 20) -> np.ndarray:
    """The frame around ``box`` (with ``margin``), original beside written, enlarged three times."""
    y0, x0 = max(0, box.y - margin), max(0, box.x - margin)
    y1, x1 = box.y + box.h + margin, box.x + box.w + margin
    pair = np.hstack([original[y0:y1, x0:x1], written[y0:y1, x0:x1]])
    return cv2.resize(pair, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)


def _rows(tiles: list[np.ndarray], *, per_row: int = 4) -> np.ndarray:
    """``tiles`` in rows of ``per_row``, padded white."""
    height = max(t.shape[0] for t in tiles)
    tiles = [
        cv2.copyMakeBorder(t, 0, height - t.shape[0], 0, 8, cv2.BORDER_CONSTANT, value=(255,) * 3)
        for t in tiles
    ]
    rows = [np.hstack(tiles[k : k + per_row]) for k in range(0, len(tiles), per_row)]
    width = max(r.shape[1] for r in rows)
    return np.vstack(
        [
            cv2.copyMakeBorder(r, 0, 8, 0, width - r.shape[1], cv2.BORDER_CONSTANT, value=(255,) * 3)
            for r in rows
        ]
    )


def _write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def _hair(person: Person, shape: tuple[int, ...]) -> np.ndarray:
    """``(H, W)`` bool: the part of ``person``'s head ellipse (from the keypoints) above their
    face's highest keypoint, where the hair is (the silhouette often stops at the eyes)."""
    ellipse = head_ellipse(person.keypoints)
    top = ellipse_mask(shape[0], shape[1], ellipse).numpy()
    top[max(0, int(person.keypoints[:11, 1].min())) :] = False
    return top


def _in_frame(report: VideoReport) -> dict[int, dict[int, Box]]:
    """Per frame, each track's box in it, by track number."""
    boxes: dict[int, dict[int, Box]] = {}
    for track in report.tracks:
        for frame, x, y, w, h, _, _ in track.sightings:
            boxes.setdefault(frame, {})[track.track] = Box(x, y, w, h)
    return boxes


def _consistency(
    report: VideoReport, originals: dict[int, np.ndarray], written: dict[int, np.ndarray]
) -> None:
    """Per track, the mean colour of the changed pixels in each frame's box, against the track's
    median: over the whole box; over the part of it no nearer person's box covers (where two
    people overlap the nearer one is drawn last, :func:`deid.boxes.nearest_last_order`, so
    there the colour shown is theirs); and over the part no other person's box reaches (a
    farther person's treatment shows in this one's box too, where this one's silhouette does
    not cover it); and in front at the same place of the body (:func:`_same_place`)."""
    in_frame = _in_frame(report)
    silhouettes = _silhouettes(report, originals)
    places = ("in front, same place", "in front, same place, in the silhouette")
    kept: dict[str, list[float]] = {name: [] for name in ("whole box", "in front", "alone", *places)}
    for track in report.tracks:
        colours: dict[str, list[np.ndarray]] = {name: [] for name in ("whole box", "in front", "alone")}
        grids: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in places}
        for frame, x, y, w, h, _, _ in track.sightings:
            box = (slice(y, y + h), slice(x, x + w))
            changed = _changed(originals[frame][box], written[frame][box])
            lab = cv2.cvtColor(written[frame][box], cv2.COLOR_RGB2LAB).astype(float)
            lab[..., 0] *= 100 / 255
            lab[..., 1:] -= 128
            nearer, others = _covered(in_frame[frame], track.track)
            chosen = {"whole box": changed, "in front": changed & ~nearer, "alone": changed & ~others}
            for name, pixels in chosen.items():
                if pixels.sum() >= 10:
                    colours[name].append(lab[pixels].mean(0))
            silhouette = silhouettes[track.track, frame]
            at_place = {places[0]: chosen["in front"]}
            if silhouette is not None:
                at_place[places[1]] = chosen["in front"] & silhouette
            for name, pixels in at_place.items():
                cells, shown = _on_grid(lab, pixels)
                if shown.any():
                    grids[name].append((cells, shown))
        for name, found in colours.items():
            if len(found) >= 5:
                colours_array = np.array(found)
                delta = np.linalg.norm(colours_array - np.median(colours_array, 0), axis=1)
                kept[name].append(float((delta < 10).mean()))
        for name, shown_grids in grids.items():
            if len(shown_grids) >= 5:
                kept[name].append(float((_same_place(shown_grids) < 10).mean()))
    for name, fractions in kept.items():
        if fractions:
            print(
                f"consistency ({name}): {len(fractions)} tracks of >= 5 treated frames; frames within "
                f"Delta E 10 of the track's colour: median {np.median(fractions):.1%}, worst "
                f"{min(fractions):.1%}; tracks with >= 95%: {sum(k >= 0.95 for k in fractions)}/{len(fractions)}"
            )


def _silhouettes(
    report: VideoReport, originals: dict[int, np.ndarray]
) -> dict[tuple[int, int], np.ndarray | None]:
    """Per track and frame, the person's silhouette in their box by an independent look (the
    pose model in the original crop, all crops in batches), None where it is not sure: the
    issue measures the treatment's colour inside the silhouette, where the pipeline's own
    silhouette is not in the report, and where another person's treatment can show in the box."""
    keys, crops = [], []
    for track in report.tracks:
        for frame, x, y, w, h, _, _ in track.sightings:
            keys.append((track.track, frame))
            crops.append(as_float(cut_bytes(originals[frame], Box(x, y, w, h))))
    found: list[Person] = []
    for start in range(0, len(crops), 64):
        found += find_people_in_crops(crops[start : start + 64], recentre=False)
    return {key: None if p.uncertain else p.mask.numpy() for key, p in zip(keys, found, strict=True)}


#: The grid a box is scaled to for the colour at the same place of the body (width, height).
GRID = (8, 24)


def _on_grid(lab: np.ndarray, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A box's CIELAB colours scaled to :data:`GRID`, and the cells made wholly of ``pixels``."""
    cells = cv2.resize(lab.astype(np.float32), GRID, interpolation=cv2.INTER_AREA)
    return cells, cv2.resize(pixels.astype(np.float32), GRID, interpolation=cv2.INTER_AREA) > 0.99


def _same_place(grids: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Per frame of a track, the colour difference between the frame's mean colour over the cells
    it shows (:func:`_on_grid`) and the track's median colour of those same cells."""
    if not grids:
        return np.zeros(0)
    cells = np.stack([np.where(shown[..., None], colour, np.nan) for colour, shown in grids])
    shown = ~np.isnan(cells[..., 0])
    median = np.nanmedian(np.where(shown.any(0)[None, ..., None], cells, 0.0), 0)
    return np.array(
        [
            np.linalg.norm(colour[seen].mean(0) - median[seen].mean(0))
            for colour, seen in zip(cells, shown, strict=True)
        ]
    )


def _covered(boxes: dict[int, Box], track: int) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of ``track``'s box that the boxes drawn after it in its frame (nearer people)
    cover, and those any other box covers."""
    tracks, box = list(boxes), boxes[track]
    order = [tracks[i] for i in nearest_last_order(list(boxes.values()))]
    later = set(order[order.index(track) + 1 :])
    nearer, others = np.zeros((box.h, box.w), dtype=bool), np.zeros((box.h, box.w), dtype=bool)
    for t, other in boxes.items():
        if t == track:
            continue
        x0, y0 = max(other.x - box.x, 0), max(other.y - box.y, 0)
        x1, y1 = min(other.x + other.w - box.x, box.w), min(other.y + other.h - box.y, box.h)
        inside = (slice(y0, max(y0, y1)), slice(x0, max(x0, x1)))
        others[inside] = True
        if t in later:
            nearer[inside] = True
    return nearer, others


def _privacy(
    report: VideoReport,
    originals: dict[int, np.ndarray],
    written: dict[int, np.ndarray],
    viper: Path,
    seed: int,
) -> None:
    # the sightings the follower made: a bridged one (a frame between two of the track's, the box
    # interpolated) may show the person hidden, or nobody
    followed = {t.track: [s for s in t.sightings if s[5] != "bridged"] for t in report.tracks}
    long = [t for t in report.tracks if len(followed[t.track]) >= 9]
    if len(long) < 2:
        print("privacy per track: fewer than two tracks of >= 9 frames")
        return
    samples = load_viper(viper)
    names = ["adversary", "independent", "independent_stripe", "handcrafted"]
    attackers = build_attackers(names, samples, audit_split(samples), seed=seed)

    def crop(pixels: np.ndarray, sighting: list[Any]) -> torch.Tensor:
        _, x, y, w, h, _, _ = sighting
        return resize(to_tensor(pixels[y : y + h, x : x + w])[None], (128, 48))[0]

    early = [followed[t.track][len(followed[t.track]) // 6] for t in long]
    late = [followed[t.track][5 * len(followed[t.track]) // 6] for t in long]
    query_concealed = torch.stack([crop(written[s[0]], s) for s in early])
    query_original = torch.stack([crop(originals[s[0]], s) for s in early])
    gallery = torch.stack([crop(originals[s[0]], s) for s in late])
    chance = 1 / len(long)
    print(
        f"privacy per track ({len(long)} tracks of >= 9 frames; chance {chance:.1%}): rank-1 concealed / original"
    )
    for attacker in attackers:
        hits = [
            int((attacker(query, gallery).argmin(1) == torch.arange(len(long))).sum())
            for query in (query_concealed, query_original)
        ]
        rates = " / ".join(f"{h / len(long):.1%} ({h})" for h in hits)
        print(f"  {attacker.name}: {rates}  (<= 2x chance: {hits[0] <= 2})")


def _verified(path: Path, report: VideoReport, adversary: str) -> None:
    """``deid verify``'s check of the written video, timed, beside the report's own verdicts."""
    fresh = dataclasses.replace(Adversary.default(fused=adversary == "strong"))  # empty caches
    start = time.perf_counter()
    result = verify_video(path, adversary=fresh)
    elapsed = time.perf_counter() - start
    private = sum(t.private_frames for t in report.tracks)
    print(
        f"verify: {elapsed:.0f} s; sightings {result.counts} (the report: {private} private of "
        f"{sum(len(t.sightings) for t in report.tracks)}); problems {result.problems or 'none'}; "
        f"exit code {result.exit_code}"
    )


def _judged_strong(report: VideoReport, source: Path, output: Path) -> None:
    """The written video judged again, sighting by sighting, by the strong adversary's judge
    (:func:`deid.video.verification.judged_again`, the run's references): what a run judged by
    a weaker one reports private, and what the strong one finds."""
    verdicts = judged_again(
        report, VideoReader.open(source), VideoReader.open(output), Adversary.default(fused=True)
    )
    own = sum(t.private_frames for t in report.tracks)
    strong = sum(sum(v) for v in verdicts)
    print(
        f"judged again by the strong adversary: {strong}/{sum(map(len, verdicts))} sightings private "
        f"(this run's own judge: {own}); {sum(all(v) for v in verdicts)}/{len(verdicts)} tracks "
        f"(own: {sum(t.private for t in report.tracks)})"
    )


def _sheet(originals: dict[int, np.ndarray], written: dict[int, np.ndarray], path: Path) -> None:
    picks = list(range(0, len(originals), 40))[:6]
    top = np.hstack([originals[i] for i in picks])
    bottom = np.hstack([written[i] for i in picks])
    sheet = np.vstack([top, bottom])
    scale = min(1.0, 1800 / sheet.shape[1])
    sheet = cv2.resize(sheet, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    _write(path, sheet)


if __name__ == "__main__":
    main()
