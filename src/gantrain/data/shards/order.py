"""The order packed shards stream in: a function of (seed, epoch, stream) and the manifest alone.

A run of R ranks with W DataLoader workers each has K = R * W streams (stream k = rank * W +
worker). Each epoch:

1. The units (a shard, or a slice of one when there are fewer shards than streams) are put in
   an order drawn from (seed, epoch), and each in turn goes to the stream holding the fewest
   samples so far: the streams' shares are disjoint, cover every sample, and differ in size by
   at most one unit.
2. Each stream passes its share, unit by unit, through a shuffle buffer of `buffer` samples
   whose draws come from (seed, epoch, stream); the buffer empties at the end of the epoch, so
   an epoch never mixes with the next.

Nothing here reads a shard: the order is computed from sample counts, so a resumed run finds
where each stream stood from the number of batches drawn, and a reader needs to hold only the
samples between the buffer's input and output.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from gantrain.data.stream import epoch_order


def units_of(kept: list[np.ndarray], streams: int) -> list[np.ndarray]:
    """Global sample indices per unit: each shard's kept samples (kept[s], sorted), cut into
    as many interleaved slices as it takes for every stream to have a unit."""
    nonempty = [k for k in kept if k.size]
    parts = max(1, math.ceil(streams / max(1, len(nonempty))))
    return [k[p::parts] for k in nonempty for p in range(parts) if k[p::parts].size]


def shares(sizes: list[int], seed: int, epoch: int, streams: int) -> list[list[int]]:
    """The units (indices into sizes) each stream reads in this epoch, in reading order."""
    out: list[list[int]] = [[] for _ in range(streams)]
    heap = [(0, k) for k in range(streams)]  # (samples so far, stream): the fewest first
    for u in epoch_order(len(sizes), seed, epoch).tolist():
        load, k = heapq.heappop(heap)
        out[k].append(u)
        heapq.heappush(heap, (load + sizes[u], k))
    return out


def share_sizes(sizes: list[int], seed: int, epoch: int, streams: int) -> list[int]:
    """How many samples each stream reads in this epoch."""
    return [sum(sizes[u] for u in share) for share in shares(sizes, seed, epoch, streams)]


def emission(
    units: list[np.ndarray], share: list[int], buffer: int, seed: int, epoch: int, stream: int
) -> np.ndarray:
    """The global indices a stream yields in one epoch, in order: its units' samples, unit by
    unit, through a shuffle buffer of `buffer` samples (1: no sample-level shuffling)."""
    incoming = np.concatenate([units[u] for u in share]) if share else np.empty(0, np.int64)
    n = incoming.size
    rng = np.random.default_rng(np.random.SeedSequence([seed, epoch, stream, 0x5A4D]))
    draws = rng.random(n)  # one draw per sample yielded
    out = np.empty(n, np.int64)
    buf: list[int] = []
    j = 0
    for item in incoming.tolist():
        buf.append(item)
        if len(buf) >= buffer:
            out[j] = _take(buf, draws[j])
            j += 1
    while buf:  # the end of the epoch: what the buffer holds leaves in random order
        out[j] = _take(buf, draws[j])
        j += 1
    return out


def _take(buf: list[int], u: float) -> int:
    """Remove and return a uniformly chosen element (swap with the last, pop: O(1))."""
    i = int(u * len(buf))
    buf[i], buf[-1] = buf[-1], buf[i]
    return buf.pop()


def position(
    taken: int, sizes: list[int], seed: int, stream: int, streams: int, epoch: int = 0
) -> tuple[int, int]:
    """(epoch, samples yielded in it) of a stream that has yielded `taken` samples since the
    start of `epoch`."""
    while True:
        size = share_sizes(sizes, seed, epoch, streams)[stream]
        if taken < size:
            return epoch, taken
        taken -= size
        epoch += 1
