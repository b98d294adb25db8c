"""Region concealment: per-person errors against brute force; agreement with reid_model."""

from __future__ import annotations

import pytest
import torch

from attribution import body_regions, person_errors, region_concealment
from reid_model import embed, retrieval_metrics, seed_error


def test_person_errors_match_a_brute_force_loop():
    generator = torch.Generator().manual_seed(0)
    query, gallery = torch.randn(6, 4, generator=generator), torch.randn(6, 4, generator=generator)
    expected = []
    for p in range(6):
        own = (query[p] - gallery[p]).norm()
        closer = sum(bool((query[p] - gallery[j]).norm() < own) for j in range(6) if j != p)
        expected.append(closer / 5)
    assert torch.allclose(person_errors(query, gallery), torch.tensor(expected))


def test_before_row_agrees_with_reid_model_metrics(tiny_embedder):
    generator = torch.Generator().manual_seed(4)
    a, b = (
        torch.rand(8, 3, 128, 48, generator=generator),
        torch.rand(8, 3, 128, 48, generator=generator),
    )
    rows, errors = region_concealment(tiny_embedder, a, b, body_regions(128, 48))
    assert [r["region"] for r in rows] == [
        "none",
        "head",
        "upper_body",
        "lower_body",
        "feet",
        "everything",
    ]
    embeddings = embed(tiny_embedder, torch.cat([a, b]))
    labels, cameras = list(range(8)) * 2, [0] * 8 + [1] * 8
    assert rows[0]["seed_error"] == pytest.approx(seed_error(embeddings, labels, cameras))
    assert rows[0]["rank1"] == pytest.approx(retrieval_metrics(embeddings, labels, cameras)["rank1"])
    assert rows[0]["rank1_drop"] == 0 and rows[0]["area"] == 0 and rows[-1]["area"] == 1
    assert set(errors) == {r["region"] for r in rows} and errors["head"].shape == (8,)


def test_mismatched_views_raise(tiny_embedder):
    with pytest.raises(ValueError, match="one shape with at least 2 persons"):
        region_concealment(
            tiny_embedder,
            torch.rand(3, 3, 128, 48),
            torch.rand(2, 3, 128, 48),
            body_regions(128, 48),
        )
    with pytest.raises(ValueError, match=r"region 'head' must have shape \(128, 48\) or \(4, 128, 48\)"):
        region_concealment(
            tiny_embedder,
            torch.rand(2, 3, 128, 48),
            torch.rand(2, 3, 128, 48),
            body_regions(64, 24),
        )


def test_each_view_may_have_its_own_regions(tiny_embedder):
    generator = torch.Generator().manual_seed(0)
    a, b = torch.rand(4, 3, 128, 48, generator=generator), torch.rand(4, 3, 128, 48, generator=generator)
    bands = body_regions(128, 48)
    same = {name: mask.expand(8, -1, -1) for name, mask in bands.items()}  # per view, all alike
    rows_shared, _ = region_concealment(tiny_embedder, a, b, bands)
    rows_per_view, _ = region_concealment(tiny_embedder, a, b, same)
    assert rows_per_view == rows_shared
    head_only_a = torch.zeros(8, 128, 48, dtype=torch.bool)
    head_only_a[:4, :20] = True  # only the views a hide their head
    rows, _ = region_concealment(tiny_embedder, a, b, {"head_a": head_only_a})
    assert rows[1]["area"] == pytest.approx(head_only_a.float().mean().item())
