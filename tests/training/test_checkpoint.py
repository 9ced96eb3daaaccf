"""Checkpoints: atomic writes; pickled objects, truncated and foreign files refused in one line,
in gantrain's words (never torch's advice to load with weights_only off)."""

import pickle

import pytest
import torch

from gantrain.errors import UserError
from gantrain.training import checkpoint


class Boom:
    ran = False

    def __reduce__(self):
        return (Boom.trigger, ())

    @staticmethod
    def trigger():
        Boom.ran = True
        return "boom"


def test_round_trip(tmp_path):
    path = tmp_path / "c" / "last.pt"
    checkpoint.save({"round": 3, "w": torch.ones(2), "config": {"a": [1, None]}}, path)
    got = checkpoint.load(path)
    assert (
        got["round"] == 3
        and torch.equal(got["w"], torch.ones(2))
        and got["config"]["a"] == [1, None]
    )
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]


def test_save_replaces_whole_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save({"round": 1}, path)
    checkpoint.save({"round": 2}, path)
    assert checkpoint.load(path)["round"] == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_pickled_object_is_refused_without_running_it(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "round": 1, "payload": Boom()}, path)
    Boom.ran = False
    with pytest.raises(UserError, match="holds pickled code/objects") as refused:
        checkpoint.load(path)
    assert not Boom.ran
    # protocol 2 pickles the static method as getattr(Boom, "trigger"): getattr comes first
    assert str(refused.value) == (
        f"{path} holds pickled code/objects (GLOBAL getattr); refused so that no code runs"
    )


@pytest.mark.parametrize(
    "content",
    [b"", b"hello world", pickle.dumps({"round": 1}), bytes(range(256)) * 16, b"PK\x03\x04junk"],
)
def test_foreign_bytes_are_called_unreadable_in_gantrain_words(tmp_path, content):
    path = tmp_path / "last.pt"
    path.write_bytes(content)
    with pytest.raises(UserError) as refused:
        checkpoint.load(path)
    assert str(refused.value).startswith(
        f"{path} is not a readable gantrain checkpoint (truncated or foreign file): give another"
    )


@pytest.mark.parametrize("kept", [0.3, 0.5, 0.9])
def test_a_checkpoint_cut_short_is_called_unreadable(tmp_path, kept):
    # torch's zip reader fails a long cut with OSError(EINVAL), a short one with its own errors
    path = tmp_path / "last.pt"
    checkpoint.save({"round": 3, "weights": torch.randn(64, 64)}, path)
    whole = path.read_bytes()
    path.write_bytes(whole[: int(len(whole) * kept)])
    with pytest.raises(UserError) as refused:
        checkpoint.load(path)
    assert str(refused.value).startswith(
        f"{path} is not a readable gantrain checkpoint (truncated or foreign file): give another"
    )


def test_a_pickled_global_is_named_and_nothing_of_torch_advice_is_kept(tmp_path):
    import os

    class System:
        def __reduce__(self):
            return (os.system, ("true",))

    path = tmp_path / "last.pt"
    torch.save({"format": checkpoint.FORMAT, "x": System()}, path)
    with pytest.raises(UserError) as refused:
        checkpoint.load(path)
    assert str(refused.value) == (
        f"{path} holds pickled code/objects (GLOBAL {os.system.__module__}.system); refused so "
        "that no code runs"
    )


def test_a_target_of_another_type_is_not_mapped(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save({"config": {"model": {"_target_": {"nested": 1}}}}, path)
    assert checkpoint.load(path)["config"]["model"]["_target_"] == {"nested": 1}


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save({"round": 1, "w": torch.randn(1000)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="not a readable gantrain checkpoint"):
        checkpoint.load(path)


@pytest.mark.parametrize("content", [b"", b"hello world", pickle.dumps({"round": 1})])
def test_foreign_files_are_refused(tmp_path, content):
    path = tmp_path / "last.pt"
    path.write_bytes(content)
    with pytest.raises(UserError):
        checkpoint.load(path)


def test_other_torch_files_are_refused(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"state": torch.ones(1)}, path)
    with pytest.raises(UserError, match="not a gantrain checkpoint"):
        checkpoint.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="no checkpoint"):
        checkpoint.load(tmp_path / "nope.pt")


@pytest.mark.slow
def test_checkpoints_written_before_the_layout_move_still_sample_and_resume(mnist_root, tmp_path):
    from helpers import TINY, run_cli, tiny_train

    run = tmp_path / "run"
    tiny_train(["trainer.rounds=2", "trainer.sample_at=[2]"], run, mnist_root)
    last = run / "checkpoints" / "last.pt"
    old = torch.load(last, weights_only=True)
    old["config"]["trainer"]["_target_"] = "gantrain.trainer.Trainer"  # its home until 0.1
    old["format"] = 1  # the format of every checkpoint that named it
    torch.save(old, last)
    assert checkpoint.load(last)["config"]["trainer"]["_target_"] == (
        "gantrain.training.trainer.Trainer"
    )
    out = run_cli([f"run_dir={run}", "num_samples=4", "out=s.npz"], tmp_path, "gantrain-sample")
    assert out.returncode == 0 and (tmp_path / "s.npz").is_file(), out.stderr
    # the run's own overrides are what resume reads; the moved class is no config change
    (run / ".hydra").mkdir(exist_ok=True)
    overrides = [f"dataset.root={mnist_root}", *TINY, "trainer.sample_at=[2]"]
    (run / ".hydra" / "overrides.yaml").write_text("\n".join(f"- {o}" for o in overrides))
    out = run_cli([f"resume={run}", "trainer.rounds=3"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert checkpoint.load(last)["round"] == 3
