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
    from gantrain.upgrade import MOVED

    shipped = set()
    for path in conf_dir().rglob("*.yaml"):
        text = path.read_text()
        shipped |= {
            line.split(":", 1)[1].strip()
            for line in text.splitlines()
            if line.strip().startswith("_target_:")
        }
    assert shipped and shipped <= registered_targets()
    assert set(STAND_INS) <= registered_targets()
    assert set(MOVED) | set(MOVED.values()) <= registered_targets()
    assert "builtins.open" not in registered_targets()


@pytest.mark.parametrize("model", ["dcgan", "ae", "vae"])
def test_a_real_saved_config_passes(model):
    cfg = without_hydra(compose_cfg([f"model={model}", "objective=mmd", "conditional=true"]))
    check_saved(OmegaConf.to_container(cfg, resolve=True), "last.pt")


@pytest.mark.parametrize("preset", sorted(p.stem for p in (conf_dir() / "experiment").glob("*")))
def test_every_preset_saved_config_passes(preset):
    cfg = without_hydra(compose_cfg([f"experiment={preset}", "dataset.root=/data"]))
    check_saved(OmegaConf.to_container(cfg, resolve=True), "last.pt")


MNIST = {"_target_": "gantrain.data.torchvision_sets.load", "name": "mnist"}


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
        ({"model": {"_target_": None, "_partial_": True}}, "config.model._target_=null"),
        ({"dataset": {**MNIST, "root": "/data/${oc.env:HOME}"}}, "config.dataset.root holds an "),
        ({"dataset": {**MNIST, "root": "${dataset.name}"}}, "config.dataset.root holds an interp"),
        ({"dataset": {**MNIST, "${oc.env:HOME}": 1}}, "holds an interpolation"),
    ],
)
def test_foreign_saved_configs_are_refused_in_one_line(config, named):
    with pytest.raises(UserError) as refused:
        check_saved(config, "RUN/checkpoints/last.pt")
    text = str(refused.value)
    assert text.startswith("RUN/checkpoints/last.pt: ") and named in text and "\n" not in text
    assert "/data/" not in text  # an interpolated value is not shown, only its key


def test_overrides_a_run_saves_pass_and_keep_their_node_references():
    check_overrides(
        [
            "model=vae",
            "objective/critic=dcgan",
            "dataset.root=/data/a b",
            "trainer.sample_at=[2,4]",
            "model.latent_dim=${dataset.channels}",
            "~eval.at",
            "+model.encode_label=true",
        ],
        "overrides.yaml",
    )


@pytest.mark.parametrize(
    "line,named",
    [
        (
            "+model.net={_target_: gantrain.models.dcgan.DCGAN, a: {_target_: os.system}}",
            "model.net._target_=gantrain.models.dcgan.DCGAN is not what model.net holds",
        ),
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


def _targets_of(group: str) -> set[str]:
    return {yaml.safe_load(p.read_text())["_target_"] for p in (conf_dir() / group).glob("*.yaml")}


def test_each_slot_holds_what_its_group_puts_there_and_nothing_else():
    from gantrain.slots import slots

    table = slots()
    assert table["model"] == _targets_of("model")
    assert table["objective"] == _targets_of("objective")
    assert table["objective.critic"] == _targets_of("objective/critic") | {
        "gantrain.models.dcgan.Discriminator"  # a format-1 run's name of DCGANCritic
    }
    assert _targets_of("dataset") <= table["dataset"]
    assert table["dataset"] - _targets_of("dataset") == {
        "gantrain.data.torchvision_sets.load_celeba"
    }
    assert table["objective.optimizer"] == {
        "torch.optim.Adam",
        "torch.optim.AdamW",
        "torch.optim.SGD",
    }
    assert not table["model"] & (table["dataset"] | table["objective.critic"] | table["objective"])


LOADER = "gantrain.data.torchvision_sets.load"
DCGAN = "gantrain.models.dcgan.DCGAN"


def _saved(**changes) -> dict:
    cfg = without_hydra(compose_cfg(["dataset.root=/data"]))
    config = OmegaConf.to_container(cfg, resolve=True)
    for key, change in changes.items():
        node = config
        *parents, last = key.split(".")
        for part in parents:
            node = node[part]
        node[last] = change(node.get(last))
    return config


@pytest.mark.parametrize(
    "key,change,named,holds",
    [
        (
            "model",
            lambda m: {**m, "_target_": LOADER, "download": True},
            "config.model._target_",
            "model may hold only gantrain.models",
        ),
        (
            "objective",
            lambda o: {**o, "_target_": "gantrain.models.dcgan.DCGANCritic"},
            "config.objective._target_",
            "objective may hold only gantrain.objectives",
        ),
        (
            "objective.critic",
            lambda c: {**c, "_target_": DCGAN},
            "config.objective.critic._target_",
            "objective.critic may hold only gantrain.models.critics.CodeCritic",
        ),
        (
            "objective.optimizer",
            lambda o: {**o, "_target_": "gantrain.objectives.mmd.MMD"},
            "config.objective.optimizer._target_",
            "may hold only torch.optim.Adam",
        ),
        (
            "dataset",
            lambda d: {"_target_": DCGAN},
            "config.dataset._target_",
            "dataset may hold only gantrain.data.",
        ),
        (
            "model.latent_dim",
            lambda _: {"_target_": LOADER, "name": "mnist", "root": "/x"},
            "config.model.latent_dim._target_",
            "model.latent_dim holds plain values only",
        ),
        (
            "trainer.sample_at",
            lambda _: [1, {"_target_": "gantrain.data.hf.load"}],
            "config.trainer.sample_at[1]._target_",
            "holds plain values only",
        ),
        (
            "model",
            lambda m: {k: v for k, v in m.items() if k != "_target_"},
            "config.model is not a config node with a _target_",
            "model may hold only",
        ),
    ],
)
def test_a_node_is_refused_where_its_slot_does_not_hold_it(key, change, named, holds):
    with pytest.raises(UserError) as refused:
        check_saved(_saved(**{key: change}), "RUN/checkpoints/last.pt")
    text = str(refused.value)
    assert named in text and holds in text and "\n" not in text, text


def test_a_saved_config_with_hydra_settings_is_refused():
    with pytest.raises(UserError, match=r"last.pt: config.hydra holds Hydra's own settings"):
        check_saved({**_saved(), "hydra": {"run": {"dir": "/tmp/x"}}}, "last.pt")


@pytest.mark.parametrize(
    "line,named",
    [
        (f"model._target_={LOADER}", f"model._target_={LOADER} is not what model holds"),
        (f"objective.critic._target_={DCGAN}", "objective.critic may hold only"),
        ("objective/critic@model=image", "objective/critic@model=image._target_="),
        ("+dataset@model=mnist", f"dataset@model=mnist._target_={LOADER} is not what model holds"),
        ("seed=${hydra.job.num}", "seed refers to Hydra's own settings"),
        ("dataset.root=http://127.0.0.1:9/d", "dataset.root=http://127.0.0.1:9/d is a URL"),
        ("dataset.download=true", "dataset.download=true downloads"),
        ("logger.mlflow.tracking_uri=/tmp/m.db", "tracking_uri=/tmp/m.db names a tracking store"),
        ("+model.x=[1, s3://bucket/k]", "model.x[1]=s3://bucket/k is a URL"),
    ],
)
def test_saved_overrides_from_the_wrong_slot_or_that_reach_out_are_refused(line, named):
    with pytest.raises(UserError) as refused:
        check_overrides(["model=dcgan", line], "RUN/.hydra/overrides.yaml", ["trainer.rounds=9"])
    assert named in str(refused.value), str(refused.value)


@pytest.mark.parametrize(
    "line",
    [
        "dataset.root=http://127.0.0.1:9/d",
        "dataset.download=true",
        "logger.mlflow.tracking_uri=http://127.0.0.1:9",
    ],
)
def test_what_reaches_out_passes_when_this_command_line_sets_it(line):
    check_overrides([line], "overrides.yaml", [line])
    check_overrides([line], "overrides.yaml", [line.split("=")[0] + "=/local"])


def test_a_saved_dataset_downloads_and_fetches_only_what_the_command_line_says():
    from gantrain.saved_config import saved_data_config

    saved = {"_target_": LOADER, "name": "mnist", "root": "/d", "download": True}
    assert saved_data_config(saved, {}, "x.pt") == ({**saved, "download": False}, None)
    assert saved_data_config(saved, {"download": True}, "x.pt")[0]["download"] is True
    remote = {"_target_": "gantrain.data.shards.load", "root": "https://h/s"}
    _, refused = saved_data_config(remote, {}, "x.pt")
    assert refused.startswith("x.pt: config.dataset.root=https://h/s is a URL")
    assert saved_data_config(remote, {"root": "https://h/s"}, "x.pt") == (remote, None)
    hub = {"_target_": "gantrain.data.hf.load", "root": "someone/faces"}
    assert "would come from the Hugging Face Hub" in saved_data_config(hub, {}, "x.pt")[1]
    assert saved_data_config(hub, {"root": "someone/faces"}, "x.pt")[1] is None


def test_a_saved_hub_name_is_fetched_on_resume_only_when_the_command_line_gives_it():
    saved = ["dataset=hf", "dataset.root=someone/faces"]
    with pytest.raises(UserError, match="dataset.root=someone/faces is no local path"):
        check_overrides(saved, "overrides.yaml", ["trainer.rounds=9"])
    check_overrides(saved, "overrides.yaml", ["dataset.root=someone/faces"])
    check_overrides(saved, "overrides.yaml", ["dataset=mnist"])
