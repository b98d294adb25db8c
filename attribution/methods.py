"""``explain``: attribute a match score to the pixels of the images, by method name, with Captum."""

from __future__ import annotations

from typing import Any, Literal, overload

import torch
import torch.nn.functional as F
from torch import nn

from attribution._captum import RUNNERS, cam_layer
from attribution._fills import filler
from attribution.scores import DistanceScore, MatchScore
from reid_model import INPUT_SIZE
from reid_model.checks import check_choice, check_images, check_positive
from reid_model.io import resize

#: Method names accepted by :func:`explain`.
METHODS: tuple[str, ...] = tuple(sorted(RUNNERS))

#: Largest number of images in one model call (Captum's ``internal_batch_size`` and
#: ``perturbations_per_eval`` are derived from it): bounds memory on long runs.
INTERNAL_BATCH_SIZE = 64

_BASELINES = ("black", "blur", "mean")


def _reference_rows(model: nn.Module, reference: torch.Tensor) -> torch.Tensor:
    """Embeddings ``(R, D)`` from reference embeddings or reference images ``(R, 3, H, W)``."""
    if reference.ndim == 4:
        check_images(reference, "reference")
        param = next(model.parameters())
        height, width = getattr(model, "input_size", INPUT_SIZE)
        with torch.no_grad():
            embeddings: torch.Tensor = model(resize(reference, (height, width)).to(param.device, param.dtype))
        return embeddings
    return reference


def _as_score(model_or_score: nn.Module | MatchScore, reference: torch.Tensor | None) -> MatchScore:
    if isinstance(model_or_score, MatchScore):
        if reference is not None:
            raise ValueError("reference is only used with a model; a MatchScore holds its own reference")
        return model_or_score
    if not isinstance(model_or_score, nn.Module):
        raise TypeError(
            f"model_or_score must be an embedder (torch.nn.Module) or a MatchScore, "
            f"got {type(model_or_score).__name__}"
        )
    if reference is None:
        raise ValueError(
            "reference is required when explaining a model: embeddings (B, D) or (D,), or images "
            "(B, 3, H, W), to match against"
        )
    if not isinstance(reference, torch.Tensor):
        raise TypeError(f"reference must be a torch.Tensor, got {type(reference).__name__}")
    return DistanceScore(model_or_score, _reference_rows(model_or_score, reference))


def _baseline(
    baseline: torch.Tensor | float | str | None,
    images: torch.Tensor,
    inputs: torch.Tensor,
    method: str,
) -> torch.Tensor:
    """The baseline at model size: ``(B, 3, h, w)``, or ``(N, 3, h, w)`` samples (GradientShap)."""
    if baseline is None:
        if method == "gradient_shap":
            return torch.cat([torch.zeros_like(inputs), filler(inputs, "mean")])
        baseline = "mean"
    if isinstance(baseline, str):
        check_choice("baseline", baseline, _BASELINES)
        return torch.zeros_like(inputs) if baseline == "black" else filler(inputs, baseline)
    if isinstance(baseline, (int, float)):
        return torch.full_like(inputs, float(baseline))
    if not isinstance(baseline, torch.Tensor) or baseline.ndim != 4 or baseline.shape[1] != 3:
        got = tuple(baseline.shape) if isinstance(baseline, torch.Tensor) else type(baseline).__name__
        raise ValueError(
            f"baseline must be None, a number, one of {list(_BASELINES)} or (B, 3, H, W), got {got}"
        )
    if baseline.shape[2:] != images.shape[2:]:
        raise ValueError(
            f"baseline must have the images' size {tuple(images.shape[2:])}, got {tuple(baseline.shape[2:])}"
        )
    baseline = resize(baseline.to(inputs.dtype), (inputs.shape[2], inputs.shape[3])).to(inputs.device)
    if method == "gradient_shap":
        return baseline
    if len(baseline) not in (1, len(inputs)):
        raise ValueError(f"baseline must have 1 or {len(inputs)} images, got {len(baseline)}")
    return baseline.expand_as(inputs).contiguous()


def _chunk(method: str, batch: int, options: dict[str, Any]) -> int:
    """Images per Captum call, so that no model call exceeds ``batch`` rows."""
    if method == "gradient_shap":
        return max(1, batch // int(options.get("n_samples", 8)))
    return batch


@overload
def explain(
    model_or_score: nn.Module | MatchScore,
    images: torch.Tensor,
    *,
    method: str = ...,
    reference: torch.Tensor | None = ...,
    baseline: torch.Tensor | float | str | None = ...,
    internal_batch_size: int = ...,
    return_delta: Literal[False] = ...,
    **method_options: Any,
) -> torch.Tensor: ...


@overload
def explain(
    model_or_score: nn.Module | MatchScore,
    images: torch.Tensor,
    *,
    method: str = ...,
    reference: torch.Tensor | None = ...,
    baseline: torch.Tensor | float | str | None = ...,
    internal_batch_size: int = ...,
    return_delta: Literal[True],
    **method_options: Any,
) -> tuple[torch.Tensor, torch.Tensor | None]: ...


def explain(
    model_or_score: nn.Module | MatchScore,
    images: torch.Tensor,
    *,
    method: str = "integrated_gradients",
    reference: torch.Tensor | None = None,
    baseline: torch.Tensor | float | str | None = None,
    internal_batch_size: int = INTERNAL_BATCH_SIZE,
    return_delta: bool = False,
    **method_options: Any,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
    """Attribute a match score to the pixels of ``images`` with a Captum method.

    The images are resized to the model's input, attributed there, and the map is scaled back
    to the images' resolution with its sum kept (so region sums keep their meaning).

    The default baseline is each image's mean colour: on VIPeR a black baseline makes
    Integrated Gradients barely better than random at deleting what the match rests on (dark
    clothes sit at the baseline), while the mean colour makes it the most faithful method
    (``benchmarks/faithfulness.py``).

    ======================  ==============================================  ===================
    method                  what a pixel's value is                          default baseline
    ======================  ==============================================  ===================
    integrated_gradients    share of score(x) - score(baseline); sums to it  mean colour
    saliency                ``|d score / d pixel|`` (``abs=False``: signed)  --
    gradient_shap           expected gradient x (x - baseline), noisy        black and mean
    occlusion               score drop when a window around it is hidden      mean colour
    feature_ablation        region's score drop spread over its pixels       mean colour
    grad_cam                Grad-CAM on the last conv block, upsampled        --
    ======================  ==============================================  ===================

    Args:
        model_or_score: an embedder (then ``reference`` is required and the score is
            :class:`DistanceScore`) or a :class:`MatchScore`.
        images: ``(B, 3, H, W)`` in [0, 1], any size.
        method: one of :data:`METHODS`.
        reference: with a model, embeddings ``(B, D)`` / ``(D,)`` or images ``(B, 3, H', W')``.
        baseline: ``None`` (the table's default), a number, ``"black"``, ``"mean"`` (each
            image's mean colour), ``"blur"``, or images ``(B|1, 3, H, W)`` (for gradient_shap,
            any number of baseline samples ``(N, 3, H, W)``).
        internal_batch_size: largest number of images in one model call.
        return_delta: also return Captum's convergence delta ``(B,)`` (Integrated Gradients and
            GradientShap; ``None`` for the other methods).
        **method_options: passed to the method: ``n_steps``/``method`` (integrated_gradients),
            ``abs`` (saliency), ``n_samples``/``stdevs`` (gradient_shap), ``window``/``stride``
            in pixels at model size (occlusion), ``regions (R, h, w)`` (feature_ablation; an
            8 x 4 grid by default), ``layer``/``relu_attributions`` (grad_cam).

    Returns:
        Attributions ``(B, 1, H, W)``, signed, in the images' dtype and device.

    Example:
        >>> model = TripletEmbedder().eval()
        >>> probe, gallery = torch.rand(2, 3, 128, 48), torch.rand(2, 3, 128, 48)
        >>> explain(model, probe, reference=gallery, method="saliency").shape
        torch.Size([2, 1, 128, 48])
    """
    check_images(images)
    check_choice("method", method, METHODS)
    check_positive("internal_batch_size", internal_batch_size)
    score = _as_score(model_or_score, reference)
    score.check_batch(len(images))
    model = score.model
    param = next(model.parameters())
    height, width = images.shape[-2:]
    inputs = resize(images, score.input_size).to(param.device, param.dtype)
    base = _baseline(baseline, images, inputs, method)
    args = tuple(a.to(param.device, param.dtype).expand(len(inputs), -1) for a in score.forward_args())
    chunk = _chunk(method, internal_batch_size, method_options)
    if method == "grad_cam" and method_options.get("layer") is None:
        method_options["layer"] = cam_layer(model, score.input_size)
    # Captum's convergence delta costs two more forward passes: only when asked for.
    extra = {"delta": return_delta} if method in ("integrated_gradients", "gradient_shap") else {}
    was_training = model.training
    model.eval()
    parts, deltas = [], []
    try:
        for start in range(0, len(inputs), chunk):
            part = slice(start, start + chunk)
            chunk_base = base if method == "gradient_shap" else base[part]
            chunk_args = tuple(a[part] for a in args)
            attr, delta = RUNNERS[method](
                score, inputs[part], chunk_args, chunk_base, internal_batch_size, **method_options, **extra
            )
            parts.append(attr.detach())
            deltas.append(None if delta is None else delta.detach())
    finally:
        model.train(was_training)
    attributions = torch.cat(parts) if parts else inputs.new_zeros(0, 1, *inputs.shape[2:])
    attributions = _to_size(attributions, (height, width)).to(images.device, images.dtype)
    if not return_delta:
        return attributions
    has_delta = bool(deltas) and all(d is not None for d in deltas)
    return attributions, torch.cat([d for d in deltas if d is not None]) if has_delta else None


def _to_size(attributions: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a map ``(B, 1, h, w)`` to ``size``, keeping its sum (up to interpolation)."""
    h, w = attributions.shape[-2:]
    if (h, w) == tuple(size) or len(attributions) == 0:
        return attributions
    mode = "area" if size[0] <= h and size[1] <= w else "bilinear"
    kwargs = {} if mode == "area" else {"align_corners": False}
    out = F.interpolate(attributions, size=size, mode=mode, **kwargs)
    return out * (h * w) / (size[0] * size[1])
