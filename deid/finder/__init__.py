"""The person finder: boxes, silhouettes and keypoints for every person in a frame, offline on the CPU.

MediaPipe's BlazePose person detector and OpenCV's HOG propose; MediaPipe's pose landmark model
confirms, re-centres and outlines (both models vendored, sha256-checked, run by LiteRT or
OpenCV); see :func:`find_people`. CenterFace finds faces (:func:`find_faces`), the net under it.
"""

from deid.finder._windows import POSE_CONNECTIONS
from deid.finder.config import (
    FACE_MAX_SIDE,
    FACE_THRESHOLD,
    FACE_UPSCALE,
    FINDERS,
    MIN_FRAME,
    TURNED_FACE_THRESHOLD,
    TURNS,
    FinderConfig,
    FrameTooSmallError,
    Person,
    named_finder,
)
from deid.finder.crop import find_people_in_crops, find_person_in_crop
from deid.finder.detector import DETECTOR_PATH, DETECTOR_SHA256, PersonDetector
from deid.finder.faces import (
    FACE_MODEL_PATH,
    FACE_MODEL_SHA256,
    FaceDetector,
    faces_by_turn,
    find_faces,
    people_below_faces,
    turned_box,
    unturned_box,
)
from deid.finder.look import (
    COVERED,
    SECOND_LOOK,
    SMALL_LOOK,
    SMALL_PERSON,
    WRITTEN_LOOK,
    looks_for,
    second_look,
    uncovered,
    uncovered_people,
)
from deid.finder.model import MODEL_PATH, MODEL_SHA256, PoseModel, PoseOutput, check_model_file
from deid.finder.pipeline import find_people
from deid.finder.regions import crop_body_regions, person_regions
from deid.finder.runtime import ModelFileError, has_litert

__all__ = [
    "COVERED",
    "DETECTOR_PATH",
    "DETECTOR_SHA256",
    "FACE_MAX_SIDE",
    "FACE_MODEL_PATH",
    "FACE_MODEL_SHA256",
    "FACE_THRESHOLD",
    "FACE_UPSCALE",
    "FINDERS",
    "MIN_FRAME",
    "MODEL_PATH",
    "MODEL_SHA256",
    "POSE_CONNECTIONS",
    "SECOND_LOOK",
    "SMALL_LOOK",
    "SMALL_PERSON",
    "TURNED_FACE_THRESHOLD",
    "TURNS",
    "WRITTEN_LOOK",
    "FaceDetector",
    "FinderConfig",
    "FrameTooSmallError",
    "ModelFileError",
    "Person",
    "PersonDetector",
    "PoseModel",
    "PoseOutput",
    "check_model_file",
    "crop_body_regions",
    "faces_by_turn",
    "find_faces",
    "find_people",
    "find_people_in_crops",
    "find_person_in_crop",
    "has_litert",
    "looks_for",
    "named_finder",
    "people_below_faces",
    "person_regions",
    "second_look",
    "turned_box",
    "uncovered",
    "uncovered_people",
    "unturned_box",
]
