"""Continuing a run: its command line, the config check, and what an existing run dir means."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import yaml

from gantrain.config import split_args
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
    "resume",
    "resume_force",
    "device.threads",
    "eval.",
)


def _key(arg: str) -> str:
    return arg.split("=", 1)[0].lstrip("+~")


def resume_argv(args: list[str]) -> list[str]:
    """`resume=RUN ...` -> RUN's own overrides, then the new ones, with RUN as the output dir."""
    given = [a for a in args if _key(a) == "resume" and "=" in a]
    value = given[-1].split("=", 1)[1] if given else "null"
    if value in ("null", ""):
        return args
    if {"-m", "--multirun"} & set(args):
        raise UserError(
            "resume= continues one run; to continue a sweep, run the same sweep command "
            "again with the same hydra.sweep.dir"
        )
    run = Path(value).expanduser().resolve()
    if not (run / "checkpoints" / "last.pt").is_file():
        raise UserError(
            f"resume={value}: no checkpoints/last.pt there; give a run directory that "
            "gantrain wrote (outputs/<date>/<time>)"
        )
    saved = run / ".hydra" / "overrides.yaml"
    old = yaml.safe_load(saved.read_text()) if saved.is_file() else []
    old = [a for a in old or [] if _key(a) not in ("resume", "resume_force")]
    merged: dict[str, str] = {}
    flags, new = split_args(args)
    for arg in [*old, *new]:
        merged[_key(arg)] = arg
    for key in ("hydra.run.dir", "resume"):
        merged.pop(key, None)
    # Hydra would rewrite .hydra/ before the config check; gantrain writes it once the check passes
    return [
        *flags,
        *merged.values(),
        f"resume={run}",
        f"hydra.run.dir={run}",
        "hydra.output_subdir=null",
    ]


def record_config(run_dir: Path, cfg, overrides: list[str]) -> None:
    """The resumed run's config and overrides, in Hydra's .hydra/ layout."""
    from omegaconf import OmegaConf

    folder = run_dir / ".hydra"
    folder.mkdir(exist_ok=True)
    kept = [o for o in overrides if _key(o) not in ("resume", "resume_force")]
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


def config_changes(saved: dict, now: dict) -> list[str]:
    """'key: old -> new' for every key that differs, safe keys left out."""
    a, b = _flatten(saved), _flatten(now)
    keys = sorted(
        k for k in set(a) | set(b) if a.get(k) != b.get(k) and not k.startswith(SAFE_KEYS)
    )
    return [f"{k}: {a.get(k, '(absent)')} -> {b.get(k, '(absent)')}" for k in keys]


def prior_state(run_dir: Path, config: dict, resume: bool, force: bool, sweep_job: bool):
    """What an existing run directory means for this start: None (fresh), a checkpoint to
    continue, or "done" (a finished sweep job to skip)."""
    last = run_dir / "checkpoints" / "last.pt"
    if not last.is_file():
        return None
    if not (resume or sweep_job):
        raise RunRefused(
            f"{run_dir} already holds a run; continue it with resume={run_dir} or "
            "choose another hydra.run.dir"
        )
    summary = read_json(run_dir / "summary.json") or {}
    state = checkpoint.load(last)
    changes = config_changes(state["config"], config)
    if changes and not force:
        raise RunRefused(
            f"resuming {run_dir} with a changed config ({'; '.join(changes)}); undo "
            "the change, or pass resume_force=true to continue anyway"
        )
    if changes:
        log.warning("resume_force=true: continuing despite %s", "; ".join(changes))
    if (
        sweep_job
        and summary.get("status") == "done"
        and int(state["round"]) >= config["trainer"]["rounds"]
    ):
        return "done"
    log.info("continuing %s from round %d", run_dir, state["round"])
    return state
