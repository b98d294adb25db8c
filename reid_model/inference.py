"""Embedding images with a trained embedder, batched, without gradients; and remembered."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch

from reid_model.checks import check_images
from reid_model.embedders import Embedder
from reid_model.io import resize


def embed(model: Embedder, images: torch.Tensor, *, batch_size: int = 64) -> torch.Tensor:
    """Embed a batch of images ``(B, 3, H, W)`` in [0, 1] as ``(B, D)``; any size is resized.

    The model is used in eval mode and in channels-last memory format, the fast layout for
    convolutions on the CPU. The model's training mode is restored afterwards.

    Example:
        >>> model = reid_model.load_default()  # doctest: +SKIP
        >>> embed(model, torch.rand(4, 3, 256, 96)).shape  # doctest: +SKIP
        torch.Size([4, 256])
    """
    check_images(images)
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                chunk = resize(images[start : start + batch_size], model.input_size)
                chunk = chunk.to(param.device, param.dtype).contiguous(memory_format=torch.channels_last)
                out.append(model(chunk).float())
    finally:
        model.train(was_training)
    if not out:
        return torch.empty(0, model.embedding_dim)
    return torch.cat(out)


class EmbeddingMemo:
    """:func:`embed` for one model that remembers the embeddings of the images it has seen.

    An image is known by its content (a 128-bit BLAKE2 digest of its bytes, with its shape and
    dtype), so the same crop embedded again (an original checked once per step, a written file
    that decodes to the crop just judged) costs a hash instead of a forward pass, and gets the
    very embedding it got before. The model's weights must not change while it is in use: an
    in-place change of any parameter or buffer (an optimizer step, ``load_state_dict``) is
    noticed and forgets everything; a change through ``.data``, which bypasses PyTorch's version
    counters, is not (fine-tune a copy, as the audit's adaptive attacker does). The least
    recently used embeddings go beyond ``capacity``; ``hits`` and ``misses`` count the images
    served from memory and those embedded. ``compute(images, keys)`` embeds the images it has
    not seen (default: :func:`embed` with the model); it must give what the model gives.

    Example:
        >>> memo = EmbeddingMemo(reid_model.load_default())  # doctest: +SKIP
        >>> images = torch.rand(2, 3, 128, 48)  # doctest: +SKIP
        >>> torch.equal(memo(images), memo(images.clone()))  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        model: Embedder,
        *,
        capacity: int = 16384,
        compute: Callable[[torch.Tensor, list[bytes]], torch.Tensor] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.model, self.capacity = model, capacity
        self._compute = compute or (lambda images, keys: embed(model, images))
        self._rows: OrderedDict[bytes, torch.Tensor] = OrderedDict()
        self._weights = self._weights_version()
        self.hits = self.misses = 0

    def _weights_version(self) -> tuple[int, ...]:
        return tuple(t._version for t in (*self.model.parameters(), *self.model.buffers()))

    def __call__(self, images: torch.Tensor, keys: Sequence[bytes] | None = None) -> torch.Tensor:
        """Embeddings ``(B, D)`` of ``images (B, 3, H, W)``, as :func:`embed` gives them; ``keys``
        are their :func:`content_keys` when the caller has them already (several memos, one batch)."""
        check_images(images)
        if keys is None:
            keys = content_keys(images)
        elif len(keys) != len(images):
            raise ValueError(f"keys must be one per image ({len(images)}), got {len(keys)}")
        weights = self._weights_version()
        if weights != self._weights:
            self._rows.clear()
            self._weights = weights
        new = {key: i for i, key in enumerate(keys) if key not in self._rows}
        self.hits += len(keys) - len(new)
        self.misses += len(new)
        if new:
            rows = self._compute(images[list(new.values())], list(new))
            for key, row in zip(new, rows, strict=True):
                self._rows[key] = row
        if not keys:
            return torch.empty(0, self.model.embedding_dim)
        out = torch.stack([self._rows[key] for key in keys])
        for key in keys:
            self._rows.move_to_end(key)
        while len(self._rows) > self.capacity:
            self._rows.popitem(last=False)
        return out


def content_keys(images: torch.Tensor) -> list[bytes]:
    """What :class:`EmbeddingMemo` knows each image of ``images (B, ...)`` by: a digest of its
    bytes, shape and dtype."""
    return [_content_key(image) for image in images]


def _content_key(image: torch.Tensor) -> bytes:
    data = image.detach().cpu().contiguous()
    digest = hashlib.blake2b(data.view(torch.uint8).numpy().tobytes(), digest_size=16)
    digest.update(f"{tuple(data.shape)}{data.dtype}".encode())
    return digest.digest()
