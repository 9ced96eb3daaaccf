"""Everything that keeps older runs loading: a checkpoint's format number, and the steps that
bring a payload, a saved config or a list of overrides written by an older gantrain up to the
current names, one format at a time.

Format 1: the first versioned checkpoints. Format 2: the critic vocabulary
(`objective.d_steps` -> `objective.critic_steps`, PacGAN's `objective.critic.pack` ->
`objective.critic.packing`, `gantrain.models.dcgan.Discriminator` -> `DCGANCritic`), and
the R2 penalty's logged value that runs from before R2 lack.
A new format adds its step to STEPS and bumps FORMAT; nothing else changes where it is read."""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

FORMAT = 2
log = logging.getLogger("gantrain")

# classes and functions that moved or were renamed: a saved config names them by their old homes
MOVED = {
    "gantrain.trainer.Trainer": "gantrain.training.trainer.Trainer",
    "gantrain.data.torchvision_sets.load_celeba": "gantrain.data.celeba.load",
    "gantrain.models.dcgan.Discriminator": "gantrain.models.dcgan.DCGANCritic",
}
# config keys renamed (old dotted path -> new); the old ones stay accepted as aliases
RENAMED = {
    "objective.d_steps": "objective.critic_steps",
    "objective.critic.pack": "objective.critic.packing",
}


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


def _renamed_keys(config: dict) -> dict:
    """The config with each renamed key at its new name (a copy of the nodes on the way)."""
    for old, new in RENAMED.items():
        *parents, last = old.split(".")
        node = config
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and last in node:
            value = node.pop(last)
            node.setdefault(new.rsplit(".", 1)[1], value)
    return config


def _format_1_to_2(payload: dict) -> dict:
    if isinstance(payload.get("config"), dict):
        payload["config"] = _renamed_keys(_targets(payload["config"]))
    objective = payload.get("objective")
    penalties = objective.get("penalties") if isinstance(objective, dict) else None
    if isinstance(penalties, dict):  # runs from before R2 have no last_r2: only a logged value
        penalties.setdefault("last_r2", torch.zeros(()))
    return payload


# STEPS[n] brings a format-n payload to format n + 1
STEPS: dict[int, Callable[[dict], dict]] = {1: _format_1_to_2}


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
    return _renamed_keys(_targets(config))


def _split(arg: str) -> tuple[str, str, str]:
    """'+objective.d_steps=2' -> ('+', 'objective.d_steps', '=2')."""
    key, eq, rest = arg.partition("=")
    bare = key.lstrip("+~")
    return key[: len(key) - len(bare)], bare, eq + rest


def upgrade_overrides(args: list[str]) -> list[str]:
    """Command-line (or saved) overrides with renamed keys at their new names; one log line per
    old name met."""
    out, told = [], set()
    for arg in args:
        prefix, key, rest = _split(arg)
        if key in RENAMED and not arg.startswith("-"):
            if key not in told:
                log.warning("%s is now %s; the old name still works", key, RENAMED[key])
                told.add(key)
            arg = f"{prefix}{RENAMED[key]}{rest}"
        out.append(arg)
    return out
