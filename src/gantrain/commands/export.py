"""`gantrain-export`: a run's generator (or decoder) alone, as ONNX or TorchScript, for use
without gantrain. Input z (N, latent_dim) float32, the seed rule's standard-normal noise
(models/latent.py), and for a conditional run labels (N,) int64; output images (N, C, H, W) in
[-1, 1] float32, or uint8 in [0, 255] with output=uint8. The batch size is free."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Annotated, Literal

import torch
from torch import nn

from gantrain.cli.arguments import run
from gantrain.cli.runs import load_run
from gantrain.commands.sample import claim_out
from gantrain.errors import UserError
from gantrain.kinds import NOT_A_FLAG, Flag, PathText
from gantrain.models.base import GenerativeModel
from gantrain.models.latent import SEED_RULE, fixed_statistics
from gantrain.record import lock
from gantrain.schema import Schema

Format = Annotated[Literal["onnx", "torchscript"], NOT_A_FLAG]
Output = Annotated[Literal["float", "uint8"], NOT_A_FLAG]
# ONNX opset 17 (2022): read by onnxruntime >= 1.11, TensorRT 8.5+, and the browsers' runtimes
OPSET = 17
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}
# the extra file of a TorchScript export that holds the metadata (torch.jit.load's _extra_files)
EXTRA_FILE = "gantrain.json"


class Generator(nn.Module):
    """(z (N, latent), labels (N,)) -> images (N, C, H, W): the model's sampling path with fixed
    norm statistics, images in [-1, 1], or uint8 rounded as gantrain's PNGs are."""

    def __init__(self, model: GenerativeModel, uint8: bool):
        super().__init__()
        self.model, self.uint8 = model, uint8

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        images = self.model.decode(self.model.latent_for(z), labels)  # (N, C, H, W) in [-1, 1]
        if self.uint8:  # metrics.drawing.to_uint8's rounding: floor(x * 127.5 + 128)
            images = images.add(1).mul(127.5).add(0.5).clamp(0, 255).to(torch.uint8)
        return images


def metadata(loaded, fmt: str, output: str) -> dict[str, str]:
    """What a user of the file needs, as text: the sizes, classes, value range, the seed rule."""
    import gantrain

    model, config = loaded.model, loaded.payload["config"]["model"]
    k = getattr(model, "num_classes", 0)
    classes = [str(c) for c in loaded.payload.get("classes") or range(k)] if k else []
    inputs = "z float32 (N, latent_dim)" + (", labels int64 (N,)" if k else "")
    return {
        "gantrain_version": gantrain.__version__,
        "format": fmt if fmt != "onnx" else f"onnx opset {OPSET}",
        "model": type(model).__name__,
        "latent_dim": str(model.latent_dim),
        "num_classes": str(k),
        "classes": json.dumps(classes),
        "image_size": str(config["image_size"]),
        "channels": str(config["channels"]),
        "inputs": inputs,
        "output": "images (N, channels, image_size, image_size)",
        "value_range": "uint8 [0, 255]" if output == "uint8" else "float32 [-1, 1]",
        "seed_rule": SEED_RULE,
        "weights": loaded.weights,
        "round": str(loaded.payload.get("round", "")),
    }


def _example(model) -> tuple[torch.Tensor, ...]:
    z = torch.randn(2, model.latent_dim, generator=torch.Generator().manual_seed(0))
    return (z, torch.tensor([0, 1]) % model.num_classes) if model.num_classes else (z,)


def _write_onnx(module: Generator, example: tuple, out: Path, meta: dict[str, str]) -> None:
    try:
        import onnx
    except ImportError:
        raise UserError(
            'format=onnx needs the onnx package: pip install "gantrain[export]"'
        ) from None
    names = ["z", "labels"][: len(example)]
    axes = {name: {0: "N"} for name in [*names, "images"]}
    tmp = out.with_name(out.name + ".tmp")
    try:
        with warnings.catch_warnings():  # the TorchScript-based exporter: deprecated, not gone
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                module,
                example,
                str(tmp),
                input_names=names,
                output_names=["images"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        proto = onnx.load(str(tmp))
        for key, value in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        proto.doc_string = "gantrain generator; metadata_props state its inputs and seed rule"
        onnx.save(proto, str(tmp))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _write_torchscript(module: Generator, example: tuple, out: Path, meta: dict) -> None:
    tmp = out.with_name(out.name + ".tmp")
    try:
        with warnings.catch_warnings():  # torch 2.9+ calls TorchScript deprecated; it still runs
            warnings.simplefilter("ignore", FutureWarning)
            traced = torch.jit.trace(module, example, check_trace=False)
            torch.jit.save(traced, str(tmp), _extra_files={EXTRA_FILE: json.dumps(meta)})
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _refuse(loaded) -> None:
    """Only a model gantrain samples by decode(latent_for(z)) can be written as one net."""
    model = loaded.model
    if "generate" not in getattr(model, "provides", ()) or not hasattr(model, "latent_for"):
        raise UserError(
            f"{loaded.checkpoint}: its model {type(model).__name__} has no generator to export "
            "(gantrain exports ae, vae and dcgan runs)"
        )


def export(
    run_dir: PathText | None = None,
    checkpoint: PathText | None = None,
    format: Format = "onnx",  # noqa: A002 (the key users write)
    out: PathText | None = None,
    output: Output = "float",
    ema: Flag = True,
) -> str:
    """Write the run's generator as conf/export.yaml describes each key; returns the line that says what it wrote."""
    from gantrain.cli.places import check_writable

    if out is None:
        raise UserError(f"give out=PATH{SUFFIX[format]}, the file to write")
    target = Path(out).expanduser()
    if target.is_dir():
        raise UserError(
            f"out={target} is a folder; give a file name such as {target}/generator.onnx"
        )
    check_writable(target.parent, "out", shown=str(target))
    claim_out(target)  # one writer per file: two exports into it would interleave
    loaded = load_run(run_dir, checkpoint, ema, {}, torch.device("cpu"))
    _refuse(loaded)
    model = fixed_statistics(loaded.model).float().eval()
    module = Generator(model, output == "uint8").eval()
    example = _example(model)
    meta = metadata(loaded, format, output)
    target.parent.mkdir(parents=True, exist_ok=True)
    write = _write_onnx if format == "onnx" else _write_torchscript
    try:
        with torch.no_grad():
            write(module, example, target, meta)
    except UserError:
        raise
    except Exception as err:  # the exporters' own refusals: an operator they cannot write
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise UserError(
            f"the {type(loaded.model).__name__} of {loaded.checkpoint} cannot be exported to "
            f"{format} ({first}); try format={'torchscript' if format == 'onnx' else 'onnx'}"
        ) from None
    lock.release(target)
    return f"wrote {target}: the {loaded.weights} weights of round {meta['round']}"


def schema() -> Schema:
    """gantrain-export's keys are export()'s parameters."""
    return Schema({"": (export,)})


def main() -> None:
    run("export", schema(), lambda keys: export(**keys))


if __name__ == "__main__":
    main()
