"""People followed through a video: the person finder every few frames, the pose model in each
tracked box between, and motpy's Kalman tracker to tie them into tracks.

Every ``detect_every``-th frame the finder looks at the whole frame (:func:`deid.finder.find_people`),
every ``thorough_every``-th frame thoroughly (in small tiles too). Every ``pose_every``-th frame,
each live track's predicted box is searched by the pose model
(:func:`deid.finder.find_people_in_crops`), as MediaPipe's own pose tracking does; what it
confirms is that frame's sighting of the person; between, the person's last silhouette and pose
are carried to the predicted box. The sightings go to motpy's ``MultiObjectTracker``
(constant-velocity Kalman filter, IoU assignment), which keeps each person's identity. A track
the pose model loses is still concealed at its predicted box for up to ``max_gap`` frames (a
person half hidden behind another stays covered); a new track is looked for backwards over the
frames since the last look that would have found them (``backfill``), so a person who walks in
between two looks is concealed from their first frame. On every frame, what moves where no
sighting is (``motion``) is searched by the pose model too, so a person the looks missed is
found as soon as they move.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from deid.boxes import Box, box_pixels
from deid.finder import FinderConfig, Person, find_people, find_people_in_crops
from deid.video.io import Frame, as_float, to_bytes, to_tensor

#: A thorough look: the frame also searched in tiles of 200 and 120 pixels (people in groups and
#: far away), and enlarged twice. A tile's window more than twice its side is dropped (a person
#: that large is the whole frame's or the plain look's): on PETS S2.L1's thorough looks (every
#: 40th frame) the pose model, unsure in such windows, made uncertain people 150-250 px wide of
#: them, grown to the frame's edges and concealed by their boxes over the lawn, the road and the
#: building (an 80x360 band at frame 560); without them it confirmed as many people.
THOROUGH = FinderConfig(tiles=(200, 120), tile_reach=2.0)
#: How a person was seen in a frame (``"bridged"`` and ``"extended"``: put there afterwards,
#: between two sightings of the track or before its first at the video's start,
#: :func:`deid.video.recut.recut`).
HOW = ("found", "followed", "carried", "predicted", "backfilled", "matched", "bridged", "extended")
#: The ways of :data:`HOW` whose box was placed afterwards, not seen: it may show the person
#: hidden, or nobody.
PLACED = ("bridged", "extended")


@dataclass(frozen=True, eq=False)
class Sighting:
    """One person in one frame.

    Attributes:
        frame: the frame's index.
        track: the person's track number (0, 1, ... in the order the follower first saw them).
        box: where the person is, in the frame's pixels (inside the frame).
        silhouette: ``(box.h, box.w)`` bool, the person's pixels in the box (all of it when
            ``keypoints`` is None: no pose, conceal the box).
        keypoints: ``(33, 3)`` ``x, y, visibility`` in the box's pixels, or None.
        how: ``"found"`` by the finder, ``"followed"`` (the pose model in the tracked box),
            ``"carried"`` (between two frames of the pose model: the person's last silhouette
            and keypoints moved to the track's predicted box), ``"backfilled"`` (the pose
            model, backwards from a new track), ``"matched"`` (where the pose model does not confirm
            them, backwards from a new track or on from a lost one: their look matched, the box
            grown and concealed whole),
            ``"predicted"`` (the pose model lost the person: the track's predicted box,
            concealed whole), ``"bridged"`` (a frame between two sightings of the track:
            the box between theirs, concealed whole), or ``"extended"`` (a frame before the
            track's first sighting, at the video's start, where a person first found away from
            the frame's edges already stood or walked: the first box, and where the person's
            first steps lead back to, concealed whole).
        crop: ``(3, box.h, box.w)`` uint8, the frame's original pixels in the box.
    """

    frame: int
    track: int
    box: Box
    silhouette: torch.Tensor
    keypoints: torch.Tensor | None
    how: str
    crop: torch.Tensor


@dataclass(frozen=True)
class FollowConfig:
    """How people are followed through a video.

    Attributes:
        detect_every: the finder looks at the whole frame every this many frames.
        thorough_every: every this many frames (0: never) the full look is a thorough one
            (``thorough``: the frame also searched in tiles, for people in groups and far
            away), and a person it finds first is looked for backwards over the frames since
            the last thorough look.
        pose_every: the pose model looks in each tracked box every this many frames; between,
            a person's last silhouette and keypoints are carried to the track's predicted box
            (a person the pose model lost is looked for on every frame).
        max_gap: frames a track is kept (at its predicted box) without a sighting, and frames in
            a row its person is followed by their look alone (``"matched"``, :data:`LOOK`).
        backfill: look backwards from a new track over the recent frames kept (up to
            :attr:`Motion.frames`), not only since the last full look, which may have missed them
            (a cut of PETS S2.L1 from frame 200: a couple in view from its first frame, found by
            the motion look at frame 19, was in the clear on frames 0-8); where the pose model
            does not confirm a moving person, found by their look (:data:`LOOK`); a person walking
            in at the frame's edge, whom the pose model cannot confirm there, concealed at their
            box moved back.
        padding: the tracked box is grown by this fraction on each side for the pose model (and
            a track the pose model lost is concealed in its box grown so).
        min_iou: the IoU a sighting needs with a track's prediction to continue it.
        lost_damping: each frame a track goes without a sighting, its speed is multiplied by
            this (0: it stays where it was lost, 1: it goes on as it went). A person the pose
            model loses has often stopped or turned, and a box going on at their last speed
            passes them by. On PETS S2.L1, 0.7 left 3 of 866 passers-by untreated instead of 8
            (``benchmarks/video_conceal.py``, every 5th frame).
        finder: the person finder's settings for the plain looks: the frame also searched
            enlarged twice, for people 40-150 px tall. On PETS S2.L1 the tracks then cover 77.0%
            of the people a thorough look finds (following alone at 5.2 frames/s); looking
            every 5th frame adds nothing.
        thorough: the finder's settings for the thorough looks (:data:`THOROUGH`). On PETS
            S2.L1 a thorough look every 40th frame took the people an independent look finds
            untreated from 16.7% to 7.8% (``benchmarks/video_conceal.py``), following alone
            from 6.75 to 5.25 frames/s (``benchmarks/video_follow.py``).
        motion: on every frame, look where something moves that no sighting explains: the
            pixels that differ from the background (the median of recent frames, see
            :data:`MOTION`) outside the box of every person seen in the frame (a lost track's
            predicted box explains nothing), in person-shaped blobs; the pose model
            looks at each, and a person it confirms is found there (and looked for backwards,
            like any new track). For a still camera (surveillance footage); a frame where more
            than :data:`MOTION_MAX` of the pixels differ (the camera moved, the light changed)
            is skipped.
    """

    detect_every: int = 10
    thorough_every: int = 40
    pose_every: int = 2
    max_gap: int = 10
    backfill: bool = True
    padding: float = 0.15
    min_iou: float = 0.2
    lost_damping: float = 0.7
    finder: FinderConfig = field(default_factory=FinderConfig)
    thorough: FinderConfig = field(default_factory=lambda: THOROUGH)
    motion: bool = True

    def __post_init__(self) -> None:
        if self.detect_every < 1 or self.pose_every < 1 or self.max_gap < 0 or self.thorough_every < 0:
            raise ValueError(
                "detect_every and pose_every must be >= 1, max_gap and thorough_every >= 0, got "
                f"{self.detect_every}, {self.pose_every}, {self.max_gap} and {self.thorough_every}"
            )
        if not 0.0 <= self.padding <= 1.0 or not 0.0 < self.min_iou <= 1.0:
            raise ValueError(
                f"padding must be in [0, 1] and min_iou in (0, 1], got {self.padding}, {self.min_iou}"
            )
        if not 0.0 <= self.lost_damping <= 1.0:
            raise ValueError(f"lost_damping must be in [0, 1], got {self.lost_damping}")


def follow_people(
    frames: Iterable[Frame],
    *,
    fps: float,
    config: FollowConfig | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> list[list[Sighting]]:
    """Every person of every frame, tied into tracks: per frame, its sightings.

    Args:
        frames: the video's frames, in order.
        fps: the frame rate (the tracker's time step is ``1 / fps``).
        config: see :class:`FollowConfig`.
        on_frame: called with each frame's index once it is done (progress).

    Example:
        >>> sightings = follow_people(VideoReader.open("clip.avi"), fps=10)  # doctest: +SKIP
        >>> sorted({s.track for frame in sightings for s in frame})[:3]  # doctest: +SKIP
        [0, 1, 2]
    """
    follower = Follower(config or FollowConfig(), fps)
    follower.follow(frames, on_frame)
    return follower.by_frame


class KalmanTracks:
    """motpy's ``MultiObjectTracker`` (a constant-velocity Kalman filter per track, IoU
    assignment), saying which track took which box; tracks are named by motpy's ids.

    Args:
        fps: the frame rate (the filter's time step is ``1 / fps``).
        max_gap: frames a track is kept without a box.
        min_iou: the IoU a box needs with a track's prediction to continue it.
        damping: a track without a box has its speed multiplied by this at each prediction.
    """

    def __init__(self, fps: float, *, max_gap: int, min_iou: float, damping: float = 1.0) -> None:
        from motpy import MultiObjectTracker
        from motpy.tracker import IOUAndFeatureMatchingFunction

        self._matching = IOUAndFeatureMatchingFunction(min_iou=min_iou)
        self._pairs: list[tuple[str, int]] = []
        self._owners: dict[int, str] = {}
        self.damping = damping
        self._tracker = MultiObjectTracker(
            dt=1.0 / max(fps, 1e-3),
            matching_fn=self._match,
            tracker_kwargs={"max_staleness": max_gap, **_SMOOTHING},
        )

    def _match(self, trackers: list[Any], detections: list[Any]) -> np.ndarray:
        """motpy's IoU matching, but a box with an owner (:meth:`step`) goes to its track."""
        at = {t.id: i for i, t in enumerate(trackers)}
        owned = [(at[key], d) for d, key in self._owners.items() if key in at]
        free_t = [i for i in range(len(trackers)) if i not in {t for t, _ in owned}]
        free_d = [d for d in range(len(detections)) if d not in {d for _, d in owned}]
        pairs = list(owned)
        if free_t and free_d:
            matched = self._matching([trackers[i] for i in free_t], [detections[d] for d in free_d])
            pairs += [(free_t[int(t)], free_d[int(d)]) for t, d in matched]
        self._pairs = [(trackers[t].id, d) for t, d in pairs]
        return np.array(pairs, dtype=int).reshape(-1, 2)

    def predicted(self) -> dict[str, np.ndarray]:
        """Each live track's predicted box ``x0, y0, x1, y1`` for the coming frame (its Kalman
        filter's prediction; motpy itself predicts only inside ``step``). A track gone stale
        (without a box lately) is slowed by ``damping`` first (its speed, in the filter's
        state, the entry after each position's)."""
        for t in self._tracker.trackers:
            if t.staleness > 0:
                t._tracker.x[t.model.pos_idxs + 1] *= self.damping
        live = {t.id for t in self._tracker.active_tracks()}
        return {
            t.id: t.model.x_to_box(t._tracker.F @ t._tracker.x).reshape(-1)
            for t in self._tracker.trackers
            if t.id in live
        }

    def box(self, key: str) -> np.ndarray:
        """Track ``key``'s box now."""
        return next(t.box() for t in self._tracker.trackers if t.id == key)

    def alive(self, key: str) -> bool:
        return any(t.id == key for t in self._tracker.trackers)

    def staleness(self, key: str) -> int:
        """About how many frames track ``key`` has gone without a box (motpy's staleness: one
        more a frame without, three fewer a frame with one)."""
        return next(round(t.staleness) for t in self._tracker.trackers if t.id == key)

    def step(
        self, boxes: Sequence[np.ndarray], scores: Sequence[float], owners: dict[int, str] | None = None
    ) -> tuple[dict[str, int], list[str]]:
        """One frame's boxes ``x0, y0, x1, y1``: which track took which box (track -> box
        index; every box is taken, a new track starting at a box no track continued), and the
        tracks started at this frame. ``owners``: box index -> the live track that takes it
        whatever its IoU (a lost track's person found by their look, away from its prediction)."""
        from motpy import Detection

        self._owners = dict(owners or {})

        detections = [
            Detection(box=np.asarray(b, dtype=float), score=s) for b, s in zip(boxes, scores, strict=True)
        ]
        known = {t.id for t in self._tracker.trackers}
        self._tracker.step(detections)
        taken = dict(self._pairs)
        new = [t for t in self._tracker.trackers if t.id not in known]
        for tracker in new:  # motpy's smoothing closures do not pickle; the same, rebuilt when unpickled
            tracker.update_score_fn = _Smoothing(_SMOOTHING["smooth_score_gamma"])
            tracker.update_feature_fn = _Smoothing(_SMOOTHING["smooth_feature_gamma"])
        free = sorted(set(range(len(detections))) - set(taken.values()))
        for tracker in new:  # a new track starts at its box: the free box nearest it
            box = min(free, key=lambda d: np.abs(tracker.box() - detections[d].box).sum())
            taken[tracker.id] = box
            free.remove(box)
        return taken, [t.id for t in new]


#: The widest box, for its height, the thorough look keeps: on PETS S2.L1 its small tiles
#: confirmed a tripod on the lawn and parts of the building as people 110-200 px wide and less
#: tall, each concealed by a large box; a standing or walking person is taller than wide (and
#: one who is not is still found by the plain look).
WIDEST = 1.0


@dataclass(frozen=True)
class Motion:
    """What counts as a moving person for ``FollowConfig.motion``.

    Attributes:
        threshold: a pixel moved when a channel differs from the background by more (in [0, 1]).
        frames, every: the background is the median of every ``every``-th of the last
            ``frames`` frames (once five of them are there), renewed at each full look.
        pixels, height: a blob needs this many pixels and this height.
        upright: ... and must be at least this many times as tall as wide (a person standing
            or walking; a flapping tape or a shadow's edge is wider).
    """

    threshold: float = 0.12
    frames: int = 40
    every: int = 4
    pixels: int = 40
    height: int = 12
    upright: float = 0.8


#: Where the person the pose model confirms in a tracked box touches the box's side (inside the
#: frame), the model looks again in a window this fraction of the box's height wide, centred on
#: that person (:meth:`Follower._looks_whole`). A box grown only by ``padding`` of its width hid,
#: beyond its sides, the arm and leg of a person striding out of it: the model saw the cut
#: person, its silhouette stopped at the cut, and the track kept the cut box from then on (PETS
#: S2.L1, frames 700-704: a woman's back half, and frame 754: a man's head and back leg, beside
#: their concealed boxes). Every tracked box widened so, the looks caught neighbours instead,
#: whose tracks then ended as duplicates (frames 35 and 685: a woman beside a man left
#: untreated). The model's window is square (1.25 times the box's height), so a wider cut costs
#: no resolution.
WINDOW_WIDTH = 0.5
#: The motion look's settings.
MOTION = Motion()


@dataclass(frozen=True)
class Look:
    """When a person the pose model does not confirm (looking back from a new track, or going on
    with a lost one) is still found by their look (:func:`_matched`).

    Attributes:
        score: the normalized correlation (``cv2.TM_CCOEFF_NORMED``) their pixels, inside their
            silhouette, need with the frame.
        sure: a match this close becomes their look for the frames before, where they move.
        moving: a look is of a moving person where this fraction of their silhouette differs
            from the background.
        skip: looking back, where neither the pose model nor their look finds them moving, up
            to this many frames are skipped (a person passing behind a post; searched wider in
            the frame before), or concealed where their look matches the still background (a
            person who stood still).
        across, along: searched this fraction of their box's width to each side, and of its
            height above and below, of where they were a frame later (per frame apart).
        pixels: a silhouette of fewer pixels is not matched.
    """

    score: float = 0.6
    sure: float = 0.75
    moving: float = 0.3
    skip: int = 2
    across: float = 0.5
    along: float = 0.15
    pixels: int = 40


#: A person's look, matched where the pose model does not confirm them.
LOOK = Look()
#: A frame where more than this fraction of the pixels moved is not searched for moving people
#: (the camera moved, or the light changed).
MOTION_MAX = 0.2
#: Two sightings in a frame are one person when this much of the smaller silhouette lies
#: inside the other.
SAME = 0.5
#: motpy's smoothing of a track's score and feature (its defaults, given so that they are known).
_SMOOTHING = {"smooth_score_gamma": 0.8, "smooth_feature_gamma": 0.9}


class _Smoothing:
    """motpy's exponential moving average, which pickles (rebuilt from ``gamma`` when unpickled)."""

    def __init__(self, gamma: float) -> None:
        from motpy.tracker import exponential_moving_average_fn

        self.gamma = gamma
        self._fn = exponential_moving_average_fn(gamma)

    def __call__(self, old: Any, new: Any) -> Any:
        return self._fn(old=old, new=new)

    def __getstate__(self) -> dict[str, float]:
        return {"gamma": self.gamma}

    def __setstate__(self, state: dict[str, float]) -> None:
        self.__init__(state["gamma"])  # type: ignore[misc]


class Follower:
    """Follows people one frame at a time (:meth:`step`; :meth:`follow` to the video's end, the
    last frame looked at whole); ``by_frame`` holds the sightings so
    far. Its whole state pickles (or, :meth:`saved_state`, all but the frames already saved), so a
    long video can be followed in segments (:class:`deid.video.resume.SavedFollower`).

    Args:
        config: see :class:`FollowConfig`.
        fps: the frame rate (the tracker's time step is ``1 / fps``).
    """

    def __init__(self, config: FollowConfig, fps: float) -> None:
        self.config = config
        self.tracks = KalmanTracks(
            fps, max_gap=config.max_gap, min_iou=config.min_iou, damping=config.lost_damping
        )
        self.numbers: dict[str, int] = {}
        self.by_frame: list[list[Sighting]] = []
        self.recent: deque[tuple[int, torch.Tensor]] = deque(maxlen=self._keep())
        self.background: torch.Tensor | None = None
        #: Per track, the person's look (pixels, silhouette) where the pose model last saw them
        #: move, and how many frames in a row they have been found by it alone.
        self.looks: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.matched: dict[str, int] = {}

    def __getstate__(self) -> dict[str, Any]:
        """The state to pickle, the recent frames as their bytes (a quarter of the floats)."""
        return self.saved_state()

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        recent = state.pop("recent")
        self.__dict__.update(state)
        # the very floats to_tensor made of these bytes
        self.recent = deque(((index, as_float(pixels)) for index, pixels in recent), maxlen=self._keep())

    @property
    def settled(self) -> int:
        """How many of the first frames' sightings no later step changes (a backfill reaches back
        over the recent frames only)."""
        return max(0, len(self.by_frame) - self._keep())

    def saved_state(self, start: int = 0) -> dict[str, Any]:
        """The state to save, with the sightings of frames ``start`` on only (the earlier ones
        saved apart, see :meth:`resumed`)."""
        state = self.__dict__.copy()
        state["recent"] = [(index, to_bytes(image)) for index, image in self.recent]
        state["by_frame"] = self.by_frame[start:]
        return state

    @classmethod
    def resumed(cls, state: dict[str, Any], earlier: list[list[Sighting]]) -> Follower:
        """The follower saved as ``state`` (:meth:`saved_state`), its frames before the state's
        first being ``earlier``."""
        follower = cls.__new__(cls)
        follower.__setstate__(state)
        follower.by_frame = earlier + follower.by_frame
        return follower

    def follow(self, frames: Iterable[Frame], on_frame: Callable[[int], None] | None = None) -> None:
        """:meth:`step` through ``frames``, the video's next frames to its end: the finder looks at
        the last one whatever its index, so a person who came in since its last look is found and
        followed back (on PETS S2.L1's first 40 frames, cut as a clip, a man walking in at the
        right edge from frame 35 was in the clear to the end, in no track and in no list).
        ``on_frame`` is called with each frame's index once it is done."""
        ahead = iter(frames)
        frame = next(ahead, None)
        while frame is not None:
            after = next(ahead, None)
            self.step(frame, last=after is None)
            if on_frame is not None:
                on_frame(frame.index)
            frame = after

    def _keep(self) -> int:
        """How many recent frames a backfill may look back over, or the motion look learn the
        background from."""
        motion = MOTION.frames if self.config.motion else 0
        return max(self.config.detect_every, self.config.thorough_every, motion)

    def step(self, frame: Frame, *, last: bool = False) -> None:
        """Follow the people into ``frame`` (the next frame of the video; ``last``: the video ends
        with it, and the finder looks at it)."""
        image = to_tensor(frame.pixels)
        height, width = image.shape[1:]
        predicted: dict[str, Box] = {}
        targets: dict[str, Box | None] = {}  # the predicted boxes, not grown
        carried: dict[str, _Seen] = {}
        carry = frame.index % self.config.pose_every != 0 and frame.index % self.config.detect_every != 0
        previous = {s.track: s for s in self.by_frame[-1]} if self.by_frame else {}
        leaving: list[str] = []  # predicted out of the frame
        for key, xyxy in self.tracks.predicted().items():
            box = _box(xyxy, width, height, self.config.padding)
            if box is None:
                leaving.append(key)
                continue
            predicted[key] = box
            before = previous.get(self.numbers.get(key, -1))
            target = targets[key] = _box(xyxy, width, height, 0.0)
            if carry and before is not None and before.keypoints is not None and target is not None:
                carried[key] = _Seen.carried(before, target)
        looked = [key for key in predicted if key not in carried]  # all in one batch
        windows = [predicted[k] for k in looked]
        seen_in = dict(
            zip(looked, self._looks_whole(image, windows, [targets[k] for k in looked]), strict=True)
        )
        followed = {key: carried[key] if key in carried else seen_in[key] for key in predicted}
        people: list[_Seen] = []
        how: list[str] = []
        for key in sorted(followed, key=lambda k: self.numbers.get(k, len(self.numbers))):  # oldest first
            seen = followed[key]
            if seen is None:
                continue
            if _one_of(seen, people):
                # The pose model in the younger track's box saw a person an older track has: the
                # younger is lost, concealed at its predicted box while it lives, never ended (its
                # person may be beside or behind the other: PETS S2.L1's first 40 frames, a woman
                # walking beside a man, her track ended on frame 34 and her in the clear there;
                # people crossing at frames 685 and 740, the one behind in the clear)
                continue
            people.append(seen)
            how.append("carried" if key in carried else "followed")
        differs = self._differs(image)
        lost = [
            k for k in sorted(predicted, key=lambda k: self.numbers.get(k, 0)) if followed[k] not in people
        ]
        owners: dict[int, str] = {}
        for key, seen in self._matched_on(image, differs, lost, targets, people):
            owners[len(people)] = key
            people.append(seen)
            how.append("matched")
        thorough = self.config.thorough_every > 0 and frame.index % self.config.thorough_every == 0
        if thorough or last or frame.index % self.config.detect_every == 0:
            finder = self.config.thorough if thorough else self.config.finder
            for person in find_people(image, config=finder, known=[p.box for p in people]):
                if thorough and person.box.w > WIDEST * person.box.h:
                    continue
                found = _Seen.of(person)
                if not _one_of(found, people):
                    people.append(found)
                    how.append("found")
        moved = self._moved(image, frame.index) if self.config.motion else None
        if moved is not None:  # something moves where nobody is: the pose model looks there
            # Only the people seen explain motion, not a lost track's predicted box: a person the
            # pose model lost there may be walking out of it (PETS S2.L1, frames 722-725).
            explained = [_grown(p.box, self.config.padding, width, height) or p.box for p in people]
            moved &= ~box_pixels(explained, height, width)
            blobs = [_grown(blob, self.config.padding, width, height) or blob for blob in person_blobs(moved)]
            for seen in self._looks(image, blobs):
                if seen is not None and not _one_of(seen, people):
                    people.append(seen)
                    how.append("found")
        walking_out = {} if moved is None else self._walking_out(leaving, moved, people, width, height)
        taken, new = self.tracks.step(
            [np.array(p.box.corners) for p in people], [p.score for p in people], owners
        )
        sightings = []
        for key, det in taken.items():
            number = self.numbers.setdefault(key, len(self.numbers))
            seen = people[det]  # found by their look alone: their box grown, concealed whole
            whole = _grown(seen.box, self.config.padding, width, height) if how[det] == "matched" else None
            sightings.append(_sighting(frame.index, number, whole or seen, how[det], image))
            self._remember(key, seen, how[det], image, differs)
        for key, box in (predicted | walking_out).items():  # lost by the pose model: where predicted, whole
            if key not in taken and key in self.numbers and self.tracks.alive(key):
                sightings.append(_sighting(frame.index, self.numbers[key], box, "predicted", image))
        self.by_frame.append(sorted(sightings, key=lambda s: s.track))
        if self.config.backfill:  # over every recent frame: the looks before may have missed them
            for key in new:
                box = _box(self.tracks.box(key), width, height, self.config.padding)
                self._backfill(self.numbers[key], box, image)
        self.recent.append((frame.index, image))

    def _matched_on(
        self,
        image: torch.Tensor,
        moved: torch.Tensor | None,
        lost: Sequence[str],
        targets: dict[str, Box | None],
        people: Sequence[_Seen],
    ) -> list[tuple[str, _Seen]]:
        """The people of the ``lost`` tracks (the pose model did not confirm them) found by their
        look (:func:`_matched`) near the track's predicted box (``targets``; searched wider the
        longer the track has gone without a box, its speed damped meanwhile), where they move (by
        the ``moved`` pixels), for up to ``max_gap`` frames in a row, and not one of ``people``:
        a person who turns or is half hidden is followed, not left beside a box going on without
        them (a cut of PETS S2.L1 from frame 730: a woman hidden behind a man for four frames
        came out a box's width from her track's slowed box, in the clear). Each with its track,
        which takes it (:meth:`KalmanTracks.step`)."""
        found: list[tuple[str, _Seen]] = []
        for key in lost:
            look, near = self.looks.get(key), targets.get(key)
            if look is None or near is None or self.matched.get(key, 0) >= self.config.max_gap:
                continue
            box, score, moving = _matched(image, look, near, 1 + self.tracks.staleness(key), moved)
            if score < LOOK.score or not moving:
                continue
            seen = _Seen(box, score, torch.zeros(33, 3), look[1], posed=False)
            if not _one_of(seen, [*people, *(f for _, f in found)]):
                found.append((key, seen))
        return found

    def _remember(
        self, key: str, seen: _Seen, how: str, image: torch.Tensor, moved: torch.Tensor | None
    ) -> None:
        """Keep track ``key``'s look where the pose model saw the person move (``how`` they were
        seen; by the ``moved`` pixels), and count the frames in a row they were found by their
        look alone."""
        self.matched[key] = self.matched.get(key, 0) + 1 if how == "matched" else 0
        if how in ("found", "followed") and seen.posed and _moving(moved, seen.box, seen.silhouette):
            self.looks[key] = (_bytes_in(image, seen.box), seen.silhouette)

    def _moved(self, image: torch.Tensor, index: int) -> torch.Tensor | None:
        """``(H, W)`` bool, the pixels that differ from the background; None while the background
        is not known yet, or when more than :data:`MOTION_MAX` of the frame moved."""
        if index % self.config.detect_every == 0 or self.background is None:
            self.background = _background([im for _, im in self.recent])
        moved = self._differs(image)
        return None if moved is None or float(moved.float().mean()) > MOTION_MAX else moved

    def _looks(self, image: torch.Tensor, windows: Sequence[Box]) -> list[_Seen | None]:
        """The pose model in each of ``windows`` (padded track boxes, moving blobs; all in one
        batch): the person it confirms in each, in frame pixels."""
        crops = {i: image[:, w.y : w.y + w.h, w.x : w.x + w.w] for i, w in enumerate(windows)}
        crops = {i: crop for i, crop in crops.items() if min(crop.shape[1:]) >= 8}
        people = find_people_in_crops(list(crops.values()), config=self.config.finder, recentre=False)
        seen: list[_Seen | None] = [None] * len(windows)
        for i, person in zip(crops, people, strict=True):
            if not person.uncertain:
                seen[i] = _Seen.of(person, windows[i])
        return seen

    def _looks_whole(
        self, image: torch.Tensor, windows: Sequence[Box], targets: Sequence[Box | None]
    ) -> list[_Seen | None]:
        """:meth:`_looks` in tracked ``windows``, looking again, wider, where the person seen
        touches a window's side (:data:`WINDOW_WIDTH`). The wider sighting is kept when it is
        the same person (most of the first silhouette inside it, :data:`SAME`) and the track
        still takes it (an IoU of at least ``min_iou`` with the track's predicted box in
        ``targets``): a person found whole beside a track that ran ahead of them would start a
        new track, and the older track's look would end it at once as its duplicate."""
        seen = self._looks(image, windows)
        width = image.shape[2]
        cut = [
            (i, first, target)
            for i, (first, target) in enumerate(zip(seen, targets, strict=True))
            if first is not None and target is not None and _at_side(first.box, windows[i], width)
        ]
        wider = self._looks(image, [_widened(windows[i], width, first.box) for i, first, _ in cut])
        for (i, first, target), again in zip(cut, wider, strict=True):
            if (
                again is not None
                and _shared(first, again) > SAME
                and _iou(again.box, target) >= self.config.min_iou
            ):
                seen[i] = again
        return seen

    def _backfill(self, number: int, box: Box | None, image: torch.Tensor) -> None:
        """Look for a new track's person (at ``box`` in ``image``, the frame they were found in)
        in the recent frames, newest first, until they are not there. A frame where they are
        someone's already (another track's box covers them) is passed, and the look goes on
        before it: a man standing behind the sign post of PETS S2.L1, found late, was followed
        back only to where another person's box had covered him, and was in the clear before it
        (a cut from frame 100, its first two frames).

        Where the pose model does not confirm a person, their look (their pixels inside the
        silhouette, from the newest frame where they moved) is matched in the frame
        (:func:`_matched`), and where it matches they are concealed at its box, whole
        (``"matched"``). Where neither finds them while the person's window reaches the
        frame's edge, they are walking in, cut by the edge (half a person, which the model does
        not confirm): from there back they are concealed at their box moved back
        (:meth:`_walked_in`). Both only for a person the model confirmed once: of the 31
        tracks walked back on PETS S2.L1, 11 began with an unsure proposal, and 10 of those
        were things (looked at: a sign at the edge, the top of the building, grass); the one
        person among them, walking in on frame 40, showed a sliver of a leg at the edge on
        frame 39 only."""
        newest = [s for s in self.by_frame[-1] if s.track == number]
        boxes = [s.box for s in newest]  # newest first
        # their look, pixels and silhouette, to match where the pose model does not confirm them
        # (an unsure proposal is not walked back, nor matched)
        posed = [s for s in newest if s.keypoints is not None]
        moved = self._differs(image)
        look = next(((s.crop, s.silhouette) for s in posed if _moving(moved, s.box, s.silhouette)), None)
        earlier = list(reversed(self.recent))
        found, unsure = -1, 0  # where they were last found; frames since, or matched still
        for k, (index, image) in enumerate(earlier):
            if box is None:
                return
            height, width = image.shape[1:]
            others = [s.box for s in self.by_frame[index]]
            (person,) = self._looks(image, [box])
            moved = self._differs(image)
            # something still the pose model takes for a person who moved: their look decides (PETS
            # S2.L1 from frame 200, a man passing behind a post, the model confirmed the ground
            # beside it)
            still = person is not None and not _moving(moved, person.box, person.silhouette)
            if look is not None and (person is None or still):
                matched, score, moving = _matched(image, look, boxes[-1], k - found, moved)
                fits = score >= LOOK.score and not _overlaps(matched, others)
                if fits and (moving or (person is None and unsure < LOOK.skip)):
                    box = _grown(matched, self.config.padding, width, height) or matched
                    self._add(index, _sighting(index, number, box, "matched", image))
                    boxes.append(matched)
                    found, unsure = k, 0 if moving else unsure + 1
                    if moving and score >= LOOK.sure:
                        look = (_bytes_in(image, matched), look[1])  # as they look here: they turn, stride
                    continue
            if person is None and posed and _at_edge(boxes[-1], width, height, self.config.padding):
                self._walked_in(number, boxes, earlier[k : k + self.config.max_gap])
                return
            if person is None and look is not None and unsure < LOOK.skip:
                unsure += 1  # hidden here (behind a post)? the frames skipped are bridged (deid.video.recut)
                continue
            if person is None:
                return
            if _overlaps(person.box, others):  # someone's box covers them here: look before it
                continue
            sighting = _sighting(index, number, person, "backfilled", image)
            self._add(index, sighting)
            boxes.append(person.box)
            posed.append(sighting)
            found, unsure = k, 0
            if not still:
                look = (sighting.crop, sighting.silhouette)
            box = _grown(person.box, self.config.padding, width, height)

    def _differs(self, image: torch.Tensor) -> torch.Tensor | None:
        """``(H, W)`` bool, the pixels of ``image`` that differ from the background (:data:`MOTION`),
        or None while the background is not known."""
        if self.background is None:
            return None
        return (image - self.background).abs().amax(0) > MOTION.threshold

    def _walking_out(
        self, keys: Sequence[str], moved: torch.Tensor, people: Sequence[_Seen], width: int, height: int
    ) -> dict[str, Box]:
        """Where the people of tracks ``keys``, predicted out of the frame, still are while they
        walk out: the pixels that move (``moved``, none a person seen now explains) in their
        last box stretched out to the side of the frame it touched, the box round them grown by
        the padding (none for a track whose last box touched no side). The tracker's prediction
        leaves the frame too soon: the boxes it was given were cut at the side, so their centre
        ran ahead of the person (a new user's review: a man walking out at the right edge of a
        crop of PETS S2.L1, in the clear on the frame after his track's last box)."""
        if not keys or not self.by_frame:
            return {}
        last = {s.track: s.box for s in self.by_frame[-1]}
        free = moved & ~box_pixels([p.box for p in people], height, width)
        out = {}
        for key in keys:
            box = last.get(self.numbers.get(key, -1))
            if box is None or (box.x > 0 and box.x + box.w < width):
                continue
            x0, x1 = (box.x, width) if box.x > 0 else (0, box.x + box.w)  # the box reaching out
            rows, cols = torch.nonzero(free[box.y : box.y + box.h, x0:x1], as_tuple=True)
            if len(rows) < MOTION.pixels // 4:
                continue
            seen = Box(
                x0 + int(cols.min()),
                box.y + int(rows.min()),
                int(cols.max() - cols.min()) + 1,
                int(rows.max() - rows.min()) + 1,
            )
            if seen.w >= 2 and (grown := _grown(seen, self.config.padding, width, height)) is not None:
                out[key] = grown
        return out

    def _walked_in(self, number: int, boxes: list[Box], frames: Sequence[tuple[int, torch.Tensor]]) -> None:
        """Conceal a person walking in on ``frames`` (newest first, at most ``max_gap``, as a
        person lost going forwards) at their box moved back by their last motion (``boxes``,
        newest first), as ``"predicted"``, while a third of it is in the frame (seen on PETS
        S2.L1, frame 10). Given one box (no motion known), at that box stretched to the side it
        is near: a man found 11 pixels from the right edge of PETS S2.L1's frame 117 (in its
        first 120 frames cut as a clip) had walked in, unconcealed and unreported, on the four
        frames before, to the right of his box."""
        if len(boxes) == 1 and frames:
            boxes = [_to_side(boxes[0], frames[0][1].shape[2])] * 2
        for index, image in frames:
            boxes.append(_moved_back(boxes[-2:]))
            box = _grown(boxes[-1], self.config.padding, image.shape[2], image.shape[1])
            if box is None:
                return
            self._add(index, _sighting(index, number, box, "predicted", image))

    def _add(self, index: int, sighting: Sighting) -> None:
        self.by_frame[index].append(sighting)
        self.by_frame[index].sort(key=lambda s: s.track)


@dataclass(frozen=True, eq=False)
class _Seen:
    """A person seen in a frame: box and keypoints in frame pixels, silhouette in the box."""

    box: Box
    score: float
    keypoints: torch.Tensor
    silhouette: torch.Tensor
    posed: bool

    @classmethod
    def of(cls, person: Person, window: Box | None = None) -> _Seen:
        """``person`` as found in the frame, or in a crop of it at ``window``."""
        x0, y0 = (window.x, window.y) if window is not None else (0, 0)
        b = person.box
        box = Box(b.x + x0, b.y + y0, b.w, b.h, b.score)
        keypoints = person.keypoints.clone()
        keypoints[:, 0] += x0
        keypoints[:, 1] += y0
        silhouette = person.mask[b.y : b.y + b.h, b.x : b.x + b.w].clone()  # not the frame's whole mask
        return cls(box, person.score, keypoints, silhouette, posed=not person.uncertain)

    @classmethod
    def carried(cls, before: Sighting, box: Box) -> _Seen:
        """A posed sighting's silhouette and keypoints moved (and scaled) to ``box``."""
        if before.keypoints is None:
            raise ValueError("only a posed sighting is carried")
        sx, sy = box.w / before.box.w, box.h / before.box.h
        keypoints = before.keypoints.clone()
        keypoints[:, 0] = keypoints[:, 0] * sx + box.x
        keypoints[:, 1] = keypoints[:, 1] * sy + box.y
        silhouette = resized(before.silhouette, box)
        return cls(Box(box.x, box.y, box.w, box.h, before.box.score), 1.0, keypoints, silhouette, True)


def resized(silhouette: torch.Tensor, box: Box) -> torch.Tensor:
    """A bool ``silhouette`` stretched to ``box``'s size ``(box.h, box.w)`` (nearest pixel)."""
    return F.interpolate(silhouette[None, None].float(), size=(box.h, box.w), mode="nearest")[0, 0] > 0.5


def _sighting(index: int, number: int, seen: _Seen | Box, how: str, image: torch.Tensor) -> Sighting:
    """The sighting of a person seen, or of a bare box (concealed whole)."""
    box = seen if isinstance(seen, Box) else seen.box
    crop = _bytes_in(image, box)
    if isinstance(seen, Box) or not seen.posed:
        return Sighting(index, number, box, torch.ones(box.h, box.w, dtype=torch.bool), None, how, crop)
    keypoints = seen.keypoints.clone()
    keypoints[:, 0] -= box.x
    keypoints[:, 1] -= box.y
    return Sighting(index, number, box, seen.silhouette, keypoints, how, crop)


def _matched(
    image: torch.Tensor,
    look: tuple[torch.Tensor, torch.Tensor],
    near: Box,
    apart: int,
    moved: torch.Tensor | None,
) -> tuple[Box, float, bool]:
    """Where a person's ``look`` (their pixels, ``(3, h, w)`` bytes, inside their silhouette,
    ``(h, w)`` bool) is most like ``image`` near ``near`` (where they were ``apart`` frames
    later); how alike (the normalized correlation, -1 where nothing can be compared, see
    :data:`LOOK`); and whether they move there (:func:`_moving` by the ``moved`` pixels). The
    best place where they move is taken when it is alike enough: the still background beside
    them (a post they pass) may be more alike."""
    crop, silhouette = look
    h, w = silhouette.shape
    dx, dy = max(2, round(LOOK.across * w * apart)), max(2, round(LOOK.along * h * apart))
    height, width = image.shape[1:]
    x0, y0 = max(0, near.x - dx), max(0, near.y - dy)
    x1, y1 = min(width, near.x + near.w + dx), min(height, near.y + near.h + dy)
    if x1 - x0 < w or y1 - y0 < h or int(silhouette.sum()) < LOOK.pixels:
        return near, -1.0, False
    region = image[:, y0:y1, x0:x1].permute(1, 2, 0).contiguous().numpy()
    template = as_float(crop).permute(1, 2, 0).contiguous().numpy()
    mask = silhouette.numpy().astype(np.float32)
    scores = cv2.matchTemplate(region, template, cv2.TM_CCOEFF_NORMED, mask=np.repeat(mask[..., None], 3, 2))
    scores = np.nan_to_num(scores, nan=-1.0)
    moving = np.ones_like(scores, dtype=bool)
    if moved is not None:  # the fraction of the silhouette moved, at every place
        fraction = cv2.matchTemplate(moved[y0:y1, x0:x1].numpy().astype(np.float32), mask, cv2.TM_CCORR)
        moving = fraction >= LOOK.moving * mask.sum()
    there = moving & (scores >= LOOK.score)
    chosen = np.where(there, scores, -1.0) if there.any() else scores
    y, x = np.unravel_index(int(np.argmax(chosen)), chosen.shape)
    return Box(x0 + int(x), y0 + int(y), w, h), float(scores[y, x]), bool(moving[y, x])


def _moving(moved: torch.Tensor | None, box: Box, silhouette: torch.Tensor) -> bool:
    """Whether enough (:attr:`Look.moving`) of a person's ``silhouette`` at ``box`` is among the
    ``moved`` pixels (differing from the background), or the background is not known (None).
    Only a moving person's look is matched: the still background matches itself (PETS S2.L1
    from frame 200: the pose model took a sign a man had passed for him, and the sign, matched
    back, was concealed to the clip's start and the man was not)."""
    if moved is None:
        return True
    inside = moved[box.y : box.y + box.h, box.x : box.x + box.w]
    return float(inside[silhouette].float().mean()) >= LOOK.moving


def _bytes_in(image: torch.Tensor, box: Box) -> torch.Tensor:
    """The frame's own bytes in ``box``: ``(3, box.h, box.w)`` uint8."""
    return to_bytes(image[:, box.y : box.y + box.h, box.x : box.x + box.w])


def person_blobs(moved: torch.Tensor, *, limbs: bool = False) -> list[Box]:
    """The boxes of the person-shaped blobs of the ``moved (H, W)`` bool pixels (:data:`MOTION`'s
    size and shape) once specks are opened away; with ``limbs``, also the whole blobs they come
    from, thin limbs and head included. Opened alone, a person 29 pixels tall (PETS S2.L1 at
    half size) lost legs two pixels wide and the head, and the torso left was too short to
    count: the check for people moving in the clear (``VideoReport.untreated``) takes the
    limbs. The follower's motion look does not: with them, on the whole of PETS S2.L1, the top
    of the head was at least half changed for 832 of 864 passers-by against 853 of 863.

    Example:
        >>> moved = torch.zeros(40, 20, dtype=torch.bool)
        >>> moved[5:20, 8:13] = True; moved[20:30, 8:10] = True; moved[20:30, 11:13] = True
        >>> person_blobs(moved), person_blobs(moved, limbs=True)
        ([Box(x=8, y=5, w=5, h=15, score=1.0)], [Box(x=8, y=5, w=5, h=25, score=1.0)])
    """
    pixels = moved.numpy().astype(np.uint8)
    opened = cv2.morphologyEx(pixels, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    _, _, parts, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    found = parts[1:].tolist()
    if limbs:  # the whole blobs that keep something once opened, first
        _, labels, whole, _ = cv2.connectedComponentsWithStats(pixels, connectivity=8)
        cores = np.unique(labels[opened > 0])
        found = whole[cores[cores > 0]].tolist() + found
    out: list[Box] = []
    for x, y, w, h, area in found:
        if (
            area >= MOTION.pixels
            and h >= MOTION.height
            and h >= MOTION.upright * w
            and not any(b.x <= x and b.y <= y and x + w <= b.x + b.w and y + h <= b.y + b.h for b in out)
        ):
            out.append(Box(x, y, w, h))
    return out


def _background(recent: Sequence[torch.Tensor]) -> torch.Tensor | None:
    """The still background: the median of every :attr:`Motion.every`-th of the last
    :attr:`Motion.frames` of the ``recent`` frames, from the newest (None with fewer than five)."""
    chosen = list(recent)[-MOTION.frames :][:: -MOTION.every]
    if len(chosen) < 5:
        return None
    return torch.stack(chosen).median(0).values


def _at_edge(box: Box, width: int, height: int, padding: float) -> bool:
    """Whether ``box`` grown by ``padding`` on each side (the pose model's window) reaches the
    frame's edge (within a pixel), or comes within its own width of a side (a person a step in
    from it, whom the model did not confirm cut by the edge a frame before)."""
    dx, dy = max(box.w * padding + 1, box.w), box.h * padding + 1
    return box.x - dx <= 0 or box.y - dy <= 0 or box.x + box.w + dx >= width or box.y + box.h + dy >= height


def _to_side(box: Box, width: int) -> Box:
    """``box`` stretched to the side of a frame ``width`` pixels wide it is within its own width of.

    Example:
        >>> _to_side(Box(448, 135, 21, 59), 480)
        Box(x=448, y=135, w=32, h=59, score=1.0)
    """
    x0 = 0 if box.x <= box.w else box.x
    x1 = width if box.x + 2 * box.w >= width else box.x + box.w
    return Box(x0, box.y, x1 - x0, box.h, box.score)


def _moved_back(boxes: Sequence[Box]) -> Box:
    """The box a frame before the last of ``boxes`` (newest first): moved as it moved from the
    first to the last (not at all, given one box). It may lie partly outside the frame."""
    last = boxes[-1]
    if len(boxes) < 2:
        return last
    newer = boxes[0]
    return Box(2 * last.x - newer.x, 2 * last.y - newer.y, last.w, last.h)


def _grown(box: Box, padding: float, width: int, height: int) -> Box | None:
    return _box(np.array(box.corners, dtype=float), width, height, padding)


def _box(xyxy: np.ndarray, width: int, height: int, padding: float) -> Box | None:
    """A tracker's box grown by ``padding`` on each side (where it is unsure of the person),
    clipped to the frame, or None when less than a third of it is inside."""
    x0, y0, x1, y1 = (float(v) for v in xyxy)
    dx, dy = (x1 - x0) * padding, (y1 - y0) * padding
    x0, y0, x1, y1 = x0 - dx, y0 - dy, x1 + dx, y1 + dy
    area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
    cx0, cy0, cx1, cy1 = max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height))
    inside = max(cx1 - cx0, 0.0) * max(cy1 - cy0, 0.0)
    if area <= 0 or inside < area / 3 or cx1 - cx0 < 4 or cy1 - cy0 < 8:
        return None
    x, y = int(cx0), int(cy0)
    return Box(x, y, int(np.ceil(cx1)) - x, int(np.ceil(cy1)) - y)


def _at_side(box: Box, window: Box, width: int) -> bool:
    """Whether ``box`` (a person seen in ``window``) touches the window's left or right side
    where the window does not end at the frame's (``width`` pixels wide)."""
    left = window.x > 0 and box.x <= window.x
    right = window.x + window.w < width and box.x + box.w >= window.x + window.w
    return left or right


def _widened(window: Box, width: int, seen: Box) -> Box:
    """``window`` (a tracked box the pose model looked in) made :data:`WINDOW_WIDTH` of its
    height wide about the centre of ``seen`` (the person it saw there, cut at a side), inside a
    frame ``width`` pixels wide; never narrower than ``window``.

    Example:
        >>> _widened(Box(100, 50, 20, 100), 480, Box(100, 60, 8, 80))
        Box(x=79, y=50, w=50, h=100, score=1.0)
    """
    wide = max(window.w, math.ceil(WINDOW_WIDTH * window.h))
    x0 = max(0, seen.x + seen.w // 2 - wide // 2)
    x1 = min(width, x0 + wide)
    x0 = max(0, x1 - wide)
    return Box(x0, window.y, x1 - x0, window.h, window.score)


def _overlaps(box: Box, others: Sequence[Box]) -> bool:
    """Whether ``box`` shows the person of one of ``others`` already: IoU over 0.4 with one, or
    mostly (0.7) covered by them. Not when a smaller box lies inside it: on PETS S2.L1 at frame
    505, a track's box on a sliver of a woman walking in at the right edge stopped her own track's
    look back, her head and coat in the clear on frames 503-505."""
    covered = torch.zeros(box.h, box.w, dtype=torch.bool)
    for other in others:
        if _iou(box, other) > 0.4:
            return True
        common = _common(box, other)
        if common is not None:
            x0, y0, x1, y1 = common
            covered[y0 - box.y : y1 - box.y, x0 - box.x : x1 - box.x] = True
    return float(covered.float().mean()) > 0.7


def _one_of(seen: _Seen, people: Sequence[_Seen]) -> bool:
    """Whether ``seen`` is one of ``people`` already: most (:data:`SAME`) of the smaller of the
    two silhouettes inside the other. Silhouettes, not boxes: a track's box that drifted over
    two people walking side by side is not the second one's sighting."""
    return any(_shared(seen, other) > SAME for other in people)


def _shared(a: _Seen, b: _Seen) -> float:
    """The fraction of the smaller of ``a``'s and ``b``'s silhouettes that the other covers."""
    common = _common(a.box, b.box)
    smaller = min(int(a.silhouette.sum()), int(b.silhouette.sum()))
    if common is None or smaller == 0:
        return 0.0
    x0, y0, x1, y1 = common
    inside_a = a.silhouette[y0 - a.box.y : y1 - a.box.y, x0 - a.box.x : x1 - a.box.x]
    inside_b = b.silhouette[y0 - b.box.y : y1 - b.box.y, x0 - b.box.x : x1 - b.box.x]
    return int((inside_a & inside_b).sum()) / smaller


def _common(a: Box, b: Box) -> tuple[int, int, int, int] | None:
    """The rectangle ``(x0, y0, x1, y1)`` two boxes share, or None."""
    ax0, ay0, ax1, ay1 = a.corners
    bx0, by0, bx1, by1 = b.corners
    x0, y0, x1, y1 = max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _intersection(a: Box, b: Box) -> int:
    common = _common(a, b)
    return 0 if common is None else (common[2] - common[0]) * (common[3] - common[1])


def _iou(a: Box, b: Box) -> float:
    inter = _intersection(a, b)
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


def unsighted(frames: Sequence[int]) -> list[int]:
    """The frames between the first and the last of a track's ``frames`` (in order) that are
    not among them: where nothing of the track was concealed or judged.

    Example:
        >>> unsighted([3, 4, 7, 8])
        [5, 6]
    """
    if not frames:
        return []
    seen = set(frames)
    return [f for f in range(frames[0], frames[-1] + 1) if f not in seen]


def sightings_of(by_frame: Sequence[Sequence[Sighting]]) -> Iterator[list[Sighting]]:
    """Each track's sightings, in frame order, tracks in order."""
    tracks: dict[int, list[Sighting]] = {}
    for frame in by_frame:
        for sighting in frame:
            tracks.setdefault(sighting.track, []).append(sighting)
    for number in sorted(tracks):
        yield tracks[number]
