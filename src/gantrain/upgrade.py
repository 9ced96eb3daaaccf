"""Everything that keeps older runs loading: a checkpoint's format number, and the steps that
bring a payload, a saved config or a list of overrides written by an older gantrain up to the
current names, one format at a time.

Format 1: the first versioned checkpoints. Format 2: the critic vocabulary
(`objective.d_steps` -> `objective.critic_steps`, PacGAN's `objective.critic.pack` ->
`objective.critic.packing`, `gantrain.models.dcgan.Discriminator` -> `DCGANCritic`), and
the R2 penalty's logged value that runs from before R2 lack. Format 3: objective=adversarial's
flat keys grouped into nodes (`objective.loss.*`, `objective.penalties.*`, `objective.augment.*`,
and `objective.reconstruction.*` of every objective), `objective.loss` and `objective.augment`
turned from a value into a node whose `kind` holds it.
A new format adds its step to STEPS and bumps FORMAT; nothing else changes where it is read."""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

FORMAT = 3
log = logging.getLogger("gantrain")

# classes and functions that moved or were renamed: a saved config names them by their old homes
MOVED = {
    "gantrain.trainer.Trainer": "gantrain.training.trainer.Trainer",
    "gantrain.data.torchvision_sets.load_celeba": "gantrain.data.celeba.load",
    "gantrain.models.dcgan.Discriminator": "gantrain.models.dcgan.DCGANCritic",
}
# config keys renamed (old dotted path -> new), by the format that renamed them; the old ones
# stay accepted as aliases
RENAMED_2 = {
    "objective.d_steps": "objective.critic_steps",
    "objective.critic.pack": "objective.critic.packing",
}
RENAMED_3 = {
    "objective.generator_loss": "objective.loss.generator",
    "objective.real_label": "objective.loss.real_label",
    "objective.gradient_penalty": "objective.penalties.gradient",
    "objective.r1": "objective.penalties.r1",
    "objective.r1_every": "objective.penalties.r1_every",
    "objective.r2": "objective.penalties.r2",
    "objective.r2_every": "objective.penalties.r2_every",
    "objective.augment_policy": "objective.augment.policy",
    "objective.ada_target": "objective.augment.ada_target",
    "objective.ada_kimg": "objective.augment.ada_kimg",
    "objective.likelihood": "objective.reconstruction.likelihood",
    "objective.beta": "objective.reconstruction.beta",
    "objective.scale": "objective.reconstruction.scale",
    "objective.learn_scale": "objective.reconstruction.learn_scale",
}
RENAMED = {**RENAMED_2, **RENAMED_3}
# keys that held a value and are now a node: the value moved to the node's key named here
BECAME_NODES = {"objective.loss": "kind", "objective.augment": "kind"}


def current_target(target: str) -> str:
    return MOVED.get(target, target)


def _targets(node):
    """The config with each moved _target_ at its present home."""
    if isinstance(node, dict):
        return {
            k: current_target(v) if k == "_target_" and isinstance(v, str) else _targets(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_targets(v) for v in node]
    return node


def _parent(config: dict, dotted: str, make: bool = False) -> tuple[dict | None, str]:
    """(the dict holding a dotted key, its last part); make: create the nodes on the way."""
    *parents, last = dotted.split(".")
    node: object = config
    for part in parents:
        if not isinstance(node, dict):
            return None, last
        node = node.setdefault(part, {}) if make else node.get(part)
    return (node if isinstance(node, dict) else None), last


def _renamed_keys(config: dict, renamed: dict[str, str] = RENAMED) -> dict:
    """The config with each renamed key at its new name (its nodes changed in place)."""
    for old, new in renamed.items():
        node, last = _parent(config, old)
        if node is None or last not in node:
            continue
        value = node.pop(last)
        target, name = _parent(config, new, make=True)
        if target is not None:
            target.setdefault(name, value)
    return config


def _nodes_from_values(config: dict) -> dict:
    """The config with each key of BECAME_NODES that still holds a value made a node."""
    for key, inner in BECAME_NODES.items():
        node, last = _parent(config, key)
        if node is not None and last in node and not isinstance(node[last], dict):
            node[last] = {inner: node[last]}
    return config


def _format_1_to_2(payload: dict) -> dict:
    if isinstance(payload.get("config"), dict):
        payload["config"] = _renamed_keys(_targets(payload["config"]), RENAMED_2)
    objective = payload.get("objective")
    penalties = objective.get("penalties") if isinstance(objective, dict) else None
    if isinstance(penalties, dict):  # runs from before R2 have no last_r2: only a logged value
        penalties.setdefault("last_r2", torch.zeros(()))
    return payload


def _format_2_to_3(payload: dict) -> dict:
    if isinstance(payload.get("config"), dict):
        payload["config"] = _renamed_keys(_nodes_from_values(payload["config"]), RENAMED_3)
    return payload


# STEPS[n] brings a format-n payload to format n + 1
STEPS: dict[int, Callable[[dict], dict]] = {1: _format_1_to_2, 2: _format_2_to_3}


def upgrade_payload(payload: dict) -> dict | None:
    """A loaded checkpoint brought to FORMAT; None where it is no gantrain checkpoint (or one
    from a newer gantrain)."""
    found = payload.get("format")
    if not isinstance(found, int) or isinstance(found, bool) or not 1 <= found <= FORMAT:
        return None
    for step in range(found, FORMAT):
        payload = STEPS[step](payload)
    payload["format"] = FORMAT
    return payload


def upgrade_config(config: dict) -> dict:
    """A saved config (.hydra/config.yaml, a checkpoint's config) under the current names."""
    return _renamed_keys(_nodes_from_values(_targets(config)))


def _split(arg: str) -> tuple[str, str, str]:
    """'+objective.d_steps=2' -> ('+', 'objective.d_steps', '=2')."""
    key, eq, rest = arg.partition("=")
    bare = key.lstrip("+~")
    return key[: len(key) - len(bare)], bare, eq + rest


def _new_key(key: str, value: str) -> str | None:
    """The current name of an override's key, or None where it has not changed."""
    for old, new in RENAMED.items():
        if key == old or key.startswith(old + "."):
            return new + key[len(old) :]
    # a value given to what is now a node goes to its kind (a {...} is the node's keys)
    if key in BECAME_NODES and value.startswith("=") and not value[1:].startswith("{"):
        return f"{key}.{BECAME_NODES[key]}"
    return None


def upgrade_overrides(args: list[str]) -> list[str]:
    """Command-line (or saved) overrides with renamed keys at their new names; one log line per
    old name met."""
    out: list[str] = []
    told: set[str] = set()
    for arg in args:
        prefix, key, rest = _split(arg)
        new = None if arg.startswith("-") else _new_key(key, rest)
        if new is not None:
            if key not in told:
                log.warning("%s is now %s; the old name still works", key, new)
                told.add(key)
            arg = f"{prefix}{new}{rest}"
        out.append(arg)
    return out
