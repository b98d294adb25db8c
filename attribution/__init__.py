"""attribution: explain what drives a re-identification match, with Captum.

Match scores (:class:`DistanceScore`, :class:`ConditionScore`) are attributed to pixels by
:func:`explain`; regions (body parts, grid cells, superpixels) sum them up; heatmaps show them;
:func:`analyze` answers which body regions and soft-biometric attributes drive matching, and
:func:`deletion_curves` checks that an attribution method is faithful.
"""

from attribution._captum import cam_layer
from attribution.analysis import AnalysisConfig, AnalysisResult, ViewRegions, analyze
from attribution.attributes import AttributeTable, attribute_region, load_attributes
from attribution.concealment import person_errors, region_concealment
from attribution.faithfulness import DeletionCurves, deletion_curves
from attribution.heatmaps import (
    labelled,
    overlay,
    pair_heatmap,
    save_heatmap,
    save_pair_heatmap,
    side_by_side,
)
from attribution.methods import INTERNAL_BATCH_SIZE, METHODS, explain
from attribution.pairs import paired_views
from attribution.pose import BAND_PARTS, POSE_PARTS, pose_regions
from attribution.probe import linear_probe
from attribution.regions import (
    BODY_BANDS,
    body_regions,
    grid_regions,
    region_labels,
    region_scores,
    stack_regions,
    superpixel_regions,
)
from attribution.report import write_report
from attribution.scores import ConditionScore, DistanceScore, MatchScore

__all__ = [
    "BAND_PARTS",
    "BODY_BANDS",
    "INTERNAL_BATCH_SIZE",
    "METHODS",
    "POSE_PARTS",
    "AnalysisConfig",
    "AnalysisResult",
    "AttributeTable",
    "ConditionScore",
    "DeletionCurves",
    "DistanceScore",
    "MatchScore",
    "ViewRegions",
    "analyze",
    "attribute_region",
    "body_regions",
    "cam_layer",
    "deletion_curves",
    "explain",
    "grid_regions",
    "labelled",
    "linear_probe",
    "load_attributes",
    "overlay",
    "pair_heatmap",
    "paired_views",
    "person_errors",
    "pose_regions",
    "region_concealment",
    "region_labels",
    "region_scores",
    "save_heatmap",
    "save_pair_heatmap",
    "side_by_side",
    "stack_regions",
    "superpixel_regions",
    "write_report",
]
