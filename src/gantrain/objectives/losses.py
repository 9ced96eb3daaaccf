"""The objective.loss node of objective=adversarial: which loss the critic and the generator
minimise, and the critic's target for real images where the loss scores with labels."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import torch
from annotated_types import Gt, Le

from gantrain.kinds import Choice, Says
from gantrain.objectives import functional as F

log = logging.getLogger("gantrain")

LossFn = Callable[..., torch.Tensor]
# kind -> (the critic's loss, the generator's; None: objective.loss.generator chooses);
# bce and least_squares score with labels, hinge and wasserstein with raw scores
LOSSES: dict[str, tuple[LossFn, LossFn | None]] = {
    "bce": (F.d_loss, None),
    "least_squares": (F.d_loss_least_squares, F.g_loss_least_squares),
    "hinge": (F.d_loss_hinge, F.g_loss_hinge),
    "wasserstein": (F.d_loss_wasserstein, F.g_loss_wasserstein),
    # paired: each generated sample against the real one beside it; the generator's side also
    # reads the critic's scores of the real batch
    "relativistic": (F.d_loss_relativistic, F.g_loss_relativistic),
}
LABELLED = ("bce", "least_squares")
# where a critic's raw score turns from "fake" to "real" (least squares regresses onto 0 and 1)
BOUNDARY = {"least_squares": 0.5}
if TYPE_CHECKING:
    LossKind = str  # the names of LOSSES, checked by the schema at run time
    GeneratorLoss = str  # the names of G_LOSSES, likewise
else:
    LossKind = Choice(*LOSSES)
    GeneratorLoss = Choice(*F.G_LOSSES)
# the critic's target for real images: 1, or below it for one-sided label smoothing
RealLabel = Annotated[float, Gt(0.5), Le(1.0), Says("a number above 0.5 and at most 1, e.g. 0.9")]


@dataclass(frozen=True)
class AdversarialLoss:
    """kind: the loss; generator: bce's generator side; real_label: the labelled losses'
    target for real images."""

    kind: LossKind = "bce"
    generator: GeneratorLoss = "non_saturating"
    real_label: RealLabel = 1.0

    def __post_init__(self) -> None:
        if self.kind not in LABELLED and self.real_label != 1.0:
            log.info(
                "objective.loss.kind=%s scores without labels: objective.loss.real_label=%s is "
                "not used",
                self.kind,
                self.real_label,
            )

    @property
    def boundary(self) -> float:
        """The raw score at which the critic turns from calling an image fake to real."""
        return BOUNDARY.get(self.kind, 0.0)

    def critic(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        """The critic's loss from its (B,) scores of real and generated images."""
        d_loss = LOSSES[self.kind][0]
        if self.kind in LABELLED:
            return d_loss(real_out, fake_out, float(self.real_label))
        return d_loss(real_out, fake_out)

    def generator_side(
        self, fake_out: torch.Tensor, real_out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The generator's loss from the critic's (B,) scores of generated images (and, for
        the relativistic loss, of the real ones)."""
        if self.kind == "relativistic":
            assert real_out is not None
            return F.g_loss_relativistic(fake_out, real_out)
        return (LOSSES[self.kind][1] or F.G_LOSSES[self.generator])(fake_out)
