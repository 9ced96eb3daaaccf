"""schedule=r3gan: the burn-in's values at its start, middle and end, what it sets in the
objective and the EMA, the refusals, and a resumed run bit-identical to an uninterrupted one."""

import math

import pytest
import torch
from helpers import CRITIC, compose_cfg, tiny_train, without_hydra

from gantrain.config import build
from gantrain.errors import UserError
from gantrain.training import checkpoint
from gantrain.training.burn_in import BurnIn, cosine
from gantrain.training.ema import EMA


def _built(overrides):
    cfg = without_hydra(
        compose_cfg(
            [
                "model=r3gan",
                "schedule=r3gan",
                "device=cpu",
                *CRITIC,
                "model.width=8",
                "model.max_width=16",
                *overrides,
            ]
        )
    )
    model, objective = build(cfg.model), build(cfg.objective)
    objective.bind(model)
    return model, objective, build(cfg.schedule)


def test_the_cosine_runs_from_start_to_end_and_holds():
    assert cosine(2e-4, 5e-5, 0, 100) == 2e-4
    assert cosine(2e-4, 5e-5, 50, 100) == pytest.approx(1.25e-4)
    assert cosine(2e-4, 5e-5, 25, 100) == pytest.approx(5e-5 + 1.5e-4 * (1 + math.sqrt(0.5)) / 2)
    assert cosine(2e-4, 5e-5, 100, 100) == cosine(2e-4, 5e-5, 10**6, 100) == pytest.approx(5e-5)


@pytest.mark.parametrize(
    ("rnd", "lr", "beta2", "gamma", "decay"),
    [
        (0, 2e-4, 0.9, 0.05, 0.0),  # half-life 0: the average follows the model
        (500, 1.25e-4, 0.945, 0.0275, 0.5 ** (64 / 25_000)),
        (1000, 5e-5, 0.99, 0.005, 0.5 ** (64 / 50_000)),
    ],
)
def test_r3gans_schedule_sets_the_round_s_values(rnd, lr, beta2, gamma, decay):
    model, objective, burn_in = _built(["schedule.rounds=1000"])
    ema = EMA(model, 0.5, warmup=False)
    burn_in.bind(objective, ema, 64, torch.device("cpu"))
    logs = burn_in.apply(rnd, lr_scale=0.5)
    for opt in (objective.opt, objective.critic_opt):
        group = opt.param_groups[0]
        assert group["lr"] == pytest.approx(lr * 0.5) and group["betas"][1] == pytest.approx(beta2)
        assert group["betas"][0] == 0.0  # the pair's beta1 stays
    assert objective.penalties.r1_weight == objective.penalties.r2_weight == pytest.approx(gamma)
    assert ema.decay == pytest.approx(decay)
    assert float(logs["schedule_lr"]) == pytest.approx(lr)


def test_augmentation_probability_is_held_by_the_schedule():
    _, objective, burn_in = _built(
        [
            "objective.augment.kind=ada",
            "schedule.augment_start=0",
            "schedule.augment_end=0.5",
            "schedule.rounds=10",
        ]
    )
    burn_in.bind(objective, None, 64, torch.device("cpu"))
    burn_in.apply(5)
    assert float(objective.augment.p) == pytest.approx(0.25)
    objective.augment.observe(torch.ones(64))  # ADA's feedback would raise p: it moves nothing
    for _ in range(4):
        objective.augment.end_round()
    assert float(objective.augment.p) == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (
            ["objective.penalties.r1=0", "objective.penalties.r2=0"],
            "objective.penalties.r1 and objective.penalties.r2 are both 0",
        ),
        (
            ["schedule.augment_start=0", "schedule.augment_end=0.5"],
            "use objective.augment.kind=ada",
        ),
    ],
)
def test_a_schedule_the_objective_cannot_take_is_one_line(overrides, says):
    _, objective, burn_in = _built(overrides)
    with pytest.raises(UserError, match=says):
        burn_in.bind(objective, None, 64, torch.device("cpu"))


def test_a_start_without_its_end_is_one_line():
    with pytest.raises(UserError, match="schedule.lr_end is null while its pair is set"):
        BurnIn(rounds=10, lr_start=1e-4)


def _state(run):
    ckpt = checkpoint.load(run / "checkpoints" / "last.pt")
    groups = [ckpt["objective"][k]["param_groups"][0] for k in ("optimizer", "critic_optimizer")]
    return ckpt, [(g["lr"], tuple(g["betas"])) for g in groups]


@pytest.mark.slow
def test_a_resumed_scheduled_run_is_bit_identical(mnist_root, tmp_path):
    args = [
        "model=r3gan",
        "schedule=r3gan",
        "schedule.rounds=8",
        *CRITIC,
        "trainer.deterministic=true",
        "trainer.sample_at=[4,8]",
        "eval.at=[]",
    ]
    whole, half = tmp_path / "whole", tmp_path / "half"
    tiny_train([*args, "trainer.rounds=8"], whole, mnist_root)
    tiny_train([*args, "trainer.rounds=4"], half, mnist_root)
    tiny_train([*args, "trainer.rounds=8", f"resume={half}"], half, mnist_root)
    (a, hyper_a), (b, hyper_b) = _state(whole), _state(half)
    assert a["round"] == b["round"] == 8 and hyper_a == hyper_b
    assert hyper_a[0][0] == pytest.approx(cosine(2e-4, 5e-5, 7, 8))  # round 8's: 7 rounds done
    for part in ("model", "ema"):
        for k, v in a[part].items():
            assert torch.equal(v, b[part][k]), f"{part}.{k}"
    for k, v in a["objective"]["critic"].items():
        assert torch.equal(v, b["objective"]["critic"][k]), f"critic.{k}"
