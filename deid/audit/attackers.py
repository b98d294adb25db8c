"""Re-identification attackers for the privacy audit: anything that turns images into distances.

An :class:`Attacker` maps query and gallery images to a distance matrix ``distmat (Q, G)``. It
wraps either an embedding function (distances are L2 between embeddings, and the audit embeds
each image set once) or a distance function of two image batches. An attacker may also
*adapt*: given concealed and original images of training persons, return a new attacker (the
adaptive attacker fine-tunes its embedder on them).

The audit's attackers:

1. :func:`model_attacker` on the conceal loop's own adversary network (``reid_model.load_default()``);
2. :func:`checkpoint_attacker`: independently trained embedders (any reid_model checkpoint; the
   bundled ``independent`` seed network and ``independent_stripe``);
3. :func:`handcrafted_attacker`: LOMO + XQDA (``reid_model.HandcraftedMatcher``), no network;
4. :func:`adaptive_attacker`: an embedder fine-tuned (:func:`finetune`) on concealed training
   persons, to match concealed queries to original galleries.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence

import torch

from reid_model import (
    Embedder,
    HandcraftedMatcher,
    MarginTripletLoss,
    PersonBatchSampler,
    SoftmaxTripletLoss,
    batch_triplets,
    embed,
    load_checkpoint,
)
from reid_model.checks import check_choice, check_images, check_positive
from reid_model.io import resize

EmbedFn = Callable[[torch.Tensor], torch.Tensor]
DistanceFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: ``adapt(concealed (N, 3, H, W), original (N, 3, H, W), labels (N,), cameras (N,)) -> Attacker``.
AdaptFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], "Attacker"]


class Attacker:
    """A re-id attacker: images in, distances ``distmat (Q, G)`` out (smaller = more similar).

    Args:
        name: the attacker's name in audit tables.
        embed_fn: images ``(B, 3, H, W)`` -> embeddings ``(B, D)``; distances are L2.
        distance_fn: query ``(Q, 3, H, W)``, gallery ``(G, 3, H, W)`` -> ``(Q, G)``; used when
            there is no ``embed_fn``.
        adapt_fn: optional; concealed and original training images, labels and cameras -> a new,
            adapted attacker.

    Example:
        >>> attacker = Attacker("mean colour", embed_fn=lambda x: x.mean(dim=(2, 3)))
        >>> attacker(torch.rand(2, 3, 8, 4), torch.rand(5, 3, 8, 4)).shape
        torch.Size([2, 5])
    """

    def __init__(
        self,
        name: str,
        *,
        embed_fn: EmbedFn | None = None,
        distance_fn: DistanceFn | None = None,
        adapt_fn: AdaptFn | None = None,
    ) -> None:
        if (embed_fn is None) == (distance_fn is None):
            raise ValueError("Attacker needs exactly one of embed_fn and distance_fn")
        self.name = name
        self.embed_fn = embed_fn
        self.distance_fn = distance_fn
        self.adapt_fn = adapt_fn

    def __repr__(self) -> str:
        kind = "embedding" if self.embed_fn is not None else "distance"
        return f"Attacker({self.name!r}, {kind}{', adaptive' if self.adaptive else ''})"

    @property
    def adaptive(self) -> bool:
        """Whether the attacker adapts to concealed training images (see :meth:`adapt`)."""
        return self.adapt_fn is not None

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """What the attacker compares: embeddings ``(B, D)``, or the images themselves."""
        check_images(images)
        return self.embed_fn(images) if self.embed_fn is not None else images

    def compare(self, query: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
        """Distances ``(Q, G)`` between outputs of :meth:`features`."""
        if self.distance_fn is not None:
            return self.distance_fn(query, gallery)
        return torch.cdist(query.float(), gallery.float())

    def __call__(self, query: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
        """``distmat (Q, G)`` between images ``query (Q, 3, H, W)`` and ``gallery (G, 3, H, W)``."""
        return self.compare(self.features(query), self.features(gallery))

    def adapt(
        self,
        concealed: torch.Tensor,
        original: torch.Tensor,
        labels: torch.Tensor,
        cameras: torch.Tensor,
    ) -> Attacker:
        """The attacker adapted to a concealment method; itself when it does not adapt.

        Args:
            concealed: ``(N, 3, H, W)`` concealed images of training persons.
            original: ``(N, 3, H, W)`` the same images before concealment.
            labels: ``(N,)`` person ids; cameras: ``(N,)`` camera ids.
        """
        if self.adapt_fn is None:
            return self
        return self.adapt_fn(concealed, original, labels, cameras)


def model_attacker(model: Embedder, *, name: str = "adversary", batch_size: int = 256) -> Attacker:
    """An attacker embedding with a reid_model embedder (any input size is resized to its input).

    Example:
        >>> attacker = model_attacker(reid_model.load_default())  # doctest: +SKIP
    """
    return Attacker(name, embed_fn=lambda images: embed(model, images, batch_size=batch_size))


def checkpoint_attacker(
    path: str | os.PathLike[str], *, name: str = "independent", device: str | torch.device = "cpu"
) -> Attacker:
    """An attacker from a reid_model checkpoint (``.safetensors`` with its ``.json`` beside it).

    Example:
        >>> attacker = checkpoint_attacker("runs/models/stripe/best.safetensors")  # doctest: +SKIP
    """
    return model_attacker(load_checkpoint(path, device=device), name=name)


def handcrafted_attacker(matcher: HandcraftedMatcher, *, name: str = "handcrafted") -> Attacker:
    """An attacker from a hand-crafted matcher, fitted on training persons unless ``metric="none"``.

    Example:
        >>> matcher = HandcraftedMatcher().fit(train_images, train_labels)  # doctest: +SKIP
        >>> attacker = handcrafted_attacker(matcher)  # doctest: +SKIP
    """
    if not matcher.fitted:
        raise ValueError(
            f"matcher must be fitted first (metric={matcher.metric!r}); call matcher.fit(images, labels)"
        )
    return Attacker(name, embed_fn=matcher.embed)


def finetune(
    model: Embedder,
    concealed_images: torch.Tensor,
    labels: Sequence[int] | torch.Tensor,
    cameras: Sequence[int] | torch.Tensor,
    *,
    original_images: torch.Tensor | None = None,
    epochs: int = 3,
    lr: float = 3e-4,
    weight_decay: float = 5e-4,
    persons_per_batch: int = 16,
    loss: str = "margin",
    margin: float = 0.3,
    mining: str = "hard",
    seed: int = 0,
) -> Embedder:
    """Fine-tune a copy of ``model`` so it matches concealed appearances; the input is left alone.

    Batches hold ``persons_per_batch`` persons with two appearances each from different cameras,
    triplets are mined inside the batch (:func:`reid_model.batch_triplets`) and the loss is
    :class:`reid_model.MarginTripletLoss` (or the seed's softmax loss). With ``original_images``,
    each person's originals join the pool, so positives pair concealed with original appearances:
    the attacker learns to match concealed queries to an original gallery.

    Args:
        model: the embedder to start from.
        concealed_images: ``(N, 3, H, W)`` concealed training images.
        labels: ``(N,)`` person ids; cameras: ``(N,)`` camera ids.
        original_images: optional ``(N, 3, H, W)`` the same images unconcealed.
        epochs: passes over the training persons.
        lr, weight_decay: AdamW settings.
        persons_per_batch: persons per batch (two appearances each).
        loss: ``"margin"`` or ``"softmax"``.
        margin: the margin of the margin loss.
        mining: ``"hard"`` or ``"random"`` negatives.
        seed: fixes batches and mining.

    Returns:
        The fine-tuned copy, in eval mode, on the model's device.

    Example:
        >>> tuned = finetune(model, concealed, labels, cameras, epochs=2)  # doctest: +SKIP
    """
    check_images(concealed_images, "concealed_images")
    check_positive("epochs", epochs)
    check_positive("lr", lr)
    check_choice("loss", loss, ("margin", "softmax"))
    check_choice("mining", mining, ("hard", "random"))
    labels_t = torch.as_tensor(labels).long().cpu()
    cameras_t = torch.as_tensor(cameras).long().cpu()
    for name, t in (("labels", labels_t), ("cameras", cameras_t)):
        if t.shape != (len(concealed_images),):
            raise ValueError(f"{name} must have shape ({len(concealed_images)},), got {tuple(t.shape)}")
    images = concealed_images
    if original_images is not None:
        check_images(original_images, "original_images")
        if original_images.shape != concealed_images.shape:
            raise ValueError(
                "original_images must have the shape of concealed_images "
                f"{tuple(concealed_images.shape)}, got {tuple(original_images.shape)}"
            )
        images = torch.cat([concealed_images, original_images])
        labels_t, cameras_t = labels_t.repeat(2), cameras_t.repeat(2)
    param = next(model.parameters())
    images = resize(images, model.input_size).to(param.device, param.dtype)
    tuned = copy.deepcopy(model).train()
    tuned.requires_grad_(True)
    loss_fn = MarginTripletLoss(margin=margin) if loss == "margin" else SoftmaxTripletLoss()
    optimizer = torch.optim.AdamW(tuned.parameters(), lr=lr, weight_decay=weight_decay)
    sampler = PersonBatchSampler(
        labels=labels_t.tolist(),
        cameras=cameras_t.tolist(),
        persons_per_batch=persons_per_batch,
        seed=seed,
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for epoch in range(epochs):
            for batch in sampler.batches(epoch=epoch):
                embeddings = tuned(images[batch])
                a, p, n = batch_triplets(
                    embeddings, labels_t[batch].to(param.device), mining=mining, generator=generator
                )
                step_loss = loss_fn(embeddings[a], embeddings[p], embeddings[n])
                optimizer.zero_grad(set_to_none=True)
                step_loss.backward()
                optimizer.step()
    return tuned.eval()


def adaptive_attacker(
    model: Embedder,
    *,
    name: str = "adaptive",
    epochs: int = 3,
    **finetune_options: object,
) -> Attacker:
    """An attacker that fine-tunes ``model`` on each concealment method before attacking it.

    Unadapted, it attacks with ``model`` itself (its "before" numbers are the model's). Its
    :meth:`Attacker.adapt` fine-tunes a copy with :func:`finetune` on concealed training persons
    (originals included, so concealed queries learn to meet original galleries). The loss,
    margin and mining default to those the model was trained with (its checkpoint metadata).

    Args:
        model: the starting embedder, e.g. the independent one.
        name: name in audit tables.
        epochs: fine-tuning epochs.
        finetune_options: further keyword options of :func:`finetune`.

    Example:
        >>> attacker = adaptive_attacker(load_checkpoint("other.safetensors"))  # doctest: +SKIP
    """
    check_positive("epochs", epochs)
    trained = getattr(model, "metadata", {}).get("train_config", {})
    options = {k: trained[k] for k in ("loss", "margin", "mining") if k in trained}
    options.update(finetune_options)

    def adapt(
        concealed: torch.Tensor, original: torch.Tensor, labels: torch.Tensor, cameras: torch.Tensor
    ) -> Attacker:
        tuned = finetune(
            model,
            concealed,
            labels,
            cameras,
            original_images=original,
            epochs=epochs,
            **options,
        )
        return model_attacker(tuned, name=name)

    return Attacker(name, embed_fn=lambda images: embed(model, images), adapt_fn=adapt)
