"""Every saved run of format 1 (tests/fixtures/runs_format1, written by that gantrain) loads,
samples and resumes under the current names; old key names keep working where a user types
them or a run saved them."""

import shutil
from pathlib import Path

import pytest
import torch
import yaml
from helpers import compose_cfg, run_cli

from gantrain.cli.runs import load_run
from gantrain.training import checkpoint
from gantrain.upgrade import FORMAT, upgrade_config, upgrade_overrides, upgrade_payload

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs_format1"
RUNS = sorted(p.name for p in FIXTURES.iterdir())


def _keys(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield f"{prefix}{k}"
            yield from _keys(v, f"{prefix}{k}.")


def test_the_fixtures_are_format_1_and_cover_the_families():
    assert {
        "dcgan_adversarial",
        "vae_mle",
        "ae_mmd",
        "cdcgan_conditional",
        "r3gan",
        "resnet",
    } <= set(RUNS)
    for name in RUNS:
        raw = torch.load(FIXTURES / name / "checkpoints" / "last.pt", weights_only=True)
        assert raw["format"] == 1


@pytest.mark.parametrize("name", RUNS)
def test_a_format_1_checkpoint_loads_under_the_current_names(name):
    payload = checkpoint.load(FIXTURES / name / "checkpoints" / "last.pt")
    assert payload["format"] == FORMAT == 3
    keys = set(_keys(payload["config"]))
    assert "objective.d_steps" not in keys and "objective.critic.pack" not in keys
    if payload["config"]["objective"]["_target_"].endswith("AdversarialObjective"):
        assert "objective.critic_steps" in keys
    text = yaml.safe_dump(payload["config"])
    assert ".Discriminator" not in text


def test_the_renamed_values_are_carried_over():
    config = checkpoint.load(FIXTURES / "dcgan_adversarial" / "checkpoints" / "last.pt")["config"]
    assert config["objective"]["critic_steps"] == 2
    assert config["objective"]["critic"]["packing"] == 2
    assert config["objective"]["critic"]["_target_"] == "gantrain.models.dcgan.DCGANCritic"
    assert config["objective"]["loss"] == {
        "kind": "bce",
        "generator": "non_saturating",
        "real_label": 0.9,
    }
    r3gan = checkpoint.load(FIXTURES / "r3gan" / "checkpoints" / "last.pt")["config"]["objective"]
    assert r3gan["loss"]["kind"] == "relativistic" and r3gan["penalties"]["r1"] == 0.05


@pytest.mark.parametrize("name", RUNS)
def test_a_format_1_run_samples(name):
    run = load_run(str(FIXTURES / name), None, False, {}, torch.device("cpu"))
    images = run.model.sample(4, torch.Generator().manual_seed(0))
    assert images.shape[0] == 4 and torch.isfinite(images).all()


def test_a_checkpoint_of_an_unknown_format_is_refused(tmp_path):
    assert upgrade_payload({"format": FORMAT + 1}) is None
    assert upgrade_payload({"format": 0}) is None
    path = tmp_path / "x.pt"
    torch.save({"format": "2"}, path)
    with pytest.raises(Exception, match="format 1 to 3 expected"):
        checkpoint.load(path)


def test_old_key_names_on_the_command_line_are_aliases(caplog):
    args = ["objective.d_steps=3", "+objective.critic.pack=2", "objective.d_steps=4", "seed=1"]
    with caplog.at_level("WARNING", logger="gantrain"):
        new = upgrade_overrides(args)
    assert new == [
        "objective.critic_steps=3",
        "+objective.critic.packing=2",
        "objective.critic_steps=4",
        "seed=1",
    ]
    said = [r.getMessage() for r in caplog.records]
    assert (
        said.count("objective.d_steps is now objective.critic_steps; the old name still works") == 1
    )
    cfg = compose_cfg(upgrade_overrides(["objective.d_steps=3", "objective.critic.pack=2"]))
    assert cfg.objective.critic_steps == 3 and cfg.objective.critic.packing == 2


def test_a_saved_config_with_the_old_names_is_upgraded():
    saved = yaml.safe_load((FIXTURES / "dcgan_adversarial" / ".hydra" / "config.yaml").read_text())
    assert saved["objective"]["d_steps"] == 2  # written by format-1 gantrain
    config = upgrade_config(saved)
    assert config["objective"]["critic_steps"] == 2 and "d_steps" not in config["objective"]
    assert config["objective"]["critic"]["packing"] == 2
    assert config["objective"]["critic"]["_target_"].endswith("dcgan.DCGANCritic")


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNS)
def test_a_format_1_run_resumes(name, mnist_root, tmp_path):
    overrides = resumed_overrides(FIXTURES / name, mnist_root, tmp_path)
    assert not any(
        o.split("=")[0] in ("objective.d_steps", "objective.critic.pack") for o in overrides
    )


def resumed_overrides(saved: Path, mnist_root: Path, tmp_path: Path) -> list[str]:
    """Resume a copy of a saved run to round 6; the overrides it then holds."""
    run = tmp_path / saved.name
    shutil.copytree(saved, run)
    args = [f"resume={run}", f"dataset.root={mnist_root}", "trainer.rounds=6"]
    # the fixture's data folder is gone: the one change resume names is the new one, so the
    # upgraded checkpoint config matches the run's upgraded overrides key for key
    refused = run_cli(args, tmp_path)
    assert refused.returncode == 2 and "changed config (dataset.root: " in refused.stderr
    assert "objective" not in refused.stderr.split("changed config", 1)[1]
    out = run_cli([*args, "resume_force=true"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    payload = checkpoint.load(run / "checkpoints" / "last.pt")
    assert payload["round"] == 6 and payload["format"] == FORMAT
    return yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text())
