"""BatchNorm whose batch statistics are those of the global batch across all processes, on any
device. torch.nn.SyncBatchNorm runs only on GPUs; this one sums (count, sum, sum of squares)
with one differentiable all-reduce, which gloo does on the CPU too, so that several processes
normalise, and train, as one process with the whole batch would.

Only inside `training_step()` do they talk: every rank runs each training step alike, so the
all-reduces pair up, while what rank 0 alone does (pictures, evaluation) normalises by itself."""

from __future__ import annotations

import contextlib
from typing import cast

import torch
import torch.distributed as dist
from torch import nn

_in_step = False


@contextlib.contextmanager
def training_step():
    """The stretch in which every rank runs the same forwards (one training step)."""
    global _in_step
    _in_step = True
    try:
        yield
    finally:
        _in_step = False


class _Sum(torch.autograd.Function):
    """The sum over ranks, whose gradient is the sum over ranks of the gradients: each rank's
    share of the loss depends on every rank's statistics."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm(nn.BatchNorm2d):
    """nn.BatchNorm2d's parameters and buffers (state_dict keys unchanged) with global
    statistics in training mode; evaluation mode reads the running averages as BatchNorm does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _in_step and dist.is_initialized()):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]  # all but the channels
        xf = x.float()
        count = torch.full((1,), x.numel() / x.shape[1], device=x.device, dtype=torch.float32)
        stats = torch.cat([count, xf.sum(dims), xf.square().sum(dims)])  # (1 + 2C,)
        stats = _Sum.apply(stats)  # gradients flow back to every rank's share
        c = x.shape[1]
        n, mean = stats[0], stats[1 : c + 1] / stats[0]
        var = (stats[c + 1 :] / n - mean.square()).clamp(min=0)  # biased, as BatchNorm normalises
        with torch.no_grad():
            tracked, running_mean, running_var = (
                cast(torch.Tensor, t)  # built with track_running_stats, as BatchNorm2d is
                for t in (self.num_batches_tracked, self.running_mean, self.running_var)
            )
            tracked += 1
            m = self.momentum if self.momentum is not None else 1 / float(tracked)
            running_mean.lerp_(mean.to(running_mean.dtype), m)
            unbiased = var * n / (n - 1).clamp(min=1)
            running_var.lerp_(unbiased.to(running_var.dtype), m)
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert(module: nn.Module) -> int:
    """Make every BatchNorm2d in module global, in place; returns how many there were."""
    layers = [m for m in module.modules() if type(m) is nn.BatchNorm2d]
    for m in layers:
        if type(m) is nn.BatchNorm2d:  # the only kind gantrain's nets hold
            m.__class__ = GlobalBatchNorm  # same parameters and buffers: nothing to copy
    return len(layers)
