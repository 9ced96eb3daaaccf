"""resume_force applies the optimizer hyper-parameters it accepts; a resume with nothing left to
train writes nothing."""

from __future__ import annotations

import logging

import pytest
import torch
import yaml
from helpers import CRITIC, tiny_train

from gantrain.objectives.base import Objective
from gantrain.training import checkpoint


def _lrs(run) -> tuple[float, float]:
    objective = checkpoint.load(run / "checkpoints" / "last.pt")["objective"]
    return tuple(objective[k]["param_groups"][0]["lr"] for k in ("optimizer", "critic_optimizer"))


@pytest.fixture()
def finished(mnist_root, tmp_path):
    run = tmp_path / "run"
    tiny_train([*CRITIC, "trainer.rounds=2", "trainer.sample_at=[2]"], run, mnist_root)
    assert _lrs(run) == (6e-4, 6e-4)  # the dcgan x adversarial pair's rate
    return run


@pytest.mark.slow
def test_resume_force_applies_a_changed_learning_rate(finished, mnist_root, caplog):
    with caplog.at_level(logging.INFO, logger="gantrain"):
        tiny_train(
            [
                *CRITIC,
                "trainer.rounds=3",
                "trainer.sample_at=[2]",
                f"resume={finished}",
                "resume_force=true",
                "objective.optimizer.lr=0.001",
            ],
            finished,
            mnist_root,
        )
    assert _lrs(finished) == (0.001, 6e-4)  # the generator's changed, the critic's as it was
    recorded = yaml.safe_load((finished / ".hydra" / "config.yaml").read_text())
    assert recorded["objective"]["optimizer"]["lr"] == 0.001
    said = [r.getMessage() for r in caplog.records if "resume_force=" in r.getMessage()]
    assert said == ["resume_force=true: applying objective.optimizer.lr: 0.0006 -> 0.001"]


def test_a_resumed_optimizer_keeps_its_moments_and_takes_the_configured_values():
    w = torch.nn.Parameter(torch.ones(3))
    old = torch.optim.Adam([w], lr=1e-3, betas=(0.5, 0.999), weight_decay=0.1)
    w.sum().backward()
    old.step()
    new = torch.optim.Adam([w], lr=2e-3, betas=(0.9, 0.99))
    Objective.load_optimizer(new, old.state_dict())
    group = new.param_groups[0]
    assert (group["lr"], group["betas"], group["weight_decay"]) == (2e-3, (0.9, 0.99), 0.0)
    assert torch.equal(new.state[w]["exp_avg"], old.state[w]["exp_avg"])


@pytest.mark.slow
def test_a_resume_with_nothing_to_train_rewrites_no_config(finished, mnist_root):
    folder = finished / ".hydra"
    folder.mkdir()
    for name in ("config.yaml", "overrides.yaml"):
        (folder / name).write_text(f"# {name} as the run's start recorded it\n")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    summary = tiny_train(
        [*CRITIC, "trainer.rounds=1", "trainer.sample_at=[2]", f"resume={finished}"],
        finished,
        mnist_root,
    )
    assert summary["rounds"] == 2
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()} == before
    # one that trains on records its config: the check above could fail
    tiny_train(
        [*CRITIC, "trainer.rounds=3", "trainer.sample_at=[2]", f"resume={finished}"],
        finished,
        mnist_root,
    )
    assert (folder / "config.yaml").read_bytes() != before["config.yaml"][0]


@pytest.mark.slow
def test_a_rolled_back_run_resumes_at_its_scale_of_the_configured_rates(finished, mnist_root):
    # a run rolled back once saves lr_scale 0.5; its optimizers take the configured rate times
    # that, whatever rate the saved optimizer state holds
    last = finished / "checkpoints" / "last.pt"
    payload = checkpoint.load(last)
    payload["lr_scale"] = 0.5
    for key in ("optimizer", "critic_optimizer"):
        payload["objective"][key]["param_groups"][0]["lr"] = 1.0
    checkpoint.save(payload, last)
    tiny_train(
        [*CRITIC, "trainer.rounds=3", "trainer.sample_at=[2]", f"resume={finished}"],
        finished,
        mnist_root,
    )
    assert _lrs(finished) == (3e-4, 3e-4)
    assert checkpoint.load(last)["lr_scale"] == 0.5


def test_the_start_up_line_says_what_is_applied_and_what_is_not():
    from gantrain.training.resume import _applied

    said = _applied(
        [
            "objective.optimizer.lr: 0.0006 -> 0.001",
            "seed: 0 -> 3",
            "objective.critic_steps: 1 -> 2",
        ]
    )
    assert said == (
        "applying objective.optimizer.lr: 0.0006 -> 0.001; objective.critic_steps: 1 -> 2; "
        "not applying seed: 0 -> 3 (the checkpoint's random states continue)"
    )
    assert _applied(["seed: 0 -> 3"]).startswith("not applying seed")
    assert _applied(["objective.critic_optimizer.amsgrad: False -> True"]).startswith("not")
    assert _applied(["dataset.seed: 1 -> 2"]) == "applying dataset.seed: 1 -> 2"


@pytest.mark.slow
def test_resume_with_no_rounds_left_of_an_interrupted_run_says_so(finished, mnist_root, tmp_path):
    """An interrupted run's summary.json holds no round count; a resume to fewer rounds than its
    checkpoint reached trains nothing and ends in one plain line, not a traceback."""
    import json

    from helpers import TINY, run_cli

    (finished / "summary.json").write_text(json.dumps({"status": "interrupted", "error": "x"}))
    same = [f"dataset.root={mnist_root}", *TINY, *CRITIC, "trainer.sample_at=[2]"]
    out = run_cli([*same, f"resume={finished}", "trainer.rounds=1"], tmp_path)
    assert out.returncode == 0, out.stderr
    said = out.stdout + out.stderr
    assert "Traceback" not in said
    assert "already at round 2 of 1; nothing to train" in said
