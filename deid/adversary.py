"""The re-identification adversary that the conceal loop must defeat, and its privacy check.

An ``Adversary`` holds one or more embedders, each with a gallery of other people's embeddings
(the negatives). A concealed appearance is private when, for every model and every original
appearance of the same person, condition C with the concealed appearance as anchor (the original
is closer to it than a negative is) holds for at most ``max_match_rate`` of the gallery, and the
original is not in the concealed image's top-``top_k`` among the gallery. The concealed image is
the attacker's query, so with ``max_match_rate=0.5`` the true identity must rank in the worse
half of the gallery: the adversary does no better than chance on that appearance.

The adversary is the judge, so it alone holds the privacy target (``max_match_rate``, ``top_k``);
:func:`resolve_adversary` builds the bundled one for a target, or refuses a target that
contradicts the adversary it is given.

A run judges with a :data:`MARGIN`: the original counts as that much nearer than it is, so a
verdict of private holds with room to spare when the same images are judged again by a process
that rounds otherwise (another CPU's kernels); ``deid verify`` judges without it
(:meth:`Adversary.exact`), so what it finds matched contradicts the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import torch

from reid_model import (
    Embedder,
    EmbeddingMemo,
    FusedEmbedder,
    color_gallery,
    content_keys,
    default_gallery,
    embed,
    fused_gallery,
    load_bundled,
    load_color_matcher,
    load_default,
    resize,
    same_embedder,
)

#: How much nearer than it is the original counts when a run judges (a fraction of its
#: distance). On PETS 2009 S2.L1 (the whole clip's written video, judged again): 44 of 5632
#: sightings private without it are matched with it (6 at 1e-4, 493 at 1e-2). A rounding of
#: every pixel of 571 concealed crops moved the fused model's distances by at most 0.034% for
#: 999 pairs in 1000 (the network's by 1e-6).
MARGIN = 1e-3

_DEFAULTS: dict[tuple[str, bool, bool, tuple[tuple[str, float | bool], ...]], Adversary] = {}


def match_pairs(groups: torch.Tensor, *, include_self: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Index pairs ``(concealed, original)`` of appearances of the same person.

    Without ``include_self`` an appearance is paired with its own original only when its person
    has no other appearance.

    Example:
        >>> match_pairs(torch.tensor([0, 0, 1]))
        (tensor([0, 1, 2]), tensor([1, 0, 2]))
    """
    same = groups[:, None] == groups[None, :]
    if not include_self:
        alone = same.sum(1) == 1
        same &= ~torch.eye(len(groups), dtype=torch.bool) | alone[:, None]
    a_idx, b_idx = torch.nonzero(same, as_tuple=True)
    return a_idx, b_idx


@dataclass(frozen=True)
class PrivacyCheck:
    """Per-appearance outcome of :meth:`Adversary.check`, worst case over models and originals.

    Attributes:
        match_rate: ``(A,)`` largest fraction of triplets satisfying condition C.
        rank: ``(A,)`` best (smallest) rank of a true original among gallery + original (1 = top).
        private: ``(A,)`` whether the appearance passes both criteria.
    """

    match_rate: torch.Tensor
    rank: torch.Tensor
    private: torch.Tensor


@dataclass
class Adversary:
    """Embedders and their galleries of negatives, plus the privacy target.

    Args:
        models: the embedders (an ensemble when more than one).
        galleries: one ``(G, D)`` tensor of other people's embeddings per model.
        max_match_rate: largest tolerated fraction of triplets where C holds (0.5 = chance).
        top_k: the true identity must rank below this many gallery items.
        include_self: also match each concealed appearance against its own original. By default
            a person seen more than once is checked across appearances only (an attacker with the
            very original has no need of re-identification); a person seen once is always
            checked against their own original, the only one there is.
        margin: the original counts as ``1 - margin`` times its distance (:data:`MARGIN`; 0 in
            :meth:`exact`, the judge of ``deid verify``).

    Example:
        >>> adversary = Adversary.default()
        >>> adversary.top_k
        10
    """

    models: Sequence[Embedder]
    galleries: Sequence[torch.Tensor]
    max_match_rate: float = 0.5
    top_k: int = 10
    include_self: bool = False
    margin: float = MARGIN
    #: Derived data that depends only on the models (for example embeddings of fixed images).
    cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    #: One memo per model: an image embedded again (an original at every step, a written file
    #: that decodes to the crop just judged) gets its first embedding back without a forward pass.
    memos: list[EmbeddingMemo] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.models) == 0:
            raise ValueError("models must hold at least one embedder, got none")
        if len(self.models) != len(self.galleries):
            raise ValueError(
                f"models and galleries must have the same length, got {len(self.models)} and {len(self.galleries)}"
            )
        for i, (model, gallery) in enumerate(zip(self.models, self.galleries, strict=True)):
            if gallery.ndim != 2 or gallery.shape[1] != model.embedding_dim or len(gallery) < 2:
                raise ValueError(
                    f"galleries[{i}] must have shape (G >= 2, {model.embedding_dim}), got {tuple(gallery.shape)}"
                )
        if not 0.0 <= self.max_match_rate < 1.0:
            raise ValueError(f"max_match_rate must be in [0, 1), got {self.max_match_rate}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0.0 <= self.margin < 1.0:
            raise ValueError(f"margin must be in [0, 1), got {self.margin}")
        sizes = [tuple(model.input_size) for model in self.models]
        if len(set(sizes)) > 1:
            raise ValueError(f"models must share one input size (height, width), got {sizes}")
        for model in self.models:
            model.eval().requires_grad_(False)
        self.memos = [EmbeddingMemo(model, compute=self._sharing(model)) for model in self.models]

    def _sharing(self, model: Embedder) -> Callable[[torch.Tensor, list[bytes]], torch.Tensor] | None:
        """How a fused model whose parts include another member to the bit (the bundled strong
        adversary: the network, and the network fused with LOMO + XQDA) embeds: that part's
        embeddings come from the member's memo, so the part runs once for both. None for any
        other model. Should either side's weights change in place, the part runs again itself."""
        if not isinstance(model, FusedEmbedder):
            return None
        parts = cast(list[Embedder], list(model.parts))
        shared: dict[int, tuple[int, tuple[int, ...]]] = {}
        for i, part in enumerate(parts):
            member = next((m for m, other in enumerate(self.models) if same_embedder(part, other)), None)
            if member is not None and self.models[member] is not model:
                shared[i] = (member, _versions(part, self.models[member]))

        def compute(images: torch.Tensor, keys: list[bytes]) -> torch.Tensor:
            embeddings = []
            for i, part in enumerate(parts):
                member, versions = shared.get(i, (-1, ()))
                unchanged = member >= 0 and versions == _versions(part, self.models[member])
                embeddings.append(self.memos[member](images, keys) if unchanged else embed(part, images))
            return model.combine(embeddings)

        return compute if shared else None

    @classmethod
    def default(
        cls,
        *,
        device: str | torch.device = "cpu",
        color: bool = True,
        fused: bool = True,
        **options: float | bool,
    ) -> Adversary:
        """The bundled adversary; ``options`` set the privacy target.

        It is the bundled network; with ``color``, the bundled colour-stripe matcher
        (:class:`reid_model.ColorStripeEmbedder`); with ``fused`` (``deid conceal --adversary
        strong``, the default), also the strongest attacker measured on VIPeR, the network fused
        with LOMO + XQDA (:class:`reid_model.FusedEmbedder`); each with its embeddings of the
        same gallery persons: a concealed appearance must defeat them all. The fused model has
        no useful gradient: it judges, the other two say where to work; it runs only on the
        appearances the others already call private (:meth:`judge`), and its network part is
        the first member to the bit, so it runs LOMO + XQDA only. ``fused=False``
        (``--adversary fast``) is faster and judges with a weaker attacker.

        Built once per process for each device, ensemble and target, so repeated
        ``deid.conceal`` calls load the weights (and embed the loop's fill outfits) only once.
        """
        key = (str(torch.device(device)), color, fused, tuple(sorted(options.items())))
        if key not in _DEFAULTS:
            models, galleries = [load_default(device=device)], [default_gallery()[0].to(device)]
            if color:
                models.append(load_color_matcher(device=device))
                galleries.append(color_gallery()[0].to(device))
            if fused:
                models.append(load_bundled("fused", device=device))
                galleries.append(fused_gallery()[0].to(device))
            adversary = cls(models, galleries, **options)  # type: ignore[arg-type]
            adversary.cache["bundled"] = True  # the bundled models: precomputed data may be used
            _DEFAULTS[key] = adversary
        return _DEFAULTS[key]

    def exact(self) -> Adversary:
        """This adversary judging without a margin (the same models, galleries and target):
        ``deid verify``'s judge, so a verdict the run gave with room to spare is not turned by
        a rounding."""
        if self.margin == 0.0:
            return self
        judge = replace(self, margin=0.0)
        judge.cache.update(self.cache)
        return judge

    @property
    def input_size(self) -> tuple[int, int]:
        """``(height, width)`` of the models' input: the crop coordinates the conceal loop's masks use."""
        height, width = self.models[0].input_size
        return height, width

    def views(self, images: Sequence[torch.Tensor]) -> torch.Tensor:
        """Images ``(3, H, W)`` of any sizes as one batch ``(N, 3, h, w)`` at :attr:`input_size`."""
        return torch.cat([resize(image[None], self.input_size) for image in images])

    def embed(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Embeddings ``(B, D_m)`` of a batch under each model (remembered: :attr:`memos`)."""
        keys = content_keys(images)
        return [memo(images, keys) for memo in self.memos]

    def check(
        self,
        concealed: Sequence[torch.Tensor],
        originals: Sequence[torch.Tensor],
        groups: torch.Tensor,
        *,
        members: Sequence[int] | None = None,
    ) -> PrivacyCheck:
        """Check concealed appearances against every original appearance of the same person.

        Args:
            concealed: per model, ``(A, D)`` embeddings of the concealed appearances.
            originals: per model, ``(A, D)`` embeddings of the original appearances (same order).
            groups: ``(A,)`` person index of each appearance.
            members: the models that judge (indices); all of them by default.
        """
        a_idx, b_idx = match_pairs(groups, include_self=self.include_self)
        distances = []
        judged = self._on_cpu(concealed, originals)
        for conc, orig, gallery in (judged[m] for m in members) if members is not None else judged:
            anchors = conc[a_idx]
            distances.append(((anchors - orig[b_idx]).norm(dim=1)[None], torch.cdist(anchors, gallery)[None]))
        verdict = self._verdict(distances, a_idx, len(groups))
        return PrivacyCheck(verdict.match_rate[0], verdict.rank[0], verdict.private[0])

    def judge(
        self, views: torch.Tensor, originals: Sequence[torch.Tensor], groups: torch.Tensor
    ) -> tuple[list[torch.Tensor], PrivacyCheck]:
        """:meth:`embed` then :meth:`check`, asking the slow members last and only where they matter.

        The members without gradients (``Embedder.differentiable`` false: LOMO + XQDA's hard
        histograms, the slowest to run) embed only the appearances of people every other
        member already calls private: for anyone else the verdict is "matched" whatever they
        say. Their rows for the others hold a copy of the original's embedding, and those
        appearances' match rate and rank are the other members' and their verdict is "matched".
        The verdict on every person is the one :meth:`check` gives on full embeddings.

        Args:
            views: ``(A, 3, h, w)`` the appearances at :attr:`input_size`.
            originals, groups: as for :meth:`check`.
        """
        slow = [i for i, model in enumerate(self.models) if not model.differentiable]
        fast = [i for i in range(len(self.models)) if i not in slow]
        if not slow or not fast:
            everyone = self.embed(views)
            return everyone, self.check(everyone, originals, groups)
        embeddings = list(originals)  # the slow members' rows: placeholders until asked
        keys = content_keys(views)
        for i in fast:
            embeddings[i] = self.memos[i](views, keys)
        first = self.check(embeddings, originals, groups, members=fast)
        n_people = int(groups.max()) + 1 if len(groups) else 0
        ask = torch.ones(n_people, dtype=torch.bool).scatter_reduce(0, groups, first.private, "amin")[groups]
        if not bool(ask.any()):
            return embeddings, PrivacyCheck(first.match_rate, first.rank, torch.zeros_like(first.private))
        for i in slow:
            embeddings[i] = originals[i].clone()
            asked = [keys[a] for a in torch.nonzero(ask).flatten().tolist()]
            embeddings[i][ask] = self.memos[i](views[ask], asked).to(embeddings[i])
        full = self.check(embeddings, originals, groups)
        return embeddings, PrivacyCheck(
            torch.where(ask, full.match_rate, first.match_rate),
            torch.where(ask, full.rank, first.rank),
            ask & full.private,
        )

    def check_shared(
        self,
        shared: Sequence[torch.Tensor],
        originals: Sequence[torch.Tensor],
        groups: torch.Tensor,
    ) -> PrivacyCheck:
        """:meth:`check` for ``K`` candidate images each given to every appearance at once.

        ``shared`` holds per model ``(K, D)`` embeddings of images that do not depend on the
        appearance (a whole crop filled with one outfit, say). The result's fields are ``(K, A)``:
        row ``k`` is what :meth:`check` returns when every appearance is concealed as image ``k``.
        """
        a_idx, b_idx = match_pairs(groups, include_self=self.include_self)
        distances = [
            (torch.cdist(conc, orig[b_idx]), torch.cdist(conc, gallery)[:, None, :])
            for conc, orig, gallery in self._on_cpu(shared, originals)
        ]
        return self._verdict(distances, a_idx, len(groups))

    def _on_cpu(
        self, concealed: Sequence[torch.Tensor], originals: Sequence[torch.Tensor]
    ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        return [
            (c.float().cpu(), o.float().cpu(), g.float().cpu())
            for c, o, g in zip(concealed, originals, self.galleries, strict=True)
        ]

    def _verdict(
        self, distances: list[tuple[torch.Tensor, torch.Tensor]], a_idx: torch.Tensor, n: int
    ) -> PrivacyCheck:
        """Worst case over models and pairs, per appearance, from each model's pair distances.

        ``distances`` holds per model ``d_pos (K, pairs)``, the concealed anchor to its original,
        and ``d_neg (K, pairs or 1, G)``, the anchor to each gallery negative.
        """
        k = len(distances[0][0])
        index = a_idx.expand(k, -1)
        match_rate, rank = torch.zeros(k, n), torch.full((k, n), float("inf"))
        for d_pos, d_neg in distances:
            nearer, farther = _beside(d_pos * (1.0 - self.margin), d_neg)
            # Condition C with the concealed image as anchor x, the original as x+, a negative as x-.
            rate = farther / d_neg.shape[-1]
            # Rank of the original among the gallery, for the concealed image as query.
            pair_rank = 1 + nearer
            match_rate = torch.maximum(match_rate, torch.zeros(k, n).scatter_reduce(1, index, rate, "amax"))
            rank = torch.minimum(
                rank, torch.full((k, n), float("inf")).scatter_reduce(1, index, pair_rank, "amin")
            )
        private = (match_rate <= self.max_match_rate) & (rank > self.top_k)
        return PrivacyCheck(match_rate=match_rate, rank=rank, private=private)


def _versions(*modules: torch.nn.Module) -> tuple[int, ...]:
    """The version counters of the modules' weights (an in-place change bumps them)."""
    return tuple(t._version for module in modules for t in (*module.parameters(), *module.buffers()))


def _beside(d_pos: torch.Tensor, d_neg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per pair, as float: how many negatives are nearer than ``d_pos`` and how many farther.

    ``d_pos (K, pairs)``; ``d_neg (K, pairs or 1, G)``. Negatives shared by many pairs (one row,
    :meth:`Adversary.check_shared`) are sorted once and each pair's distance looked up in them:
    the same counts as ``K`` x ``pairs`` x ``G`` comparisons, which took most of the outfit
    draw's time in video (920 references). Sorting a negative costs about as much as 60
    comparisons and a look-up about 80 (measured here), so few pairs are compared directly.
    """
    pairs, negatives = d_pos.shape[1], d_neg.shape[-1]
    if d_neg.shape[1] == 1 and pairs * negatives > 64 * (pairs + negatives):
        ordered, values = d_neg[:, 0].sort(-1).values, d_pos.contiguous()
        nearer = torch.searchsorted(ordered, values)
        farther = negatives - torch.searchsorted(ordered, values, right=True)
        return nearer.float(), farther.float()
    return (d_neg < d_pos[..., None]).sum(-1).float(), (d_pos[..., None] < d_neg).sum(-1).float()


def resolve_adversary(
    adversary: Adversary | None = None,
    *,
    device: str | torch.device = "cpu",
    top_k: int | None = None,
    max_match_rate: float | None = None,
) -> Adversary:
    """The adversary that judges a run: ``adversary``, or the bundled one with the given target.

    The target is the adversary's alone; ``top_k`` and ``max_match_rate`` are a convenience for
    the bundled default. Given with an ``adversary`` they must agree with its own target: a
    silently ignored target would report people private under a rule the caller did not ask for.

    Raises:
        ValueError: ``adversary`` is given and ``top_k`` or ``max_match_rate`` differs from its own.

    Example:
        >>> resolve_adversary(top_k=5).top_k
        5
    """
    target: dict[str, Any] = {
        k: v for k, v in (("top_k", top_k), ("max_match_rate", max_match_rate)) if v is not None
    }
    if adversary is None:
        return Adversary.default(device=device, **target)
    for name, value in target.items():
        own = getattr(adversary, name)
        if value != own:
            raise ValueError(
                f"{name}={value!r} contradicts the adversary's own {name}={own!r}: the target is the "
                f"adversary's; build the adversary with {name}={value!r}, or leave {name} unset"
            )
    return adversary
