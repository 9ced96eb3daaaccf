"""Pick the torch device from `device.type`: an explicit request fails if absent, auto falls back."""

from __future__ import annotations

import logging

import torch

from gantrain.errors import UserError

log = logging.getLogger(__name__)

CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(kind: str) -> torch.device:
    if kind not in CHOICES:
        raise UserError(f"device={kind!r} is not known; choose one of {', '.join(CHOICES)}")
    if kind == "auto":
        if torch.cuda.is_available():
            kind = "cuda"
        elif _mps_available():
            kind = "mps"
        else:
            kind = "cpu"
        log.info("device=auto picked %s", kind)
    elif kind == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "device=cuda was asked for but torch sees no CUDA GPU; use device=cpu or device=auto"
        )
    elif kind == "mps" and not _mps_available():
        raise UserError(
            "device=mps was asked for but this torch has no MPS backend; use device=cpu or device=auto"
        )
    return torch.device(kind)
