"""dataset=shards: held and streamed, from disk and over http; the order's split over streams,
resume to the batch, limit, labels, bad shards, and the test split metrics compare against."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from shard_sets import index_of, serve, write_shards

from gantrain.data import make_batches
from gantrain.data.labelled import Labelled
from gantrain.data.shards import load, order, split_images
from gantrain.errors import UserError

CPU = torch.device("cpu")


def _indices(batch) -> list[int]:
    images = batch[0] if isinstance(batch, tuple) else batch
    u8 = ((images + 1) * 127.5).round().to(torch.uint8)
    return [index_of(im) for im in u8]


def _draw(batches, n: int) -> list[int]:
    return [i for _ in range(n) for i in _indices(batches())]


@pytest.fixture()
def eight(tmp_path):
    """8 shards of 10 samples: 80 images, 8 px RGB, 3 classes."""
    return write_shards(tmp_path / "eight", [10] * 8, classes=3)


def test_order_splits_every_epoch_into_disjoint_complete_shares():
    kept = [np.arange(a, b) for a, b in [(0, 7), (7, 20), (20, 30), (30, 35), (35, 44)]]
    for streams in (1, 2, 3, 4, 7):
        units = order.units_of(kept, streams)
        sizes = [u.size for u in units]
        for epoch in range(3):
            shares = order.shares(sizes, 5, epoch, streams)
            seen = np.concatenate(
                [order.emission(units, s, 4, 5, epoch, k) for k, s in enumerate(shares)]
            )
            assert sorted(seen.tolist()) == list(range(44)), (streams, epoch)
            assert all(shares), "every stream reads something each epoch"
    a = order.emission(units, shares[0], 4, 5, 2, 0)
    assert np.array_equal(a, order.emission(units, shares[0], 4, 5, 2, 0))  # a function of seeds
    assert not np.array_equal(a, order.emission(units, shares[0], 4, 6, 2, 0))


def test_position_walks_epochs_by_their_sizes():
    units = order.units_of([np.arange(0, 9), np.arange(9, 20)], 2)
    sizes = [u.size for u in units]
    first = order.share_sizes(sizes, 0, 0, 2)[1]
    assert order.position(first - 1, sizes, 0, 1, 2) == (0, first - 1)
    assert order.position(first + 2, sizes, 0, 1, 2) == (1, 2)


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_epochs_are_complete_and_shuffled(eight, workers):
    source = load(str(eight), image_size=8, in_memory_max=0, buffer=4)
    batches = make_batches(source, 5, CPU, seed=0, workers=workers)
    epoch0, epoch1 = _draw(batches, 16), _draw(batches, 16)  # two streams of 40: 16 batches
    assert sorted(epoch0) == sorted(epoch1) == list(range(80))
    assert epoch0 != epoch1 and epoch0 != sorted(epoch0)


@pytest.mark.slow
def test_shards_over_http_match_the_same_shards_on_disk(eight):
    url, server = serve(eight)
    try:
        a = make_batches(load(url, image_size=8, in_memory_max=0), 5, CPU, seed=3, workers=2)
        b = make_batches(load(str(eight), image_size=8, in_memory_max=0), 5, CPU, 3, workers=2)
        assert _draw(a, 20) == _draw(b, 20)
        held = load(url, image_size=8)
        assert torch.equal(held, load(str(eight), image_size=8))
    finally:
        server.shutdown()


def test_small_sets_are_held_as_a_tensor_with_labels(eight):
    held = load(str(eight), image_size=8, labels=True)
    assert isinstance(held, Labelled) and held.images.dtype == torch.uint8
    assert held.images.shape == (80, 3, 8, 8) and held.classes == ["c0", "c1", "c2"]
    assert [index_of(im) for im in held.images] == list(range(80))
    assert held.labels.tolist() == [i % 3 for i in range(80)]
    grey = load(str(eight), image_size=4, channels=1)  # converted as read
    assert grey.shape == (80, 1, 4, 4)


def test_streamed_labels_travel_with_their_images(eight):
    source = load(str(eight), image_size=8, in_memory_max=0, labels=True)
    batches = make_batches(source, 5, CPU, seed=0, workers=0)
    for _ in range(5):
        images, labels = batches()
        assert labels.tolist() == [i % 3 for i in _indices(images)]


def test_limit_keeps_a_fixed_subset(eight):
    held = load(str(eight), image_size=8, limit=30, limit_seed=1)
    again = load(str(eight), image_size=8, limit=30, limit_seed=1, in_memory_max=0)
    chosen = sorted(index_of(im) for im in held)
    assert len(chosen) == 30 and len(again) == 30
    assert sorted(_draw(make_batches(again, 5, CPU, 0, workers=0), 6)) == chosen
    with pytest.raises(UserError, match="dataset.limit=81 exceeds the 80 images"):
        load(str(eight), image_size=8, limit=81)


@pytest.mark.slow
def test_resume_from_the_state_gives_the_same_batches(eight):
    source = load(str(eight), image_size=8, in_memory_max=0, buffer=6)
    whole = make_batches(source, 5, CPU, seed=1, workers=2)
    expected = [_indices(whole()) for _ in range(27)]
    first = make_batches(source, 5, CPU, seed=1, workers=2)
    drawn = [_indices(first()) for _ in range(11)]
    state = first.state_dict()
    resumed = make_batches(source, 5, CPU, seed=1, workers=2)
    resumed.load_state_dict(state)
    drawn += [_indices(resumed()) for _ in range(16)]
    assert drawn == expected


def test_a_missing_or_truncated_local_shard_is_named_before_training(eight):
    (eight / "shard-000003.tar").unlink()
    with pytest.raises(UserError, match="shard shard-000003.tar is missing: .*on_bad_shard=skip"):
        load(str(eight), image_size=8, in_memory_max=0)
    (eight / "shard-000005.tar").write_bytes(b"x" * 100)
    (eight / "shard-000003.tar").write_bytes(b"")
    with pytest.raises(UserError, match=r"shard-000003.tar is truncated \(0 of"):
        load(str(eight), image_size=8)


@pytest.mark.slow
def test_a_changed_shard_stops_the_stream_in_one_line_not_a_hang(eight):
    data = bytearray((eight / "shard-000002.tar").read_bytes())
    data[700] ^= 0xFF  # same size, other bytes
    (eight / "shard-000002.tar").write_bytes(bytes(data))
    batches = make_batches(load(str(eight), image_size=8, in_memory_max=0), 5, CPU, 0, workers=2)
    with pytest.raises(UserError, match="shard-000002.tar fails its sha256") as err:
        _draw(batches, 16)
    assert "\n" not in str(err.value)


def test_bad_shards_are_skipped_and_counted_when_asked(eight, caplog):
    (eight / "shard-000001.tar").unlink()
    (eight / "shard-000006.tar").write_bytes(b"")
    source = load(str(eight), image_size=8, in_memory_max=0, on_bad_shard="skip", buffer=1)
    batches = make_batches(source, 5, CPU, 0, workers=0)
    with caplog.at_level(logging.WARNING):
        seen = _draw(batches, 12)
    assert sorted(seen) == [i for i in range(80) if not (10 <= i < 20 or 60 <= i < 70)]
    assert (
        "shard-000001.tar is missing" in caplog.text and "shard-000006.tar is trunc" in caplog.text
    )
    assert "2 shards skipped" in caplog.text
    held = load(str(eight), image_size=8, on_bad_shard="skip")
    assert held.shape[0] == 60


def test_test_split_is_the_held_out_shards_or_a_reference(eight, tmp_path):
    train = load(str(eight), image_size=8, held_out=2)
    assert train.shape[0] == 60
    test = split_images(str(eight), 8, 3, held_out=2, reference=None)
    assert [index_of(im) for im in test] == list(range(60, 80))
    other = write_shards(tmp_path / "other", [4, 4])
    assert split_images(str(eight), 8, 3, 0, str(other), max_images=5).shape[0] == 5
    with pytest.raises(UserError, match="no test split: .*dataset.held_out=1"):
        split_images(str(eight), 8, 3, 0, None)
    with pytest.raises(UserError, match="dataset.held_out=8 keeps every one of the 8 shards"):
        load(str(eight), image_size=8, held_out=8)


def test_metrics_read_the_shards_test_split(eight):
    from gantrain.metrics.data import reference_images

    cfg = {
        "_target_": "gantrain.data.shards.load",
        "root": str(eight),
        "image_size": 8,
        "channels": 3,
        "held_out": 1,
        "reference": None,
        "limit": 5,
    }
    assert [index_of(im) for im in reference_images(cfg, "test")] == list(range(70, 80))
    assert reference_images(cfg, "train", max_images=15).shape[0] == 15


def test_a_root_without_a_manifest_is_one_line(tmp_path):
    with pytest.raises(UserError, match="holds no manifest.json: .*gantrain-pack"):
        load(str(tmp_path), image_size=8)
    with pytest.raises(UserError, match="dataset.root is not set"):
        load(None)


def test_a_state_from_other_workers_starts_a_new_order_with_a_warning(eight, caplog):
    source = load(str(eight), image_size=8, in_memory_max=0)
    one = make_batches(source, 5, CPU, seed=0, workers=0)
    fresh = _draw(one, 3)
    state = make_batches(source, 5, CPU, seed=0, workers=0).state_dict()
    state["streams"], state["taken"] = 2, 7
    with caplog.at_level(logging.WARNING):
        one.load_state_dict(state)
    assert "dataset.workers changed" in caplog.text
    assert _draw(one, 3) == fresh


def test_fixed_images_come_from_the_first_shards_and_are_kept(eight):
    source = load(str(eight), image_size=8, in_memory_max=0, labels=True)
    batches = make_batches(source, 5, CPU, seed=0, workers=0)
    images, labels = batches.fixed(12, torch.Generator().manual_seed(0))
    ids = [index_of(im) for im in images]
    assert len(set(ids)) == 12 and max(ids) < 20 and labels.tolist() == [i % 3 for i in ids]
    (eight / "shard-000000.tar").unlink()  # the same choice again comes from memory
    again, _ = batches.fixed(12, torch.Generator().manual_seed(0))
    assert torch.equal(again, images)


def test_what_gantrain_pack_writes_reads_as_the_image_folder_does(tmp_path):
    from data_files import coloured_picture

    from gantrain.commands.pack import pack
    from gantrain.data import image_folder

    for c, name in enumerate(["cats", "dogs"]):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for i in range(9):
            coloured_picture(20 + 3 * i, 24, 10 * c + i).save(tmp_path / "pics" / name / f"{i}.png")
    out = tmp_path / "packed"
    pack(
        src=str(tmp_path / "pics"),
        out=str(out),
        image_size=16,
        shard_mb=0.003,
        workers=0,
        progress=False,
    )
    folder = image_folder.load(str(tmp_path / "pics"), image_size=16, labels=True)
    held = load(str(out), image_size=16, labels=True)
    assert torch.equal(held.images, folder.images) and torch.equal(held.labels, folder.labels)
    assert held.classes == folder.classes == ["cats", "dogs"]
    streamed = make_batches(
        load(str(out), image_size=16, labels=True, in_memory_max=0), 6, CPU, seed=0, workers=0
    )
    images, labels = zip(*(streamed() for _ in range(3)))
    u8 = ((torch.cat(images) + 1) * 127.5).round().to(torch.uint8)
    flat = held.images.flatten(1)
    rows = [int((flat == im.flatten()).all(1).nonzero()[0]) for im in u8]
    assert (
        sorted(rows) == list(range(18)) and torch.cat(labels).tolist() == held.labels[rows].tolist()
    )
