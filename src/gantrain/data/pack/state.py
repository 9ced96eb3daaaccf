"""What gantrain-pack reads back from its out= folder (pack-progress.json, manifest.json), checked
before any name in it is opened or removed: a file another program wrote, or one edited by hand,
is one line naming it; a shard name must be one gantrain writes (shard-NNNNNN.tar), inside out.

A finished pack's manifest is turned back into the progress record it was made from, so that a
pack whose shard no longer matches its sha256 is redone from that shard on."""

from __future__ import annotations

import os
import re
from pathlib import Path

from gantrain.errors import UserError

SHARD_NAME = re.compile(r"shard-\d{6}\.tar")
_SHARD = {"name": str, "count": int, "sha256": str}
_PROGRESS_SHARD = {**_SHARD, "next": int, "class_counts": dict}
_SKIPPED = {"index": int, "path": str, "why": str}


def _fits(entry, fields: dict) -> bool:
    return isinstance(entry, dict) and all(
        isinstance(entry.get(k), t) and not isinstance(entry.get(k), bool)
        for k, t in fields.items()
    )


def _contained(out: Path, name: str) -> bool:
    """name is one of our shard names and stays in out once resolved (no link leads out)."""
    if not SHARD_NAME.fullmatch(name):
        return False
    root = Path(os.path.realpath(out))
    return Path(os.path.realpath(out / name)).parent == root


def _refuse(path: Path, what: str) -> UserError:
    return UserError(
        f"{path} is not a gantrain-pack {what} ({path.parent} may hold another program's files): "
        f"remove {path.name} to pack this folder again, or give another out= folder"
    )


def _check_shards(out: Path, shards, fields: dict) -> bool:
    return isinstance(shards, list) and all(
        _fits(s, fields) and _contained(out, s["name"]) for s in shards
    )


def check_progress(out: Path, state) -> dict:
    """pack-progress.json's record, or one line saying it is not one of ours."""
    ok = (
        isinstance(state, dict)
        and isinstance(state.get("settings"), dict)
        and isinstance(state.get("class_counts"), dict)
        and _check_shards(out, state.get("shards"), _PROGRESS_SHARD)
        and isinstance(state.get("skipped"), list)
        and all(_fits(s, _SKIPPED) for s in state["skipped"])
    )
    if not ok:
        raise _refuse(out / "pack-progress.json", "progress record")
    return state


def check_manifest(out: Path, manifest) -> dict:
    """manifest.json as far as gantrain-pack reads it, or one line saying it is not one of ours."""
    ok = (
        isinstance(manifest, dict)
        and isinstance(manifest.get("settings"), dict)
        and isinstance(manifest.get("count"), int)
        and _check_shards(out, manifest.get("shards"), {**_SHARD, "bytes": int})
        and isinstance(manifest.get("skipped"), list)
        and all(isinstance(s, dict) and isinstance(s.get("path"), str) for s in manifest["skipped"])
    )
    if not ok:
        raise _refuse(out / "manifest.json", "manifest")
    return manifest


def progress_of(manifest: dict, source, key: dict) -> dict:
    """The progress record the finished pack was written with: where the source continues after
    each shard and the class counts so far, from the shard counts and the skipped files."""
    why = {s["path"]: s.get("why", "") for s in manifest["skipped"]}
    written = (i for i, name in enumerate(source.names) if name not in why)
    counts: dict[str, int] = {}
    shards = []
    for shard in manifest["shards"]:
        last = -1
        for _ in range(shard["count"]):
            last = next(written, len(source) - 1)
            if source.labels is not None:
                label = str(source.labels[last])
                counts[label] = counts.get(label, 0) + 1
        shards.append({**shard, "next": last + 1, "class_counts": dict(counts)})
    if shards:
        shards[-1]["next"] = len(source)  # files skipped after the last image belong to it
    skipped = [
        {"index": i, "path": n, "why": why[n]} for i, n in enumerate(source.names) if n in why
    ]
    return {"settings": key, "shards": shards, "skipped": skipped, "class_counts": counts}
