"""A trained run rebuilt from its checkpoint: what gantrain-sample and gantrain-eval start from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import OmegaConf

from gantrain.errors import UserError
from gantrain.models.base import GenerativeModel
from gantrain.saved_config import check_saved, saved_data_config
from gantrain.schema import Schema

# checkpoint=best / checkpoint=last name RUN/checkpoints/<name>.pt
NAMED = ("best", "last")


@dataclass
class Run:
    model: GenerativeModel  # on the device, in eval mode
    payload: dict  # the checkpoint
    checkpoint: Path
    dataset: dict  # the run's dataset config with the command line's dataset.* overrides
    weights: str  # "ema" or "raw"
    refused: str | None = None  # why the dataset may not be built (a saved URL): one line

    def data(self) -> dict:
        """The dataset config to build: refused where it would fetch what the saved config
        names, so that only the commands that read data refuse."""
        if self.refused:
            raise UserError(self.refused)
        return self.dataset


def load_run(
    run_dir: str | None,
    ckpt: str | None,
    ema: bool,
    dataset_overrides: dict,
    device: torch.device,
) -> Run:
    """Rebuild a run's model from its checkpoint (run_dir= or checkpoint=, which may name
    RUN/checkpoints/best.pt or last.pt as best or last), EMA weights if any;
    the dataset config is the run's with dataset_overrides on top, checked against its loader."""
    from gantrain.config import build
    from gantrain.training import checkpoint

    if ckpt is None or ckpt in NAMED:
        if run_dir is None:
            raise UserError("give run_dir=RUN (a gantrain run directory) or checkpoint=PATH")
        if not Path(run_dir).is_dir():
            raise UserError(f"run_dir={run_dir} is not a directory; give a gantrain run directory")
        path = Path(run_dir) / "checkpoints" / f"{ckpt or 'last'}.pt"
        if path.name == "best.pt" and not path.is_file():
            raise UserError(
                f"{run_dir} has no checkpoints/best.pt: it is kept by the FID of evaluations "
                "during training (eval.at); give checkpoint=last or checkpoint=PATH"
            )
    else:
        path = Path(ckpt)
    try:
        payload = checkpoint.load(path)
    except UserError as err:
        others = checkpoint.describe_intact(path.parent, skip=(path.name,))
        if others == "none":
            raise
        raise UserError(
            f"{err}; intact checkpoints beside it: {others} - give one with "
            f"checkpoint={path.parent}/NAME"
        ) from None
    config = payload.get("config")
    if not isinstance(config, dict) or "model" not in config:
        raise UserError(f"{path} holds no config to rebuild its model from")
    check_saved(config, path)  # the whole config: the dataset is built from it later
    use_ema = ema and bool(payload.get("ema"))
    refuse_non_finite(path, payload, use_ema)
    model = build(OmegaConf.create(config["model"]))
    try:
        model.load_state_dict(payload["model"])
        if use_ema:
            model.load_state_dict(payload["ema"])
    except (RuntimeError, KeyError) as err:
        first = str(err).strip().splitlines()[0]
        raise UserError(
            f"{path}: the weights do not fit the model of its config ({first})"
        ) from None
    dataset, refused = saved_data_config(dict(config.get("dataset") or {}), dataset_overrides, path)
    Schema({}).check(OmegaConf.create(dataset), path="dataset")
    weights = "ema" if use_ema else "raw"
    return Run(model.to(device).eval(), payload, path, dataset, weights, refused)


def _non_finite(payload: dict, use_ema: bool) -> str | None:
    """The name of the first tensor holding NaN or Inf among the weights sampling would use
    (the EMA's with use_ema, else the model's), or None."""
    part = "ema" if use_ema else "model"
    weights = payload.get(part)
    for name, tensor in weights.items() if isinstance(weights, dict) else ():
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point():
            if not bool(torch.isfinite(tensor).all()):
                return f"{part}.{name}"
    return None


def refuse_non_finite(ckpt: Path, payload: dict, use_ema: bool) -> None:
    """A checkpoint whose weights hold NaN/Inf draws only blank or garbage images: refused,
    naming the newest checkpoints beside it whose weights are finite."""
    from gantrain.training import checkpoint

    bad = _non_finite(payload, use_ema)
    if bad is None:
        return
    finite = []
    for path, rnd in checkpoint.intact(ckpt.parent, skip=(ckpt.name,)):
        other = checkpoint.load(path)
        if _non_finite(other, use_ema and bool(other.get("ema"))) is None:
            finite.append((path, rnd))
    if finite:
        (first, rnd), rest = finite[0], finite[1:4]
        own = payload.get("round")
        which = "an earlier" if not isinstance(own, int) or rnd < own else "another"
        fix = f"use {which} checkpoint: checkpoint={first} (round {rnd})"
        if rest:
            fix += " (finite too: " + ", ".join(f"{p.name}, round {r}" for p, r in rest) + ")"
    else:
        fix = "no checkpoint beside it holds finite weights: train again"
    raise UserError(
        f"{ckpt} holds non-finite weights (NaN/Inf) in {bad}; it cannot produce images: {fix}"
    )
