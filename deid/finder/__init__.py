"""The person finder: boxes, silhouettes and keypoints for every person in a frame, offline on the CPU.

HOG proposals are confirmed, re-centred and outlined by MediaPipe's pose landmark model (vendored,
sha256-checked, run by OpenCV); see :func:`find_people`.
"""

from deid.finder._windows import POSE_CONNECTIONS
from deid.finder.config import MIN_FRAME, FinderConfig, FrameTooSmallError, Person
from deid.finder.crop import find_person_in_crop
from deid.finder.model import (
    MODEL_PATH,
    MODEL_SHA256,
    ModelFileError,
    PoseModel,
    PoseOutput,
    check_model_file,
)
from deid.finder.pipeline import find_people
from deid.finder.regions import person_regions

__all__ = [
    "MIN_FRAME",
    "MODEL_PATH",
    "MODEL_SHA256",
    "POSE_CONNECTIONS",
    "FinderConfig",
    "FrameTooSmallError",
    "ModelFileError",
    "Person",
    "PoseModel",
    "PoseOutput",
    "check_model_file",
    "find_people",
    "find_person_in_crop",
    "person_regions",
]
