"""The whole-box fallback for the sightings of a track the judge still matches as rendered.

A track's treatment is decided on a few of its sightings; rendered on all of them, some are
still matched. Those get their whole box concealed, each with the first treatment of a palette
that makes it private: a stand-in figure (upright, or in the sighting's pose) wearing the track's outfit
(:class:`deid.operators.Figure`, when the track wears an outfit in its body's shape and figures
are on), the track's own treatment on the whole box, then noisy copies of it (the same colours,
:data:`NOISY_COPIES` draws of noise of :data:`NOISY_STD`), then the loop's fallback colours
(:func:`deid.loop.fallback.fallback_operators`; the figure among them when the track's own
treatment is its outfit on the whole box already: the loop tried the figure and it was
matched, and it is another look). A sighting no treatment makes private keeps the
first (the figure, or the own treatment) on its whole box (another colour would buy nothing and
change the person's look), and so then do the track's sightings another colour would make
private: a track is one person, followed from frame to frame by where they are, so while any of
its frames shows them matched, a colour that comes and goes on a few others hides nothing and
breaks the one look the person keeps (measured on PETS 2009 S2.L1: tracks within Delta E 10 at
the same place of the body in >= 95% of their frames, 198 -> 207 of 218). Other colours stay only
where they leave no sighting matched. The noisy copies, in the track's colours, stay (turned back
too, they gave one more track its colour and three fewer tracks private as written: the
encoder turns some sightings matched as rendered private as written). A flat fill is private
against a person's other appearances about as often as a coin lands heads, so a fresh draw of
noise often turns a matched sighting private while the person keeps their colours: measured on
PETS 2009 S2.L1 (``benchmarks/video_conceal.py``), see the README.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import torch

from deid.adversary import Adversary
from deid.loop.bodies import Body
from deid.loop.config import ConcealConfig
from deid.loop.fallback import fallback_operators
from deid.loop.replay import person_covers, render_person
from deid.loop.results import PersonResult
from deid.operators.base import Compose, Operator
from deid.operators.noising import Noise
from deid.operators.outfit import OutfitFill
from deid.video.follow import Sighting
from deid.video.io import as_float
from deid.video.judging import Judge

#: Noisy copies of a track's own treatment the fallback tries before other colours.
NOISY_COPIES = 3
#: From the own treatment on, the palette's treatments that keep the track's colours: the own and
#: its noisy copies (the figure before the own wears them too).
SAME_COLOURS = 1 + NOISY_COPIES
#: Their noise (grey, added to every channel alike): on the 27 outfit colours, the mean CIELAB
#: colour of a flat fill moves by at most Delta E 6.7 (black and white clip), under the
#: benchmark's 10.
NOISY_STD = 0.1


def render_track(
    track: Sequence[Sighting], bodies: Sequence[Body], result: PersonResult, adversary: Adversary, head: str
) -> list[torch.Tensor]:
    """The treatment on each sighting, in order, cut to its body."""
    return render_person(result, [as_float(s.crop) for s in track], bodies, adversary, head=head)


def track_covers(
    track: Sequence[Sighting], bodies: Sequence[Body], result: PersonResult, adversary: Adversary, head: str
) -> list[torch.Tensor]:
    """The pixels :func:`render_track` sets on each sighting (:func:`deid.loop.person_covers`)."""
    return person_covers(result, [as_float(s.crop) for s in track], bodies, adversary, head=head)


def box_palette(
    config: ConcealConfig, operator: Operator, *, figure_first: bool = True
) -> list[tuple[str, Operator]]:
    """The treatments the fallback tries in order, named (``"figure"`` when the own treatment is
    an outfit and figures are on, ``"own"``, ``"own+noise 1"``, ..., ``"fill grey"``, ...; see
    the module's docstring); with ``fallback_operator="own"``, the own treatment alone. Without
    ``figure_first`` (the own treatment is on the whole box already), the figure comes after the
    own treatment's colours, with the other looks (on PETS 2009 S2.L1 the figure drawn first on
    such tracks was all 8 of the tracks whose colour inside the silhouette strayed; after it, 4
    of 58 stray, and 4910 sightings are private as written against 4886)."""
    if config.fallback_operator == "own":
        return [("own", operator)]
    plain = operator.flat() if isinstance(operator, OutfitFill) else operator
    copies: list[tuple[str, Operator]] = [
        (f"own+noise {seed}", Compose(plain, Noise(std=NOISY_STD, seed=seed)))
        for seed in range(1, NOISY_COPIES + 1)
    ]
    palette = fallback_operators(
        config, operator, figure=operator if isinstance(operator, OutfitFill) else None
    )
    own = next(i for i, (name, _) in enumerate(palette) if name == config.operator)
    before, after = palette[:own], palette[own + 1 :]
    if not figure_first:
        return [("own", operator), *copies, *before, *after]
    return [*before, ("own", operator), *copies, *after]


def box_matched(
    t: int,
    track: Sequence[Sighting],
    bodies: Sequence[Body],
    result: PersonResult,
    crops: list[torch.Tensor],
    judged: Sequence[bool],
    judge: Judge,
    adversary: Adversary,
    config: ConcealConfig,
    *,
    covers: list[torch.Tensor] | None = None,
) -> str | None:
    """Conceal the whole box of the sightings of track ``t`` still matched (``judged``: the
    judge's verdict on ``crops``, the treatment drawn; ``crops`` updated in place, and
    ``covers``, what the treatment sets on each, :func:`track_covers`; see the module's
    docstring); what was done, or None when every sighting is private.

    When one treatment after the own (and the figure before it) made most of them private, the
    whole track takes it, every frame boxed, if that leaves no more sightings matched: one look over
    the track rather than an outfit that turns into a grey box and back (the person's treatment
    is what identifies them across frames, so it should not change)."""
    left = [i for i, ok in enumerate(judged) if not ok]
    if not left or result.mask is None or result.operator is None:
        return None
    box = torch.ones_like(result.mask)
    named = box_palette(config, result.operator, figure_first=result.shape != "box")
    palette = [(name, replace(result, mask=box, shape="box", operator=op)) for name, op in named]
    took: dict[int, int] = {}  # sighting -> the palette's treatment that made it private
    own: dict[int, torch.Tensor] = {}  # sighting -> the first treatment on its whole box
    mine = next(k for k, (name, _) in enumerate(named) if name == "own")  # the figure before it
    same = mine + SAME_COLOURS  # the first treatment in other colours
    pending = left
    for k, (_, whole) in enumerate(palette):
        if not pending:
            break
        redone = render_track(
            [track[i] for i in pending], [bodies[i] for i in pending], whole, adversary, config.head
        )
        for i, image, private in zip(pending, redone, judge.check(t, redone, pending), strict=True):
            if k == 0:
                own[i] = image
            if private or k == 0:
                crops[i] = image
                if covers is not None:
                    covers[i] = torch.ones_like(covers[i])
            if private:
                took[i] = k
        pending = [i for i in pending if i not in took]
    counts = Counter(took.values())
    most = min(counts, key=lambda k: (-counts[k], k), default=0)
    if most > mine:
        everywhere = render_track(track, bodies, palette[most][1], adversary, config.head)
        still = sum(not ok for ok in judge.check(t, everywhere))
        if still <= len(pending):
            crops[:] = everywhere
            if covers is not None:
                covers[:] = [torch.ones_like(c) for c in covers]
            return (
                f"all {len(track)} frames' whole box ({palette[most][0]}), for one look over the track; "
                f"{still} still matched"
            )
    other: list[int] = []
    if pending:  # the track stays matched: no colour of its own on a few frames (module docstring)
        other = [i for i, k in took.items() if k >= same]
        for i in other:
            crops[i] = own[i]
            del took[i]
        pending = [*pending, *other]
        counts = Counter(took.values())
    counts[0] += len(pending)
    drawn = ", ".join(f"{palette[k][0]} {counts[k]}" for k in sorted(counts) if counts[k])
    why = (
        f" ({len(other)} of them another colour would make private: the track stays matched)" if other else ""
    )
    return f"{len(left)} frames' whole box ({drawn}); {len(pending)} still matched{why}"
