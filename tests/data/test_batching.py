"""Held tensors and streamed datasets batch alike: every image once per epoch in a seeded order,
resumable from the batches already drawn; both train and draw grids."""

import logging

import numpy as np
import pytest
import torch
from data_files import write_image_folder
from helpers import tiny_train_on
from torch.utils.data import Dataset

from gantrain.data import make_batches
from gantrain.data.batches import TensorBatches
from gantrain.data.stream import StreamBatches, epoch_order
from gantrain.errors import UserError


class Numbered(Dataset):
    """Image i is filled with the value i (as uint8): batches reveal which images they hold."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.full((1, 4, 4), i, dtype=torch.uint8)


def ids(batch: torch.Tensor) -> list[int]:
    return batch[:, 0, 0, 0].add(1).mul(127.5).round().long().tolist()


def test_make_batches_dispatches_on_the_source():
    cpu = torch.device("cpu")
    assert isinstance(
        make_batches(torch.zeros(8, 1, 4, 4, dtype=torch.uint8), 4, cpu, 0), TensorBatches
    )
    assert isinstance(make_batches(Numbered(8), 4, cpu, 0, workers=0), StreamBatches)
    with pytest.raises(TypeError):
        make_batches([1, 2, 3], 4, cpu, 0)


@pytest.mark.parametrize("workers", [0, 2])
def test_stream_epochs_cover_every_image_once_in_seeded_order(workers):
    stream = StreamBatches(Numbered(50), 8, torch.device("cpu"), seed=3, workers=workers)
    batch = stream()
    assert batch.shape == (8, 1, 4, 4) and batch.dtype == torch.float32
    assert batch.min() >= -1 and batch.max() <= 1
    seen = ids(batch) + sum((ids(stream()) for _ in range(5)), [])
    assert seen == epoch_order(50, 3, 0)[:48].tolist()  # the last partial batch is dropped
    assert ids(stream()) == epoch_order(50, 3, 1)[:8].tolist()
    assert stream.state_dict() == {"epoch": 1, "pos": 1, "n": 50}


def test_stream_resumes_with_the_batches_it_would_have_given(tmp_path):
    cpu = torch.device("cpu")
    a = StreamBatches(Numbered(30), 4, cpu, seed=1, workers=0)
    for _ in range(9):  # into the second epoch (7 batches each)
        a()
    torch.save(a.state_dict(), tmp_path / "state.pt")
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    expected = [ids(a()) for _ in range(10)]
    b = StreamBatches(Numbered(30), 4, cpu, seed=1, workers=0)
    b.load_state_dict(state)
    assert [ids(b()) for _ in range(10)] == expected


def test_stream_restarts_its_order_on_a_foreign_state(caplog):
    stream = StreamBatches(Numbered(30), 4, torch.device("cpu"), seed=1, workers=0)
    stream()
    with caplog.at_level(logging.WARNING):
        stream.load_state_dict({"generator": torch.zeros(1), "order": torch.zeros(1), "pos": 3})
    assert "does not carry over" in caplog.text
    assert ids(stream()) == epoch_order(30, 1, 0)[:4].tolist()


def test_stream_fixed_matches_the_held_choice_and_is_cached():
    cpu = torch.device("cpu")
    held = TensorBatches(torch.stack([Numbered(20)[i] for i in range(20)]), 4, cpu)
    stream = StreamBatches(Numbered(20), 4, cpu, workers=0)
    a = stream.fixed(6, torch.Generator().manual_seed(5))
    assert a.dtype == torch.uint8 and a.shape == (6, 1, 4, 4)
    assert torch.equal(a, held.fixed(6, torch.Generator().manual_seed(5)))
    assert stream.fixed(6, torch.Generator().manual_seed(5)) is a


def test_stream_refuses_a_batch_larger_than_the_data():
    with pytest.raises(UserError, match="trainer.batch_size=64"):
        StreamBatches(Numbered(10), 64, torch.device("cpu"))


def _grid(run_dir, rnd: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(run_dir / "samples" / f"round_{rnd:06d}.png").convert("RGB"))


def test_digits_train_and_draw_grey_grids(tmp_path):
    run = tmp_path / "run"
    summary = tiny_train_on(["dataset=digits", "trainer.rounds=2", "trainer.sample_at=[2]"], run)
    grid = _grid(run, 2).astype(int)
    assert summary["status"] == "done" and grid.shape == (8 * 32 + 18, 8 * 32 + 18, 3)
    assert (grid.max(2) == grid.min(2)).all()  # one channel, drawn as grey


def test_streamed_image_folder_trains_and_draws_colour_grids(tmp_path):
    photos, run = tmp_path / "photos", tmp_path / "run"
    write_image_folder(photos, n=20)
    overrides = ["dataset=image_folder", f"dataset.root={photos}", "dataset.image_size=16"]
    overrides += ["dataset.in_memory_max=0", "trainer.rounds=3", "trainer.sample_at=[3]"]
    assert tiny_train_on(overrides, run)["status"] == "done"
    grid = _grid(run, 3).astype(int)
    assert grid.shape == (8 * 16 + 18, 8 * 16 + 18, 3) and (grid.max(2) != grid.min(2)).any()
