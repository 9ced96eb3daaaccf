"""What a round costs: the nets' parameters and the floating-point operations of one round.

The operations are counted by torch's FlopCounterMode on one forward pass of a single sample
(a pack of them for a packing critic) in inference mode, so that nothing a run keeps moves
(BatchNorm's running statistics, spectral norm's vectors, the random streams), then scaled:
a backward pass costs about twice its forward pass, and a round of an adversarial objective is

  critic_steps x (G forward + D forward and backward on real and on fake)
  + G forward and backward + D forward and backward (the generator step)
  - one G forward with reuse_fake, + one D forward for the relativistic loss

per sample, times the batch. Penalties (R1, R2, the gradient penalty) are left out: their
double backward is a few more D passes on the steps that take them. Objectives without a critic
cost the model's forward and backward passes (encoder and decoder where it encodes).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

BACKWARD = 2.0  # a backward pass, in forward passes


def parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _millions(n: int) -> str:
    return f"{n / 1e6:.2f}M"


@contextlib.contextmanager
def _inference(*nets: nn.Module):
    """No gradients, every net in eval mode, their train/eval state put back after."""
    was = [net.training for net in nets]
    try:
        with torch.no_grad():
            for net in nets:
                net.eval()
            yield
    finally:
        for net, training in zip(nets, was):
            net.train(training)


def _flops(run) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        run()
    return float(counter.get_total_flops())


def round_flops(model, objective, batch_size: int) -> float:
    """Estimated FLOPs of one training round of this model under this objective."""
    device = next(model.parameters()).device
    critic = getattr(objective, "critic", None)
    pack = getattr(critic, "packing", 1)
    z = torch.zeros(pack, model.latent_dim, device=device)
    labels = torch.zeros(pack, dtype=torch.long, device=device) if model.num_classes else None
    fb = 1 + BACKWARD
    with _inference(*[n for n in (model, critic) if isinstance(n, nn.Module)]):
        x = model.decode(z, labels)  # (pack, C, H, W)
        g = _flops(lambda: model.decode(z, labels)) / pack
        if "encode" in model.provides:
            g += _flops(lambda: model.encode(x, labels)) / pack
        if critic is None:
            return batch_size * g * fb
        seen = x if getattr(objective, "space", "data") == "data" else z
        cond = (labels,) if getattr(critic, "num_classes", 0) else ()
        d = _flops(lambda: critic(seen, *cond)) / pack
    per_sample = objective.critic_steps * (g + 2 * d * fb) + g * fb + d * fb
    if getattr(objective, "reuse_fake", False):
        per_sample -= g
    if getattr(getattr(objective, "loss", None), "kind", None) == "relativistic":
        per_sample += d
    return batch_size * per_sample


def cost_line(model, objective, batch_size: int) -> str:
    """'parameters: model 4.28M, critic 1.05M; ~X GFLOPs per round (batch B)' for the log."""
    parts = [f"model {_millions(parameters(model))}"]
    critic = getattr(objective, "critic", None)
    if isinstance(critic, nn.Module):
        parts.append(f"critic {_millions(parameters(critic))}")
    try:
        gflops = f"~{round_flops(model, objective, batch_size) / 1e9:,.1f} GFLOPs per round"
    except Exception as err:  # a net the counter cannot run alone: say so, train anyway
        gflops = f"GFLOPs per round not counted ({type(err).__name__})"
    return f"parameters: {', '.join(parts)}; {gflops} (batch {batch_size}, penalties aside)"
