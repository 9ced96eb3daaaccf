"""trainer.batch_size is one step's batch: split over the processes, in micro-batches of at most
trainer.batch_per_process whose gradients add up to the whole share's before one step."""

import pytest
import torch

from gantrain.errors import UserError
from gantrain.hardware.accel import Accelerator
from gantrain.hardware.distributed import shares


def test_the_total_batch_splits_over_processes_and_micro_batches():
    assert shares(64, 1, None) == (64, 1)
    assert shares(64, 4, None) == (16, 1)
    assert shares(64, 4, 16) == (16, 1) and shares(64, 4, 100) == (16, 1)
    assert shares(64, 2, 8) == (8, 4)
    assert shares(60, 2, 8) == (6, 5)  # equal micro-batches: 30 = 5 x 6, none above 8
    with pytest.raises(UserError, match=r"batch_size=10 does not split over 4 .*batch_size=12"):
        shares(10, 4, None)


def test_accumulated_micro_batches_step_as_the_whole_batch_does():
    torch.manual_seed(0)
    x, y = torch.randn(12, 3), torch.randn(12, 1)
    nets = [torch.nn.Linear(3, 1) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    opts = [torch.optim.Adam(n.parameters(), lr=0.1) for n in nets]
    whole, parts = Accelerator(torch.device("cpu")), Accelerator(torch.device("cpu"))
    parts.accumulate = 3
    for _ in range(4):
        whole.step((nets[0](x) - y).pow(2).mean(), opts[0])
        for i in range(3):  # the first zeroes, each adds, the last steps
            xi, yi = x[i * 4 : (i + 1) * 4], y[i * 4 : (i + 1) * 4]
            parts.step((nets[1](xi) - yi).pow(2).mean(), opts[1])
            if i < 2:  # only the last pass steps
                assert not torch.allclose(nets[0].weight, nets[1].weight)
        for a, b in zip(nets[0].parameters(), nets[1].parameters()):
            torch.testing.assert_close(a, b)


def test_the_adversarial_objective_refuses_accumulation():
    from gantrain.objectives.adversarial import Adversarial

    with pytest.raises(UserError, match=r"batch_per_process=8 .* 4 micro-batches .* to 32"):
        Adversarial.check_accumulates(object.__new__(Adversarial), 4, 8)


def test_a_run_with_micro_batches_trains_and_says_how_it_splits(mnist_root, tmp_path, caplog):
    from helpers import tiny_train

    base = ["model=ae", "trainer.rounds=3", "trainer.sample_at=[3]", "eval.at=[]"]
    with caplog.at_level("INFO", logger="gantrain"):
        summary = tiny_train(
            [*base, "objective=mmd", "trainer.batch_per_process=4"], tmp_path / "a", mnist_root
        )
    assert summary["status"] == "done" and summary["rounds"] == 3
    assert "batch: 16 images a step = 1 process x 4 micro-batches of 4" in caplog.text
    with pytest.raises(UserError, match="objective=adversarial does not do"):
        tiny_train(
            [*base, "objective=adversarial", "trainer.batch_per_process=4"],
            tmp_path / "b",
            mnist_root,
        )
