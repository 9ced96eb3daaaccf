"""Format 3 grouped objective's flat keys into nodes (objective.loss, .penalties, .augment,
.reconstruction): every old name still works where a user types it, and every saved run of
format 2 (tests/fixtures/runs_format2, written by that gantrain) loads, samples and resumes."""

from pathlib import Path

import pytest
import torch
import yaml
from helpers import compose_cfg
from test_upgrade import resumed_overrides

from gantrain.cli.command_line import check_command_line
from gantrain.cli.runs import load_run
from gantrain.errors import UserError
from gantrain.training import checkpoint
from gantrain.training.keys import schema
from gantrain.upgrade import FORMAT, RENAMED_3, upgrade_config, upgrade_overrides

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs_format2"
RUNS = sorted(p.name for p in FIXTURES.iterdir())
# an override of each old key whose value its new key takes
OLD = {
    "objective.generator_loss": "minimax",
    "objective.real_label": "0.8",
    "objective.gradient_penalty": "5",
    "objective.r1": "0.5",
    "objective.r1_every": "4",
    "objective.r2": "0.25",
    "objective.r2_every": "3",
    "objective.augment_policy": "{color: 0.5}",
    "objective.ada_target": "0.7",
    "objective.ada_kimg": "20",
    "objective.likelihood": "gaussian",
    "objective.beta": "0.5",
    "objective.scale": "0.2",
    "objective.learn_scale": "true",
}


def _at(cfg, dotted: str):
    for part in dotted.split("."):
        cfg = cfg[part]
    return cfg


def test_every_old_key_of_format_3_has_an_override_here():
    assert set(OLD) == set(RENAMED_3)


@pytest.mark.parametrize("old", sorted(OLD))
def test_an_old_key_is_an_alias_of_its_new_one(old, caplog):
    new = RENAMED_3[old]
    with caplog.at_level("WARNING", logger="gantrain"):
        args = upgrade_overrides([f"{old}={OLD[old]}"])
    assert args == [f"{new}={OLD[old]}"]
    assert f"{old} is now {new}; the old name still works" in caplog.text
    model = ["model=vae"] if new.startswith("objective.reconstruction") else []
    old_way = compose_cfg([*model, *args])
    if old == "objective.augment_policy":
        assert _at(old_way, new).color == 0.5 and _at(old_way, new).cutout is None
    else:
        assert str(_at(old_way, new)).lower() == str(yaml.safe_load(OLD[old])).lower()


def test_a_value_given_to_what_is_now_a_node_goes_to_its_kind(caplog):
    args = ["objective.augment=ada", "objective.loss=hinge", "objective.augment.ada_kimg=5"]
    with caplog.at_level("WARNING", logger="gantrain"):
        new = upgrade_overrides(args)
    assert new == ["objective.augment.kind=ada", "objective.loss.kind=hinge", args[2]]
    assert "objective.augment is now objective.augment.kind" in caplog.text
    cfg = compose_cfg(new)
    assert cfg.objective.augment.kind == "ada" and cfg.objective.loss.kind == "hinge"
    assert cfg.objective.augment.ada_kimg == 5 and cfg.objective.loss.real_label == 0.9
    # the node's keys given whole, and the new names, are left as they are
    whole = ["objective.augment={kind: ada}", "objective.augment.kind=ada", "~objective.augment"]
    assert upgrade_overrides(whole) == whole


def test_old_keys_in_a_sweep_and_with_a_prefix():
    args = ["-m", "objective.augment=none,ada", "+objective.ada_target=0.5", "++objective.r1=2"]
    assert upgrade_overrides(args) == [
        "-m",
        "objective.augment.kind=none,ada",
        "+objective.augment.ada_target=0.5",
        "++objective.penalties.r1=2",
    ]
    assert upgrade_overrides(["objective.augment_policy.translation=0.2"]) == [
        "objective.augment.policy.translation=0.2"
    ]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["objective.penalties.r1=-1"], "objective.penalties.r1=-1 must be a number >= 0"),
        (["objective.r1=-1"], "objective.penalties.r1=-1 must be a number >= 0"),
        (["objective.loss=bc"], "objective.loss.kind='bc' must be one of bce, least_squares"),
        (["objective.augment.ada_target=1"], "objective.augment.ada_target=1 must be a number"),
        (["objective.penalties.r3=1"], "objective.penalties.r3 is not a key"),
    ],
)
def test_a_bad_grouped_value_is_one_line_naming_its_new_key(args, says):
    with pytest.raises(UserError) as err:
        check_command_line(upgrade_overrides(args), schema())
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_format_2_saved_config_is_upgraded():
    saved = yaml.safe_load((FIXTURES / "dcgan_r1_ada" / ".hydra" / "config.yaml").read_text())
    assert saved["objective"]["augment"] == "ada" and saved["objective"]["r1"] == 0.1
    objective = upgrade_config(saved)["objective"]
    assert objective["augment"] == {
        "kind": "ada",
        "policy": {"color": None, "translation": None, "cutout": None},
        "ada_target": 0.5,
        "ada_kimg": 50,
    }
    assert objective["penalties"] == {
        "gradient": 0.0,
        "r1": 0.1,
        "r1_every": 2,
        "r2": 0.0,
        "r2_every": 1,
    }
    assert objective["loss"] == {"kind": "bce", "generator": "minimax", "real_label": 0.9}
    assert set(objective["reconstruction"]) == {"likelihood", "beta", "scale", "learn_scale"}
    assert not set(objective) & {k.split(".")[1] for k in RENAMED_3}


def test_the_format_2_fixtures_cover_the_grouped_keys():
    assert {"dcgan_r1_ada", "dcgan_gp_diffaug", "vae_gan", "vae_mle", "ae_mmd"} <= set(RUNS)
    for name in RUNS:
        raw = torch.load(FIXTURES / name / "checkpoints" / "last.pt", weights_only=True)
        assert raw["format"] == 2


@pytest.mark.parametrize(
    ("name", "moved"),
    [
        ("dcgan_r1_ada", {"augment.kind": "ada", "penalties.r1_every": 2, "loss.real_label": 0.9}),
        (
            "dcgan_gp_diffaug",
            {
                "loss.kind": "wasserstein",
                "penalties.gradient": 10,
                "penalties.r2_every": 2,
                "augment.policy.translation": 0.25,
            },
        ),
        ("vae_gan", {"reconstruction.likelihood": "gaussian", "reconstruction.learn_scale": True}),
        ("vae_mle", {"reconstruction.beta": 2.0}),
        ("ae_mmd", {"reconstruction.scale": 0.2, "recon_weight": 2.0}),
    ],
)
def test_a_format_2_checkpoint_loads_and_samples_under_the_grouped_names(name, moved):
    payload = checkpoint.load(FIXTURES / name / "checkpoints" / "last.pt")
    assert payload["format"] == FORMAT == 3
    for key, value in moved.items():
        assert _at(payload["config"]["objective"], key) == value
    run = load_run(str(FIXTURES / name), None, False, {}, torch.device("cpu"))
    images = run.model.sample(4, torch.Generator().manual_seed(0))
    assert images.shape[0] == 4 and torch.isfinite(images).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNS)
def test_a_format_2_run_resumes(name, mnist_root, tmp_path):
    overrides = resumed_overrides(FIXTURES / name, mnist_root, tmp_path)
    assert not any(o.split("=")[0] in RENAMED_3 for o in overrides)
    assert not any(o.startswith(("objective.augment=", "objective.loss=")) for o in overrides)
