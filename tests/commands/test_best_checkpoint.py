"""checkpoints/best.pt follows the in-training FID; sample and eval take checkpoint=best."""

from __future__ import annotations

import json
import math

import pytest
import torch
from helpers import tiny_train
from test_sample_eval import CRITIC, FAST, call, error_line

from gantrain.commands import evaluate as eval_cli
from gantrain.commands import sample as sample_cli
from gantrain.training.state import TrainState

FAST_EVAL = ["eval.num_samples=24", "eval.kid_subsets=3", "eval.classifier.steps=20"]


@pytest.fixture(scope="module")
def evaluated_run(mnist_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("best")
    tiny_train(
        ["trainer.rounds=6", "trainer.sample_at=[6]", "eval.at=[2,4,6]", *FAST_EVAL, *CRITIC],
        run,
        mnist_root,
    )
    return run


@pytest.mark.slow
def test_best_holds_the_round_of_the_lowest_fid(evaluated_run):
    rows = [json.loads(x) for x in (evaluated_run / "metrics.jsonl").read_text().splitlines()]
    fids = {r["round"]: r["fid"] for r in rows if "fid" in r}
    best = torch.load(evaluated_run / "checkpoints" / "best.pt", weights_only=True)
    assert sorted(fids) == [2, 4, 6]
    assert best["round"] == min(fids, key=fids.get) and best["fid"] == min(fids.values())
    last = torch.load(evaluated_run / "checkpoints" / "last.pt", weights_only=True)
    assert last["best_fid"] == best["fid"]  # a resumed run compares against it


def test_only_a_lower_fid_replaces_best(tmp_path, monkeypatch):
    state = TrainState(None, None, None, None, None, {}, torch.device("cpu"))
    monkeypatch.setattr(state, "payload", lambda rnd: {"round": rnd})
    kept = [
        state.keep_best(r, f, tmp_path)
        for r, f in ((1, 5.0), (2, 7.0), (3, math.nan), (4, 3.0), (5, 3.0))
    ]
    assert kept == [True, False, False, True, False]
    assert torch.load(tmp_path / "best.pt", weights_only=True)["round"] == 4


@pytest.mark.slow
def test_eval_and_sample_take_checkpoint_best(evaluated_run, tmp_path, monkeypatch, capsys):
    best = torch.load(evaluated_run / "checkpoints" / "best.pt", weights_only=True)
    args = [f"run_dir={evaluated_run}", "checkpoint=best", "num_samples=20", *FAST]
    assert call(eval_cli, args, monkeypatch, capsys)[0] == 0
    record = json.loads((evaluated_run / "eval.json").read_text())
    assert record["round"] == best["round"] and record["checkpoint"].endswith("best.pt")
    args = [f"run_dir={evaluated_run}", "checkpoint=best", f"out={tmp_path / 's.npz'}"]
    assert call(sample_cli, args, monkeypatch, capsys)[0] == 0 and (tmp_path / "s.npz").is_file()


@pytest.mark.slow
def test_checkpoint_best_without_evaluations_is_one_line(mnist_root, tmp_path, monkeypatch, capsys):
    tiny_train(["trainer.rounds=2", "trainer.sample_at=[2]", *CRITIC], tmp_path, mnist_root)
    code, _, err = call(eval_cli, [f"run_dir={tmp_path}", "checkpoint=best"], monkeypatch, capsys)
    assert code == 2 and "no checkpoints/best.pt" in error_line(err, "gantrain-eval")
