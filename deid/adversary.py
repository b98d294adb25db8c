"""The re-identification adversary that the conceal loop must defeat, and its privacy check.

An ``Adversary`` holds one or more embedders, each with a gallery of other people's embeddings
(the negatives). A concealed appearance is private when, for every model and every original
appearance of the same person, condition C (the original is closer to the concealed image than
to a negative) holds for at most ``max_match_rate`` of the gallery, and the original is not in
the concealed image's top-``top_k`` among the gallery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from reid_model import Embedder, default_gallery, embed, load_default


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
    _devices: list[torch.device] = field(default_factory=list, init=False, repr=False)

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
        for model in self.models:
            model.eval().requires_grad_(False)

    @classmethod
    def default(cls, *, device: str | torch.device = "cpu", **options: float | bool) -> Adversary:
        """The bundled model with its bundled gallery; ``options`` set the privacy target."""
        model = load_default(device=device)
        gallery, _ = default_gallery()
        return cls([model], [gallery.to(device)], **options)  # type: ignore[arg-type]

    def embed(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Embeddings ``(B, D_m)`` of a batch under each model."""
        return [embed(model, images) for model in self.models]

    def check(
        self,
        concealed: Sequence[torch.Tensor],
        originals: Sequence[torch.Tensor],
        groups: torch.Tensor,
    ) -> PrivacyCheck:
        """Check concealed appearances against every original appearance of the same person.

        Args:
            concealed: per model, ``(A, D)`` embeddings of the concealed appearances.
            originals: per model, ``(A, D)`` embeddings of the original appearances (same order).
            groups: ``(A,)`` person index of each appearance.
        """
        a_idx, b_idx = match_pairs(groups, include_self=self.include_self)
        n = len(groups)
        match_rate = torch.zeros(n)
        rank = torch.full((n,), float("inf"))
        for conc, orig, gallery in zip(concealed, originals, self.galleries, strict=True):
            conc, orig, gallery = conc.float().cpu(), orig.float().cpu(), gallery.float().cpu()
            d_pos = (conc[a_idx] - orig[b_idx]).norm(dim=1)
            # Condition C with the original as anchor, the concealed image as x+, a negative as x-.
            rate = (d_pos[:, None] < torch.cdist(orig[b_idx], gallery)).float().mean(1)
            # Rank of the original among the gallery, for the concealed image as query.
            pair_rank = 1 + (torch.cdist(conc[a_idx], gallery) < d_pos[:, None]).sum(1).float()
            match_rate = torch.maximum(match_rate, torch.zeros(n).scatter_reduce(0, a_idx, rate, "amax"))
            rank = torch.minimum(
                rank, torch.full((n,), float("inf")).scatter_reduce(0, a_idx, pair_rank, "amin")
            )
        private = (match_rate <= self.max_match_rate) & (rank > self.top_k)
        return PrivacyCheck(match_rate=match_rate, rank=rank, private=private)
