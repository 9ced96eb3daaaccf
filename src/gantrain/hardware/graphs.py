"""One training round as a CUDA graph: the small nets of MNIST-sized GANs spend most of a round
launching kernels, and replaying a captured round launches them all at once.

The batch order stays the trainer's: each round the data source picks its indices on the host as
usual, they are copied into a fixed index buffer, and the graph gathers and normalises the batch
from the images already on the GPU (and a conditional run's labels, by the same indices). The
first rounds run eagerly on a side stream (as capture needs) and a round that cannot be captured
(an op that syncs with the host, say) switches the run back to eager rounds with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

log = logging.getLogger("gantrain")

WARMUP_ROUNDS = 3


def can_graph(objective, batches) -> bool:
    """Graphs need CUDA, one process, no fp16 loss scaler, in-memory data with indices, and an
    objective whose every round runs the same kernels (graph_safe)."""
    accel = getattr(objective, "accel", None)
    usable = (
        accel is not None
        and accel.graphs
        and accel.device.type == "cuda"
        and accel.world == 1
        and accel.scaler is None
        and not accel.compile
        and hasattr(batches, "indices")
        and hasattr(batches, "gather")
    )
    if usable and not getattr(objective, "graph_safe", True):
        log.warning(
            "%s differs from round to round (lazy R1 or R2: objective.penalties.r1_every or "
            "r2_every > 1), so rounds run eagerly, not as one CUDA graph; "
            "objective.penalties.r1_every=1 keeps the graph (and objective.penalties.r2_every=1)",
            type(objective).__name__,
        )
        return False
    return usable


def set_capturable(objective, on: bool) -> None:
    """Adam keeps its step count on the GPU and reads no host values when capturable; a
    checkpoint loaded elsewhere (the CPU, eager rounds) must not carry the flag along."""
    for opt in objective.optimizers():
        for group in opt.param_groups:
            if "capturable" in group:
                group["capturable"] = on


class GraphedRound:
    """Calls like objective.run_round(model, batches) and returns the same logs."""

    def __init__(self, objective, batches, critic_steps: int = 1):
        self.objective, self.batches = objective, batches
        self.critic_steps = critic_steps  # batches a round draws
        self.graph: torch.cuda.CUDAGraph | None = None
        self.eager = False
        self.calls = 0
        self.idx = torch.zeros(
            critic_steps * batches.batch_size, dtype=torch.long, device=batches.device
        )
        self.stream = torch.cuda.Stream(device=batches.device)

    def reset(self) -> None:
        """Forget the capture: after the optimizers' state is replaced (a rollback)."""
        self.graph, self.calls = None, 0

    def _next_batch(self) -> Callable[[], torch.Tensor]:
        k = iter(range(self.critic_steps))
        size = self.batches.batch_size

        def next_batch() -> torch.Tensor:
            i = next(k)
            return self.batches.gather(self.idx[i * size : (i + 1) * size])

        return next_batch

    def __call__(self, model, batches) -> dict[str, torch.Tensor]:
        if self.eager:
            return self.objective.run_round(model, batches)
        host = torch.cat([self.batches.indices() for _ in range(self.critic_steps)])
        self.idx.copy_(host, non_blocking=True)
        if self.graph is not None:
            self.graph.replay()
            return self.logs
        self.calls += 1
        if self.calls <= WARMUP_ROUNDS:  # capture wants its kernels warmed up off the main stream
            self.stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.stream):
                logs = self.objective.run_round(model, self._next_batch())
            torch.cuda.current_stream().wait_stream(self.stream)
            return logs
        return self._capture(model)

    def _capture(self, model) -> dict[str, torch.Tensor]:
        set_capturable(self.objective, True)
        graph = torch.cuda.CUDAGraph()
        try:
            for opt in self.objective.optimizers():
                opt.zero_grad(set_to_none=True)
            with torch.cuda.graph(graph):
                self.logs = self.objective.run_round(model, self._next_batch())
        except Exception as err:  # an op that syncs or allocates on the host, ...
            log.warning("this objective cannot run as a CUDA graph (%s); running eagerly", err)
            self.eager = True
            torch.cuda.synchronize()
            return self.objective.run_round(model, self._next_batch())
        self.graph = graph
        log.info("training rounds run as one CUDA graph from round %d", WARMUP_ROUNDS + 1)
        graph.replay()
        return self.logs


def round_runner(objective, batches, passes: int, scheduled: bool) -> Callable[..., dict]:
    """How a round runs: the objective's own, or a CUDA graph of it where one can run (one
    pass a round, and no schedule changing the numbers a graph would freeze)."""
    if not can_graph(objective, batches) or passes != 1:
        return objective.run_round
    if scheduled:
        log.info(
            "the schedule sets learning rates and penalty weights each round, which "
            "a CUDA graph would freeze: rounds run eagerly"
        )
        return objective.run_round
    return GraphedRound(objective, batches, getattr(objective, "critic_steps", 1))
