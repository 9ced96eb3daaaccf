"""The schema: every key of a composed config against the annotated signature that takes it.

A node with a `_target_` is checked against that callable's parameters (or a stand-in stating
the keys of a class gantrain does not own, such as torch.optim.Adam); a plain section (device,
eval) against the callables its keys are passed to. Each parameter's annotation is a kind
(kinds.py): the type and range live once, in the signature, and pydantic checks values against
it in strict mode. So a constructor's signature cannot drift from what the config accepts.
"""

from __future__ import annotations

import difflib
import inspect
import keyword
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationKeyError, OmegaConfBaseException
from pydantic import TypeAdapter, ValidationError

from gantrain.errors import UserError
from gantrain.kinds import Says

SPECIAL = ("_target_", "_partial_", "_recursive_", "_convert_", "_args_")
# parameters that gantrain sets from the data, never from the config
FROM_DATA = {
    "num_classes": "conditional=true sets it from the classes the data has",
    "labels": "conditional=true asks the dataset for its labels",
}
EMPTY = inspect.Parameter.empty


class SchemaGap(TypeError):
    """A key the code takes but states no kind for: a bug in gantrain, not a user's mistake."""


@dataclass(frozen=True)
class Param:
    kind: Any  # the annotation: a kind from kinds.py, a union with None, or a class for a node
    default: Any = EMPTY


@dataclass(frozen=True)
class Leaf:
    key: str  # dotted, e.g. objective.optimizer.lr
    value: Any  # resolved, as plain Python (lists, dicts)
    param: Param
    source: str | None  # the key it is interpolated from, e.g. dataset.image_size


def _hints(fn: Callable) -> dict[str, Any]:
    # a dataclass states its keys as fields; another class in its __init__
    if inspect.isclass(fn) and not hasattr(fn, "__dataclass_fields__"):
        fn = fn.__init__
    return typing.get_type_hints(fn, include_extras=True)


def params_of(fn: Callable) -> dict[str, Param] | None:
    """The keyword parameters of fn with their kinds; None when it takes any keyword (**kwargs)."""
    sig = inspect.signature(fn)
    hints = _hints(fn)
    out = {}
    for name, p in sig.parameters.items():
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.kind is p.VAR_POSITIONAL or name == "self":
            continue
        # a key that is a Python keyword (class) is a parameter with a trailing underscore
        key = name[:-1] if name.endswith("_") and keyword.iskeyword(name[:-1]) else name
        out[key] = Param(hints.get(name, EMPTY), p.default)
    return out


def describe(kind) -> str:
    """The words for a kind: 'a positive integer', '... or null'."""
    origin = typing.get_origin(kind)
    if origin is Annotated:
        says = [m for m in kind.__metadata__ if isinstance(m, Says)]
        return says[-1].words if says else describe(typing.get_args(kind)[0])
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(kind))
    args = typing.get_args(kind)
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return " or ".join(describe(a) for a in rest) + " or null"
    if kind is bool:
        return "true or false"
    return f"a config node (e.g. with a _target_) for {getattr(kind, '__name__', kind)}"


@cache
def _adapter(kind) -> TypeAdapter | None:
    try:
        return TypeAdapter(kind)
    except Exception:  # a class pydantic cannot check (nn.Module): only a node fits it
        return None


def valid(kind, value) -> bool:
    adapter = _adapter(kind)
    if adapter is None:
        return False
    try:
        adapter.validate_python(value, strict=True)
    except ValidationError:
        return False
    return True


def _shown(value, quote: bool = False) -> str:
    """A value as it is typed on the command line: true, null, 2e-04."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v, quote) for v in value) + "]"
    return repr(value) if quote and isinstance(value, str) else str(value)


def problem(leaf: Leaf, shipped=EMPTY) -> str:
    """The one-line complaint about a leaf whose value does not fit its kind; the example is
    the shipped config's value for the key (shipped), else the signature's default."""
    shown = f"{leaf.key}={_shown(leaf.value, quote=True)}"
    if leaf.source:
        shown += f" (from {leaf.source})"
    words = describe(leaf.param.kind)
    msg = f"{shown} must be {words}"
    for example in (shipped, leaf.param.default):
        if (
            not words.startswith(("one of", "true or false"))
            and "e.g." not in words
            and example not in (EMPTY, None)
            and valid(leaf.param.kind, example)
        ):
            return msg + f", e.g. {_shown(example)}"
    return msg


class Schema:
    """sections: plain nodes (no _target_) by dotted path ("" is the top) -> the callables whose
    parameters are their keys. stand_ins: a _target_ -> a callable stating its keys' kinds.
    free: top-level keys left unchecked (Hydra's own)."""

    def __init__(
        self,
        sections: dict[str, tuple[Callable, ...]],
        stand_ins: dict[str, Callable] | None = None,
        free: tuple[str, ...] = ("hydra",),
    ):
        self.sections = sections
        self.stand_ins = stand_ins or {}
        self.free = free

    def params(self, node: DictConfig, path: str) -> dict[str, Param] | None:
        if "_target_" not in node:
            merged: dict[str, Param] = {}
            for fn in self.sections[path]:
                merged.update(params_of(fn) or {})
            return merged
        target = str(node["_target_"])
        if target in self.stand_ins:
            return params_of(self.stand_ins[target])
        from hydra.utils import get_object

        try:
            fn = get_object(target)
        except Exception:
            raise UserError(
                f"{path}._target_={target} cannot be imported; give a class or function by its "
                "full dotted name, e.g. torch.optim.Adam"
            ) from None
        if not target.startswith("gantrain."):
            return None  # a class of the user's choice: its keys are its own business
        return params_of(fn)

    def is_node(self, value, path: str) -> bool:
        return isinstance(value, DictConfig) and ("_target_" in value or path in self.sections)

    def leaves(self, cfg: DictConfig, path: str = "") -> Iterator[Leaf]:
        """Every leaf key with its value and kind; unknown keys raise UserError."""
        params = self.params(cfg, path)
        for name in cfg:
            key = f"{path}.{name!s}" if path else str(name)
            if name in SPECIAL or (not path and name in self.free):
                continue
            if name in FROM_DATA:
                raise UserError(f"{key} is not a key gantrain reads: {FROM_DATA[name]}")
            if params is not None and name not in params:
                known = [f"{path}.{p}" if path else p for p in params]
                raise UserError(not_a_key(key, known, in_config=True))
            param = params[str(name)] if params is not None else None
            try:
                value = cfg[name]
            except InterpolationKeyError:  # ${nope}: Hydra would stop later with a traceback
                raise UserError(
                    f"{key}={_raw(cfg, name)} refers to a key the config does not have; give "
                    "a value, or ${other.key} of a key it has"
                ) from None
            except OmegaConfBaseException:
                continue  # a ??? left open: the pair or the command reports it where it is used
            if self.is_node(value, key):
                yield from self.leaves(value, key)
            elif param is not None:
                if param.kind is EMPTY:
                    raise SchemaGap(f"{key} has no kind: annotate the parameter it goes to")
                plain = (
                    OmegaConf.to_container(value, resolve=True)
                    if isinstance(value, DictConfig | ListConfig)
                    else value
                )
                yield Leaf(key, plain, param, _source(cfg, name))

    def check(self, cfg, shipped: DictConfig | None = None, path: str = "") -> None:
        """Raise a UserError naming the first key whose value does not fit; sources first, so
        `dataset.image_size=30` is named rather than the model key interpolated from it.
        shipped: the config as shipped for the same groups, whose values serve as examples.
        path: where cfg sits in a bigger config ("dataset" for a run's dataset node)."""
        if not isinstance(cfg, DictConfig):
            cfg = OmegaConf.create(cfg)
        bad = [leaf for leaf in self.leaves(cfg, path) if not valid(leaf.param.kind, leaf.value)]
        if bad:
            bad.sort(key=lambda leaf: leaf.source is not None)
            example: Any = EMPTY
            if shipped is not None:
                example = OmegaConf.select(shipped, bad[0].key, default=EMPTY)
                if isinstance(example, DictConfig | ListConfig):
                    example = OmegaConf.to_container(example, resolve=True)
            raise UserError(problem(bad[0], example))


def defaults_of(schema: Schema, cfg) -> dict:
    """Every leaf key of cfg -> the default of the parameter it goes to (where it has one)."""
    if not isinstance(cfg, DictConfig):
        cfg = OmegaConf.create(cfg)
    return {
        leaf.key: leaf.param.default
        for leaf in schema.leaves(cfg)
        if leaf.param.default is not EMPTY
    }


def all_keys(cfg, prefix: str = "") -> list[str]:
    """Every dotted key of a config, nodes and leaves, Hydra's own left out."""
    out = []
    for name in cfg:
        if not prefix and name == "hydra":
            continue
        key = f"{prefix}{name}"
        out.append(key)
        node = cfg._get_node(name)
        if OmegaConf.is_dict(node) and not OmegaConf.is_missing(cfg, name):
            out += all_keys(node, key + ".")
    return out


def not_a_key(key: str, known: list[str], in_config: bool = False) -> str:
    """One line for an unknown key, with the nearest real keys. in_config: the key is in the
    composed config (added with +) but nothing reads it."""
    near = difflib.get_close_matches(key, known, n=2, cutoff=0.6)
    hint = f"did you mean {' or '.join(near)}?" if near else "`gantrain --cfg job` lists the keys"
    if in_config:
        return f"{key} is not a key gantrain reads; {hint}"
    return f"{key} is not a key; {hint} (+{key}=... adds a new key)"


def _raw(node: DictConfig, name):
    """The value of node's key as written: an interpolation unresolved."""
    child = node._get_node(name)
    return None if child is None else child._value()


def _source(node: DictConfig, name) -> str | None:
    """The key a value is a plain ${...} reference to, if it is one."""
    if not OmegaConf.is_interpolation(node, name):
        return None
    raw = _raw(node, name)
    if isinstance(raw, str) and raw.startswith("${") and raw.endswith("}") and raw.count("${") == 1:
        return raw[2:-1]
    return None
