"""Nothing non-finite is saved, a divergence names the checkpoint actually kept, a rollback
reloads a finite state, and exploded (finite) losses mark a run diverged."""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path

import pytest
import torch
from helpers import CRITIC, TINY, one_error_line, run_cli, tiny_train

from gantrain.training import checkpoint
from gantrain.training.ema import EMA
from gantrain.training.nan_policy import EXPLODED, EXPLODED_WINDOWS, Diverged, NanGuard
from gantrain.training.state import TrainState, nonfinite_parts

# SGD at lr=1e4 on a Wasserstein critic without normalisation: the weights become infinite at
# round 2 while round 2's logged losses (from the forward pass before the step) are still
# finite; the loss shows NaN at round 3. (Adam at such rates overflows its second moment at the
# first step, so no state of it is ever finite: that run has nothing to keep.)
DIVERGING = [
    "objective.loss.kind=wasserstein",
    "objective.critic.norm=none",
    "objective.optimizer._target_=torch.optim.SGD",
    "~objective.optimizer.betas",
    "~objective.optimizer.fused",
    "objective.critic_optimizer._target_=torch.optim.SGD",
    "~objective.critic_optimizer.betas",
    "~objective.critic_optimizer.fused",
    "objective.optimizer.lr=1e4",
    "objective.critic_optimizer.lr=1e4",
    "trainer.checkpoint_every=1",
    "trainer.sample_at=[1000]",
    "trainer.rounds=30",
]


def _args(root: Path, run: Path, extra=()) -> list[str]:
    return [f"dataset.root={root}", *TINY, *CRITIC, *DIVERGING, f"hydra.run.dir={run}", *extra]


def _all_finite(folder: Path) -> dict[str, int]:
    """Each checkpoint's round, after asserting that it loads and holds only finite values."""
    rounds = {}
    for path in sorted(folder.glob("*.pt")):
        payload = checkpoint.load(path)
        assert nonfinite_parts(payload) == [], path
        rounds[path.name] = payload["round"]
    return rounds


@pytest.mark.slow
def test_a_diverging_run_keeps_only_finite_checkpoints_and_names_the_one_kept(mnist_root, tmp_path):
    run = tmp_path / "run"
    out = run_cli(_args(mnist_root, run), tmp_path)
    assert out.returncode == 2
    line = one_error_line(out.stderr)
    assert "became nan at round 3" in line
    assert _all_finite(run / "checkpoints") == {"last.pt": 1}
    assert f"{run}/checkpoints/last.pt holds the last finite state (round 1)" in line
    assert "trainer.nan_policy=rollback" in line  # the policy that was not tried
    log = (run / "train.log").read_text()
    assert "the training state at round 2 is non-finite" in log
    assert f"{run}/checkpoints/last.pt still holds round 1" in log
    assert json.loads((run / "summary.json").read_text())["status"] == "diverged"


@pytest.mark.slow
def test_rollback_reloads_the_finite_state_and_says_so(mnist_root, tmp_path):
    run = tmp_path / "run"
    out = run_cli(_args(mnist_root, run, ["trainer.nan_policy=rollback"]), tmp_path)
    assert out.returncode == 2
    log = (run / "train.log").read_text()
    reloads = re.findall(
        r"rollback (\d) of 3: reloaded (\S+) \(round (\d+)\), the learning "
        r"rates now ([\d.]+) of",
        log,
    )
    kept = f"{run}/checkpoints/last.pt"
    assert reloads == [("1", kept, "1", "0.5"), ("2", kept, "1", "0.25"), ("3", kept, "1", "0.125")]
    assert _all_finite(run / "checkpoints") == {"last.pt": 1}
    line = one_error_line(out.stderr)
    assert f"{kept} holds the last finite state (round 1), and 3 rollbacks to it" in line
    assert "nan_policy" not in line  # rollback is already set: the advice is the lr or the seed
    assert "objective.optimizer.lr" in line


def _nan_logs() -> dict[str, torch.Tensor]:
    return {"loss_d": torch.tensor(0.5), "loss_g": torch.tensor(math.nan)}


@pytest.mark.parametrize("policy", ["stop", "rollback"])
def test_nan_before_any_checkpoint_names_no_folder(policy):
    guard = NanGuard(policy)
    with pytest.raises(Diverged) as err:
        guard.finite(_nan_logs(), 1, kept=None)
    text = str(err.value)
    assert text.startswith("loss_g became nan at round 1; no finite training state was saved")
    assert "checkpoints" not in text and "rollback" not in text
    assert ("nothing to reload" in text) == (policy == "rollback")


def test_rollback_stops_after_the_last_allowed_one(tmp_path):
    guard = NanGuard("rollback")
    kept = (tmp_path / "checkpoints" / "last.pt", 40)
    assert [guard.finite(_nan_logs(), 45, kept) for _ in range(3)] == [False] * 3
    with pytest.raises(Diverged, match=r"last.pt holds the last finite state \(round 40\), and 3"):
        guard.finite(_nan_logs(), 45, kept)
    assert guard.finite({"loss": torch.tensor(1.0)}, 46, kept)


class _Objective:
    """The part of an objective a checkpoint holds: an optimizer with moments."""

    def __init__(self, model: torch.nn.Module):
        self.opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        model(torch.ones(2, 3)).sum().backward()
        self.opt.step()  # exp_avg, exp_avg_sq exist from here

    def state_dict(self) -> dict:
        return {"optimizer": self.opt.state_dict()}


class _Batches:
    def state_dict(self) -> dict:
        return {"position": 0}


def _state() -> TrainState:
    model = torch.nn.Linear(3, 2)
    ema = EMA(model, 0.9)
    return TrainState(model, _Objective(model), _Batches(), ema, torch.zeros(4, 2), {}, "cpu")


@pytest.mark.parametrize("where", ["weight", "ema", "exp_avg", "log_sum"])
def test_a_nan_anywhere_leaves_the_previous_checkpoint_byte_identical(where, tmp_path, caplog):
    st = _state()
    assert st.save(10, tmp_path, keep=True, keep_last=5)
    before = (tmp_path / "last.pt").read_bytes()
    target = {
        "weight": st.model.weight,
        "ema": st.ema.model.weight,
        "exp_avg": st.objective.opt.state[st.model.weight]["exp_avg"],
    }.get(where)
    with torch.no_grad():
        if target is None:
            st.add({"loss": torch.tensor(math.inf)})
        else:
            target[0, 0] = math.nan
    with caplog.at_level(logging.WARNING, logger="gantrain"):
        assert not st.save(20, tmp_path, keep=True, keep_last=5)
    assert (tmp_path / "last.pt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "round_000010.pt"]
    assert st.kept == (tmp_path / "last.pt", 10)
    [record] = caplog.records
    assert "the training state at round 20 is non-finite" in record.getMessage()
    assert f"{tmp_path}/last.pt still holds round 10" in record.getMessage()
    assert not st.keep_best(20, 1.0, tmp_path) and not (tmp_path / "best.pt").exists()


def test_a_finite_state_is_saved():
    st = _state()
    assert nonfinite_parts(st.payload(1)) == []
    st.model.weight.data[1, 2] = math.inf
    assert nonfinite_parts(st.payload(1)) == ["weights"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
def test_a_nan_or_inf_at_any_position_is_found(dtype):
    # the check reads each tensor's min and max: a NaN must reach them from any SIMD lane
    for n in (1, 7, 33, 4097):
        for i in {0, n // 2, n - 1}:
            for value in (math.nan, math.inf, -math.inf):
                x = torch.randn(n).to(dtype)
                x[i] = value
                payload = {"ema": {"w": x, "empty": torch.zeros(0)}}
                assert nonfinite_parts(payload) == ["EMA weights"]
    assert nonfinite_parts({"ema": {"w": torch.randn(4097).to(dtype)[::3]}}) == []


def test_exploded_losses_need_the_windows_in_a_row():
    guard = NanGuard("stop")
    big, small = {"loss_g": -3 * EXPLODED, "d_real": 0.5}, {"loss_g": 2.0}
    rounds = [50, 100, 150, 200, 250, 300]
    seen = [guard.exploded(m, r) for m, r in zip([big, big, small, big, big, big], rounds)]
    assert seen[:5] == [None] * 5 and EXPLODED_WINDOWS == 3
    assert seen[5] == {"round": 200, "term": "loss_g", "value": -3 * EXPLODED}
    assert NanGuard("stop").exploded({"d_real": 10 * EXPLODED}, 1) is None  # not a loss


def test_a_run_whose_losses_exploded_ends_diverged(mnist_root, tmp_path, caplog):
    # Adam at lr=1e5: loss_g is ~1e17 from round 1 on and stays finite
    adam = [
        "objective.loss.kind=wasserstein",
        "objective.critic.norm=none",
        "objective.optimizer.lr=1e5",
        "objective.critic_optimizer.lr=1e5",
    ]
    with caplog.at_level(logging.INFO, logger="gantrain"):
        summary = tiny_train(
            [*CRITIC, *adam, "trainer.rounds=4", "trainer.sample_at=[4]"], tmp_path, mnist_root
        )
    assert summary["status"] == "diverged" and summary["diverged"] is True
    assert summary["diverged_round"] == 1 and summary["diverged_term"] == "loss_g"
    assert abs(summary["diverged_value"]) > EXPLODED

    assert json.loads((tmp_path / "summary.json").read_text())["diverged_round"] == 1
    last = caplog.records[-1]
    assert last.levelno == logging.WARNING and last.getMessage().startswith("diverged: loss_g")
    assert "4 rounds at" in last.getMessage() and "done" not in last.getMessage()
