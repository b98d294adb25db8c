"""One runner per attribution method: the Captum call, its options and its batching.

Each runner takes a match score, model-size inputs ``(B, 3, h, w)``, the score's forward
arguments, a baseline and the batch bound, and returns attributions ``(B, 1, h, w)`` (summed
over colour channels) and Captum's convergence delta where the method has one.
"""

from __future__ import annotations

from typing import Any

import torch
from captum.attr import (
    FeatureAblation,
    GradientShap,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    Occlusion,
    Saliency,
)
from torch import nn

from attribution.regions import grid_regions, region_labels, stack_regions
from attribution.scores import MatchScore
from reid_model import INPUT_SIZE

Result = tuple[torch.Tensor, torch.Tensor | None]

#: Integrated Gradients' default number of steps (Gauss-Legendre): the speed/accuracy choice
#: measured in ``benchmarks/attribution_speed.py``.
IG_STEPS = 8


def _check_options(method: str, options: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"method {method!r} got unknown options {unknown}; it accepts {sorted(allowed)}")


def _summed(out: Any, delta: bool) -> Result:
    """Channel-summed attributions and Captum's convergence delta (None when not asked for)."""
    attr, gap = out if delta else (out, None)
    return attr.sum(dim=1, keepdim=True), gap


def integrated_gradients(
    score: MatchScore,
    inputs: torch.Tensor,
    args: tuple,
    baseline: torch.Tensor,
    batch: int,
    *,
    delta: bool = True,
    **options: Any,
) -> Result:
    _check_options("integrated_gradients", options, ("n_steps", "method"))
    out = IntegratedGradients(score).attribute(
        inputs,
        baselines=baseline,
        additional_forward_args=args,
        n_steps=options.get("n_steps", IG_STEPS),
        method=options.get("method", "gausslegendre"),
        internal_batch_size=max(batch, len(inputs)),
        return_convergence_delta=delta,
    )
    return _summed(out, delta)


def saliency(
    score: MatchScore,
    inputs: torch.Tensor,
    args: tuple,
    baseline: torch.Tensor,
    batch: int,
    **options: Any,
) -> Result:
    _check_options("saliency", options, ("abs",))
    inputs = inputs.detach().requires_grad_()
    attr = Saliency(score).attribute(inputs, abs=options.get("abs", True), additional_forward_args=args)
    return attr.sum(dim=1, keepdim=True), None


def gradient_shap(
    score: MatchScore,
    inputs: torch.Tensor,
    args: tuple,
    baseline: torch.Tensor,
    batch: int,
    *,
    delta: bool = True,
    **options: Any,
) -> Result:
    _check_options("gradient_shap", options, ("n_samples", "stdevs"))
    out = GradientShap(score).attribute(
        inputs,
        baselines=baseline,
        n_samples=options.get("n_samples", 8),
        stdevs=options.get("stdevs", 0.02),
        additional_forward_args=args,
        return_convergence_delta=delta,
    )
    return _summed(out, delta)


def occlusion(
    score: MatchScore,
    inputs: torch.Tensor,
    args: tuple,
    baseline: torch.Tensor,
    batch: int,
    **options: Any,
) -> Result:
    _check_options("occlusion", options, ("window", "stride"))
    window = tuple(options.get("window", (16, 12)))
    stride = tuple(options.get("stride", (8, 6)))
    attr = Occlusion(score).attribute(
        inputs,
        sliding_window_shapes=(3, *window),
        strides=(3, *stride),
        baselines=baseline,
        additional_forward_args=args,
        perturbations_per_eval=max(1, batch // len(inputs)),
    )
    # The window covers the three channels together, so each channel holds the same value.
    return attr[:, :1], None


def feature_ablation(
    score: MatchScore,
    inputs: torch.Tensor,
    args: tuple,
    baseline: torch.Tensor,
    batch: int,
    **options: Any,
) -> Result:
    _check_options("feature_ablation", options, ("regions",))
    h, w = inputs.shape[-2:]
    regions = options.get("regions")
    masks = grid_regions(h, w, rows=8, cols=4) if regions is None else stack_regions(regions)
    if masks.shape[1:] != (h, w):
        masks = torch.nn.functional.interpolate(masks[None].float(), size=(h, w), mode="nearest")[0] > 0.5
    labels = region_labels(masks).to(inputs.device)
    attr = FeatureAblation(score).attribute(
        inputs,
        baselines=baseline,
        additional_forward_args=args,
        feature_mask=labels[None, None],
        perturbations_per_eval=max(1, batch // len(inputs)),
    )
    # Captum gives every pixel of a region the region's whole score change; spread it evenly
    # so that summing a region's pixels gives back the change.
    area = torch.bincount(labels.flatten(), minlength=int(labels.max()) + 1).to(attr.dtype)
    return attr[:, :1] / area[labels][None, None], None


def cam_layer(model: nn.Module, input_size: tuple[int, int] = INPUT_SIZE) -> nn.Module:
    """The last layer whose output is still a usable spatial map, located generically.

    Runs one probe forward pass and returns the module that finished last among those whose
    output is a 4-D map at least ``height / 16`` rows high (at equal finishing order, the
    outermost block). For the seed's network that is the fourth conv block's ReLU (a 10 x 4
    map); its last block is 1 x 1, useless for Grad-CAM.
    """
    h, w = input_size
    min_rows = max(2, h // 16)
    order: list[nn.Module] = []

    def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor) and output.ndim == 4 and output.shape[2] >= min_rows:
            order.append(module)

    handles = [m.register_forward_hook(hook) for m in model.modules() if m is not model]
    param = next(model.parameters())
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, h, w, device=param.device, dtype=param.dtype))
    finally:
        for handle in handles:
            handle.remove()
    if not order:
        raise ValueError(f"found no layer with a spatial output of at least {min_rows} rows for Grad-CAM")
    return order[-1]


def grad_cam(
    score: MatchScore,
    inputs: torch.Tensor,
    args: tuple,
    baseline: torch.Tensor,
    batch: int,
    **options: Any,
) -> Result:
    _check_options("grad_cam", options, ("layer", "relu_attributions"))
    layer = options.get("layer")
    if layer is None:
        layer = cam_layer(score.model, (inputs.shape[2], inputs.shape[3]))
    cam = LayerGradCam(score, layer).attribute(
        inputs,
        additional_forward_args=args,
        relu_attributions=options.get("relu_attributions", False),
    )
    return LayerAttribution.interpolate(cam, tuple(inputs.shape[-2:]), "bilinear"), None


RUNNERS = {
    "feature_ablation": feature_ablation,
    "grad_cam": grad_cam,
    "gradient_shap": gradient_shap,
    "integrated_gradients": integrated_gradients,
    "occlusion": occlusion,
    "saliency": saliency,
}
