"""Two ways to let an image critic see a minibatch's diversity, so that a generator that
collapses onto a few modes is told apart from the data:

- packing (PacGAN, Lin et al. 2018): the critic judges m samples at once, concatenated along the
  channels, and gives one score per pack; m near-copies are easy to tell from m real samples.
- minibatch standard deviation (Karras et al. 2018, ProGAN): before the critic's last layer, one
  more feature map holding how much the features vary over a group of samples.
"""

from __future__ import annotations

import torch
from torch import nn

from gantrain.errors import UserError
from gantrain.models.labels import projected_logit

# inside the square root, as ProGAN/StyleGAN: the std of identical samples has an infinite
# gradient at exactly zero variance
EPS = 1e-8


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """(B, C, H, W) -> (B/m, m*C, H, W): samples m*i .. m*i+m-1 side by side along the channels
    (the first sample's channels first). m = 1 returns x itself."""
    if m == 1:
        return x
    b, c, h, w = x.shape
    return x.reshape(b // m, m * c, h, w)


def group_size(n: int, group: int | None) -> int:
    """The samples sharing one statistic among n: group (at most n), or all n for None or 0."""
    return min(group, n) if group else n


class MinibatchStd(nn.Module):
    """(N, C, H, W) -> (N, C + 1, H, W): the features, and one map holding the standard deviation
    of the features over the sample's group (consecutive samples, `group` of them; all N for
    None or 0), averaged over channels and pixels."""

    def __init__(self, group: int | None = 4):
        super().__init__()
        self.group = group

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        n, c, height, width = h.shape
        g = group_size(n, self.group)
        if n % g:  # refused at start-up (check_batch): only a direct caller can get here
            raise ValueError(f"a minibatch of {n} does not split into groups of {g}")
        y = h.float().reshape(n // g, g, c, height, width)
        std = (y.var(dim=1, unbiased=False) + EPS).sqrt()  # (N/g, C, H, W)
        stat = std.mean(dim=(1, 2, 3)).to(h.dtype)  # (N/g,)
        plane = stat.repeat_interleave(g).view(n, 1, 1, 1).expand(n, 1, height, width)
        return torch.cat([h, plane], 1)

    def extra_repr(self) -> str:
        return f"group={self.group}"


def _divisor_at_most(n: int, k: int) -> int:
    return max(d for d in range(1, min(n, k) + 1) if n % d == 0)


def check_batch(batch_size: int, m: int, mbstd: bool, group: int | None) -> None:
    """Refuse, in one line, a batch that the packs or the std groups do not divide."""
    if batch_size % m:
        fit = _divisor_at_most(batch_size, m)
        raise UserError(
            f"objective.critic.packing={m} does not divide trainer.batch_size={batch_size}: the "
            f"critic judges packs of {m} samples; use trainer.batch_size="
            f"{-(-batch_size // m) * m} (a multiple of {m}) or a pack that divides {batch_size}, "
            f"e.g. objective.critic.packing={fit}{' (no packing)' if fit == 1 else ''}"
        )
    n = batch_size // m
    g = group_size(n, group)
    if mbstd and n % g:
        seen = f"{n} packs of {m} samples" if m > 1 else f"{n} samples"
        raise UserError(
            f"objective.critic.mbstd_group={group} does not divide the {seen} of "
            f"trainer.batch_size={batch_size} that the critic's minibatch standard deviation "
            f"sees: use objective.critic.mbstd_group={_divisor_at_most(n, g)} (a divisor of {n}) "
            f"or 0 (the whole batch), or a trainer.batch_size that is a multiple of {m * g}"
        )


class PackedCritic(nn.Module):
    """What the residual critics share: `body` reads a pack of images (B/pack, C*pack, H, W) into
    features (B/pack, F), `linear` scores them, and `projection` (conditional runs) adds the
    projection term of each pack's labels. Subclasses build the three and set packing."""

    packing: int
    num_classes: int
    body: nn.Module
    linear: nn.Linear
    projection: nn.Embedding  # conditional critics only

    def check_batch(self, batch_size: int) -> None:
        """Refuse a batch size the packs do not divide (a UserError)."""
        check_batch(batch_size, self.packing, False, None)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(pack(x, self.packing))  # (B/pack, features)
        projection = self.projection if self.num_classes else None
        return projected_logit(self.linear(h).squeeze(1), h, projection, labels, self.packing)
