"""Speed settings: the CPU path is untouched, the CUDA choices are right, processes stay in step."""

import logging
import os
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gantrain.hardware import accel as accel_module
from gantrain.hardware.accel import Accelerator, amp_dtype
from gantrain.hardware.cpu_features import flags
from gantrain.hardware.distributed import close


def test_amp_dtype_choices():
    for amp in ("auto", True):
        assert amp_dtype("cuda", amp, bf16_supported=True) == torch.bfloat16
        assert amp_dtype("cuda", amp, bf16_supported=False) == torch.float16
    assert amp_dtype("cuda", False, bf16_supported=True) is None
    # the CPU: bf16 only when asked for and native; auto stays float32 (not faster everywhere)
    assert amp_dtype("cpu", True, bf16_supported=True) == torch.bfloat16
    assert amp_dtype("cpu", "auto", bf16_supported=True) is None
    assert amp_dtype("cpu", True, bf16_supported=False) is None
    assert amp_dtype("cpu", False, bf16_supported=True) is None
    assert amp_dtype("mps", True, bf16_supported=True) is None


def test_cpu_flags_tell_native_bf16():
    assert {"avx512_bf16", "fpu"} <= flags("processor\t: 0\nflags\t\t: fpu avx512_bf16\n")
    assert "amx_bf16" in flags("flags : sse amx_bf16 amx_tile")
    assert "bf16" in flags("Features\t: fp asimd bf16")  # ARM's spelling


@pytest.fixture()
def no_native_bf16(monkeypatch):
    monkeypatch.setattr(accel_module, "native_bf16", lambda: False)


@pytest.fixture()
def native_bf16(monkeypatch):
    monkeypatch.setattr(accel_module, "native_bf16", lambda: True)


def test_cpu_without_native_bf16_stays_float32_and_says_why(no_native_bf16, caplog):
    with caplog.at_level(logging.INFO, logger="gantrain"):
        acc = Accelerator(torch.device("cpu"), amp=True)
    assert acc.dtype is None and "device.amp=true: this CPU has no native bfloat16" in acc.note
    assert "precision=torch.float32" in acc.describe()


def test_auto_keeps_a_native_bf16_cpu_in_float32_and_names_the_switch(native_bf16, caplog):
    with caplog.at_level(logging.INFO, logger="gantrain"):
        acc = Accelerator(torch.device("cpu"), amp="auto")
    assert acc.dtype is None and "device.amp=true trains in bf16" in acc.note and acc.note_is_hint


def test_cpu_with_native_bf16_computes_in_bf16_and_keeps_float32_weights(native_bf16):
    acc = Accelerator(torch.device("cpu"), amp=True)
    assert acc.dtype == torch.bfloat16 and "precision=torch.bfloat16" in acc.describe()
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters())
    with acc.autocast():
        out = net(torch.randn(4, 3))
        loss = out.float().pow(2).mean()
    assert out.dtype == torch.bfloat16 and loss.dtype == torch.float32
    acc.step(loss, opt)
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert all(
        s.dtype == torch.float32
        for st in opt.state.values()
        for s in st.values()
        if torch.is_tensor(s) and s.is_floating_point()
    )


def test_cpu_accelerator_without_amp_is_plain_pytorch(native_bf16):
    acc = Accelerator(torch.device("cpu"), amp=False, channels_last=True, compile=False)
    assert acc.dtype is None and acc.scaler is None and not acc.channels_last
    torch.manual_seed(0)
    a = torch.nn.Linear(3, 1)
    b = torch.nn.Linear(3, 1)
    b.load_state_dict(a.state_dict())
    oa, ob = torch.optim.SGD(a.parameters(), 0.1), torch.optim.SGD(b.parameters(), 0.1)
    x = torch.randn(8, 3)
    with acc.autocast():
        acc.step(a(x).pow(2).mean(), oa)
    ob.zero_grad()
    b(x).pow(2).mean().backward()
    ob.step()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_compile_falls_back_with_a_warning(monkeypatch, caplog):
    def broken(self, *a, **k):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch.nn.Module, "compile", broken)
    acc = Accelerator(torch.device("cpu"), compile=True)
    with caplog.at_level(logging.WARNING, logger="gantrain"):
        net = acc.prepare(torch.nn.Linear(2, 2))
    assert "running uncompiled" in caplog.text and not acc.compile
    assert net(torch.ones(1, 2)).shape == (1, 2)


def test_device_keys_do_not_change_cpu_results(mnist_root, tmp_path, no_native_bf16):
    from helpers import tiny_train

    base = ["trainer.rounds=3", "trainer.sample_at=[3]", "objective.critic.width=8"]
    tiny_train([*base, "device.amp=true", "device.channels_last=true"], tmp_path / "a", mnist_root)
    tiny_train(
        [*base, "device.amp=false", "device.channels_last=false"], tmp_path / "b", mnist_root
    )
    png = "samples/round_000003.png"
    assert (tmp_path / "a" / png).read_bytes() == (tmp_path / "b" / png).read_bytes()


@pytest.mark.slow
def test_bf16_on_a_cpu_that_has_it_changes_what_is_computed(mnist_root, tmp_path, native_bf16):
    from helpers import tiny_train

    base = ["trainer.rounds=3", "trainer.sample_at=[3]", "objective.critic.width=8"]
    bf16 = tiny_train([*base, "device.amp=true"], tmp_path / "a", mnist_root)
    fp32 = tiny_train([*base, "device.amp=false"], tmp_path / "b", mnist_root)
    assert bf16["final"]["loss_d"] != fp32["final"]["loss_d"]


def _worker(rank: int, world: int, store: str, out: str):
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    torch.manual_seed(rank)  # different initial weights and data on each rank
    net = torch.nn.Linear(4, 1)
    acc = Accelerator(torch.device("cpu"))
    acc.prepare(net)  # rank 0's weights everywhere
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):
        acc.step(net(torch.randn(5, 4)).pow(2).mean(), opt)
    torch.save({k: v.clone() for k, v in net.state_dict().items()}, f"{out}/{rank}.pt")
    close()


@pytest.mark.slow
def test_processes_stay_in_step(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    a, b = torch.load(tmp_path / "0.pt"), torch.load(tmp_path / "1.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    # and they did train: rank 0's weights moved away from its seeded start
    torch.manual_seed(0)
    start = torch.nn.Linear(4, 1).state_dict()
    assert not torch.equal(start["weight"], a["weight"])


@pytest.mark.slow
def test_torchrun_two_gloo_processes_write_one_run_dir(mnist_root, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    args = [
        f"dataset.root={mnist_root}",
        "device=cpu",
        "device.threads=1",
        "trainer.rounds=4",
        "trainer.sample_at=[2,4]",
        "trainer.batch_size=16",
        "model.width=8",
        "model.max_width=16",
        "objective.critic.width=8",
        "objective.critic.max_width=16",
        "hydra.run.dir=run",
    ]
    import subprocess

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [str(torchrun), "--nproc_per_node=2", "-m", "gantrain", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    run = tmp_path / "run"
    assert (run / "samples" / "round_000004.png").is_file()
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["round"] == 4
    assert "processes=2" in (run / "train.log").read_text()


def test_cuda_graphs_only_where_they_can_run(tmp_path, caplog):
    from types import SimpleNamespace

    from gantrain.data.batches import TensorBatches
    from gantrain.hardware.graphs import can_graph

    assert not Accelerator(torch.device("cpu"), graphs=True).graphs  # never on the CPU
    images = torch.zeros(8, 1, 4, 4, dtype=torch.uint8)
    in_memory = TensorBatches(images, 4, torch.device("cpu"))
    cuda = dict(graphs=True, device=torch.device("cuda"), world=1, scaler=None, compile=False)
    objective = SimpleNamespace(accel=SimpleNamespace(**cuda), graph_safe=True)
    assert can_graph(objective, in_memory)
    for change in ({"world": 2}, {"scaler": object()}, {"compile": True}, {"graphs": False}):
        changed = SimpleNamespace(accel=SimpleNamespace(**{**cuda, **change}))
        assert not can_graph(changed, in_memory), change
    assert not can_graph(objective, lambda: images)  # a stream: no indices
    assert not can_graph(SimpleNamespace(), in_memory)
    # lazy R1 runs on some rounds only: eager rounds, and the log says why
    objective.graph_safe = False
    with caplog.at_level(logging.WARNING, logger="gantrain"):
        assert not can_graph(objective, in_memory)
    assert "objective.penalties.r1_every=1 keeps the graph" in caplog.text


def test_batches_gathered_by_index_match_the_stream():
    from gantrain.data.batches import TensorBatches

    images = torch.randint(0, 256, (20, 1, 4, 4), dtype=torch.uint8)
    a, b = (TensorBatches(images, 6, torch.device("cpu"), seed=3) for _ in range(2))
    for _ in range(5):  # across an epoch boundary
        assert torch.equal(a(), b.gather(b.indices()))
