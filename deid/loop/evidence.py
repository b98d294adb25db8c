"""Why the adversary still matches a person: attribution of the match, pooled over its models, per cell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from attribution import DistanceScore, cam_layer, explain, region_scores
from deid.adversary import match_pairs
from deid.loop.config import ConcealConfig
from deid.loop.state import Problem

#: Attribution methods that take a baseline: the loop gives them the fully concealed images.
BASELINE_METHODS = frozenset({"integrated_gradients", "occlusion", "feature_ablation"})


def _references(originals: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Per appearance, the mean original embedding of the appearances it is checked against."""
    a_idx, b_idx = match_pairs(groups)
    sums = torch.zeros_like(originals).index_add_(0, a_idx, originals[b_idx])
    return sums / torch.bincount(a_idx, minlength=len(groups)).clamp(min=1)[:, None].to(originals)


def _has_cam_layer(model: torch.nn.Module) -> bool:
    try:
        cam_layer(model)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, eq=False)
class Evidence:
    """Attributes each appearance's match and scores each person's cells by it.

    The score is minus the distance to the appearance's reference embedding (the mean of the
    originals it is checked against); only positive attribution (evidence for the match) counts,
    normalized per appearance and model. Methods with a baseline take the fully concealed views
    as it, so a pixel's attribution is its share of what concealing it would change. Models
    without useful gradients (``Embedder.differentiable`` false) are skipped here; they still
    judge every step.

    Attributes:
        problem: the loop's people, adversary and cells.
        method: the attribution method (``attribution.METHODS``).
        options: the method's options (baseline, integration steps).
        references: per model, ``(A, D)`` each appearance's reference embedding.
        baselines: ``(A, 3, h, w)`` the fully concealed views.
    """

    problem: Problem
    method: str
    options: dict[str, Any]
    references: tuple[torch.Tensor, ...]
    baselines: torch.Tensor

    @classmethod
    def build(cls, problem: Problem, config: ConcealConfig) -> Evidence:
        whole = torch.ones(problem.n_people, 1, *problem.adversary.input_size)
        baselines = problem.people.render(problem.operator, whole)[1]
        options: dict[str, Any] = {}
        if config.method == "integrated_gradients":
            options["n_steps"] = config.ig_steps
        references = tuple(_references(o, problem.groups) for o in problem.originals)
        return cls(problem, config.method, options, references, baselines)

    def attribute(self, views: torch.Tensor, todo: torch.Tensor) -> torch.Tensor:
        """Evidence for the match ``(n, 1, h, w)`` of the ``todo (A,)`` appearances' ``views``."""
        pooled = torch.zeros(len(views), 1, *views.shape[-2:])
        options = dict(self.options)
        if self.method in BASELINE_METHODS:
            options["baseline"] = self.baselines[todo]
        for model, reference in zip(self.problem.adversary.models, self.references, strict=True):
            if not model.differentiable:
                continue  # e.g. LOMO + XQDA's hard histograms: it judges whether, not where
            method = self.method
            if method == "grad_cam" and not _has_cam_layer(model):
                method = "saliency"  # e.g. the colour matcher: no convolutional map to take Grad-CAM of
            attributions = explain(DistanceScore(model, reference[todo]), views, method=method, **options)
            positive = attributions.detach().float().cpu().clamp(min=0)
            pooled += positive / positive.sum(dim=(1, 2, 3), keepdim=True).clamp(min=1e-12)
        return pooled

    def cell_scores(self, pooled: torch.Tensor, todo: torch.Tensor) -> torch.Tensor:
        """``(P, R)`` each person's evidence per cell, summed over their ``todo`` appearances."""
        maps = torch.zeros(self.problem.n_people, 1, *pooled.shape[-2:])
        return region_scores(maps.index_add_(0, self.problem.groups[todo], pooled), self.problem.cells)
