"""``--group-by reid``: crops clustered by the adversary's partner scores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import deid.batch.reid_groups as reid_groups
from deid.adversary import resolve_adversary
from deid.batch.inputs import collect_inputs
from deid.batch.reid_groups import cluster_appearances, reid_group_files
from reid_model.io import write_image


def _scripted(match: torch.Tensor):  # type: ignore[no-untyped-def]
    return lambda adversary, embeddings: match.clone()


def test_average_linkage_does_not_chain_strangers(monkeypatch: pytest.MonkeyPatch) -> None:
    # a-b are one person, b-c look alike once, c-d are one person: single linkage would make one
    # cluster of four; average linkage keeps {a, b} and {c, d}
    match = torch.tensor(
        [
            [0.0, 0.95, 0.3, 0.2],
            [0.95, 0.0, 0.85, 0.3],
            [0.3, 0.85, 0.0, 0.9],
            [0.2, 0.3, 0.9, 0.0],
        ]
    )
    monkeypatch.setattr(reid_groups, "match_embeddings", _scripted(match))
    clusters = cluster_appearances(resolve_adversary(None), [torch.rand(3, 128, 48) for _ in range(4)])
    assert clusters.tolist() == [0, 0, 1, 1]


def test_threshold_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    match = torch.tensor([[0.0, 0.75], [0.75, 0.0]])
    monkeypatch.setattr(reid_groups, "match_embeddings", _scripted(match))
    images = [torch.rand(3, 128, 48) for _ in range(2)]
    adversary = resolve_adversary(None)
    assert cluster_appearances(adversary, images, threshold=0.8).tolist() == [0, 1]
    assert cluster_appearances(adversary, images, threshold=0.7).tolist() == [0, 0]
    with pytest.raises(ValueError, match="threshold"):
        cluster_appearances(adversary, images, threshold=0.0)


def test_chunked_scores_equal_the_whole() -> None:
    adversary = resolve_adversary(None)
    embeddings = adversary.embed(adversary.views([torch.rand(3, 128, 48) for _ in range(7)]))
    whole = reid_groups.match_embeddings(adversary, embeddings)
    chunked = reid_groups._chunked_match(adversary, embeddings, chunk=3)
    assert torch.allclose(whole, chunked)


def test_frames_and_unreadable_files_stay_alone(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"crop{i}.png", torch.rand(3, 128, 48))
    write_image(folder / "frame.png", torch.rand(3, 360, 480))
    (folder / "broken.png").write_bytes(b"not an image")
    found = collect_inputs([folder], output=tmp_path / "out")
    groups = reid_group_files(found.files, resolve_adversary(None))
    assert groups["file:frame.png"][0].path.name == "frame.png"
    assert groups["file:broken.png"][0].path.name == "broken.png"
    crops = sorted(f.path.name for key, files in groups.items() if key.startswith("reid:") for f in files)
    assert crops == ["crop0.png", "crop1.png", "crop2.png"]
