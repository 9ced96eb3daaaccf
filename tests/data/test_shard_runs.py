"""Packed shards in whole runs: two gloo ranks share every epoch without overlap, and a run
killed with SIGKILL and resumed trains bit-identically to one never stopped."""

from __future__ import annotations

import json

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from shard_sets import index_of, write_shards

from gantrain.data import make_batches
from gantrain.data.shards import load

BATCHES = 16  # per rank: two epochs of 8 (8 shards of 10 over 2 ranks x 2 workers, batch 5)


def _rank(rank: int, world: int, store: str, root: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        source = load(root, image_size=8, in_memory_max=0, buffer=4)
        batches = make_batches(
            source, 5, torch.device("cpu"), seed=7, workers=2, rank=rank, world=world
        )
        drawn = []
        for _ in range(BATCHES):
            u8 = ((batches() + 1) * 127.5).round().to(torch.uint8)
            drawn.append([index_of(im) for im in u8])
        state = batches.state_dict()
        with open(f"{out}/{rank}.json", "w") as f:
            json.dump({"batches": drawn, "state": state}, f)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_ranks_share_each_epoch_disjointly_and_completely(tmp_path):
    root = write_shards(tmp_path / "shards", [10] * 8)
    # forked, not spawned: the ranks start without importing torch again
    mp.start_processes(
        _rank,
        args=(2, str(tmp_path / "store"), str(root), str(tmp_path)),
        nprocs=2,
        join=True,
        start_method="fork",
    )
    ranks = [json.loads((tmp_path / f"{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["state"] == ranks[1]["state"]  # rank 0's checkpoint resumes both
    for epoch in range(2):
        parts = [[i for b in r["batches"][8 * epoch : 8 * epoch + 8] for i in b] for r in ranks]
        assert not set(parts[0]) & set(parts[1])
        assert sorted(parts[0] + parts[1]) == list(range(80)), epoch


@pytest.mark.slow
def test_sigkill_resume_identity_on_streamed_shards_with_two_workers(tmp_path):
    from helpers import run_cli
    from training.test_resume import _args, _assert_same_run, _kill_and_resume

    root = write_shards(tmp_path / "shards", [12] * 6, size=16, classes=3)
    # streamed (in_memory_max=0) by two workers, a buffer across shards, labels with images
    extra = [
        "dataset=shards",
        "dataset.image_size=16",
        "dataset.in_memory_max=0",
        "dataset.workers=2",
        "dataset.buffer=5",
        "conditional=true",
        "eval.at=[]",
    ]
    out = run_cli(_args(root, tmp_path / "a", extra=extra), tmp_path)
    assert out.returncode == 0, out.stderr
    run = tmp_path / "b"
    _kill_and_resume(_args(root, run, extra=extra), run, tmp_path, 10)
    _assert_same_run(tmp_path / "a", run)


@pytest.mark.slow
def test_a_bad_shard_over_http_ends_the_run_in_one_line(tmp_path):
    from helpers import run_cli
    from shard_sets import serve

    root = write_shards(tmp_path / "shards", [12] * 6, size=16)
    (root / "shard-000004.tar").write_bytes((root / "shard-000004.tar").read_bytes()[:-1024])
    url, server = serve(root)  # over a network, a shard is checked when a worker reads it
    try:
        args = [
            f"dataset.root={url}",
            "dataset=shards",
            "dataset.image_size=16",
            "dataset.in_memory_max=0",
            "dataset.workers=2",
            "device=cpu",
            "trainer.rounds=40",
            "trainer.batch_size=8",
            "model.width=8",
            "model.max_width=16",
            "objective.critic.width=8",
            "objective.critic.max_width=16",
            "eval.at=[]",
            f"hydra.run.dir={tmp_path / 'run'}",
        ]
        out = run_cli(args, tmp_path, timeout=240)
    finally:
        server.shutdown()
    assert out.returncode != 0 and "Traceback" not in out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("gantrain: error: shard shard-000004.tar is truncated"), line
    assert "dataset.on_bad_shard=skip" in line
