"""Several processes draw one global batch and each takes its share: the ranks' shares, side by
side, are the batch one process draws with the same seed, held or streamed, epoch after epoch."""

import pytest
import torch

from gantrain.data.batches import TensorBatches
from gantrain.data.stream import StreamBatches
from gantrain.errors import UserError

CPU = torch.device("cpu")


class Numbered(torch.utils.data.Dataset):
    """Image i is filled with the value i (as uint8): batches reveal which images they hold."""

    def __len__(self):
        return 40

    def __getitem__(self, i):
        return torch.full((1, 2, 2), i, dtype=torch.uint8)


def ids(batch: torch.Tensor) -> list[int]:
    return batch[:, 0, 0, 0].add(1).mul(127.5).round().long().tolist()


def held(batch: int, rank: int = 0, world: int = 1) -> TensorBatches:
    images = torch.arange(40, dtype=torch.uint8).view(40, 1, 1, 1).expand(40, 1, 2, 2)
    return TensorBatches(images.contiguous(), batch, CPU, seed=5, rank=rank, world=world)


def streamed(batch: int, rank: int = 0, world: int = 1) -> StreamBatches:
    return StreamBatches(Numbered(), batch, CPU, seed=5, workers=0, rank=rank, world=world)


@pytest.mark.parametrize("make", [held, streamed])
@pytest.mark.parametrize("world", [2, 4])
def test_shares_of_the_ranks_make_the_batch_of_one_process(make, world):
    one = make(8)
    ranks = [make(8 // world, r, world) for r in range(world)]
    for _ in range(12):  # 5 batches an epoch: past two epochs' ends
        assert sum((ids(r()) for r in ranks), []) == ids(one())


@pytest.mark.parametrize("make", [held, streamed])
def test_a_total_batch_larger_than_the_data_is_refused_by_its_total(make):
    with pytest.raises(UserError, match="trainer.batch_size=48 exceeds the 40 images"):
        make(24, 0, 2)
