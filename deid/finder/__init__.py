"""The person finder: boxes, silhouettes and keypoints for every person in a frame, offline on the CPU."""

from deid.finder.model import (
    MODEL_PATH,
    MODEL_SHA256,
    ModelFileError,
    PoseModel,
    PoseOutput,
    check_model_file,
)

__all__ = ["MODEL_PATH", "MODEL_SHA256", "ModelFileError", "PoseModel", "PoseOutput", "check_model_file"]
