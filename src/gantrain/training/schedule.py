"""Which rounds get a grid, a log row, an evaluation or a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Schedule:
    rounds: int
    sample_at: list[int]  # sorted, the grid milestones asked for
    checkpoint_every: int
    log_every: int
    eval_at: frozenset[int] = frozenset()
    # grid rounds: the asked milestones up to rounds, and the last round always (computed once:
    # the loop asks every round)
    milestones: frozenset[int] = field(init=False)

    def __post_init__(self):
        shown = {r for r in self.sample_at if r <= self.rounds} | {self.rounds}
        object.__setattr__(self, "milestones", frozenset(shown))

    def pictures(self, rnd: int) -> bool:
        return rnd in self.milestones

    def logs(self, rnd: int) -> bool:
        return rnd % self.log_every == 0 or rnd in self.milestones or rnd in self.eval_at

    def evaluates(self, rnd: int) -> bool:
        return rnd in self.eval_at

    def checkpoints(self, rnd: int) -> bool:
        return rnd % self.checkpoint_every == 0 or rnd in self.milestones

    def keeps(self, rnd: int) -> bool:
        """A milestone checkpoint (round_*.pt) is kept beside last.pt at the asked milestones."""
        return rnd in self.sample_at and rnd <= self.rounds
