"""Match scores: scalar functions of one image that Captum attributes (its ``forward_func``).

A score holds the model and the per-image tensors it compares against (a reference embedding,
or a positive and a negative). Captum calls ``score(images, *score.forward_args())``, expanding
the forward arguments alongside the images (one row per image), so batching, Integrated
Gradients' steps and perturbation batches stay aligned with the right reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reid_model import INPUT_SIZE
from reid_model.checks import check_images

#: Added under the square root so the distance has a gradient at zero.
_EPS = 1e-12


def _distance(embeddings: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    return ((embeddings - other).square().sum(dim=1) + _EPS).sqrt()


def _as_rows(name: str, tensor: object, dim: int | None = None) -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, D) or (D,), got {type(tensor).__name__}")
    if tensor.ndim == 1:
        tensor = tensor[None]
    if tensor.ndim != 2 or (dim is not None and tensor.shape[1] != dim):
        wanted = f"(B, {dim}) or ({dim},)" if dim is not None else "(B, D) or (D,)"
        raise ValueError(f"{name} must have shape {wanted}, got {tuple(tensor.shape)}")
    return tensor.detach()


class MatchScore:
    """Base class of match scores: ``score(images) -> (B,)``, higher means a stronger match.

    Subclasses set :attr:`model` and implement :meth:`compare` and :meth:`forward_args`.
    """

    model: nn.Module

    @property
    def input_size(self) -> tuple[int, int]:
        """The model's input (height, width); other images are resized to it."""
        height, width = getattr(self.model, "input_size", INPUT_SIZE)
        return int(height), int(width)

    def forward_args(self) -> tuple[torch.Tensor, ...]:
        """The per-image tensors passed after the images, each with one row per image or one row."""
        raise NotImplementedError

    def compare(self, embeddings: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
        """The score ``(B,)`` of embeddings ``(B, D)`` against the forward arguments."""
        raise NotImplementedError

    def rows(self) -> int:
        """How many rows the forward arguments hold (1 broadcasts to any batch)."""
        return max(len(a) for a in self.forward_args())

    def check_batch(self, batch: int) -> None:
        """Raise unless the forward arguments fit a batch of ``batch`` images."""
        rows = self.rows()
        if rows not in (1, batch):
            raise ValueError(
                f"{type(self).__name__} holds {rows} reference rows, which does not fit "
                f"{batch} images: expected 1 or {batch} rows"
            )

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Embed ``images (B, 3, H, W)`` with gradients; other sizes are resized differentiably."""
        check_images(images, unit_range=False)  # Captum feeds noisy samples (SHAP, NoiseTunnel)
        if tuple(images.shape[-2:]) != self.input_size:
            shrink = images.shape[-2] > self.input_size[0]
            images = F.interpolate(
                images, size=self.input_size, mode="bilinear", align_corners=False, antialias=shrink
            )
        return self.model(images.contiguous(memory_format=torch.channels_last))

    def __call__(self, images: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
        """Score ``images (B, 3, H, W)``; ``args`` default to :meth:`forward_args` (broadcast)."""
        embeddings = self.embed(images)
        if not args:
            args = self.forward_args()
        batch = len(images)
        expanded = []
        for arg in args:
            if len(arg) not in (1, batch):
                raise ValueError(
                    f"{type(self).__name__}: {len(arg)} reference rows do not fit {batch} images, "
                    f"expected 1 or {batch}"
                )
            expanded.append(arg.to(embeddings.device, embeddings.dtype).expand(batch, -1))
        return self.compare(embeddings, *expanded)


class DistanceScore(MatchScore):
    """The negative L2 distance to a reference embedding: ``-||f(x_i) - reference_i||``.

    Args:
        model: an embedder, ``(B, 3, H, W) -> (B, D)``.
        reference: embeddings ``(B, D)``, one per image, or ``(D,)`` / ``(1, D)`` for all images.

    Example:
        >>> model = TripletEmbedder().eval()
        >>> gallery = model(torch.rand(2, 3, 128, 48)).detach()
        >>> DistanceScore(model, gallery)(torch.rand(2, 3, 128, 48)).shape
        torch.Size([2])
    """

    def __init__(self, model: nn.Module, reference: torch.Tensor) -> None:
        self.model = model
        self.reference = _as_rows("reference", reference, getattr(model, "embedding_dim", None))

    def forward_args(self) -> tuple[torch.Tensor, ...]:
        return (self.reference,)

    def compare(self, embeddings: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
        (reference,) = args
        return -_distance(embeddings, reference)


class ConditionScore(MatchScore):
    """The probability that condition C holds: ``softmax(d+, d-)[1] = sigmoid(d- - d+)``.

    ``d+`` is the distance to the positive (the same person), ``d-`` to the negative (another
    person); the score is above 0.5 exactly when C holds (``d+ < d-``), as in the seed's Eq. 2.

    Args:
        model: an embedder, ``(B, 3, H, W) -> (B, D)``.
        positive: embeddings ``(B, D)`` or ``(D,)`` of the same person.
        negative: embeddings ``(B, D)`` or ``(D,)`` of another person.

    Example:
        >>> model = TripletEmbedder().eval()
        >>> pos, neg = model(torch.rand(2, 3, 128, 48)).detach()
        >>> ConditionScore(model, pos, neg)(torch.rand(3, 3, 128, 48)).shape
        torch.Size([3])
    """

    def __init__(self, model: nn.Module, positive: torch.Tensor, negative: torch.Tensor) -> None:
        self.model = model
        dim = getattr(model, "embedding_dim", None)
        self.positive = _as_rows("positive", positive, dim)
        self.negative = _as_rows("negative", negative, dim)
        if len(self.positive) != len(self.negative) and 1 not in (
            len(self.positive),
            len(self.negative),
        ):
            raise ValueError(
                f"positive and negative must have the same number of rows (or one), "
                f"got {len(self.positive)} and {len(self.negative)}"
            )

    def forward_args(self) -> tuple[torch.Tensor, ...]:
        rows = max(len(self.positive), len(self.negative))
        return (self.positive.expand(rows, -1), self.negative.expand(rows, -1))

    def compare(self, embeddings: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
        positive, negative = args
        return torch.sigmoid(_distance(embeddings, negative) - _distance(embeddings, positive))
