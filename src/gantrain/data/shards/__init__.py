"""dataset=shards: a shard set written by gantrain-pack, from a local folder or any fsspec URL
(s3://, gs://, https://): held as one uint8 tensor (N, C, S, S) when small enough, else
streamed by ShardBatches (stream.py) in an order that resumes to the batch.

The test split (what FID compares against) is a stated part of the data: the last `held_out`
shards, which training then leaves out, or another shard set at `reference`.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Literal

import numpy as np
import torch

from gantrain.data.labelled import Labelled, checked, no_labels
from gantrain.data.shards.files import (
    TIMEOUT_S,
    BadShard,
    Entry,
    bad_shard_error,
    cached_copy,
    entries,
    is_url,
    local_path,
    read_manifest,
)
from gantrain.data.shards.reader import ShardSet
from gantrain.data.subset import Limit, chosen
from gantrain.errors import UserError
from gantrain.files import contained
from gantrain.kinds import (
    NOT_A_FLAG,
    Channels,
    Count,
    Flag,
    ImageSize,
    Integer,
    PositiveFloat,
    PositiveInt,
    Text,
)

log = logging.getLogger(__name__)
Split = Annotated[Literal["test", "train"], NOT_A_FLAG]
OnBadShard = Annotated[Literal["error", "skip"], NOT_A_FLAG]


def _root(root) -> str:
    if root is None or not str(root).strip():
        raise UserError(
            "dataset.root is not set: dataset=shards needs dataset.root=PATH_OR_URL, a folder "
            "written by gantrain-pack (gantrain-pack src=IMAGES out=FOLDER)"
        )
    root = str(root).strip()
    return root if is_url(root) else str(local_path(root))


def _check_local(root: str, shards: list[Entry]) -> None:
    """A local shard set's files are all there at their packed sizes (cheap: no reading), so a
    missing or truncated one is named before training, not rounds into it."""
    if is_url(root):
        return
    for e in shards:
        path = contained(local_path(root), e.name, f"the shard set in {root}")
        size = path.stat().st_size if path.is_file() else None
        if size is None or (e.bytes is not None and size != int(e.bytes)):
            why = "is missing" if size is None else f"is truncated ({size:,} of {e.bytes:,} bytes)"
            raise bad_shard_error(BadShard(e.name, why), root)


def _split(shards: list[Entry], held_out: int, root: str) -> tuple[list[Entry], list[Entry]]:
    """(training shards, the held-out last ones)."""
    if held_out >= len(shards):
        raise UserError(
            f"dataset.held_out={held_out} keeps every one of the {len(shards)} shards in {root} "
            f"out of training: choose dataset.held_out={len(shards) - 1} or fewer"
        )
    cut = len(shards) - held_out
    return shards[:cut], shards[cut:]


def _kept(shards: list[Entry], limit: int | None, limit_seed: int, root: str) -> list[np.ndarray]:
    """Per shard, the sorted global indices trained on (all, or dataset.limit's subset)."""
    ranges = [np.arange(e.first, e.first + e.count, dtype=np.int64) for e in shards]
    every = np.concatenate(ranges) if ranges else np.empty(0, np.int64)
    idx = chosen(every.size, limit, limit_seed, f"the shards in {root}")
    if idx is None:
        return ranges
    keep = every[idx.numpy()]
    return [keep[(keep >= e.first) & (keep < e.first + e.count)] for e in shards]


def hold(shards: ShardSet, workers: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every kept image decoded: uint8 (N, C, S, S) in the pack's order, and labels (N,)."""

    def one(i: int) -> tuple[list[torch.Tensor], list[int]]:
        if not shards.kept[i].size:
            return [], []
        ids = shards.kept[i].tolist()
        try:
            found = shards.read(shards.entries[i])
            return [shards.decode(k, found[k][0]) for k in ids], [found[k][1] for k in ids]
        except BadShard as err:
            if shards.on_bad_shard != "skip":
                raise bad_shard_error(err, shards.root) from None
            log.warning("skipped: %s (dataset.on_bad_shard=skip)", err)
            return [], []

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # shard reads wait on I/O
        parts = list(pool.map(one, range(len(shards.entries))))
    images = [im for p in parts for im in p[0]]
    if not images:
        raise UserError(f"no shard in {shards.root} could be read: pack it again")
    return torch.stack(images), torch.tensor([lab for p in parts for lab in p[1]], dtype=torch.long)


def _shard_set(
    root: str,
    image_size: int,
    channels: int,
    labels: bool,
    manifest: dict,
    shards: list[Entry],
    kept: list[np.ndarray],
    on_bad_shard: str,
    buffer: int,
    timeout: float,
) -> ShardSet:
    classes: list[str] = list(manifest.get("classes") or [])
    if labels:
        if not classes:
            raise no_labels(f"the shard set in {root}", "pack it from a folder of class subfolders")
        checked(torch.zeros(0), list(classes), f"dataset.root={root}")
    if (manifest.get("image_size"), manifest.get("channels")) != (image_size, channels):
        log.info(
            "the shards hold %s px, %s-channel images; they are converted to %d px, %d "
            "channels as they are read",
            manifest.get("image_size"),
            manifest.get("channels"),
            image_size,
            channels,
        )
    return ShardSet(
        root,
        shards,
        kept,
        image_size,
        channels,
        list(classes) if labels else None,
        on_bad_shard,
        buffer,
        timeout,
    )


def load(
    root: Text | None,
    image_size: ImageSize = 64,
    channels: Channels = 3,
    in_memory_max: Count = 50000,
    workers: Count = 2,
    buffer: PositiveInt = 1000,
    held_out: Count = 0,
    reference: Text | None = None,
    on_bad_shard: OnBadShard = "error",
    labels: Flag = False,
    limit: Limit | None = None,
    limit_seed: Integer = 0,
    split: Split = "train",
    timeout: PositiveFloat = TIMEOUT_S,
):
    """The shard set at root: uint8 (N, channels, image_size, image_size) when it holds at most
    in_memory_max images (after limit), else a ShardSet to stream; with labels, as Labelled.
    split=test gives the test split instead (see split_images). timeout: seconds a remote root
    may take to connect or stay silent mid-read before the read fails, saying so."""
    if split == "test":
        return split_images(root, image_size, channels, held_out, reference, timeout=timeout)
    root = _root(root)
    manifest = read_manifest(root, timeout)
    train, _ = _split(entries(manifest), held_out, root)
    if on_bad_shard == "error":
        _check_local(root, train)
    kept = _kept(train, limit, limit_seed, root)
    shards = _shard_set(
        root, image_size, channels, labels, manifest, train, kept, on_bad_shard, buffer, timeout
    )
    n = len(shards)
    if n > in_memory_max:
        log.info("%d images in %d shards from %s; they stream", n, len(train), root)
        if not labels:
            return shards
        # a stream's labels travel with its images; none is held here
        return Labelled(shards, torch.zeros(0, dtype=torch.long), shards.classes or [])
    log.info("decoding %d images from %d shards in %s into memory", n, len(train), root)
    images, label_ids = hold(shards, workers)
    return Labelled(images, label_ids, shards.classes or []) if labels else images


def split_images(
    root,
    image_size: int,
    channels: int,
    held_out: int,
    reference: str | None,
    split: str = "test",
    max_images: int = 10**9,
    timeout: float = TIMEOUT_S,
) -> torch.Tensor:
    """uint8 (N, C, S, S), what metrics compare against: for split=test, the first max_images
    images of the reference shard set (dataset.reference) or of the held-out last shards; for
    split=train, the first max_images training images. Remote shards are fetched once into
    the user's cache, checked against their sha256."""
    root = _root(root)
    if split == "train":
        shards, _ = _split(entries(read_manifest(root, timeout)), held_out, root)
    elif reference:
        root = _root(reference)
        shards = entries(read_manifest(root, timeout))
    elif held_out:
        _, shards = _split(entries(read_manifest(root, timeout)), held_out, root)
    else:
        raise UserError(
            f"the shard set in {root} has no test split: keep its last shard out of training "
            "with dataset.held_out=1, or name another shard set with dataset.reference=PATH, "
            "or compare against the training images with eval.split=train"
        )
    picked, count = [], 0
    for e in shards:
        if count >= max_images:
            break
        picked.append(e)
        count += e.count
    try:
        local = [cached_copy(root, e, timeout) for e in picked]
    except BadShard as err:
        raise bad_shard_error(err, root) from None
    sets = [
        ShardSet(
            d,
            [e],
            [np.arange(e.first, e.first + e.count)],
            image_size,
            channels,
            None,
            timeout=timeout,
        )
        for d, e in zip(local, picked)
    ]
    return torch.cat([hold(s, 1)[0] for s in sets])[:max_images]
