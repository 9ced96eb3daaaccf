"""`gantrain-sample`: images from a trained run as .npz, a PNG grid or a folder of PNGs.

Also home of what gantrain-eval shares: key=value arguments checked against conf/<name>.yaml,
and rebuilding a run's model from its checkpoint.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gantrain.config import conf_dir
from gantrain.errors import UserError, report

log = logging.getLogger("gantrain")
MODES = ("samples", "interpolate", "reconstruct")
PATH_KEYS = ("run_dir", "checkpoint", "out", "inception_weights", "dataset.root")
_ABSENT = object()


def parse_args(args: list[str], name: str) -> DictConfig:
    """key=value arguments over the defaults in conf/<name>.yaml; unknown keys are refused,
    except under dataset. (overrides of the run's dataset config). Paths stay the text given
    (YAML would read 12:00:00 as a number)."""
    defaults = OmegaConf.load(conf_dir() / f"{name}.yaml")
    OmegaConf.set_struct(defaults, True)  # a misspelt nested key fails instead of being ignored
    OmegaConf.set_struct(defaults.dataset, False)
    given = OmegaConf.create()
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise UserError(f"{arg!r} is not key=value; see gantrain-{name} --help")
        if (
            not key.startswith("dataset.")
            and OmegaConf.select(defaults, key, default=_ABSENT) is _ABSENT
        ):
            raise UserError(f"{key} is not a key of gantrain-{name}; known: {', '.join(defaults)}")
        try:
            if key in PATH_KEYS:
                OmegaConf.update(given, key, None if value in ("", "null") else value)
            else:
                given = OmegaConf.merge(given, OmegaConf.from_dotlist([arg]))
        except OmegaConfBaseException as err:
            raise UserError(f"cannot read {arg!r} ({' '.join(str(err).split())})") from None
    try:
        cfg = OmegaConf.merge(defaults, given)
    except OmegaConfBaseException as err:
        raise UserError(f"cannot use the arguments ({' '.join(str(err).split())})") from None
    if not isinstance(cfg.dataset, DictConfig):
        raise UserError("dataset must be given as dataset.KEY=VALUE, e.g. dataset.root=/data")
    return cfg


def check(cfg: DictConfig, key: str, kind: str, choices: tuple = ()):
    """The value of a (dotted) key when it is of kind (pos_int, int, bool, choice, path); else a
    UserError naming the key."""
    value = OmegaConf.select(cfg, key)
    ok = {
        "pos_int": isinstance(value, int) and not isinstance(value, bool) and value > 0,
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "choice": value in choices,
        "path": value is None or isinstance(value, str),
    }[kind]
    if not ok:
        want = {"pos_int": "a positive integer", "int": "an integer", "bool": "true or false",
                "choice": "one of " + ", ".join(map(str, choices)), "path": "a path"}[kind]  # fmt: skip
        raise UserError(f"{key}={value!r} must be {want}")
    return value


def run_help(args: list[str], name: str) -> bool:
    if {"-h", "--help"} & set(args):
        print((conf_dir() / f"{name}.yaml").read_text(encoding="utf-8"), end="")
        return True
    return False


@dataclass
class Run:
    model: torch.nn.Module  # on the device, in eval mode
    payload: dict  # the checkpoint
    checkpoint: Path
    dataset: dict  # the run's dataset config with the command line's dataset.* overrides
    weights: str  # "ema" or "raw"


def load_run(cfg: DictConfig, device: torch.device) -> Run:
    """Rebuild a run's model from its checkpoint (run_dir= or checkpoint=), EMA weights if any."""
    from gantrain import checkpoint
    from gantrain.config import build

    run_dir, ckpt = check(cfg, "run_dir", "path"), check(cfg, "checkpoint", "path")
    if ckpt is None:
        if run_dir is None:
            raise UserError("give run_dir=RUN (a gantrain run directory) or checkpoint=PATH")
        if not Path(run_dir).is_dir():
            raise UserError(f"run_dir={run_dir} is not a directory; give a gantrain run directory")
        ckpt = Path(run_dir) / "checkpoints" / "last.pt"
    payload = checkpoint.load(Path(ckpt))
    config = payload.get("config")
    if not isinstance(config, dict) or "model" not in config:
        raise UserError(f"{ckpt} holds no config to rebuild its model from")
    model = build(OmegaConf.create(config["model"]))
    use_ema = check(cfg, "ema", "bool") and bool(payload.get("ema"))
    try:
        model.load_state_dict(payload["model"])
        if use_ema:
            model.load_state_dict(payload["ema"])
    except (RuntimeError, KeyError) as err:
        first = str(err).strip().splitlines()[0]
        raise UserError(
            f"{ckpt}: the weights do not fit the model of its config ({first})"
        ) from None
    dataset = {**config.get("dataset", {}), **OmegaConf.to_container(cfg.dataset, resolve=True)}
    weights = "ema" if use_ema else "raw"
    return Run(model.to(device).eval(), payload, Path(ckpt), dataset, weights)


def _slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical paths (n, steps, d) between rows of a and b: for Gaussian noise, every point
    keeps the norm typical of a draw, where the straight line passes through low-norm codes."""
    an, bn = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((an * bn).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]  # (n, 1, 1)
    t = t[None, :, None]
    return (
        torch.sin((1 - t) * omega) * a[:, None] + torch.sin(t * omega) * b[:, None]
    ) / torch.sin(omega)


@torch.no_grad()
def interpolations(model, pairs: int, steps: int, seed: int) -> torch.Tensor:
    """uint8 (pairs * 2 * steps, C, H, W): per pair a straight row, then a spherical row."""
    from gantrain.metrics.scores import to_uint8

    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(2, pairs, model.latent_dim, generator=g)
    t = torch.linspace(0, 1, steps)
    lerp = a[:, None] + t[None, :, None] * (b - a)[:, None]  # (pairs, steps, d)
    paths = torch.stack([lerp, _slerp(a, b, t)], 1).reshape(-1, model.latent_dim)
    device = next(model.parameters()).device
    return torch.cat(
        [
            to_uint8(model.sample_from_noise(paths[i : i + 500].to(device)))
            for i in range(0, len(paths), 500)
        ]
    )


@torch.no_grad()
def reconstructions(model, dataset: dict, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, reconstructions), uint8 (n, C, H, W) each, of n random test images."""
    from gantrain.metrics.data import reference_images
    from gantrain.metrics.scores import to_uint8

    if "encode" not in model.provides:
        raise UserError(
            f"mode=reconstruct needs a model that encodes (ae, vae); this run's model is "
            f"{type(model).__name__}, which only generates: use mode=samples or mode=interpolate"
        )
    real = reference_images(dataset, "test")
    real = real[torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(seed))[:n]]
    device = next(model.parameters()).device
    x = real.to(device).float().div(127.5).sub(1.0)
    return real, to_uint8(model.decode(model.encode(x)[0]))


def write_images(out: Path, images: torch.Tensor, per_row: int, extra: dict | None = None) -> None:
    """uint8 (N, C, H, W) to out.npz (key images, plus extra arrays), out.png (one grid, per_row
    images a row) or the directory out (000000.png, ...)."""
    from torchvision.utils import make_grid

    from gantrain.images import save_image_atomic, to_pil

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        arrays = {"images": images.numpy(), **{k: v.numpy() for k, v in (extra or {}).items()}}
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, out)
    elif out.suffix == ".png":
        save_image_atomic(to_pil(make_grid(images.float() / 255, nrow=per_row)), out)
    else:
        from PIL import Image

        out.mkdir(parents=True, exist_ok=True)
        arr = images.permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
        for i, img in enumerate(arr):
            pic = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
            save_image_atomic(pic, out / f"{i:06d}.png")


def sample(cfg: DictConfig) -> Path:
    from gantrain.device import resolve_device
    from gantrain.images import interleave_rows
    from gantrain.metrics.scores import sample_uint8

    mode = check(cfg, "mode", "choice", MODES)
    n, seed = check(cfg, "num_samples", "pos_int"), check(cfg, "seed", "int")
    steps = check(cfg, "steps", "pos_int")
    if check(cfg, "out", "path") is None:
        raise UserError("give out=PATH.npz, out=PATH.png or out=DIRECTORY")
    out = Path(cfg.out).expanduser()
    if out.suffix not in ("", ".npz", ".png"):
        raise UserError(f"out={out} must end in .npz or .png, or name a directory (no extension)")
    run = load_run(cfg, resolve_device(str(cfg.device)))
    model = run.model
    log.info("sampling %s with the %s weights", mode, run.weights)
    if mode == "samples":
        write_images(out, sample_uint8(model, n, seed), per_row=max(1, round(n**0.5)))
    elif mode == "interpolate":
        write_images(out, interpolations(model, n, steps, seed), per_row=steps)
    else:
        inputs, recon = reconstructions(model, run.dataset, n, seed)
        if out.suffix == ".png":  # rows of inputs above rows of their reconstructions
            write_images(out, interleave_rows(inputs, recon), per_row=8)
        elif out.suffix == ".npz":
            write_images(out, recon, per_row=8, extra={"inputs": inputs})
        else:  # reconstructions named like their inputs in out/inputs
            write_images(out, recon, per_row=8)
            write_images(out / "inputs", inputs, per_row=8)
    return out


def main() -> None:
    args = sys.argv[1:]
    if run_help(args, "sample"):
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        out = sample(parse_args(args, "sample"))
    except UserError as err:
        report(err, prog="gantrain-sample")
        sys.exit(2)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
