"""What a report records of its run's environment, and what ``deid verify`` says differs."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

import reid_model
from deid.environment import differences, environment


def test_the_environment_names_the_packages_and_every_bundled_weight_file() -> None:
    recorded = environment()
    assert recorded["packages"]["torch"] == metadata.version("torch")
    assert recorded["packages"]["deid-reid"] == metadata.version("deid-reid")
    fused = Path(reid_model.__file__).parent / "weights" / "fused.safetensors"
    assert (
        recorded["weights"]["reid_model/weights/fused.safetensors"]
        == (hashlib.sha256(fused.read_bytes()).hexdigest()[:16])
    )
    names = set(recorded["weights"])
    assert {
        "deid/operators/weights/outfits.safetensors",
        "deid/operators/weights/figure_outfits.safetensors",
        "deid/finder/weights/pose_landmark_full.tflite",
    } <= names
    assert not any(name.endswith((".txt", "NOTICE")) for name in names), "licences are not weights"
    recorded["packages"]["torch"] = "edited"  # a copy: the next call is not changed by it
    assert environment()["packages"]["torch"] == metadata.version("torch")


def test_differences_name_what_moved_and_nothing_else() -> None:
    assert differences(environment()) == []
    run = environment()
    run["python"] = "3.0.1"
    run["packages"]["numpy"] = "1.0"
    del run["weights"]["reid_model/weights/fused.safetensors"]
    run["weights"]["reid_model/weights/old.safetensors"] = "0123456789abcdef"
    here = environment()
    assert differences(run) == [
        f"python: 3.0.1 in the run, {here['python']} here",
        f"package numpy: 1.0 in the run, {here['packages']['numpy']} here",
        f"weights reid_model/weights/fused.safetensors: absent in the run, "
        f"{here['weights']['reid_model/weights/fused.safetensors']} here",
        "weights reid_model/weights/old.safetensors: 0123456789abcdef in the run, absent here",
    ]
    # a report of an earlier version records nothing: said, not taken as "the same"
    assert differences({}) == differences(None) != []
    assert "does not record" in differences(None)[0]
