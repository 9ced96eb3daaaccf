"""torch and torchvision must come from one build: a CPU torch beside a CUDA torchvision (or two
releases apart) fails inside torchvision's import with a long traceback about a missing operator."""

from __future__ import annotations

from importlib import metadata

from gantrain.errors import UserError

INDEX = "https://download.pytorch.org/whl/"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def mismatch_line() -> str:
    """The one line naming both builds and the install line that pairs them."""
    import torch

    torch_v, vision_v = torch.__version__, _version("torchvision")
    release = torch_v.split("+")[0]  # 2.5.1+cu124 -> 2.5.1
    # the wheel index of this torch's build, so pip picks the torchvision made for it
    variant = "cpu" if torch.version.cuda is None else "cu" + torch.version.cuda.replace(".", "")
    index = "" if torch.version.hip else f" --index-url {INDEX}{variant}"
    return (
        f"torch {torch_v} and torchvision {vision_v} are not built for each other: "
        f"pip install --force-reinstall torch=={release} torchvision{index}"
    )


def check_torchvision() -> None:
    """Import torchvision once at start-up; a build mismatch becomes one UserError line."""
    try:
        import torchvision  # noqa: F401
    except RuntimeError as err:
        # the mismatch's signature: torchvision's C++ operators are missing from this torch
        if "torchvision::" not in str(err):
            raise
        raise UserError(mismatch_line()) from None
