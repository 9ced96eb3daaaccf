"""One pack from start to manifest: skip a finished one, continue an interrupted one from its
last intact shard, write the rest with a progress bar, then the manifest."""

from __future__ import annotations

import errno
import json
import logging
from pathlib import Path

from gantrain.data.pack.state import check_manifest, check_progress, progress_of
from gantrain.data.pack.write import (
    MANIFEST,
    PARTIAL,
    PROGRESS,
    Interrupted,
    Settings,
    ShardWriter,
    encoded,
    sha256_of,
    write_json,
)
from gantrain.errors import UserError

log = logging.getLogger(__name__)
FULL = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)  # the disk refuses


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _shards(n: int) -> str:
    return _plural(n, "shard")


def _kept(state: dict, out: Path) -> str:
    done = state["shards"]
    n, images = len(done), sum(s["count"] for s in done)
    shards = "shard" if n == 1 else "shards"
    return f"{n} finished {shards} ({_plural(images, 'image')}) kept in {out}"


def _differs(old: dict, new: dict) -> str:
    """The first setting in which two packs differ, as key=old (not new)."""
    for k, v in new.items():
        if old.get(k) != v:
            return f"{k}={old.get(k)} (not {v})"
    return ""


def finished(out: Path, key: dict, source) -> str | None:
    """The line saying out already holds this pack; None when it holds no finished pack. A
    finished pack whose shard is missing or no longer matches its sha256 becomes an interrupted
    one again (its progress record rebuilt), so that the shards from that one on are redone."""
    if not (out / MANIFEST).exists():
        return None
    manifest = check_manifest(out, _read(out / MANIFEST))
    if (diff := _differs(manifest["settings"], key)) != "":
        raise UserError(
            f"out={out} already holds a pack made with other settings, {diff}: give another "
            "out= folder, or remove this one to pack it again"
        )
    for shard in manifest["shards"]:
        path = out / shard["name"]
        if not path.is_file() or sha256_of(path) != shard["sha256"]:
            log.warning("%s is missing or changed: packing again from there", path)
            write_json(out / PROGRESS, progress_of(manifest, source, key))
            (out / MANIFEST).unlink()
            return None
    return (
        f"{out} is already a complete pack of {manifest['count']} images in "
        f"{_shards(len(manifest['shards']))}; nothing to do"
    )


def _resumed(out: Path, key: dict) -> dict:
    """The progress to continue from: the recorded shards up to the first one missing or
    changed (its sha256), with their skipped files and class counts; stray files removed."""
    fresh = {"settings": key, "shards": [], "skipped": [], "class_counts": {}}
    if not (out / PROGRESS).exists():
        # a pack stopped before its first shard was recorded leaves shard files, nothing else
        ours = [f for f in out.glob("*") if f.name.startswith(("shard-", PROGRESS))]
        # hidden files (the pack's own lock among them) are no one's pack
        others = [f for f in out.iterdir() if not f.name.startswith(".")] if out.exists() else []
        if len(ours) < len(others):
            raise UserError(
                f"out={out} is a folder that holds other files and no pack: give a new or "
                "empty folder"
            )
        for f in ours:
            f.unlink()
        return fresh
    state = check_progress(out, _read(out / PROGRESS))
    if (diff := _differs(state["settings"], key)) != "":
        raise UserError(
            f"out={out} holds part of a pack made with other settings, {diff}: run with those "
            "settings to finish it, give another out= folder, or remove this one"
        )
    kept = 0
    for shard in state["shards"]:
        path = out / shard["name"]
        if not path.is_file() or sha256_of(path) != shard["sha256"]:
            log.warning("%s is missing or changed: packing again from there", path)
            break
        kept += 1
    state["shards"] = state["shards"][:kept]
    done = state["shards"][-1]["next"] if kept else 0
    state["skipped"] = [s for s in state["skipped"] if s["index"] < done]
    state["class_counts"] = state["shards"][-1]["class_counts"] if kept else {}
    names = {s["name"] for s in state["shards"]}
    for stray in out.glob("shard-*.tar*"):
        if stray.name not in names:
            stray.unlink()
    return state


def _commit(out: Path, state: dict, shard: dict, skipped: list, counts: dict) -> None:
    state["skipped"] += skipped
    state["class_counts"] = dict(counts)
    state["shards"].append({**shard, "class_counts": dict(counts)})
    write_json(out / PROGRESS, state)
    skipped.clear()


def _manifest(out: Path, source, settings: Settings, state: dict) -> dict:
    counts = state["class_counts"]
    classes = source.classes
    return {
        "format": "gantrain-shards",
        "version": 1,
        "count": sum(s["count"] for s in state["shards"]),
        "image_size": settings.image_size,
        "channels": settings.channels,
        "image_format": settings.image_format,
        "classes": classes,
        "class_counts": None
        if classes is None
        else [counts.get(str(i), 0) for i in range(len(classes))],
        "resize": settings.recipe.as_dict(),
        "shards": [
            {k: s[k] for k in ("name", "count", "sha256", "bytes")} for s in state["shards"]
        ],
        "skipped": [{"path": s["path"], "why": s["why"]} for s in state["skipped"]],
        "source": source.what,
        "settings": state["settings"],
    }


def _write(out: Path, source, settings: Settings, workers: int, state: dict, progress) -> list:
    """Encode and write the shards after the recorded ones, each recorded when finished;
    returns the files skipped after the last. A shard left unfinished is removed."""
    start = state["shards"][-1]["next"] if state["shards"] else 0
    written = sum(s["count"] for s in state["shards"])
    counts, skipped = dict(state["class_counts"]), []
    writer, limit = None, settings.shard_mb * 1e6
    ext = "jpg" if settings.image_format == "jpg" else "png"
    try:
        for i, data, why in encoded(source, settings, start, workers):
            progress.update(1)
            if data is None:
                skipped.append({"index": i, "path": source.names[i], "why": why})
                continue
            label = None if source.labels is None else source.labels[i]
            writer = writer or ShardWriter(out, len(state["shards"]), ext)
            writer.add(f"{written:09d}", data, label)
            written += 1
            if label is not None:
                counts[str(label)] = counts.get(str(label), 0) + 1
            if writer.bytes >= limit:
                _commit(out, state, {**writer.finish(), "next": i + 1}, skipped, counts)
                writer = None
        if writer is not None:
            _commit(out, state, {**writer.finish(), "next": len(source)}, skipped, counts)
    except BaseException:
        if writer is not None:
            writer.discard()
        raise
    return skipped


def pack(source, out: Path, settings: Settings, workers: int, bar: bool | None = None) -> str:
    """Pack source into out; returns the line to print. bar: the progress bar (None: on a
    terminal). Ctrl-C raises Interrupted with the finished shards kept."""
    from tqdm import tqdm

    key = settings.key(source)
    if (done := finished(out, key, source)) is not None:
        return done
    if len(source) == 0:
        raise UserError(f"src={source.what} holds no PNG or JPEG images")
    state = _resumed(out, key)
    out.mkdir(parents=True, exist_ok=True)
    if state["shards"]:
        log.info(
            "continuing after %d shards (%d images)",
            len(state["shards"]),
            sum(s["count"] for s in state["shards"]),
        )
    start = state["shards"][-1]["next"] if state["shards"] else 0
    progress = tqdm(
        total=len(source),
        initial=start,
        unit="img",
        desc="packing",
        disable=None if bar is None else not bar,
        dynamic_ncols=True,
    )
    try:
        state["skipped"] += _write(out, source, settings, workers, state, progress)
        return _finish(out, source, settings, state)
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted: {_kept(state, out)}; run the same command again to continue"
        ) from None
    except OSError as err:
        if err.errno not in FULL:
            raise
        reason = (err.strerror or str(err)).lower()
        raise UserError(
            f"could not write the pack in {out} ({reason}): {_kept(state, out)}; make room and run the "
            "same command again to continue"
        ) from None
    finally:
        progress.close()


def _finish(out: Path, source, settings: Settings, state: dict) -> str:
    """The manifest, written last; the progress record and leftovers removed."""
    if not state["shards"]:
        raise UserError(
            f"none of the {len(source)} images in {source.what} could be read "
            f"(e.g. {state['skipped'][0]['path']}: {state['skipped'][0]['why']})"
        )
    manifest = _manifest(out, source, settings, state)
    write_json(out / MANIFEST, manifest)
    (out / PROGRESS).unlink(missing_ok=True)
    for leftover in out.glob(f"*{PARTIAL}"):
        leftover.unlink()
    return f"packed {manifest['count']} images into {_shards(len(manifest['shards']))} in {out}" + (
        f" ({len(manifest['skipped'])} skipped, listed in {MANIFEST})"
        if manifest["skipped"]
        else ""
    )
