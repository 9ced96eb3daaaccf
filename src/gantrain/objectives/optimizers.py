"""The keys of the torch optimizers a config may name, with their kinds.

torch states its optimizers' arguments without types, so these stand-ins state them for the
schema; instantiation still calls torch.optim.* itself. `_partial_: true` in the config leaves
the parameters to be given when an objective binds to its model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import torch

from gantrain.kinds import Betas, Flag, NonNegativeFloat, PositiveFloat

# what an optimizer config instantiates to: parameters -> optimizer
OptimizerFactory = Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer]


def float_betas(factory: OptimizerFactory) -> OptimizerFactory:
    """The factory with its betas as floats: the config takes betas=[0,0.99] as two numbers in
    [0, 1), and torch's Adam refuses a pair of an int and a float."""
    betas = getattr(factory, "keywords", {}).get("betas")
    if betas is None:
        return factory
    floats = tuple(float(b) for b in betas)
    return functools.partial(factory, betas=floats)  # type: ignore[call-arg]


def adam(
    params=None,
    lr: PositiveFloat = 1e-3,
    betas: Betas = (0.9, 0.999),
    eps: PositiveFloat = 1e-8,
    weight_decay: NonNegativeFloat = 0.0,
    amsgrad: Flag = False,
    maximize: Flag = False,
    foreach: Flag | None = None,
    capturable: Flag = False,
    differentiable: Flag = False,
    fused: Flag | None = None,
):
    """torch.optim.Adam and AdamW."""


def sgd(
    params=None,
    lr: PositiveFloat = 1e-3,
    momentum: NonNegativeFloat = 0.0,
    dampening: NonNegativeFloat = 0.0,
    weight_decay: NonNegativeFloat = 0.0,
    nesterov: Flag = False,
    maximize: Flag = False,
    foreach: Flag | None = None,
    differentiable: Flag = False,
    fused: Flag | None = None,
):
    """torch.optim.SGD."""


STAND_INS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "torch.optim.Adam": adam,
    "torch.optim.AdamW": adam,
    "torch.optim.SGD": sgd,
}
