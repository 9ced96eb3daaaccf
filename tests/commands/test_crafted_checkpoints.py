"""A run directory names, never builds, arbitrary code: crafted checkpoints and overrides are
refused by the real console scripts in one line, before anything in them runs."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from helpers import VICTIM_TEXT, run_cli, script_error_line

from gantrain.training import checkpoint

SECRET = "s3cr3t-value-of-the-environment"


def _open(victim):
    return {"_target_": "builtins.open", "_args_": [str(victim), "w"]}


def _write_text(victim):
    path = {"_target_": "pathlib.Path", "_args_": [str(victim)]}
    return {"_target_": "pathlib.Path.write_text", "_args_": [path, ""]}


def _subprocess(marker):
    return {"_target_": "subprocess.run", "args": ["touch", str(marker)]}


def _system(marker):
    return {"_target_": "os.system", "_args_": [f"touch {marker}"]}


def _partial(victim):
    return {"_target_": "builtins.open", "_partial_": True, "file": str(victim), "mode": "w"}


# (name, how the config is changed, what the error line must name)
CRAFTED = [
    ("open as the model", lambda c, v, m: c.update(model=_open(v)), "builtins.open"),
    (
        "write_text nested in the model's args",
        lambda c, v, m: c["model"].update(latent_dim=_write_text(v)),
        "pathlib.Path",
    ),
    (
        "subprocess.run nested in the dataset",
        lambda c, v, m: c["dataset"].update(root=_subprocess(m)),
        "subprocess.run",
    ),
    ("os.system in a list", lambda c, v, m: c["model"].update(extra=[1, _system(m)]), "os.system"),
    ("a _partial_ open", lambda c, v, m: c["model"].update(opener=_partial(v)), "builtins.open"),
    (
        "a foreign objective",
        lambda c, v, m: c["objective"].update(_target_="shutil.rmtree", path=str(v)),
        "shutil.rmtree",
    ),
]


def _craft(run, change) -> None:
    """last.pt as torch.save writes it: the current format, the run's real weights, the changed config."""
    last = run / "checkpoints" / "last.pt"
    payload = checkpoint.load(last)
    config = copy.deepcopy(payload["config"])
    change(config)
    torch.save({**payload, "config": config}, last)


# the crafted configs gantrain-sample meets as a real process; the rest it meets in this one
REAL = ("open as the model", "write_text nested in the model's args")


@pytest.mark.slow
@pytest.mark.parametrize("name,change,target", CRAFTED, ids=[c[0] for c in CRAFTED])
def test_sample_refuses_a_foreign_target(scene, cli, name, change, target):
    run, victim, marker = scene
    _craft(run, lambda c: change(c, victim, marker))
    out = run.parent / "samples.npz"
    done = cli(
        [f"run_dir={run}", "num_samples=4", f"out={out}"],
        run.parent,
        "gantrain-sample",
        real=name in REAL,
    )
    line = script_error_line(done, "gantrain-sample")
    assert f"_target_={target}" in line and str(run / "checkpoints" / "last.pt") in line
    assert "not one of gantrain's own classes" in line
    assert victim.read_text() == VICTIM_TEXT and not marker.exists() and not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("name,change,target", CRAFTED[:3], ids=[c[0] for c in CRAFTED[:3]])
def test_eval_refuses_a_foreign_target(scene, cli, name, change, target):
    run, victim, marker = scene
    _craft(run, lambda c: change(c, victim, marker))
    done = cli(
        [f"run_dir={run}", "num_samples=4"],
        run.parent,
        "gantrain-eval",
        real=target == "subprocess.run",
    )
    assert f"_target_={target}" in script_error_line(done, "gantrain-eval")
    assert victim.read_text() == VICTIM_TEXT and not marker.exists()
    assert not (run / "eval.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("script", ["gantrain-export", "gantrain-serve"])
def test_export_and_serve_refuse_a_foreign_target(scene, cli, script):
    run, victim, marker = scene
    name, change, target = CRAFTED[0]
    _craft(run, lambda c: change(c, victim, marker))
    out = run.parent / "g.onnx"
    args = [f"run_dir={run}", *([f"out={out}"] if script == "gantrain-export" else ["port=1"])]
    line = script_error_line(cli(args, run.parent, script, real=False), script)
    assert f"_target_={target}" in line and "not one of gantrain's own classes" in line
    assert victim.read_text() == VICTIM_TEXT and not marker.exists() and not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("script", ["gantrain-sample", "gantrain-eval"])
def test_an_interpolation_in_a_saved_config_reads_nothing(scene, cli, script, monkeypatch):
    run, _, _ = scene
    _craft(run, lambda c: c["dataset"].update(root="${oc.env:GANTRAIN_TEST_SECRET}"))
    monkeypatch.setenv("GANTRAIN_TEST_SECRET", SECRET)
    out = [f"out={run.parent / 's.npz'}"] if script == "gantrain-sample" else []
    done = cli(
        [f"run_dir={run}", "num_samples=4", *out],
        run.parent,
        script,
        real=script == "gantrain-sample",
    )
    line = script_error_line(done, script)
    assert "config.dataset.root holds an interpolation" in line and "last.pt" in line
    assert SECRET not in done.stdout + done.stderr


# saved overrides that would build or read something once Hydra composed them
OVERRIDES = [
    (["model._target_=builtins.open", "+model._args_=[{victim},w]"], "builtins.open"),
    (
        ["model={{_target_: pathlib.Path.write_text, _args_: [{victim}, '']}}"],
        "pathlib.Path.write_text",
    ),
    (["+model.width={{_target_: os.system, _args_: ['touch {marker}']}}"], "os.system"),
    (["dataset.root=${{oc.env:GANTRAIN_TEST_SECRET}}"], "dataset.root uses a resolver"),
    (["+hydra.job_logging.root.level=INFO"], "sets Hydra's own settings"),
    (["--config-dir={marker}"], "is a command-line flag"),
]


@pytest.mark.slow
@pytest.mark.parametrize("lines,named", OVERRIDES, ids=[o[1] for o in OVERRIDES])
def test_resume_refuses_crafted_overrides(scene, monkeypatch, lines, named):
    """gantrain resume=RUN as a real process for two of them; resume_argv (what gantrain's main
    calls before Hydra) for the rest."""
    from gantrain.cli.argv import resume_argv
    from gantrain.errors import UserError

    run, victim, marker = scene
    saved = run / ".hydra" / "overrides.yaml"
    crafted = [line.format(victim=victim, marker=marker) for line in lines]
    saved.write_text(saved.read_text() + "".join(f"- {json.dumps(c)}\n" for c in crafted))
    before = (run / "checkpoints" / "last.pt").read_bytes()
    monkeypatch.setenv("GANTRAIN_TEST_SECRET", SECRET)
    args = [f"resume={run}", "trainer.rounds=3"]
    if named in ("builtins.open", "dataset.root uses a resolver"):
        done = run_cli(args, run.parent, timeout=120)
        line, shown = script_error_line(done, "gantrain"), done.stdout + done.stderr
    else:
        with pytest.raises(UserError) as refused:
            resume_argv(args)
        line = shown = str(refused.value)
    assert named in line and str(saved) in line, line
    assert victim.read_text() == VICTIM_TEXT and not marker.exists() and SECRET not in shown
    assert (run / "checkpoints" / "last.pt").read_bytes() == before


def test_report_shows_saved_overrides_as_text_and_builds_nothing(tmp_path):
    from gantrain.commands.report import collect
    from gantrain.errors import UserError

    victim = tmp_path / "notes.txt"
    victim.write_text(VICTIM_TEXT)
    for job, lines in (
        ("0", ["seed=0"]),
        ("1", ["seed=1", f"+model._args_=[{victim},w]", "model._target_=builtins.open"]),
    ):
        (tmp_path / "sw" / job / ".hydra").mkdir(parents=True)
        (tmp_path / "sw" / job / ".hydra" / "overrides.yaml").write_text(
            "".join(f"- {json.dumps(line)}\n" for line in lines)
        )
    rows, swept = collect(tmp_path / "sw")
    assert rows[1]["model._target_"] == "builtins.open" and "seed" in swept
    assert victim.read_text() == VICTIM_TEXT
    (tmp_path / "sw" / "1" / ".hydra" / "overrides.yaml").write_text("{model: {_target_: x}}")
    with pytest.raises(UserError, match="is not a list of key=value overrides"):
        collect(tmp_path / "sw")
