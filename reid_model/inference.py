"""Embedding images with a trained embedder, batched, without gradients."""

from __future__ import annotations

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
        torch.Size([4, 128])
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
