"""The embedding figure: PCA against a brute-force reference, and the drawing on made-up data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reid_model import plot_embeddings, principal_components

#: Solid thumbnail colours, one per image, that no line or frame colour takes.
COLOURS = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 0.0))
#: Two persons: views far apart along PC1, the two persons apart along PC2.
POINTS = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 8.0], [10.0, 8.0]])
SIZE, THUMB = 600, 40


def _solid_images() -> torch.Tensor:
    return torch.stack([torch.tensor(c)[:, None, None].expand(3, 128, 48) for c in COLOURS])


def _plot(person_ids, **options):
    return plot_embeddings(POINTS, _solid_images(), person_ids, size=SIZE, thumb_height=THUMB, **options)


def _where(figure: torch.Tensor, colour: tuple[float, ...]) -> torch.Tensor:
    """(row, column) of every pixel of exactly ``colour``."""
    return (figure - torch.tensor(colour)[:, None, None]).abs().amax(dim=0).lt(1e-3).nonzero()


def test_principal_components_match_numpy_svd():
    torch.manual_seed(0)
    embeddings = torch.randn(30, 6, dtype=torch.float64) * torch.tensor([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    points, explained = principal_components(embeddings, k=2)
    centred = (embeddings - embeddings.mean(0)).numpy()
    _, s, vh = np.linalg.svd(centred, full_matrices=False)
    for axis in range(2):  # same axes up to sign
        reference = centred @ vh[axis]
        assert abs(float(np.dot(points[:, axis].numpy(), reference))) == pytest.approx(
            float(np.dot(reference, reference))
        )
    np.testing.assert_allclose(explained.numpy(), (s**2 / (s**2).sum())[:2])
    assert points.shape == (30, 2) and points.dtype == torch.float64


def test_principal_components_do_not_depend_on_the_row_order():
    embeddings = torch.randn(20, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    order = torch.randperm(20, generator=torch.Generator().manual_seed(1))
    points, explained = principal_components(embeddings)
    shuffled, explained_shuffled = principal_components(embeddings[order])
    torch.testing.assert_close(shuffled, points[order])  # same signs: the same picture
    torch.testing.assert_close(explained_shuffled, explained)


def test_plot_shape_range_and_determinism():
    images = torch.rand(10, 3, 128, 48, generator=torch.Generator().manual_seed(0))
    embeddings = torch.randn(10, 16, generator=torch.Generator().manual_seed(1))
    ids, cams = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4], [0, 1] * 5
    figure = plot_embeddings(embeddings, images, ids, cameras=cams, title="tiny: test persons", size=500)
    assert figure.shape == (3, 500, 500) and figure.dtype == torch.float32
    assert float(figure.min()) >= 0.0 and float(figure.max()) <= 1.0
    again = plot_embeddings(embeddings, images, ids, cameras=cams, title="tiny: test persons", size=500)
    assert torch.equal(figure, again)


def test_every_thumbnail_is_whole_inside_the_figure():
    figure = _plot([0, 1, 2, 3])  # no pairs, so no line crosses a thumbnail
    for colour in COLOURS:
        assert len(_where(figure, colour)) == THUMB * 15  # 40 x 15 (the 128 x 48 aspect)


def test_a_line_joins_the_two_views_of_a_person():
    paired, alone = _plot([0, 0, 1, 1]), _plot([0, 1, 2, 3])
    centres = [_where(alone, colour).float().mean(dim=0) for colour in COLOURS]
    for a, b in ((0, 1), (2, 3)):
        for t in (0.25, 0.5, 0.75):  # points along the segment, between the thumbnails
            row, col = (centres[a] + t * (centres[b] - centres[a])).round().long().tolist()
            window = (slice(None), slice(row - 1, row + 2), slice(col - 1, col + 2))
            assert float((paired[window] - alone[window]).abs().max()) > 0.2, (a, b, t)
            assert float(alone[window].amax() - alone[window].amin()) == 0.0  # plain background without it
    # Away from the segments and the title, the two figures are the same.
    middle = slice(int(centres[0][0] + centres[2][0]) // 2 - 5, int(centres[0][0] + centres[2][0]) // 2 + 5)
    assert torch.equal(paired[:, middle, 200:400], alone[:, middle, 200:400])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"images": torch.rand(4, 128, 48)}, r"images must have shape \(B, 3, H, W\)"),
        ({"embeddings": torch.randn(3, 8)}, "embeddings and images must have the same length, got 3 and 4"),
        ({"person_ids": [0, 0, 1]}, "person_ids and images must have the same length"),
        ({"person_ids": torch.zeros(4)}, "person_ids must be integers"),
        ({"cameras": [0, 1, -1, 0]}, "cameras must be indices >= 0"),
        ({"size": 100}, "size must be an integer >= 400"),
        ({"thumb_height": 0}, "thumb_height must be > 0"),
        ({"thumb_height": 700}, r"thumb_height must be at most a quarter of size \(600\), got 700"),
        ({"embeddings": torch.full((4, 8), float("nan"))}, "embeddings must be finite"),
    ],
)
def test_bad_input_is_named(arguments, message):
    values = {
        "embeddings": torch.randn(4, 8),
        "images": torch.rand(4, 3, 128, 48),
        "person_ids": [0, 0, 1, 1],
    }
    options = {k: arguments.pop(k) for k in ("cameras", "size", "thumb_height") if k in arguments}
    values.update(arguments)
    with pytest.raises((ValueError, TypeError), match=message):
        plot_embeddings(values["embeddings"], values["images"], values["person_ids"], **options)


def test_principal_components_bad_input():
    with pytest.raises(ValueError, match=r"embeddings must be a float tensor of shape \(N, D\), got"):
        principal_components(torch.randn(4))
    with pytest.raises(ValueError, match="at least 2 rows"):
        principal_components(torch.randn(1, 8))
    with pytest.raises(ValueError, match=r"k must be in \[1, 3\]"):
        principal_components(torch.randn(5, 3), k=4)
