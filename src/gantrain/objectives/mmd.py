"""Maximum mean discrepancy between the model and its target.

data space: MMD(x, decode(z)) on flattened pixels        (GMMN: Li et al. 2015, Dziugaite et al. 2015)
code space: MMD(encode(x), z ~ p(z)) + reconstruction    (WAE-MMD, Tolstikhin et al. 2018;
                                                          InfoVAE / MMD-VAE, Zhao et al. 2017)

Conditional runs: in data space, MMD between the joint distributions of (image, label) and
(G(z, label), label) under the product of the image kernel and a delta kernel on labels, so only
pairs of one class are compared; the generated batch takes the real batch's labels. In code
space the decoder takes the label and the codes still match the unconditional prior.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import torch

from gantrain.data.labelled import split
from gantrain.kinds import (
    NOT_A_FLAG,
    Flag,
    Node,
    NonNegativeFloat,
    PositiveFloats,
)
from gantrain.models.base import GenerativeModel
from gantrain.objectives import functional as F
from gantrain.objectives.base import NextBatch
from gantrain.objectives.optimizers import OptimizerFactory
from gantrain.objectives.single import SingleOptimizerObjective

Kernel = Annotated[Literal["rbf", "imq"], NOT_A_FLAG]
Space = Annotated[Literal["data", "code"], NOT_A_FLAG]


class MMD(SingleOptimizerObjective):
    def __init__(
        self,
        optimizer: OptimizerFactory,
        space: Space = "code",
        kernel: Kernel = "imq",
        bandwidths: PositiveFloats = (1.0,),
        median_heuristic: Flag = False,
        unbiased: Flag = True,
        weight: NonNegativeFloat = 1.0,
        recon_weight: NonNegativeFloat = 1.0,
        reconstruction: Node | None = None,
    ) -> None:
        # MMD's own default beta is 0 (WAE: no KL term), set in conf/objective/mmd.yaml
        super().__init__(optimizer, {"beta": 0.0, **(reconstruction or {})})
        self.space, self.kernel = space, kernel
        self.bandwidths = [float(b) for b in bandwidths]
        self.median_heuristic, self.unbiased = median_heuristic, unbiased
        self.weight, self.recon_weight = weight, recon_weight
        self.requires = frozenset({"generate"} if space == "data" else {"generate", "encode"})

    def discrepancy(
        self, x: torch.Tensor, y: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Squared MMD between (N, D) and (M, D) samples under the configured kernel; with
        labels (N,) shared by x and y (N = M), between the (sample, label) pairs."""
        xy = torch.cat([x, y])
        d2 = F.sq_dists(xy, xy)  # one (N+M)^2 matrix, sliced below
        n = x.shape[0]
        if self.kernel == "rbf":
            scales: Sequence[float] | torch.Tensor = self.bandwidths
            if self.median_heuristic:
                median = F.median_bandwidth(d2)
                scales = torch.stack([median * b for b in self.bandwidths])
            k = F.rbf_kernel(d2, scales)
        else:  # C = 2 * d * sigma^2 for each sigma^2 in bandwidths (unit-variance prior: d * 2)
            k = F.imq_kernel(d2, [2.0 * x.shape[1] * s for s in self.bandwidths])
        if labels is not None:
            both = torch.cat([labels, labels])
            k = k * (both[:, None] == both[None, :])  # (N+M, N+M): the delta kernel's product
        return F.mmd2(k[:n, :n], k[n:, n:], k[:n, n:], self.unbiased)

    def run_round(self, model: GenerativeModel, next_batch: NextBatch) -> dict[str, torch.Tensor]:
        x, labels = split(next_batch())
        logs: dict[str, torch.Tensor] = {}
        with self.accel.autocast():
            if self.space == "data":
                fake = model.decode(model.prior(x.shape[0]), labels)
                # kernel sums in fp32: low precision distances lose the small MMD differences
                mmd = self.discrepancy(x.flatten(1).float(), fake.flatten(1).float(), labels)
                loss = self.weight * mmd
            else:
                rec, codes, logs = self.recon(model, x, labels)
                mmd = self.discrepancy(codes.float(), model.prior(x.shape[0]))
                loss = self.recon_weight * rec + self.weight * mmd
        self.accel.step(loss, self.opt)
        logs.update(mmd=mmd.detach(), loss=loss.detach())
        return logs
