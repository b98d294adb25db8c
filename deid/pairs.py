"""Probe/gallery image pairs to explain: from files, folders and globs, or from a dataset's persons.

``deid explain`` writes one heatmap per pair, named after :attr:`ImagePair.name`.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from attribution import paired_views
from reid_model import Sample, is_image_file


class PairsError(ValueError):
    """The pairs cannot be made from what was given.

    Attributes:
        param: the argument at fault: ``"paths"`` (the files) or ``"persons"``.
    """

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class ImagePair:
    """A probe image, the gallery image it is matched against, and a name unique among the pairs."""

    probe: Path
    gallery: Path
    name: str


def expand_images(argument: str) -> list[Path]:
    """A file, a folder (its image files, not recursively) or a glob, as a sorted list of image files.

    Raises:
        PairsError: ``argument`` does not exist, or holds no image file (``param="paths"``).

    Example:
        >>> expand_images("examples/images/*.bmp")  # doctest: +SKIP
    """
    path = Path(argument)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and is_image_file(p))
    elif path.exists():
        files = [path]
    elif glob.has_magic(argument):
        files = sorted(Path(p) for p in glob.glob(argument) if is_image_file(p))
    else:
        raise PairsError(f"{argument} does not exist", param="paths")
    if not files:
        raise PairsError(f"{argument} holds no image files", param="paths")
    return files


def image_pairs(paths: Sequence[str]) -> list[ImagePair]:
    """Pairs from ``PROBE GALLERY PROBE GALLERY ...``: each a file, folder or glob.

    A probe folder (or glob) and its gallery pair their images in sorted order, so they must
    give as many. A pair is named ``<probe stem>__<gallery stem>``; a name already taken gets
    ``_2``, ``_3``... appended.

    Raises:
        PairsError: an odd number of paths, a path that gives no image, or a probe and gallery
            that give different numbers of images (``param="paths"``).

    Example:
        >>> pairs = image_pairs(["cam_a/000_45.bmp", "cam_b/000_90.bmp"])  # doctest: +SKIP
        >>> pairs[0].name  # doctest: +SKIP
        '000_45__000_90'
    """
    if len(paths) % 2:
        raise PairsError(
            f"expected PROBE GALLERY pairs (an even number of paths), got {len(paths)} paths",
            param="paths",
        )
    pairs: list[ImagePair] = []
    used: set[str] = set()
    for probe_arg, gallery_arg in zip(paths[::2], paths[1::2], strict=True):
        probes, galleries = expand_images(probe_arg), expand_images(gallery_arg)
        if len(probes) != len(galleries):
            raise PairsError(
                f"{probe_arg} gives {len(probes)} images and {gallery_arg} gives {len(galleries)}; "
                "a probe and its gallery must give the same number (paired in sorted order)",
                param="paths",
            )
        for probe, gallery in zip(probes, galleries, strict=True):
            name = stem = f"{probe.stem}__{gallery.stem}"
            n = 1
            while stem in used:
                n, stem = n + 1, f"{name}_{n + 1}"
            used.add(stem)
            pairs.append(ImagePair(probe, gallery, stem))
    return pairs


def person_pairs(
    samples: Sequence[Sample], persons: Iterable[int], *, source: str = "the dataset"
) -> list[ImagePair]:
    """One pair per person: their first view from their lowest camera against one from another.

    Args:
        samples: the dataset, ``Sample(path, person_id, camera_id)`` each.
        persons: the person ids to pair (named ``person_<id>``).
        source: how error messages name the dataset (e.g. its folder).

    Raises:
        PairsError: no person given, or a person not in the dataset with two camera views
            (``param="persons"``).
        reid_model.DatasetError: the dataset is empty.

    Example:
        >>> pairs = person_pairs(load_viper(root), [0, 1])  # doctest: +SKIP
        >>> [p.name for p in pairs]  # doctest: +SKIP
        ['person_0', 'person_1']
    """
    wanted = tuple(persons)
    if not wanted:
        raise PairsError("persons must name at least one person id, got none", param="persons")
    ids, views_a, views_b = paired_views(samples, wanted, minimum=0)
    missing = sorted(set(wanted) - set(ids))
    if missing:
        raise PairsError(f"persons {missing} are not in {source} with two camera views", param="persons")
    return [
        ImagePair(Path(a.path), Path(b.path), f"person_{pid}")
        for pid, a, b in zip(ids, views_a, views_b, strict=True)
    ]
