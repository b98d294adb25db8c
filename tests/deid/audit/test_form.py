"""The form metrics on real VIPeR crops: a person left, their keypoints, what changed around them."""

import pytest
import torch

from deid.audit.form import form_scores, read_poses
from reid_model import load_images


@pytest.fixture
def crops(viper_root):
    return load_images([viper_root / "cam_a" / f"{n:03d}_45.bmp" for n in (0, 1, 2)])


def test_unchanged_crops_keep_everything(crops):
    scores = form_scores(crops, crops.clone())
    assert scores["pose_detected"] == scores["pose_detected_before"] == 1.0
    assert scores["pck"] == 1.0
    assert scores["person_changed"] == scores["background_changed"] == 0.0
    assert scores["ssim_background"] == pytest.approx(1.0)


def test_a_blacked_out_person_is_gone_and_the_background_untouched(crops):
    poses = read_poses(crops)
    concealed = crops.clone()
    concealed[poses.silhouettes[:, None].expand_as(concealed)] = 0.0
    scores = form_scores(concealed, crops, poses)
    assert scores["person_changed"] > 0.95 and scores["background_changed"] == 0.0
    whole = form_scores(torch.zeros_like(crops), crops, poses)
    assert whole["background_changed"] > 0.95 and whole["pose_detected"] == 0.0
    assert whole["pck"] != whole["pck"]  # NaN: no crop is posed in both


def test_bad_input_is_refused(crops):
    with pytest.raises(ValueError, match="originals"):
        form_scores(crops, crops[:, :1])
