"""A second judge: another digit classifier that shares nothing with the first but the training
data (another architecture, rotations beside the shifts, another seed), reading the same samples.

When the samples are clear digits, two such classifiers agree on them and on the numbers built
from them; when the samples are ambiguous (half a 3, half an 8) each classifier guesses in its own
way, and the mode KL and the FID then measure the classifier as much as the generator. The
evaluation reports both judges' numbers and flags where they part by more than MARGINS says.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import torch

from gantrain.metrics.classifier import ClassifierRecipe

# When two judges' numbers differ by more than this, the samples are flagged as ambiguous:
# - modes_kl: more than 0.05 nats apart (real Stacked MNIST scores 0.025 under each);
# - fid: each judge's FID divided by the total variance of its reference features (fid_scaled:
#   two feature spaces differ in scale; clear digits score the same under both this way) more
#   than 25% of the larger apart, and more than 0.01 apart (near 0 a ratio says little);
# - agreement: the judges read the same digit in fewer than 90% of the channels read.
MARGINS = {"modes_kl": 0.05, "fid_relative": 0.25, "fid_absolute": 0.01, "agreement": 0.90}
DISAGREE = "judges disagree: the samples are ambiguous"


def second_recipe(first: ClassifierRecipe) -> ClassifierRecipe:
    """The second judge's training: as long as the first's, otherwise its own (the other
    architecture, rotations, another seed)."""
    arch: Literal["cnn", "plain"] = "cnn" if first.arch == "plain" else "plain"
    width = 24 if arch == "plain" else 16
    return replace(first, arch=arch, width=width, seed=first.seed + 1, rotate=15.0, lr=2e-3)


def confidence(digit_probs: torch.Tensor) -> float:
    """Mean max-softmax over every channel read: digit_probs (N, C, classes)."""
    return round(float(digit_probs.max(-1).values.double().mean()), 4)


def agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    """The share of channels both judges read as the same digit: a, b (N, C, classes)."""
    return round(float((a.argmax(-1) == b.argmax(-1)).double().mean()), 4)


def disagreements(scores: dict) -> list[str]:
    """The numbers that part by more than MARGINS between judge 1 (key) and 2 (key_judge2)."""
    out = []
    if "modes_kl" in scores and "modes_kl_judge2" in scores:
        if abs(scores["modes_kl"] - scores["modes_kl_judge2"]) > MARGINS["modes_kl"]:
            out.append("modes_kl")
    if "fid_scaled" in scores and "fid_scaled_judge2" in scores:
        a, b = scores["fid_scaled"], scores["fid_scaled_judge2"]
        gap = abs(a - b)
        if gap > MARGINS["fid_relative"] * max(a, b) and gap > MARGINS["fid_absolute"]:
            out.append("fid")
    if scores.get("judges_agreement", 1.0) < MARGINS["agreement"]:
        out.append("agreement")
    return out


def kl_parts(kl: float, digits: float) -> str:
    """The mode KL's two parts: the channels' digit balance and their dependence."""
    return f"(digit balance {digits:.4f} + channels' dependence {max(kl - digits, 0.0):.4f})"


def judges_line(r: dict) -> str:
    """The two judges' numbers side by side, and the flag where they part."""
    names = [j.get("weights_sha256", "?") for j in r.get("judges", [])] or ["?", "?"]
    parts = []
    for suffix, name in zip(("", "_judge2"), names):
        words = [f"judge {name}:"]
        if f"fid{suffix}" in r:
            words.append(f"FID {r[f'fid{suffix}']:.3f}")
        if f"modes{suffix}" in r:
            words.append(f"modes {r[f'modes{suffix}']}  KL {r[f'modes_kl{suffix}']:.4f}")
            if f"modes_kl_digits{suffix}" in r:
                words.append(kl_parts(r[f"modes_kl{suffix}"], r[f"modes_kl_digits{suffix}"]))
        words.append(
            f"confidence {r[f'confidence{suffix}']:.3f} (real {r[f'real_confidence{suffix}']:.3f})"
        )
        parts.append(" ".join(words))
    line = "\n  " + "\n  ".join(parts)
    line += f"\n  the judges read the same digit in {100 * r['judges_agreement']:.1f}% of channels"
    if r.get("judges_disagree"):
        line += f"; {DISAGREE} ({', '.join(r['judges_disagree_on'])} past the margin)"
    return line
