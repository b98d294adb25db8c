"""``deid audit``: its flags, outputs and exit codes, on the fake VIPeR tree."""

from __future__ import annotations

import json

from click.testing import CliRunner

from deid.audit import audit_split
from deid.cli import main
from reid_model import default_metadata, load_dataset


def test_audit_command_on_a_fake_viper_tree(fake_viper, tmp_path):
    out = tmp_path / "audit"
    result = CliRunner().invoke(
        main,
        [
            "audit",
            "--data",
            str(fake_viper),
            "--methods",
            "blur,blackout",
            "--attackers",
            "adversary,handcrafted,independent_stripe",
            "--out",
            str(out),
            "--no-detector",
            "--strength",
            "0.5",
            "--persons",
            "1000",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "note: --persons 1000: the split has " in result.output  # and all are audited
    assert "blackout" in result.output and "handcrafted" in result.output
    assert "independent_stripe" in result.output  # the bundled second independent network
    assert "SSIMu, PSNRu: its untouched pixels" in result.output.replace("\n", " ")  # the legend
    assert sorted(p.name for p in out.iterdir()) == ["audit.csv", "audit.json", "audit.png"]
    report = json.loads((out / "audit.json").read_text())
    assert len(report["rows"]) == 6 and report["metadata"]["loop_strength"] == 0.5
    # the 12 fake persons split afresh: the audited ones are named, and those whose numbers the
    # bundled adversary trained on are warned of (in a part of VIPeR they would be people it saw)
    split = report["metadata"]["split"]
    own = default_metadata()["split"]
    assert split["audited"] == sorted(audit_split(load_dataset(fake_viper)).test)
    assert split["known_to_the_adversary"] == sorted(set(split["audited"]) & set(own["train"] + own["val"]))
    assert split["known_to_the_adversary"] and "the bundled adversary trained on" in result.output


def test_audit_command_bad_options(fake_viper, tmp_path):
    runner = CliRunner()
    base = ["audit", "--data", str(fake_viper), "--out", str(tmp_path / "o")]
    result = runner.invoke(main, [*base, "--methods", "smear"])
    assert result.exit_code == 2 and "unknown method 'smear'" in result.output
    result = runner.invoke(main, [*base, "--attackers", "adaptive", "--independent-weights", ""])
    assert result.exit_code == 2 and "need independent_weights" in result.output
    result = runner.invoke(
        main, [*base, "--attackers", "independent_stripe", "--independent-stripe-weights", ""]
    )
    assert result.exit_code == 2 and "need independent_stripe_weights" in result.output
    missing = tmp_path / "missing.safetensors"
    result = runner.invoke(main, [*base, "--attackers", "adaptive", "--independent-weights", str(missing)])
    assert (
        result.exit_code == 2
        and f"Invalid value for --independent-weights: checkpoint {missing} does not exist" in result.output
    )
    result = runner.invoke(main, [*base, "--strength", "1.5"])
    assert result.exit_code == 2 and "--strength" in result.output
    result = runner.invoke(main, [*base, "--methods", "loop_smear"])
    assert result.exit_code == 2 and "operator name must be one of" in result.output
    result = runner.invoke(main, ["audit", "--data", str(fake_viper), "--out", str(fake_viper / "out")])
    assert result.exit_code == 2 and "must not be inside the dataset" in result.output
