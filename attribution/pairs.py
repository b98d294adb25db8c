"""Pairing a person's views: one from their first camera, one from another camera."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reid_model import DatasetError, Sample


def paired_views(
    samples: Sequence[Sample], persons: Iterable[int], *, minimum: int = 2
) -> tuple[list[int], list[Sample], list[Sample]]:
    """Each person's first view from their lowest camera and first view from another camera.

    Persons with one camera only are left out; fewer than ``minimum`` persons left is an error.

    Returns:
        The sorted person ids and, aligned with them, the view-a and view-b samples.

    Example:
        >>> ids, views_a, views_b = paired_views(load_viper(root), [0, 1, 2])  # doctest: +SKIP
    """
    if not samples:
        raise DatasetError("the dataset is empty: no images to analyze")
    wanted = {int(p) for p in persons}
    by_person: dict[int, list[Sample]] = {}
    for sample in samples:
        if sample.person_id in wanted:
            by_person.setdefault(sample.person_id, []).append(sample)
    ids, views_a, views_b = [], [], []
    for pid in sorted(by_person):
        views = sorted(by_person[pid], key=lambda s: (s.camera_id, s.path))
        other = [s for s in views if s.camera_id != views[0].camera_id]
        if other:
            ids.append(pid)
            views_a.append(views[0])
            views_b.append(other[0])
    if len(ids) < minimum:
        raise DatasetError(
            f"need at least {minimum} persons seen by two cameras among the {len(wanted)} "
            f"requested persons, got {len(ids)}"
        )
    return ids, views_a, views_b
