"""The schema, walked: every leaf key of every shipped config has a kind, the shipped values fit
their kinds, and for every key a value of the wrong type and values just outside its range are
refused with one line that names the key. A key added without a kind fails here."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Annotated, Literal

import annotated_types as at
import pytest
from helpers import compose_cfg, without_hydra
from omegaconf import OmegaConf

from gantrain.commands import evaluate, sample
from gantrain.config import conf_dir, options
from gantrain.errors import UserError
from gantrain.schema import Schema, SchemaGap, describe, params_of, valid
from gantrain.training import keys

GROUPS = ("model", "objective", "dataset", "device", "trainer", "experiment", "hparams_search")
PAIRS = [
    f"model={m} objective={o}"
    for m in ("ae", "vae", "dcgan")
    for o in ("mle", "mmd", "adversarial")
]


def command_lines() -> list[str]:
    """Every option of every group, and every model x objective pair."""
    lines = [f"{g}={o}" for g in GROUPS for o in options(g)]
    return sorted(set(lines + PAIRS))


def train_configs():
    schema = keys.schema()
    for line in command_lines():
        yield line, schema, without_hydra(compose_cfg(line.split()))


def command_configs():
    for name, module in (("sample", sample), ("eval", evaluate)):
        yield f"gantrain-{name}", module.schema(), OmegaConf.load(conf_dir() / f"{name}.yaml")


def all_configs():
    yield from train_configs()
    yield from command_configs()


# ---- values a kind must refuse, read from the kind itself ----


def _parts(kind):
    """(base type, constraints, literal choices, optional?) of a kind."""
    optional = False
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        optional = type(None) in args
        kind = next(a for a in args if a is not type(None))
    metadata = ()
    if typing.get_origin(kind) is Annotated:
        kind, metadata = typing.get_args(kind)[0], kind.__metadata__
    choices = typing.get_args(kind) if typing.get_origin(kind) is Literal else ()
    return kind, metadata, choices, optional


def bad_values(kind, shipped) -> list:
    base, metadata, choices, _ = _parts(kind)
    if typing.get_origin(base) in (typing.Union, types.UnionType):  # bad for every member
        members = [v for arg in typing.get_args(base) for v in bad_values(arg, shipped)]
        return [v for v in members if not valid(kind, v)]
    if choices:
        return ["not-a-choice", 3.5, [choices[0]]]
    origin = typing.get_origin(base) or base
    if origin is bool:
        return ["maybe", 1]
    if origin is dict:
        return [5, "text"]
    if origin in (list, Sequence):  # a list key (Sequence where a default is a tuple)
        out = [7, "text", ["x"]]
        for m in metadata:
            if isinstance(m, at.Len):
                item = shipped[0] if shipped else 1.0
                out.append([item] * (m.max_length + 1) if m.max_length else [])
                if m.min_length:
                    out.append([item] * (m.min_length - 1))
        return out
    if origin is str:
        return [[1, 2], 3.5]
    if origin in (int, float):
        out = ["fast", [1], True]
        if origin is int:
            out.append(1.5)
        step = 1 if origin is int else 1e-6
        for m in metadata:
            if isinstance(m, at.Gt):
                out.append(origin(m.gt))
            elif isinstance(m, at.Ge):
                out.append(m.ge - step)
            elif isinstance(m, at.Lt):
                out.append(origin(m.lt))
            elif isinstance(m, at.Le):
                out.append(m.le + step)
        return out
    raise AssertionError(f"no wrong values known for {kind}")


@pytest.mark.slow
def test_every_leaf_has_a_kind_with_words_and_its_shipped_value_fits():
    seen = 0
    for where, schema, cfg in all_configs():
        schema.check(cfg)  # the shipped values themselves fit (raises otherwise)
        for leaf in schema.leaves(cfg):
            words = describe(leaf.param.kind)
            assert not words.startswith("a config node"), f"{where}: {leaf.key} has no kind"
            seen += 1
    assert seen > 500


@pytest.mark.slow
def test_every_key_refuses_wrong_types_and_out_of_range_values(capsys):
    keys, values = set(), 0
    for where, schema, cfg in all_configs():
        for leaf in list(schema.leaves(cfg)):
            if (leaf.key, repr(leaf.param.kind)) in keys:
                continue
            keys.add((leaf.key, repr(leaf.param.kind)))
            for bad in bad_values(leaf.param.kind, leaf.value):
                broken = cfg.copy()
                OmegaConf.update(broken, leaf.key, bad, merge=False, force_add=True)
                with pytest.raises(UserError) as err:
                    schema.check(broken)
                message = str(err.value)
                assert "\n" not in message, (where, leaf.key, bad)
                assert message.startswith(f"{leaf.key}="), (where, leaf.key, bad, message)
                values += 1
    with capsys.disabled():
        print(f"\nschema walk: {len(keys)} keys, {values} wrong values, each refused in one line")
    assert len(keys) > 80 and values > 3 * len(keys)


def test_unknown_keys_are_refused_with_the_nearest_real_one():
    cfg = without_hydra(compose_cfg(["+trainer.roundz=3"]))
    with pytest.raises(
        UserError, match=r"trainer.roundz is not a key .*did you mean trainer.rounds"
    ):
        keys.schema().check(cfg)


def test_a_parameter_without_a_kind_is_a_gap_in_the_schema():
    def build(width: int, depth=3):
        """A constructor whose depth states no kind."""

    schema = Schema({"": (build,)})
    with pytest.raises(SchemaGap, match="depth"):
        list(schema.leaves(OmegaConf.create({"width": 2, "depth": 4})))
    assert set(params_of(build)) == {"width", "depth"}


def test_interpolated_keys_are_reported_at_their_source():
    cfg = without_hydra(compose_cfg(["dataset.image_size=30"]))
    with pytest.raises(UserError, match=r"^dataset.image_size=30 must be a side of 4..7"):
        keys.schema().check(cfg)


def test_examples_come_from_the_shipped_config():
    shipped = without_hydra(compose_cfg([]))
    cfg = without_hydra(compose_cfg(["objective.optimizer.lr=fast"]))
    with pytest.raises(UserError) as err:
        keys.schema().check(cfg, shipped)
    assert str(err.value) == "objective.optimizer.lr='fast' must be a positive number, e.g. 0.0006"


@pytest.mark.parametrize("ref", ["${nope}", "${hydra.job.num}", "${model.nope}"])
def test_a_reference_to_no_key_is_one_line_before_hydra_runs(ref):
    from gantrain.cli.command_line import check_command_line

    with pytest.raises(UserError, match=r"^seed=\$\{.*\} refers to a key the config does not have"):
        check_command_line([f"seed={ref}"], keys.schema())
    check_command_line(["seed=${trainer.rounds}"], keys.schema())
