"""The registry a saved config is checked against, and the check itself, on real configs."""

from __future__ import annotations

import pytest
import yaml
from helpers import compose_cfg, without_hydra
from omegaconf import OmegaConf

from gantrain.config import conf_dir
from gantrain.errors import UserError
from gantrain.saved_config import check_overrides, check_saved, read_overrides, registered_targets


def test_registry_holds_every_shipped_target_and_the_optimizers_the_schema_knows():
    from gantrain.objectives.optimizers import STAND_INS
    from gantrain.training.checkpoint import MOVED

    shipped = set()
    for path in conf_dir().rglob("*.yaml"):
        text = path.read_text()
        shipped |= {line.split(":", 1)[1].strip() for line in text.splitlines()
                    if line.strip().startswith("_target_:")}  # fmt: skip
    assert shipped and shipped <= registered_targets()
    assert set(STAND_INS) <= registered_targets()
    assert set(MOVED) | set(MOVED.values()) <= registered_targets()
    assert "builtins.open" not in registered_targets()


@pytest.mark.parametrize("model", ["dcgan", "ae", "vae"])
def test_a_real_saved_config_passes(model):
    cfg = without_hydra(compose_cfg([f"model={model}", "objective=mmd", "conditional=true"]))
    check_saved(OmegaConf.to_container(cfg, resolve=True), "last.pt")


@pytest.mark.parametrize(
    "config,named",
    [
        ({"model": {"_target_": "builtins.open"}}, "config.model._target_=builtins.open"),
        (
            {
                "model": {
                    "_target_": "gantrain.models.dcgan.DCGAN",
                    "w": [{"_target_": "os.system"}],
                }
            },
            "config.model.w[0]._target_=os.system",
        ),
        ({"model": {"_target_": ["gantrain.models.dcgan.DCGAN"]}}, "config.model._target_=["),
        ({"model": {"_target_": None, "_partial_": True}}, "config.model._target_=None"),
        ({"dataset": {"root": "/data/${oc.env:HOME}"}}, "config.dataset.root holds an interp"),
        ({"dataset": {"root": "${dataset.name}"}}, "config.dataset.root holds an interp"),
        ({"dataset": {"${oc.env:HOME}": 1}}, "holds an interpolation"),
    ],
)
def test_foreign_saved_configs_are_refused_in_one_line(config, named):
    with pytest.raises(UserError) as refused:
        check_saved(config, "RUN/checkpoints/last.pt")
    text = str(refused.value)
    assert text.startswith("RUN/checkpoints/last.pt: ") and named in text and "\n" not in text
    assert "/data/" not in text  # an interpolated value is not shown, only its key


def test_overrides_a_run_saves_pass_and_keep_their_node_references():
    check_overrides(["model=vae", "objective/critic=dcgan", "dataset.root=/data/a b",
                     "trainer.sample_at=[2,4]", "model.latent_dim=${dataset.channels}",
                     "~eval.at", "+model.encode_label=true"], "overrides.yaml")  # fmt: skip


@pytest.mark.parametrize(
    "line,named",
    [
        (
            "+model.net={_target_: gantrain.models.dcgan.DCGAN, a: {_target_: os.system}}",
            "model.net.a._target_=os.system",
        ),  # fmt: skip
        ("model=../../../tmp/evil", "a path"),
        ("hydra.searchpath=[file:///tmp]", "Hydra's own settings"),
        ("hydra/job_logging=none", "Hydra's own settings"),
        ("seed=1,2", "a sweep"),
        ("-cd", "command-line flag"),
        ("model.width=a${model.x}${oc.env:X}", "model.width uses a resolver"),
        ("model.width=[", "not a key=value override"),
    ],
)
def test_foreign_overrides_are_refused(line, named):
    with pytest.raises(UserError) as refused:
        check_overrides(["model=dcgan", line], "RUN/.hydra/overrides.yaml")
    assert str(refused.value).startswith("RUN/.hydra/overrides.yaml: ") and named in str(
        refused.value
    )


@pytest.mark.parametrize("text", ["{a: 1}", "- 3\n", "[unclosed", "- [a, b]\n"])
def test_an_overrides_file_that_is_not_a_list_of_strings_is_refused(tmp_path, text):
    path = tmp_path / "overrides.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=str(path)):
        read_overrides(path)


def test_a_missing_or_empty_overrides_file_is_no_overrides(tmp_path):
    assert read_overrides(tmp_path / "absent.yaml") == []
    (tmp_path / "empty.yaml").write_text("")
    assert read_overrides(tmp_path / "empty.yaml") == []
    assert yaml.safe_load("- a=1\n") == read_overrides(_written(tmp_path, "- a=1\n"))


def _written(folder, text):
    path = folder / "o.yaml"
    path.write_text(text)
    return path
