"""The finder's settings and what it returns for each person."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from deid.boxes import Box

#: The smallest frame the finder searches, (height, width) in pixels: HOG's 128x64 window at
#: the largest enlargement (x2).
MIN_FRAME = (64, 32)


#: The face net's default threshold (CenterFace's face probability; ``FinderConfig.faces``,
#: ``--faces``). On Penn-Fudan, lowered from 0.5 it proposes 16 more people, looked at: all but
#: one (unclear) people the finder missed or merged with a neighbour, one a woman whose face
#: stayed in the clear; 0.3 points more background changed (README, "Faces propose people").
FACE_THRESHOLD = 0.35
#: The quarter turns of a frame (``torch.rot90``'s ``k``: a quarter turn counter-clockwise each)
#: the face net looks at: upright, on either side and upside down (``FinderConfig.face_turns``,
#: and always in the look at a written frame, :func:`deid.loop.faces.faces_in_the_clear`).
TURNS = (0, 1, 2, 3)
#: The probability that makes a face in a frame turned a quarter or a half (``TURNS`` but 0), where
#: people standing up show the net shapes it takes for faces that are not. On the 96 Penn-Fudan
#: frames at 0.35 it found 28 such faces on the originals (the surest 0.55) and 6 on the frames
#: concealed (a round sign on a wall at 0.59, the surest); with the people of the bundled
#: PennPed00074 painted grey, that sign reached 0.63. Of the 245 faces the net finds upright at
#: 0.35, 126 reach 0.65: a frame on its side keeps about half of its faces found.
TURNED_FACE_THRESHOLD = 0.65
#: The face net also looks at the upright frame enlarged this much, for faces under about 16
#: pixels (:func:`deid.finder.faces_by_turn`), as long as the enlarged frame's longer side is at
#: most :data:`FACE_MAX_SIDE` (a larger frame is enlarged less, or not at all). In a new user's
#: review, PennPed00056 was reported private with four seated people behind a railing untouched,
#: faces 9-13 pixels wide that the net finds only enlarged.
FACE_UPSCALE = 2.0
#: The longest side, in pixels, the face net's enlarged look enlarges a frame to (1600x1200:
#: about 0.45 s and 0.4 GB more on this project's 2-core machine).
FACE_MAX_SIDE = 1600

#: The finder's named settings: ``FinderConfig()`` and ``FinderConfig.thorough()``.
FINDERS = ("default", "thorough")


class FrameTooSmallError(ValueError):
    """A frame is smaller than the finder can search."""


@dataclass(frozen=True)
class FinderConfig:
    """Settings of :func:`find_people` (measured on Penn-Fudan, see ``benchmarks/person_finder.py``).

    Attributes:
        detector: propose with MediaPipe's BlazePose person detector (needs LiteRT; see
            :mod:`deid.finder.detector`).
        tiles: the detector searches the whole frame and square tiles of these sides (pixels);
            a tile of ``t`` suits people about ``t / 2`` to ``t`` tall.
        tile_overlap: how much neighbouring tiles overlap.
        detect_threshold: the detector's score that makes a proposal.
        detect_reach: detections whose windows' centres lie within this fraction of a better
            one's side are one person.
        tile_reach: a tile's detection whose window is more than this many times the tile's
            side is dropped (None: kept); see :func:`deid.finder.detector.detect_windows`. Off
            by default: on Penn-Fudan's 96 frames, at 2 the thorough settings' second look
            covered 3 fewer labelled people by 90% of their mask (0.943 to 0.932; a person
            300 px tall seen in part by a 200 px tile is rightly given a window twice the
            tile's side and more). A video's thorough look sets it (:data:`deid.video.follow.THOROUGH`).
        hit_threshold: HOG's SVM threshold for proposals (OpenCV's default is 0; None: no HOG).
        hog_scale: HOG's pyramid step.
        upscale: HOG also searches the frame this much enlarged, for small people (1 to skip).
            At 2 (1 before) on Penn-Fudan's 96 frames, the labelled people with 90% of their
            mask inside a box found (uncertain boxes too: they are concealed) rose from 243 to
            248 of 263, with 0.14 more false boxes a frame, for about 1.5x the finder's time;
            concealed, 2 people were left under 20% changed instead of 5
            (``benchmarks/concealment_form.py``).
        upscale_levels: pyramid levels searched on the enlarged frame.
        merge_reach: proposals whose centres lie within this fraction of a better one's height
            (at a similar height) share its window.
        window_scale: a proposal's window side, as a multiple of its box height.
        confirm: presence probability that confirms a person.
        reject: presence below which a proposal is rejected; in between it is uncertain.
        gate: silhouette pixels are kept within this many torso lengths of the skeleton.
        span: the first pass sees only the proposal's columns widened by this fraction of its
            width on each side (None: the whole square window), which keeps neighbours out.
        neighbours: look again, in a window of its own, at a person-sized blob of a window's
            segmentation that no confirmed skeleton claims (a neighbour the window hid).
        beside: with ``neighbours``, also look on either side of every confirmed person, with
            everyone found blacked out, for someone walking beside them
            (:func:`~deid.finder.candidates.beside`).
        part: a person at most this fraction as tall as another, whose box lies inside the
            other's, is a part of that person the model took for a whole one (its silhouette is
            folded into the other's).
        settle: two windows whose centres lie within this fraction of a side (sides within a
            factor ``1 + 4 * settle``) are the same: a candidate re-centred onto its own window
            is not run again, onto a stronger one's is the same person.
        duplicate: two persons whose torso keypoints lie within this many torso lengths of each
            other on average are one person.
        faces: the probability that makes a face for the face net under the finder
            (:func:`deid.finder.faces.find_faces`, CenterFace): a face in the original frame
            that no found person's head holds proposes a person below it, and a face it still
            finds in a frame with its people concealed is concealed, and the frame is not
            private (:func:`deid.loop.frames.paste_people`). None: no face net. Default
            :data:`FACE_THRESHOLD`.
        face_turns: the quarter turns of the frame (:data:`TURNS`) in which a face proposes a
            person (below it in the frame turned that way: a frame stored on its side, a person
            lying down); ``(0,)`` looks upright only, three runs of the face net fewer.
        look: the frame path (:func:`deid.loop.frames.plan_frame`) looks at the frame again with
            the thorough settings (:func:`deid.finder.look.uncovered_people`); a person that
            look confirms whom the first one's boxes leave mostly uncovered is concealed too.
            Off in :meth:`thorough`, whose first look already has those settings.
        look_written: :func:`deid.loop.frames.paste_people` looks at the frame with its people
            pasted back concealed, with the thorough settings and HOG's proposals
            (:data:`deid.finder.look.WRITTEN_LOOK`): a person confirmed there whose
            silhouette the treatments leave under a fifth changed is concealed in their shape
            and listed as untreated (the frame is not private). With their neighbours
            concealed, people stand out whom no look found on the original: on 15 Penn-Fudan
            frames a new user's review ran, 4 frames held such people (a crowd behind the
            people found, a man at the edge, legs below boxes that stopped at the thigh).
    """

    detector: bool = True
    tiles: tuple[int, ...] = (300,)
    tile_overlap: float = 0.5
    detect_threshold: float = 0.2
    detect_reach: float = 0.2
    tile_reach: float | None = None
    hit_threshold: float | None = -0.3
    hog_scale: float = 1.2
    upscale: float = 2.0
    upscale_levels: int = 4
    merge_reach: float = 0.3
    window_scale: float = 1.0
    confirm: float = 0.5
    reject: float = 0.1
    gate: float = 0.45
    duplicate: float = 0.3
    span: float | None = 0.25
    neighbours: bool = True
    beside: bool = True
    part: float = 0.7
    settle: float = 0.08
    faces: float | None = FACE_THRESHOLD
    face_turns: tuple[int, ...] = TURNS
    look: bool = True
    look_written: bool = True

    @classmethod
    def thorough(cls, **changes: Any) -> FinderConfig:
        """Slower settings: more, smaller detector tiles, no HOG.

        On Penn-Fudan: recall 0.924, as the default since its HOG also searches the frame
        enlarged (0.916 before, when these settings were 2.6 times the default's time and found
        more), now at about 1.7 times the default's time, with more boxes on parts of people
        and on people the annotation leaves out (``benchmarks/person_finder.py`` prints both)."""
        return replace(cls(tiles=(300, 200), tile_overlap=0.3, hit_threshold=None, look=False), **changes)

    def __post_init__(self) -> None:
        if not 0.0 <= self.reject <= self.confirm <= 1.0:
            raise ValueError(
                f"FinderConfig needs 0 <= reject <= confirm <= 1, got reject={self.reject}, "
                f"confirm={self.confirm}"
            )
        for name in ("hog_scale", "upscale"):
            if getattr(self, name) < 1.0:
                raise ValueError(f"FinderConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.tile_overlap < 1.0 or not 0.0 <= self.detect_threshold <= 1.0:
            raise ValueError(
                "FinderConfig needs 0 <= tile_overlap < 1 and 0 <= detect_threshold <= 1, got "
                f"tile_overlap={self.tile_overlap}, detect_threshold={self.detect_threshold}"
            )
        if self.tile_reach is not None and not self.tile_reach > 0:
            raise ValueError(f"FinderConfig.tile_reach must be > 0 or None, got {self.tile_reach}")
        if any(not isinstance(t, int) or t < 32 for t in self.tiles):
            raise ValueError(f"FinderConfig.tiles must be whole pixel sides >= 32, got {self.tiles!r}")
        if self.faces is not None and not 0.0 < self.faces <= 1.0:
            raise ValueError(f"FinderConfig.faces must be in (0, 1] or None, got {self.faces}")
        for name in ("window_scale", "gate", "duplicate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FinderConfig.{name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class Person:
    """One person found in a frame.

    Attributes:
        box: the tight box around the silhouette (the grown proposal box when ``uncertain``), with
            the presence probability as its score.
        score: the landmark model's person-presence probability in [0, 1].
        mask: ``(H, W)`` bool silhouette at the frame's resolution (the box when ``uncertain``).
        keypoints: ``(33, 3)`` float32 ``x, y, visibility`` in frame pixels, MediaPipe's order
            (0 nose, 11/12 shoulders, 23/24 hips, 27/28 ankles, ...); points may lie outside the
            frame (a body cut off by its edge).
        uncertain: the model could neither confirm nor reject this proposal; conceal it by box.
        how: what found them: ``"finder"``, ``"face"`` (a box below a face the face net found,
            :func:`deid.finder.faces.people_below_faces`) or ``"second look"`` (a more thorough
            look the first one's boxes left uncovered, :func:`deid.finder.look.uncovered_people`).
    """

    box: Box
    score: float
    mask: torch.Tensor
    keypoints: torch.Tensor
    uncertain: bool
    how: str = "finder"


def named_finder(name: str) -> FinderConfig:
    """The finder settings :data:`FINDERS` names (``"default"`` or ``"thorough"``).

    Example:
        >>> named_finder("thorough").tiles
        (300, 200)
    """
    if name not in FINDERS:
        raise ValueError(f"finder must be one of {list(FINDERS)}, got {name!r}")
    return FinderConfig.thorough() if name == "thorough" else FinderConfig()
