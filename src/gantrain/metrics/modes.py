"""Mode coverage on Stacked MNIST, as the mode-collapse literature reports it (Metz et al. 2016;
Lin et al. 2018, PacGAN): each sample's mode is the 3-digit number a pretrained MNIST classifier
reads off its R, G and B channels; `modes` counts the modes holding at least one sample (of
1,000), `modes_kl` is KL(generated mode histogram || uniform) in nats (0 when every mode holds
the same share; log 1000 = 6.91 when one mode holds every sample).

Because the uniform histogram over 000-999 is the product of three uniform digits, modes_kl splits
exactly in two: `modes_kl_digits`, the sum over channels of KL(that channel's digit shares ||
uniform), how unevenly each channel draws its digits; and the rest, the total correlation of the
three digits, how much one channel's digit depends on another's. A generator that balances its
digits but ties its channels together scores a low first part and a high total."""

from __future__ import annotations

import math

import torch

SAMPLES = 26_000  # the papers' sample count (PacGAN, VEEGAN, PresGAN)


def _kl_from_uniform(shares: torch.Tensor) -> float:
    """KL(shares || uniform over as many bins), in nats, never below 0 (rounding)."""
    held = shares[shares > 0]
    return max(float((held * (held * shares.numel()).log()).sum()), 0.0)


def mode_scores(probs: torch.Tensor) -> dict:
    """probs (N, 1000) over the modes 100 r + 10 g + b -> modes (covered by at least one
    sample), modes_kl and its digit-balance part modes_kl_digits (nats)."""
    k = probs.shape[1]
    counts = torch.bincount(probs.argmax(1).cpu(), minlength=k).double()
    shares = (counts / counts.sum()).reshape(10, 10, 10)  # (r, g, b)
    digits = sum(_kl_from_uniform(shares.sum(other)) for other in ((1, 2), (0, 2), (0, 1)))
    return {
        "modes": int((counts > 0).sum()),
        "modes_kl": _kl_from_uniform(shares.flatten()),
        "modes_kl_digits": digits,
    }


def protocol(num_samples: int, extractor_info: dict) -> dict:
    """What a modes count was measured with, for eval.json."""
    return {
        "num_samples": num_samples,
        "num_modes": 1000,
        "covered": "a mode holding at least one sample",
        "classifier": extractor_info.get("file"),
        "classifier_test_accuracy": extractor_info.get("test_accuracy"),
    }


def expected_uniform(num_samples: int, k: int = 1000) -> float:
    """Modes a perfect generator covers on average with num_samples draws: k (1 - (1 - 1/k)^n)."""
    return k * (1 - math.exp(num_samples * math.log1p(-1 / k)))
