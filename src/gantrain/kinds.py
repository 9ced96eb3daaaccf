"""Kinds of config value: a Python type with its range or choices, and the words an error uses.

Constructors annotate their parameters with these; the schema (schema.py) reads the annotations
and checks every key of a composed config with pydantic in strict mode (no "3" for 3, no true
for 1). Ranges are annotated_types constraints, so tools can read them back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Len, Lt
from pydantic import AfterValidator, BeforeValidator


@dataclass(frozen=True)
class Says:
    """What a kind is, in the words of an error message: 'a positive integer'."""

    words: str


def _refuse_bool(value):
    # Literal[1, 3] would take true as 1: a yes/no is never a choice among numbers or names
    if isinstance(value, bool):
        raise ValueError("true/false is not one of the choices")
    return value


# a choice is written Annotated[Literal["bce", "hinge"], NOT_A_FLAG]: a type checkers read, and
# the schema says "one of bce, hinge" from the Literal. typing caches Annotated aliases by
# equality, and Literals of the same values in another order are equal: list the same choices
# in one order everywhere, or one alias's words take the other's order
NOT_A_FLAG = BeforeValidator(_refuse_bool)


def Choice(*options) -> Any:  # noqa: N802 (reads as a type in annotations)
    """One of values known only when the module runs (a table's names), e.g. Choice(*LOSSES);
    a type checker cannot read it: give it the TYPE_CHECKING branch's plain type."""
    listed = ", ".join(str(o) for o in options)
    return Annotated[Literal[options], BeforeValidator(_refuse_bool), Says(f"one of {listed}")]


PositiveInt = Annotated[int, Gt(0), Says("a positive integer")]
Count = Annotated[int, Ge(0), Says("an integer >= 0")]
Integer = Annotated[int, Says("an integer")]
PositiveFloat = Annotated[float, Gt(0), Says("a positive number")]
NonNegativeFloat = Annotated[float, Ge(0), Says("a number >= 0")]
Number = Annotated[float, Says("a number")]
OpenUnit = Annotated[float, Gt(0), Lt(1), Says("a number between 0 and 1, both excluded")]
Beta = Annotated[float, Ge(0), Lt(1), Says("a number from 0 up to (not including) 1")]
# lists in a config; Sequence so a constructor's default may be a tuple (strict validation
# still refuses a string)
Betas = Annotated[Sequence[Beta], Len(2, 2), Says("two numbers in [0, 1), e.g. [0.5, 0.999]")]
Flag = Annotated[bool, Says("true or false")]
Text = Annotated[str, Says("a text")]
PathText = Annotated[str, Says("a path")]  # a path as config text (not pathlib.Path)
Rounds = Annotated[Sequence[PositiveInt], Says("a list of positive integers, e.g. [100, 1000]")]
PositiveFloats = Annotated[
    Sequence[PositiveFloat], Len(1), Says("a non-empty list of positive numbers, e.g. [1.0, 2.0]")
]
Channels = Annotated[Literal[1, 3], NOT_A_FLAG]
Byte = Annotated[int, Ge(0), Lt(256), Says("an integer from 0 to 255")]
# a colour: red, green, blue
Rgb = Annotated[Sequence[Byte], Len(3, 3), Says("three integers 0..255, e.g. [255, 255, 255]")]
# a class of a conditional run: its index, or its name (an image folder's subfolder)
ClassName = Annotated[int | str, Says("a class index (0, 1, ...) or a class name")]
DeviceKind = Annotated[Literal["auto", "cpu", "cuda", "mps"], NOT_A_FLAG]
# mixed precision: auto (where it is known to pay: CUDA), true (also a CPU's native bf16), false
AmpMode = Annotated[bool | Literal["auto"], Says("auto, true or false")]
# a config node with its own _target_ or section (model, objective.critic, eval.classifier, ...)
Node = Annotated[dict, Says("a config node (key.subkey=value)")]
# a dict of keys checked later against a config that is not known yet (a run's dataset)
Overrides = Annotated[dict, Says("keys given as dataset.KEY=VALUE, e.g. dataset.root=/data")]


def side_plan(size: int) -> tuple[int, int] | None:
    """(base, n) with size = base * 2**n, 4 <= base <= 7 and n >= 1; None if there is none."""
    base, n = size, 0
    while base % 2 == 0 and base // 2 >= 4:
        base //= 2
        n += 1
    return (base, n) if n >= 1 and 4 <= base <= 7 else None


def _buildable(size: int) -> int:
    if side_plan(size) is None:
        raise ValueError("not a side the conv stacks can build")
    return size


# the conv stacks halve the side down to 4..7 pixels: 16, 28, 32, 64, 128, ...
ImageSize = Annotated[
    int,
    Gt(0),
    AfterValidator(_buildable),
    Says("a side of 4..7 times a power of two, e.g. 16, 28, 32 or 64"),
]


# hours, minutes and seconds, each optional but in that order, each a whole or decimal number
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def duration_seconds(value: int | float | str) -> float:
    """The seconds in a duration: 90s, 20m, 2h, 1h30m, 1.5h (= 90m), or a number of seconds
    (45, 2.5, "45"). ValueError for anything else, and for a duration that is not > 0."""
    if isinstance(value, bool):
        raise ValueError("true/false is not a duration")
    if isinstance(value, str):
        text = value.strip()
        found = _DURATION.fullmatch(text)
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif found is None or not any(found.groups()):
            raise ValueError(f"{value!r} is not a duration")
        else:
            h, m, s = (float(g) if g else 0.0 for g in found.groups())
            seconds = 3600 * h + 60 * m + s
    elif isinstance(value, int | float):
        seconds = float(value)
    else:
        raise ValueError(f"{value!r} is not a duration")
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError("a duration must be more than 0 seconds")
    return seconds


def _duration(value):
    duration_seconds(value)
    return value  # the constructor takes the words as given and reads them with duration_seconds


Duration = Annotated[
    int | float | str,
    AfterValidator(_duration),
    Says("a duration (90s, 20m, 2h, 1h30m, 1.5h) or a number of seconds > 0"),
]
