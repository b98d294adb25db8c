"""``deid explain`` and ``deid analyze`` through click's CliRunner on a tiny fake dataset."""

from __future__ import annotations

import json
import shutil

import torch
from click.testing import CliRunner, Result

from deid.cli import main
from reid_model import read_image, save_checkpoint, write_image
from reid_model.checkpoint import load_checkpoint


def _run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_explain_pairs_of_files(fake_viper, tiny_checkpoint, tmp_path):
    probe, gallery = fake_viper / "cam_a" / "000_0.bmp", fake_viper / "cam_b" / "000_90.bmp"
    result = _run(
        "explain",
        probe,
        gallery,
        "--weights",
        tiny_checkpoint,
        "--out",
        tmp_path / "out",
        "--method",
        "saliency",
    )
    assert result.exit_code == 0, result.output
    written = tmp_path / "out" / "000_0__000_90.png"
    # the four panels enlarged twice, a band naming them above, two caption lines below
    assert read_image(written).shape == (3, 17 + 2 * 128 + 43, 2 * (4 * 48 + 3 * 4))
    assert "distance" in result.output


def test_explain_folders_and_globs_pair_in_sorted_order(fake_viper, tiny_checkpoint, tmp_path):
    result = _run(
        "explain",
        fake_viper / "cam_a",
        fake_viper / "cam_b",
        "--weights",
        tiny_checkpoint,
        "--out",
        tmp_path / "folders",
        "--method",
        "grad_cam",
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "folders").glob("*.png"))) == 12
    result = _run(
        "explain",
        f"{fake_viper}/cam_a/00[0-2]_*.bmp",
        f"{fake_viper}/cam_b/00[0-2]_*.bmp",
        "--weights",
        tiny_checkpoint,
        "--out",
        tmp_path / "globs",
        "--method",
        "grad_cam",
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "globs").glob("*.png"))[0] == "000_0__000_90.png"


def test_explain_dataset_persons(fake_viper, tiny_checkpoint, tmp_path):
    result = _run(
        "explain",
        "--data",
        fake_viper,
        "--person",
        3,
        "--person",
        5,
        "--weights",
        tiny_checkpoint,
        "--out",
        tmp_path / "out",
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["person_3.png", "person_5.png"]


def test_explain_bad_inputs(fake_viper, tiny_checkpoint, tmp_path):
    probe = fake_viper / "cam_a" / "000_0.bmp"
    result = _run("explain", probe, "--weights", tiny_checkpoint, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "an even number of paths), got 1 paths" in result.output
    result = _run(
        "explain",
        probe,
        tmp_path / "nope.png",
        "--weights",
        tiny_checkpoint,
        "--out",
        tmp_path / "o",
    )
    assert result.exit_code == 2 and "nope.png does not exist" in result.output
    result = _run(
        "explain",
        fake_viper / "cam_a",
        probe,
        "--weights",
        tiny_checkpoint,
        "--out",
        tmp_path / "o",
    )
    assert result.exit_code == 2 and "gives 12 images" in result.output
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    result = _run(
        "explain",
        probe,
        broken,
        probe,
        probe,
        "--weights",
        tiny_checkpoint,
        "--out",
        tmp_path / "o",
    )
    assert result.exit_code == 1 and "failed: cannot read image" in result.output
    assert (tmp_path / "o" / "000_0__000_0.png").is_file()  # the good pair is still written
    tall = tmp_path / "tall.png"  # another size: shown as high as the other, readable side by side
    write_image(tall, torch.rand(3, 320, 120))
    result = _run("explain", probe, tall, "--weights", tiny_checkpoint, "--out", tmp_path / "o")
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    assert read_image(tmp_path / "o" / "000_0__tall.png").shape == (
        3,
        17 + 2 * 128 + 43,
        2 * (4 * 48 + 3 * 4),
    )
    big = tmp_path / "big.png"  # a frame's shape: squashed to 48x128 like any image, and said so
    write_image(big, torch.rand(3, 240, 640))
    result = _run("explain", probe, big, "--weights", tiny_checkpoint, "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert "big.png 640x240 not shaped like a person crop" in result.output
    assert read_image(tmp_path / "o" / "000_0__big.png").shape[1] > 17 + 2 * 128 + 43  # a caption line more
    tiny = tmp_path / "tiny.png"
    write_image(tiny, torch.rand(3, 4, 4))
    result = _run("explain", probe, tiny, "--weights", tiny_checkpoint, "--out", tmp_path / "o")
    assert (
        result.exit_code == 1
        and f"failed: {tiny}: 4x4 pixels: a crop needs 16 a side or more" in result.output
    )
    result = _run("explain", "--data", fake_viper, "--weights", tiny_checkpoint, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "--person" in result.output
    result = _run(
        "explain",
        "--data",
        fake_viper,
        "--person",
        99,
        "--weights",
        tiny_checkpoint,
        "--out",
        tmp_path / "o",
    )
    assert result.exit_code == 2 and "99" in result.output
    result = _run("explain", probe, probe, "--method", "lime", "--out", tmp_path / "o")
    assert result.exit_code == 2 and "'lime' is not one of" in result.output
    result = _run(
        "explain",
        probe,
        probe,
        "--weights",
        tmp_path / "missing.safetensors",
        "--out",
        tmp_path / "o",
    )
    assert result.exit_code == 2 and "does not exist" in result.output


def test_explain_never_overwrites_inputs(fake_viper, tiny_checkpoint, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(fake_viper / "cam_a" / "000_0.bmp", folder / "a.png")
    shutil.copy(fake_viper / "cam_b" / "000_90.bmp", folder / "b.png")
    (folder / "a__b.png").write_bytes((folder / "a.png").read_bytes())
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    for pair in (("a.png", "b.png"), ("a__b.png", "a__b.png"), ("a.png", "a.png")):
        result = _run("explain", *(folder / p for p in pair), "--weights", tiny_checkpoint, "--out", folder)
        assert result.exit_code == 2 and "holds input images" in result.output  # nothing written there
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    result = _run(
        "explain", folder / "a.png", folder / "b.png", "--weights", tiny_checkpoint, "--out", tmp_path / "o"
    )
    assert result.exit_code == 0 and (tmp_path / "o" / "a__b.png").is_file()


def test_explain_checks_its_folder_first_goes_on_past_a_failed_write_and_says_what_it_replaced(
    fake_viper, tiny_checkpoint, tmp_path
):
    a, b = fake_viper / "cam_a" / "000_0.bmp", fake_viper / "cam_b" / "000_90.bmp"
    (tmp_path / "afile").write_text("")
    result = _run("explain", a, b, "--weights", tiny_checkpoint, "--out", tmp_path / "afile" / "sub")
    assert result.exit_code == 2 and "cannot make the folder" in result.output  # before any work
    (tmp_path / "o" / "000_0__000_90.png").mkdir(parents=True)  # a folder where a heatmap goes
    result = _run("explain", a, b, b, a, "--weights", tiny_checkpoint, "--out", tmp_path / "o")
    assert result.exit_code == 1 and "failed: " in result.output and "1 of 2 pairs failed" in result.output
    assert (tmp_path / "o" / "000_90__000_0.png").is_file()  # the next pair still written
    result = _run("explain", b, a, "--weights", tiny_checkpoint, "--out", tmp_path / "o")
    assert result.exit_code == 0 and "1 heatmap(s) in" in result.output and "replaced" in result.output


def test_explain_gradient_shap_is_seeded_and_saliency_says_it_has_no_sign(
    fake_viper, tiny_checkpoint, tmp_path
):
    a, b = fake_viper / "cam_a" / "000_0.bmp", fake_viper / "cam_b" / "000_90.bmp"
    runs = []
    for out, seed in (("s1", 0), ("s2", 0), ("s3", 1)):
        result = _run(
            "explain",
            a,
            b,
            "--method",
            "gradient_shap",
            "--seed",
            seed,
            "--weights",
            tiny_checkpoint,
            "--out",
            tmp_path / out,
        )
        assert result.exit_code == 0, result.output
        runs.append((tmp_path / out / "000_0__000_90.png").read_bytes())
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_explain_says_how_it_read_a_folder_dataset(fake_viper, tiny_checkpoint, tmp_path):
    tree = tmp_path / "tree"
    for person in ("p1", "p2"):
        for k, cam in enumerate(("cam_a", "cam_b")):
            (tree / person).mkdir(parents=True, exist_ok=True)
            shutil.copy(sorted((fake_viper / cam).iterdir())[0], tree / person / f"{k}.bmp")
    result = _run(
        "explain", "--data", tree, "--person", 0, "--weights", tiny_checkpoint, "--out", tmp_path / "o"
    )
    assert result.exit_code == 0, result.output
    assert "read as person/camera folders (2 person folder(s), 4 image(s))" in result.output
    viper = _run(
        "explain", "--data", fake_viper, "--person", 3, "--weights", tiny_checkpoint, "--out", tmp_path / "v"
    )
    assert viper.exit_code == 0 and "read as" not in viper.output
    wrong = _run(
        "explain",
        "--data",
        tree,
        "--dataset",
        "viper",
        "--person",
        0,
        "--weights",
        tiny_checkpoint,
        "--out",
        tmp_path / "w",
    )
    assert wrong.exit_code == 2


def test_analyze_writes_tables_and_plots(fake_viper, attributes_csv, tiny_checkpoint, tmp_path):
    out = tmp_path / "analysis"
    result = _run(
        "analyze",
        "--data",
        fake_viper,
        "--attributes",
        attributes_csv,
        "--weights",
        tiny_checkpoint,
        "--out",
        out,
        "--min-positives",
        2,
        "--probe-min-positives",
        3,
        "--folds",
        2,
        "--permutations",
        1,
        "--examples",
        2,
        "--method",
        "saliency",
    )
    assert result.exit_code == 0, result.output
    assert "attribution share by region" in result.output
    for name in (
        "region_shares.csv",
        "probe.csv",
        "concealment.csv",
        "impact.csv",
        "summary.json",
        "region_shares.png",
        "probe.png",
        "heatmaps.png",
    ):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["persons"] == list(range(12)) and summary["config"]["method"] == "saliency"


def test_analyze_bad_inputs(fake_viper, attributes_csv, tiny_checkpoint, tmp_path):
    base = [
        "analyze",
        "--data",
        fake_viper,
        "--attributes",
        attributes_csv,
        "--weights",
        tiny_checkpoint,
        "--out",
        tmp_path / "a",
        "--permutations",
        0,
    ]
    result = _run(*base, "--attribute", "hairLnog")
    assert result.exit_code == 2 and "unknown attribute column 'hairLnog'" in result.output
    assert "did you mean ['hairLong']" in result.output
    empty = tmp_path / "empty"
    (empty / "cam_a").mkdir(parents=True)
    (empty / "cam_b").mkdir()
    result = _run("analyze", "--data", empty, "--attributes", attributes_csv, "--weights", tiny_checkpoint)
    assert result.exit_code == 2 and "has no images" in result.output
    result = _run(
        "analyze",
        "--data",
        tmp_path / "nowhere",
        "--attributes",
        attributes_csv,
        "--weights",
        tiny_checkpoint,
    )
    assert result.exit_code == 2 and "does not exist" in result.output
    result = _run(*base[:4], tmp_path / "missing.csv", *base[5:])
    assert result.exit_code == 2 and "missing.csv does not exist" in result.output
    result = _run(*base, "--limit", 1)
    assert (
        result.exit_code == 2
        and "Invalid value for --limit: 1: a match needs at least 2 persons" in result.output
    )
    other = tmp_path / "other.csv"  # another dataset's rows: none of these persons
    lines = attributes_csv.read_text().splitlines()
    other.write_text(
        "\n".join(
            [lines[0], *(line.replace(line.split(",")[0], "9" + line.split(",")[0], 1) for line in lines[1:])]
        )
        + "\n"
    )
    result = _run(*base[:4], other, *base[5:])
    assert result.exit_code == 2 and "Invalid value for --attributes" in result.output
    assert "have no attribute row (12 of 12 missing)" in result.output


def test_analyze_needs_a_split_for_test_persons(fake_viper, attributes_csv, tmp_path):
    model = load_checkpoint(_tiny_without_split(tmp_path))
    path = save_checkpoint(tmp_path / "nosplit.safetensors", model, {})
    base = [
        "analyze",
        "--data",
        fake_viper,
        "--attributes",
        attributes_csv,
        "--weights",
        path,
        "--out",
        tmp_path / "a",
        "--permutations",
        0,
        "--min-positives",
        2,
        "--probe-min-positives",
        3,
        "--folds",
        2,
        "--method",
        "grad_cam",
    ]
    result = _run(*base)
    assert result.exit_code == 2 and "use --persons all" in result.output
    result = _run(*base, "--persons", "all", "--limit", 6)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["persons"] == list(range(6))


def _tiny_without_split(tmp_path):
    from reid_model import StripeEmbedder

    return save_checkpoint(
        tmp_path / "plain.safetensors", StripeEmbedder(widths=(8, 16), stripes=2, embedding_dim=8)
    )


def test_explain_places_the_distance_among_the_models_gallery_pairs(fake_viper, tiny_checkpoint, tmp_path):
    """A user's review: a bare distance said nothing of whether the pair matches. With a gallery
    beside the checkpoint (the bundled model has one), the caption says what share of its
    different-person and same-person pairs lie further apart."""
    from safetensors.torch import save_file

    from deid.cli.attribution import _beside, _gallery_pairs

    a, b = fake_viper / "cam_a" / "000_0.bmp", fake_viper / "cam_b" / "000_90.bmp"
    bare = _run("explain", a, b, "--weights", tiny_checkpoint, "--out", tmp_path / "bare")
    assert bare.exit_code == 0 and _gallery_pairs(str(tiny_checkpoint), 8) is None
    embeddings = torch.tensor([[0.0] * 8, [1.0] + [0.0] * 7, [10.0] + [0.0] * 7, [12.0] + [0.0] * 7])
    gallery = tiny_checkpoint.with_name("tiny_gallery.safetensors")
    save_file({"embeddings": embeddings, "labels": torch.tensor([0, 0, 1, 1])}, str(gallery))
    same, different = _gallery_pairs(str(tiny_checkpoint), 8)  # type: ignore[misc]
    assert sorted(same.tolist()) == [1.0, 2.0] and sorted(different.tolist()) == [9.0, 10.0, 11.0, 12.0]
    assert _beside(9.5, (same, different)) == [
        "closer than 75% of different-person pairs",
        "and 0% of same-person pairs (the model's gallery)",
    ]
    placed = _run("explain", a, b, "--weights", tiny_checkpoint, "--out", tmp_path / "placed")
    assert placed.exit_code == 0
    name = "000_0__000_90.png"
    assert read_image(tmp_path / "placed" / name).shape[1] > read_image(tmp_path / "bare" / name).shape[1]
