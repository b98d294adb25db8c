"""Video: people followed from frame to frame, each concealed the same way in every frame.

:func:`conceal_video` reads a video file (PyAV) or a folder of frames, follows every person
(:func:`follow_people`: the person finder, the pose model and motpy's tracker), decides one
treatment per track with the conceal loop, renders it on every frame of the track, writes the
video and judges every person again as cut from the video as written; :func:`verify_video`
judges the written video again against its report (``deid verify``).
"""

from deid.video.follow import HOW, FollowConfig, Follower, Sighting, follow_people
from deid.video.io import (
    QUALITY,
    VIDEO_SUFFIXES,
    Frame,
    VideoError,
    VideoInfo,
    VideoReader,
    VideoWriter,
    is_video,
)
from deid.video.run import LOOK_EVERY, TrackReport, VideoReport, conceal_video
from deid.video.smoothing import steady_bodies
from deid.video.verification import VideoVerification, unfinished, unreported, verify_video, video_reports

__all__ = [
    "HOW",
    "LOOK_EVERY",
    "QUALITY",
    "VIDEO_SUFFIXES",
    "FollowConfig",
    "Follower",
    "Frame",
    "Sighting",
    "TrackReport",
    "VideoError",
    "VideoInfo",
    "VideoReader",
    "VideoReport",
    "VideoVerification",
    "VideoWriter",
    "conceal_video",
    "follow_people",
    "is_video",
    "steady_bodies",
    "unfinished",
    "unreported",
    "verify_video",
    "video_reports",
]
