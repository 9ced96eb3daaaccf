"""Continuing a run: its command line, the config check, and what an existing run dir means."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import yaml

from gantrain.config import override_key
from gantrain.errors import UserError
from gantrain.record.run_files import read_json
from gantrain.training import checkpoint

log = logging.getLogger("gantrain")


class RunRefused(UserError):
    """The run directory holds a run that this start must not touch (its files stay as they are)."""


# keys that may change between a run and its resumption without changing what is learned
SAFE_KEYS = (
    "trainer.rounds",
    "trainer.sample_at",
    "trainer.log_every",
    "trainer.progress",
    "trainer.checkpoint_every",
    "trainer.keep_checkpoints",
    "trainer.time_limit",
    "resume",
    "resume_force",
    "device.threads",
    "device.collective_timeout",  # how long a rank waits for its peers
    "eval.",
    "logger",  # where a run is recorded, not what it learns
)


def record_config(run_dir: Path, cfg, overrides: list[str]) -> None:
    """The resumed run's config and overrides, in Hydra's .hydra/ layout."""
    from omegaconf import OmegaConf

    folder = run_dir / ".hydra"
    folder.mkdir(exist_ok=True)
    kept = [o for o in overrides if override_key(o) not in ("resume", "resume_force")]
    for name, text in (
        ("config.yaml", OmegaConf.to_yaml(cfg)),
        ("overrides.yaml", yaml.safe_dump(kept)),
    ):
        tmp = folder / (name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder / name)


def _flatten(d, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_changes(saved: dict, now: dict, defaults: dict | None = None) -> list[str]:
    """'key: old -> new' for every key that differs, safe keys left out. defaults: key -> the
    value that means what a run saved before the key existed (a key gantrain added since,
    at that value, is no change)."""
    a, b = _flatten(saved), _flatten(now)
    defaults = defaults or {}
    keys = sorted(
        k
        for k in set(a) | set(b)
        if a.get(k) != b.get(k)
        and not k.startswith(SAFE_KEYS)
        and not (k not in a and k in defaults and _same(defaults[k], b.get(k)))
    )
    return [f"{k}: {a.get(k, '(absent)')} -> {b.get(k, '(absent)')}" for k in keys]


# changed keys a resumed run cannot take up, and why: the checkpoint's state decides them
NOT_APPLIED = {  # a key, or a last part of keys (".amsgrad": any optimizer's)
    "seed": "the checkpoint's random states continue",
    ".amsgrad": "the optimizer's saved moments keep their layout",
}


def _not_applied(key: str) -> str | None:
    for k, why in NOT_APPLIED.items():
        if key == k or (k.startswith(".") and key.endswith(k)):
            return why
    return None


def _applied(changes: list[str]) -> str:
    """'applying a: 1 -> 2; b: ...' and what is not applied, with why. Everything else is built
    from the new config: the nets (a changed shape fails to load), the objective, and the
    optimizers' hyper-parameters, which a resumed optimizer takes over its saved ones."""
    why = {c: _not_applied(c.split(":", 1)[0]) for c in changes}
    applied = [c for c in changes if why[c] is None]
    said = [f"applying {'; '.join(applied)}"] if applied else []
    said += [f"not applying {c} ({why[c]})" for c in changes if why[c] is not None]
    return "; ".join(said)


def _same(default, value) -> bool:
    plain = list(default) if isinstance(default, tuple) else default
    return plain == value


def _load_or_fall_back(run_dir: Path) -> dict:
    """last.pt, or where it is damaged, the newest intact milestone checkpoint (with a warning
    that says how many rounds are lost)."""
    last = run_dir / "checkpoints" / "last.pt"
    try:
        return {**checkpoint.load(last), "loaded_from": str(last)}
    except UserError as err:
        found = checkpoint.intact(last.parent, skip=("last.pt",))
        if not found:
            raise RunRefused(
                f"{err} - and no milestone checkpoint (round_*.pt) beside it is intact, so "
                f"{run_dir} cannot continue; start a new run"
            ) from None
        path, rnd = found[0]
        reached = _last_logged_round(run_dir)
        lost = f"{reached - rnd} rounds are lost" if reached > rnd else "no logged round is lost"
        log.warning("%s is damaged; continuing from %s (round %d): %s", last, path.name, rnd, lost)
        return {**checkpoint.load(path), "loaded_from": str(path)}


def _last_logged_round(run_dir: Path) -> int:
    metrics = run_dir / "metrics.jsonl"
    rounds = [0]
    if metrics.is_file():
        for line in metrics.read_text(encoding="utf-8").splitlines():
            try:
                rounds.append(int(json.loads(line).get("round", 0)))
            except (ValueError, AttributeError):
                continue  # a line cut short
    return max(rounds)


def prior_state(
    run_dir: Path,
    config: dict,
    resume: bool,
    force: bool,
    sweep_job: bool,
    defaults: dict | None = None,
):
    """What an existing run directory means for this start: None (fresh), a checkpoint to
    continue, or "done" (a finished sweep job to skip). defaults: each key's value where a
    saved config predates it."""
    folder = run_dir / "checkpoints"
    if not any(folder.glob("*.pt")):
        return None
    if not (resume or sweep_job):
        raise RunRefused(
            f"{run_dir} already holds a run; continue it with resume={run_dir} or "
            "choose another hydra.run.dir"
        )
    summary = read_json(run_dir / "summary.json") or {}
    for stale in folder.glob("*.tmp"):  # a write cut short (a second Ctrl-C, a full disk)
        stale.unlink()
    state = _load_or_fall_back(run_dir)
    changes = config_changes(state["config"], config, defaults)
    if changes and not force:
        raise RunRefused(
            f"resuming {run_dir} with a changed config ({'; '.join(changes)}); undo "
            "the change (a default or preset changed since the run began counts too: give its "
            "old values, as docs/runs.md shows), or pass resume_force=true to continue anyway"
        )
    if changes:
        log.warning("resume_force=true: %s", _applied(changes))
    if (
        sweep_job
        and summary.get("status") == "done"
        and int(state["round"]) >= config["trainer"]["rounds"]
    ):
        return "done"
    log.info("continuing %s from round %d", run_dir, state["round"])
    return state
