"""``deid verify``: a finished run's written files re-checked (sha256, the adversary's rule)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from deid import Adversary, BatchConfig, ConcealConfig, CropResult, VerifyError, run_batch, verify
from deid.cli import main
from deid.environment import environment
from reid_model import embed, read_image
from tests.deid.conftest import Interrupted, StandIn, write_crop


def _config(inputs, output, **options) -> BatchConfig:
    return BatchConfig(inputs=tuple(str(i) for i in inputs), output=str(output), progress=False, **options)


def _verify_cli(*args):
    return CliRunner().invoke(main, ["verify", *map(str, args)])


def _unchanged(images, paths):
    """A conceal that hands the person back untouched and claims success: what verify must catch."""
    return [CropResult.of(image=image, success=True) for image in images]


def _adversary(model) -> Adversary:
    gallery = embed(model, torch.rand(20, 3, 128, 48, generator=torch.Generator().manual_seed(5)))
    return Adversary([model], [gallery])


def test_an_untouched_person_reported_private_is_contradicted(crop_tree, tmp_path, tiny_embedder):
    # each file its own person: an untouched crop is checked against itself, rank 1
    run_batch(_config([crop_tree], tmp_path / "out", group_by="none"), conceal_group=_unchanged)
    result = verify(tmp_path / "out", adversary=_adversary(tiny_embedder))
    assert result.counts()["contradicted"] == 7 and result.exit_code == 1
    assert all(r.reported is True and r.match_rate is not None for r in result.failures)


def test_a_run_that_did_not_finish_fails_verify_whatever_its_outputs_hold(crop_tree, tmp_path, tiny_embedder):
    with pytest.raises(KeyboardInterrupt):
        run_batch(
            _config([crop_tree], tmp_path / "out", group_by="none", batch_size=1),
            conceal_group=Interrupted(2),
        )
    result = verify(tmp_path / "out", adversary=_adversary(tiny_embedder))
    assert len(result.records) == 2 and result.exit_code == 1
    assert "5 of its 7 inputs have no record" in str(result.unfinished)
    cli = _verify_cli(tmp_path / "out")
    assert cli.exit_code == 1 and "the run did not finish" in cli.output


def test_an_input_changed_since_the_run_cannot_be_checked(crop_tree, tmp_path, tiny_embedder):
    run_batch(_config([crop_tree], tmp_path / "out", group_by="none"), conceal_group=StandIn())
    write_crop(crop_tree / "cam_a" / "001_45.bmp", seed=42)  # the same size, another picture
    result = verify(tmp_path / "out", adversary=_adversary(tiny_embedder))
    changed = [r for r in result.records if r.input.endswith("001_45.bmp")]
    assert changed[0].outcome == "cannot_check" and "changed since the run" in changed[0].detail
    assert result.exit_code == 1


def test_verify_says_where_the_runs_environment_differs(crop_tree, tmp_path, tiny_embedder):
    run_batch(_config([crop_tree], tmp_path / "out", group_by="none"), conceal_group=StandIn())
    path = tmp_path / "out" / "report.json"
    document = json.loads(path.read_text())
    assert document["environment"] == environment()
    assert verify(path, adversary=_adversary(tiny_embedder)).environment == []
    document["environment"]["weights"]["reid_model/weights/fused.safetensors"] = "0" * 16
    path.write_text(json.dumps(document))
    result = verify(path, adversary=_adversary(tiny_embedder))
    assert result.environment == [
        f"weights reid_model/weights/fused.safetensors: {'0' * 16} in the run, "
        f"{environment()['weights']['reid_model/weights/fused.safetensors']} here"
    ]
    shown = _verify_cli(path)
    assert "note: the run's environment and this one differ" in shown.output
    assert "weights reid_model/weights/fused.safetensors: 0000" in shown.output


def test_a_record_not_private_as_reported_holds_its_verdict(crop_tree, tmp_path, tiny_embedder):
    def honest(images, paths):
        return [CropResult.of(image=image, success=False) for image in images]

    run_batch(_config([crop_tree], tmp_path / "out", group_by="none"), conceal_group=honest)
    result = verify(tmp_path / "out" / "report.json", adversary=_adversary(tiny_embedder))
    assert result.counts()["not_private_as_reported"] == 7 and result.exit_code == 0
    gate = _verify_cli(tmp_path / "out", "--require-private")  # before publishing: not these
    assert gate.exit_code == 3 and "7 output(s) the report calls not private" in gate.output
    assert gate.output.count("not private: ") == 7


def test_a_record_reported_not_private_that_is_private_now_is_counted_apart(
    crop_tree, tmp_path, tiny_embedder
):
    def grey_but_unsure(images, paths):  # grey crops the run (say, with its margin) called matched
        return [CropResult.of(image=torch.full_like(image, 0.5), success=False) for image in images]

    run_batch(_config([crop_tree], tmp_path / "out", group_by="none"), conceal_group=grey_but_unsure)
    path = tmp_path / "out" / "report.json"
    adversary = _adversary(tiny_embedder)
    modest = verify(path, adversary=adversary).counts()
    document = json.loads(path.read_text())
    for record in document["records"]:
        record["success"] = True
    path.write_text(json.dumps(document))
    claimed = verify(path, adversary=adversary).counts()
    assert 0 < claimed["private"] == modest["private_now"] and modest["private"] == 0
    assert claimed["contradicted"] == modest["not_private_as_reported"] > 0
    assert "private now (reported not private)" in _verify_cli(path.parent).output


def test_missing_and_changed_outputs_fail_naming_the_file(crop_tree, tmp_path, tiny_embedder):
    out = tmp_path / "out"
    run_batch(_config([crop_tree], out), conceal_group=StandIn())
    adversary = _adversary(tiny_embedder)
    assert verify(out, adversary=adversary).counts()["missing_or_changed"] == 0
    (out / "cam_a" / "000_45.bmp").unlink()
    shutil.copy(crop_tree / "cam_b" / "001_90.bmp", out / "cam_b" / "001_90.bmp")
    result = verify(out, adversary=adversary)
    assert result.exit_code == 1 and result.counts()["missing_or_changed"] == 2
    details = {Path(r.output).name: r.detail for r in result.failures}
    assert "No such file" in details["000_45.bmp"] and "sha256" in details["001_90.bmp"]


def test_a_copied_output_folder_is_checked_where_it_lies(crop_tree, tmp_path, tiny_embedder):
    # the report records where the run wrote; a copy of the folder is checked, not the original
    out, copy = tmp_path / "out", tmp_path / "copy"
    run_batch(_config([crop_tree], out, group_by="none"), conceal_group=StandIn())
    shutil.copytree(out, copy)
    shutil.copy(crop_tree / "cam_b" / "001_90.bmp", copy / "cam_b" / "001_90.bmp")
    adversary = _adversary(tiny_embedder)
    assert verify(out, adversary=adversary).counts()["missing_or_changed"] == 0
    result = verify(copy, adversary=adversary)
    changed = [(Path(r.output), r.outcome) for r in result.records if r.outcome == "missing_or_changed"]
    assert changed == [(copy / "cam_b" / "001_90.bmp", "missing_or_changed")]
    assert all(Path(r.output).is_relative_to(copy) for r in result.records)


def test_verify_names_a_missing_or_foreign_report(tmp_path):
    with pytest.raises(VerifyError, match="no such file"):
        verify(tmp_path / "nothing.json")
    (tmp_path / "other.json").write_text(json.dumps({"records": []}))
    with pytest.raises(VerifyError, match="not a deid conceal report"):
        verify(tmp_path / "other.json")
    result = _verify_cli(tmp_path)
    assert result.exit_code != 0 and "report.json: no such file" in result.output


def _viper_jpegs(viper_root: Path, folder: Path, persons: int = 2) -> Path:
    """The first ``persons`` VIPeR persons, both cameras, re-encoded as JPEG inputs."""
    for cam in ("cam_a", "cam_b"):
        for path in sorted((viper_root / cam).glob("*.bmp"))[:persons]:
            target = folder / cam / (path.stem + ".jpg")
            target.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(target), cv2.imread(str(path)))
    return folder


@pytest.mark.viper
def test_a_real_run_verifies_and_tampering_makes_verify_fail(viper_root, tmp_path):
    inputs = _viper_jpegs(viper_root, tmp_path / "in")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["conceal", str(inputs), "-o", str(out), "--no-progress", "--seed", "0"]
    )
    records = json.loads((out / "report.json").read_text())["records"]
    matched = any(r["success"] is False for r in records)
    assert result.exit_code == (3 if matched else 0), result.output  # 3: written, someone still matched
    checked = _verify_cli(out)
    assert checked.exit_code == 0, checked.output
    assert re.search(
        r"contradicted \(reported private, still matched, or a face or person shows\) +0\n", checked.output
    )
    assert "a person no look finds is not judged" in checked.output  # what a verdict cannot say
    private = [r for r in records if r["success"]]
    assert len(records) == 4 and private, "the loop made nobody private: nothing to tamper with"
    tampered = Path(private[0]["output"])
    shutil.copy(private[0]["input"], tampered)  # the original crop in place of the concealed one
    deleted = Path(next(r for r in records if r["output"] != str(tampered))["output"])
    deleted.unlink()
    checked = _verify_cli(out)
    assert checked.exit_code == 1
    assert str(tampered) in checked.output and str(deleted) in checked.output
    assert "2 record(s) do not hold their verdict" in checked.output


@pytest.mark.viper
def test_verify_rechecks_the_written_file_not_the_report(viper_root, tmp_path):
    # Hash rewritten to match: only the adversary's re-check can tell the original crop is there.
    inputs = _viper_jpegs(viper_root, tmp_path / "in", persons=1)
    out = tmp_path / "out"
    run_batch(_config([inputs], out, loop=ConcealConfig(seed=0), group_by="none"))
    report = json.loads((out / "report.json").read_text())
    record = next(r for r in report["records"] if r["success"])
    shutil.copy(record["input"], record["output"])
    record["sha256"] = hashlib.sha256(Path(record["output"]).read_bytes()).hexdigest()
    (out / "report.json").write_text(json.dumps(report))
    result = verify(out)
    assert [r.outcome for r in result.failures] == ["contradicted"]
    assert result.failures[0].output == record["output"]


def test_a_frame_is_rechecked_person_by_person_at_the_reported_boxes(tmp_path, tiny_embedder):
    frame = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "f.png"), frame)
    (tmp_path / "boxes.json").write_text(json.dumps({"f.png": [[30, 20, 48, 128], [250, 100, 48, 128]]}))

    def one_person_left(people, paths):  # person 0 concealed, person 1 untouched, both "private"
        return [[CropResult.of(image=torch.full_like(p[0], 0.5) if i == 0 else p[0], success=True)]
                for i, p in enumerate(people)]  # fmt: skip

    config = _config([tmp_path / "in"], tmp_path / "out", boxes=str(tmp_path / "boxes.json"))
    run_batch(config, conceal_batch=one_person_left)
    written = json.loads((tmp_path / "out" / "report.json").read_text())["records"][0]
    assert written["boxes"] == [[30, 20, 48, 128], [250, 100, 48, 128]]
    result = verify(tmp_path / "out", adversary=_adversary(tiny_embedder))
    (record,) = result.records
    assert record.outcome == "contradicted" and record.match_rate == 1.0


@pytest.mark.parametrize(
    ("setting", "value", "unlooked", "found"),
    [
        ("faces", 0.5, "face", "1 face(s) in the written frame: (354, "),
        ("second_look", True, "in the clear", "1 person(s) in the clear in the written frame: (3"),
    ],
)
def test_a_frame_reported_private_that_shows_a_face_or_a_person_is_contradicted(
    tmp_path, stand_in, tiny_embedder, setting, value, unlooked, found
):
    """A run without the face net and the second looks wrote the man on the right (outside the
    given box) as he was, face and all, and said private. Verify looks for faces, and at the
    written frame for people in the clear, when the run's settings say it did; the frame's
    verdict then fails."""
    example = Path(__file__).resolve().parents[3] / "examples" / "images" / "frames" / "PennPed00074.png"
    (tmp_path / "in").mkdir()
    shutil.copy(example, tmp_path / "in" / "street.png")
    (tmp_path / "boxes.json").write_text(json.dumps({"street.png": [[110, 15, 180, 290]]}))
    config = _config(
        [tmp_path / "in"], tmp_path / "out", boxes=str(tmp_path / "boxes.json"), faces=0.0, second_look=False
    )
    run_batch(config, conceal_group=stand_in)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["records"][0]["success"] is True
    assert report["settings"]["faces"] == 0.0 and report["settings"]["second_look"] is False
    (unlooked_record,) = verify(tmp_path / "out", adversary=_adversary(tiny_embedder)).records
    assert unlooked not in unlooked_record.detail
    report["settings"][setting] = value  # as if the run had looked and still said private
    (tmp_path / "out" / "report.json").write_text(json.dumps(report))
    (record,) = verify(tmp_path / "out", adversary=_adversary(tiny_embedder)).records
    assert record.outcome == "contradicted" and found in record.detail


def test_verify_feeds_the_adversary_at_its_embedders_input_size(crop_tree, tmp_path):
    """No input size is assumed in deid.batch: an embedder of another size is checked at its own."""
    from tests.conftest import TinyEmbedder

    class Half(TinyEmbedder):
        input_size = (64, 24)

    torch.manual_seed(0)
    model = Half().eval()
    gallery = embed(model, torch.rand(20, 3, 64, 24, generator=torch.Generator().manual_seed(5)))
    run_batch(_config([crop_tree], tmp_path / "out", group_by="none"), conceal_group=_unchanged)
    result = verify(tmp_path / "out", adversary=Adversary([model], [gallery]))
    assert result.counts()["contradicted"] == 7 and result.exit_code == 1


def test_verify_judges_with_the_adversary_the_run_recorded():
    from deid.batch.verification import _adversary

    strong = _adversary({"adversary": "strong", "top_k": 7}, None, "cpu")
    assert [m.arch for m in strong.models] == ["stripe", "color_stripes", "fused"] and strong.top_k == 7
    for settings in ({}, {"adversary": "default"}, {"adversary": "fast"}):  # "default" before it was strong
        assert [m.arch for m in _adversary(settings, None, "cpu").models] == ["stripe", "color_stripes"]
    with pytest.raises(VerifyError, match=r"the report records adversary 'made-up'; this version knows"):
        _adversary({"adversary": "made-up"}, None, "cpu")


def test_images_in_the_output_folder_that_no_record_lists_fail_verify(crop_tree, tmp_path, tiny_embedder):
    """A run on all the crops, then one on cam_a only into the same folder (its outputs at the top of
    OUT): the first run's outputs stay, listed nowhere (one may show a person the first run reported not private);
    a file of the user's too. Heatmaps beside OUT, hidden files and the report are not images of
    the run's."""
    run_batch(_config([crop_tree], tmp_path / "out", group_by="none"), conceal_group=StandIn())
    assert verify(tmp_path / "out", adversary=_adversary(tiny_embedder)).unlisted == []
    run_batch(_config([crop_tree / "cam_a"], tmp_path / "out", group_by="none"), conceal_group=StandIn())
    write_crop(tmp_path / "out" / "mine.png", seed=3)
    write_crop(tmp_path / "out" / ".partial.png", seed=3)
    result = verify(tmp_path / "out", adversary=_adversary(tiny_embedder))
    stale = sorted(p.relative_to(tmp_path / "out").as_posix() for p in result.unlisted)
    assert "mine.png" in stale and ".partial.png" not in stale and result.exit_code == 1
    assert {s.split("/")[0] for s in stale} == {"cam_a", "cam_b", "extra", "mine.png"}, stale
    assert not any(s.count("/") == 0 and s != "mine.png" for s in stale)  # this run's outputs are listed
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("deid.batch.verification._adversary", lambda *a: _adversary(tiny_embedder))
        cli = _verify_cli(tmp_path / "out")
    assert cli.exit_code == 1 and f"unlisted: {tmp_path / 'out' / 'mine.png'}" in cli.output
    assert "nothing vouches for them" in cli.output


def _left_part(images, paths):
    """A conceal that paints grey only the left two fifths of each crop: a treatment in one
    person's shape, in a box that holds two."""
    out = []
    for image in images:
        concealed = image.clone()
        concealed[:, :, : image.shape[-1] * 2 // 5] = 0.5
        out.append(CropResult.of(image=concealed, success=True))
    return out


def test_a_person_left_untreated_inside_a_box_is_named_and_never_private(
    pennfudan_root, tmp_path, tiny_embedder
):
    """PennPed00008 with one box round the woman in purple and the people beside her: the man in
    white and red, inside the box, is left as he was by a treatment of its left part. The run
    conceals him, names him in the record and says not private; verify agrees, and a report
    edited to say private is contradicted."""
    (tmp_path / "in").mkdir()
    shutil.copy(pennfudan_root / "PNGImages" / "PennPed00008.png", tmp_path / "in" / "street.png")
    (tmp_path / "boxes.json").write_text(json.dumps({"street.png": [[198, 73, 196, 272]]}))
    summary = run_batch(
        _config([tmp_path / "in"], tmp_path / "out", boxes=str(tmp_path / "boxes.json"), faces=0.0),
        conceal_group=_left_part,
    )
    report = json.loads(summary.report_json.read_text())
    (record,) = [r for r in report["records"] if r["input"].endswith("street.png")]
    assert record["success"] is False and record["untreated"], record["note"]
    x, y, w, h = record["untreated"][0]
    assert 300 < x + w / 2 < 394 and "inside the boxes left untreated, concealed (blur)" in record["note"]
    original, written = (
        read_image(tmp_path / "in" / "street.png"),
        read_image(tmp_path / "out" / "street.png"),
    )
    assert (written[:, y : y + h, x : x + w] - original[:, y : y + h, x : x + w]).abs().mean() > 0.03
    (checked,) = verify(tmp_path / "out", adversary=_adversary(tiny_embedder)).records
    assert (
        checked.outcome == "not_private_as_reported"
        and "person(s) the run found left untreated: (311, 51, " in checked.detail
    )
    record["success"] = True  # as if the run had said private
    (tmp_path / "out" / "report.json").write_text(json.dumps(report))
    (checked,) = verify(tmp_path / "out", adversary=_adversary(tiny_embedder)).records
    assert checked.outcome == "contradicted"
