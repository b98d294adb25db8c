"""The face net under the person finder (CenterFace), on Penn-Fudan's 96 frames, in one run.

    python -m benchmarks.face_net --data ../shared/data/pennfudan [--thresholds 0.35 0.5 0.65]
        [--written OUT [OUT ...]] [--figure benchmarks/figures/face_net.png]

Prints, per threshold, on the original frames: the labelled people with a face found (a face
box whose pixels fall mostly in their mask), the faces that fall in no labelled mask (people
the annotation leaves out, or false faces), and the median milliseconds a frame.

With ``--written``, for each output folder of ``deid conceal`` on those frames (one with the
face net, ``--faces 0`` for one without): the faces the face net finds in the written frames at
the default threshold (0.35; in a labelled mask, and outside every one), the faces the run's
report lists as found and concealed, the frames that list any, and the frames reported private.
``--figure`` draws each face found in the written frames of the first folder, and each face its
report lists (original above, written below).

With ``--figures``: the stand-in figure (:class:`deid.operators.Figure`, standing, on an outfit
drawn with seed 0) pasted at every labelled person's box: the faces the face net finds on the
figures' heads and the share of their boxes' pixels in the figure's grey, beside that share
for the faces it finds on the originals (what :func:`deid.loop.faces.on_figure` tells apart).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.person_finder import Frame, load_pennfudan
from deid.boxes import Box
from deid.finder import find_faces
from deid.loop.faces import FIGURE_SHARE, figure_share
from deid.operators import Figure, OutfitFill
from deid.operators.outfit import COLORS, PATTERNS
from reid_model.io import read_image


def _owner(face: Box, frame: Frame) -> int | None:
    """The labelled person most of ``face``'s box lies on, or None."""
    if len(frame.masks) == 0:
        return None
    window = frame.masks[:, face.y : face.y + face.h, face.x : face.x + face.w]
    counts = window.reshape(len(window), -1).sum(1)
    return int(counts.argmax()) if counts.max() > 0 else None


def originals(frames: list[Frame], threshold: float) -> None:
    people = outside = 0
    seconds = []
    for frame in frames:
        start = time.perf_counter()
        faces = find_faces(frame.image, threshold=threshold)
        seconds.append(time.perf_counter() - start)
        owners = [_owner(f, frame) for f in faces]
        people += len({o for o in owners if o is not None})
        outside += sum(o is None for o in owners)
    labelled = sum(len(f.masks) for f in frames)
    print(
        f"| {threshold} | {people}/{labelled} | {outside} | {1000 * statistics.median(seconds):.0f} |",
        flush=True,
    )


def written(frames: list[Frame], folder: Path, figure: list[np.ndarray] | None) -> None:
    records = {Path(r["input"]).name: r for r in json.loads((folder / "report.json").read_text())["records"]}
    inside = outside = listed = with_faces = private = 0
    for frame in frames:
        record = records.get(f"{frame.name}.png")
        if record is None or record.get("output") is None:
            continue
        image = read_image(record["output"])
        faces = find_faces(image)
        owners = [_owner(f, frame) for f in faces]
        inside += sum(o is not None for o in owners)
        outside += sum(o is None for o in owners)
        said = [Box(*map(int, f[:4])) for f in record.get("faces") or []]
        listed += len(said)
        with_faces += bool(said)
        private += bool(record["success"])
        if figure is not None:
            for face in faces + said:
                figure.append(_tile(frame.image, image, face))
    print(f"| {folder} | {inside} | {outside} | {listed} | {with_faces} | {private} |", flush=True)


def figures(frames: list[Frame]) -> None:
    generator = torch.Generator().manual_seed(0)
    on_heads: list[float] = []
    real: list[float] = []
    people = 0
    for frame in frames:
        drawn = frame.image.clone()
        for box in frame.boxes:
            pick = torch.randint(len(COLORS), (2,), generator=generator)
            pattern = torch.randint(len(PATTERNS), (1,), generator=generator)
            figure = Figure(OutfitFill(COLORS[pick[:1]], COLORS[pick[1:]], patterns=pattern))
            crop = drawn[:, box.y : box.y + box.h, box.x : box.x + box.w]
            out = figure(crop[None], torch.ones(1, 1, *crop.shape[-2:]))[0]
            drawn[:, box.y : box.y + box.h, box.x : box.x + box.w] = (out * 255).round() / 255
            people += 1
        for face in find_faces(drawn):
            if any(b.holds_centre_of(face) for b in frame.boxes):
                on_heads.append(figure_share(drawn, face))
        real += [figure_share(frame.image, face) for face in find_faces(frame.image)]
    print(f"\nfigures pasted at {people} labelled people's boxes: {len(on_heads)} faces found on them,")
    if on_heads:
        print(f"  their boxes {100 * min(on_heads):.1f}-{100 * max(on_heads):.1f}% in the figure's grey")
    if real:
        print(
            f"  the {len(real)} faces on the original frames: at most {100 * max(real):.0f}% "
            f"(99% under {100 * float(np.quantile(real, 0.99)):.0f}%); a face counts as the figure's "
            f"head from {100 * FIGURE_SHARE:.0f}%"
        )


def _tile(original, concealed, face: Box) -> np.ndarray:
    height, width = original.shape[-2:]
    x0, y0 = max(0, face.x - face.w), max(0, face.y - face.h)
    x1, y1 = min(width, face.x + 2 * face.w), min(height, face.y + 3 * face.h)
    pair = [
        (img[:, y0:y1, x0:x1].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        for img in (original, concealed)
    ]
    tile = np.concatenate(pair, axis=0)
    return cv2.resize(tile, (96, round(96 * tile.shape[0] / tile.shape[1])), interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data/pennfudan"))
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.35, 0.5, 0.65])
    parser.add_argument("--written", type=Path, nargs="*", default=[])
    parser.add_argument("--figure", type=Path, default=None)
    parser.add_argument(
        "--figures", action="store_true", help="faces on stand-in figures pasted at the boxes"
    )
    args = parser.parse_args()
    frames = load_pennfudan(args.data)
    print(f"{len(frames)} frames, {sum(len(f.masks) for f in frames)} labelled people\n")
    print("| threshold | labelled people with a face found | faces outside every mask | ms a frame |")
    print("|---|---|---|---|")
    for threshold in args.thresholds:
        originals(frames, threshold)
    if args.figures:
        figures(frames)
    if not args.written:
        return
    figure: list[np.ndarray] | None = [] if args.figure is not None else None
    print(
        "\n| output folder | faces found in the written frames: in a mask | outside | faces its report lists | frames listing any | frames private |"
    )
    print("|---|---|---|---|---|---|")
    for i, folder in enumerate(args.written):
        written(frames, folder, figure if i == 0 else None)
    if figure:
        height = max(t.shape[0] for t in figure)
        row = np.concatenate([np.pad(t, ((0, height - t.shape[0]), (0, 4), (0, 0))) for t in figure], axis=1)
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.figure), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
        print(f"\nfigure: {args.figure}")


if __name__ == "__main__":
    main()
