"""Loss math as small pure functions. Images are in [-1, 1]; decoders give pre-tanh maps h."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

# ---- adversarial (Goodfellow et al. 2014), on critic logits l = logit D(x) ----


def d_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 1.0
) -> torch.Tensor:
    """-[log D(x) + log(1 - D(G(z)))], batch mean; logits (B,) -> scalar.

    real_label < 1 is one-sided label smoothing (Salimans et al. 2016): real images are
    labelled real_label, i.e. -[a log D(x) + (1 - a) log(1 - D(x))].
    """
    real = F.softplus(-real_logits).mean()
    if real_label != 1.0:
        real = real_label * real + (1 - real_label) * F.softplus(real_logits).mean()
    return real + F.softplus(fake_logits).mean()


def g_loss_non_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)), batch mean: strong gradients while D rejects the samples."""
    return F.softplus(-fake_logits).mean()


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """log(1 - D(G(z))) = -softplus(l), batch mean: the paper's minimax generator loss."""
    return -F.softplus(fake_logits).mean()


G_LOSSES = {"non_saturating": g_loss_non_saturating, "minimax": g_loss_minimax}


def d_loss_hinge(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """max(0, 1 - D(x)) + max(0, 1 + D(G(z))), batch means (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1 - real_out).mean() + F.relu(1 + fake_out).mean()


def g_loss_hinge(fake_out: torch.Tensor) -> torch.Tensor:
    """-D(G(z)), batch mean: the generator side of the hinge loss."""
    return -fake_out.mean()


def d_loss_least_squares(
    real_out: torch.Tensor, fake_out: torch.Tensor, real_label: float = 1.0
) -> torch.Tensor:
    """((D(x) - a)^2 + D(G(z))^2) / 2, batch means (LSGAN, Mao et al. 2017; a = real_label)."""
    return 0.5 * ((real_out - real_label).pow(2).mean() + fake_out.pow(2).mean())


def g_loss_least_squares(fake_out: torch.Tensor) -> torch.Tensor:
    """(D(G(z)) - 1)^2 / 2, batch mean."""
    return 0.5 * (fake_out - 1).pow(2).mean()


def d_loss_wasserstein(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """E[D(G(z))] - E[D(x)] on raw critic scores (Arjovsky et al. 2017): the critic maximises
    the Wasserstein estimate E[D(x)] - E[D(G(z))]."""
    return fake_out.mean() - real_out.mean()


def g_loss_wasserstein(fake_out: torch.Tensor) -> torch.Tensor:
    """-E[D(G(z))]: the generator raises the critic's score of its samples."""
    return -fake_out.mean()


def d_loss_relativistic(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """softplus(D(G(z_i)) - D(x_i)), mean over the pairs (RpGAN, Jolicoeur-Martineau 2019): the
    critic ranks each real sample above its paired fake; (B,) x2 -> scalar."""
    return F.softplus(fake_out - real_out).mean()


def g_loss_relativistic(fake_out: torch.Tensor, real_out: torch.Tensor) -> torch.Tensor:
    """softplus(D(x_i) - D(G(z_i))), mean over the pairs: the generator side of RpGAN."""
    return F.softplus(real_out - fake_out).mean()


# ---- penalties on the critic's gradient with respect to its input ----


def input_gradients(critic, x: torch.Tensor) -> torch.Tensor:
    """dD(x_i)/dx_i for each sample, (B, ...) like x, kept in the graph (create_graph) so that a
    penalty on them trains the critic. Per sample, because D(x_i) depends on x_i alone for a
    critic without batch-coupling layers."""
    x = x.detach().requires_grad_(True)
    out = critic(x)
    (grads,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grads


def interpolates(real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """eps * real + (1 - eps) * fake, eps (B,) uniform in [0, 1]: points on the lines between
    real and generated samples (Gulrajani et al. 2017)."""
    eps = eps.view(-1, *([1] * (real.dim() - 1)))
    return eps * real + (1 - eps) * fake


def gradient_penalty(grads: torch.Tensor) -> torch.Tensor:
    """E[(||grad||_2 - 1)^2], the WGAN-GP penalty without its weight; grads (B, ...) -> scalar."""
    return (grads.flatten(1).norm(dim=1) - 1).pow(2).mean()


def r1_penalty(grads: torch.Tensor) -> torch.Tensor:
    """E[||grad||^2] / 2 on real data (Mescheder et al. 2018), without gamma; (B, ...) -> scalar.
    On generated samples' gradients it is R2."""
    return 0.5 * grads.flatten(1).pow(2).sum(1).mean()


# ---- likelihoods of an image x in [-1, 1] given the decoder's pre-tanh map h ----


def bernoulli_nll(h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Pixels (x+1)/2 as Bernoulli means with p = sigmoid(2h) = (tanh(h)+1)/2.

    (B, C, H, W) x2 -> nats per image (B,).
    """
    target = (x + 1) / 2
    nll = F.binary_cross_entropy_with_logits(2 * h, target, reduction="none")
    return nll.flatten(1).sum(1)


def gaussian_nll(h: torch.Tensor, x: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """x ~ N(tanh(h), exp(log_scale)^2) per pixel; (B, C, H, W) x2 -> nats per image (B,)."""
    z = (x - torch.tanh(h)) * torch.exp(-log_scale)
    nll = 0.5 * z.pow(2) + log_scale + 0.5 * math.log(2 * math.pi)
    return nll.flatten(1).sum(1)


def kl_std_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)); (B, D) x2 -> nats per item (B,)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)


# ---- maximum mean discrepancy (Gretton et al. 2012) ----


def sq_dists(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N, D), (M, D) -> squared Euclidean distances (N, M), clamped at 0."""
    d2 = x.pow(2).sum(1, keepdim=True) + y.pow(2).sum(1) - 2 * x @ y.T
    return d2.clamp_min(0)


def _column(values: Sequence[float] | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values as (K, 1, 1) on like's device; Python numbers go in as scalars, never as a
    host-to-device copy (which a captured CUDA graph cannot hold)."""
    if isinstance(values, torch.Tensor):
        return values.to(like.dtype).view(-1, 1, 1)
    return torch.stack([like.new_full((1, 1), float(v)) for v in values])


def rbf_kernel(d2: torch.Tensor, bandwidths: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Sum over bandwidths s of exp(-d2 / (2 s^2)); d2 (N, M) -> (N, M)."""
    s = _column(bandwidths, d2)
    return torch.exp(-d2.unsqueeze(0) / (2 * s.pow(2))).sum(0)


def imq_kernel(d2: torch.Tensor, scales: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Inverse multiquadratic, sum over C of C / (C + d2) (Tolstikhin et al. 2018)."""
    c = _column(scales, d2)
    return (c / (c + d2.unsqueeze(0))).sum(0)


def median_bandwidth(d2: torch.Tensor) -> torch.Tensor:
    """sqrt(median / 2) of the off-diagonal squared distances: the median heuristic."""
    off = (
        d2[~torch.eye(*d2.shape, dtype=torch.bool, device=d2.device)]
        if d2.shape[0] == d2.shape[1]
        else d2.flatten()
    )
    return (off.median().detach() / 2).sqrt().clamp_min(1e-6)


def mmd2(
    kxx: torch.Tensor, kyy: torch.Tensor, kxy: torch.Tensor, unbiased: bool = True
) -> torch.Tensor:
    """Squared MMD from kernel matrices (N, N), (M, M), (N, M) -> scalar.

    The unbiased estimator drops the diagonals: zero in expectation for equal distributions,
    and it can go slightly negative. The biased one is >= 0 and exactly 0 for identical sets.
    """
    n, m = kxx.shape[0], kyy.shape[0]
    if unbiased:
        xx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
        yy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    else:
        xx, yy = kxx.mean(), kyy.mean()
    return xx + yy - 2 * kxy.mean()
