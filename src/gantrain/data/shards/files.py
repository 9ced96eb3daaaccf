"""Packed shards on a local disk or behind any fsspec URL: the manifest, one shard's samples
(checked against the manifest's size and sha256 before any is used), and their decoding.

A shard set (written by gantrain-pack): ROOT/manifest.json and ROOT/shard-000000.tar, ...,
WebDataset tars holding, per sample, KEY.png or KEY.jpg (already at the pack's size and
channels) and KEY.cls (the class index, when the source has classes); KEY is the sample's
global index, %09d.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gantrain.data.decode import open_checked
from gantrain.data.pixels import to_channels
from gantrain.errors import UserError
from gantrain.files import contained, is_regular, plain_name, temp_beside

FORMAT, VERSION = "gantrain-shards", 1
# dataset.timeout's default: a server that does not connect, or stops sending, for this many
# seconds is an error that says so, never a hang
TIMEOUT_S = 20.0


class BadShard(Exception):
    """A shard that is missing, truncated, fails its checksum, or holds other samples than its
    manifest entry says; str() says which and why, in words."""

    def __init__(self, name: str, why: str):
        super().__init__(f"shard {name} {why}")
        self.name, self.why = name, why


def bad_shard_error(err: BadShard, root: str) -> UserError:
    """The one line for a bad shard the run cannot go on without."""
    return UserError(
        f"{err}: pack it again (gantrain-pack redoes bad shards) or copy it again into {root}, "
        "or train without it: dataset.on_bad_shard=skip"
    )


def is_url(root: str) -> bool:
    return "://" in root and not root.startswith("file://")


def local_path(root: str) -> Path:
    return Path(root.removeprefix("file://")).expanduser().resolve()


def _filesystem(root: str, timeout: float):
    """(fsspec filesystem, path) for a URL; a fresh instance per process, since one inherited
    across a fork shares the parent's event loop."""
    try:
        import fsspec
    except ImportError:
        raise UserError(
            f"dataset.root={root} is a URL, and reading URLs needs fsspec: "
            'pip install "gantrain[shards]"'
        ) from None
    options: dict = {"skip_instance_cache": True}
    if root.startswith(("http://", "https://")):
        import aiohttp

        options["client_kwargs"] = {
            "timeout": aiohttp.ClientTimeout(sock_read=timeout, sock_connect=timeout)
        }
    return fsspec.core.url_to_fs(root, **options)


def read_bytes(root: str, name: str, timeout: float = TIMEOUT_S) -> bytes:
    """The file ROOT/name, name checked to stay below ROOT first (Escapes); FileNotFoundError
    when absent; OSError when it is no regular file (a FIFO would block the read forever)."""
    if not is_url(root):
        path = contained(local_path(root), name, f"the shard set in {root}")
        if path.exists() and not is_regular(path):
            raise OSError(f"{path} is not a regular file")
        return path.read_bytes()
    plain_name(name, root, f"the shard set in {root}")
    fs, base = _filesystem(root, timeout)
    return fs.cat_file(base.rstrip("/") + "/" + name)


def why(err: Exception, timeout: float) -> str:
    """A read's failure in words; a timeout's own message is often empty."""
    if isinstance(err, TimeoutError) or "Timeout" in type(err).__name__:
        return f"no answer within {timeout:g} s (dataset.timeout={timeout:g})"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def read_manifest(root: str, timeout: float = TIMEOUT_S) -> dict:
    """ROOT/manifest.json, checked to be a shard set this version reads."""
    try:
        data = read_bytes(root, "manifest.json", timeout)
    except FileNotFoundError:
        raise UserError(
            f"dataset.root={root} holds no manifest.json: point it at a folder written by "
            f"gantrain-pack (gantrain-pack src=IMAGES out={root})"
        ) from None
    except UserError:
        raise
    except Exception as err:  # network and filesystem errors of every library: cannot read it
        raise UserError(
            f"dataset.root={root} cannot be read ({why(err, timeout)}): check the path or URL"
        ) from None
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise UserError(f"{root}/manifest.json is not valid JSON ({err}): pack again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserError(f"{root}/manifest.json is not a gantrain shard manifest: pack again")
    checked_manifest(manifest, f"{root}/manifest.json")
    if manifest["version"] > VERSION:
        raise UserError(
            f"{root}/manifest.json is format version {manifest['version']}, newer than this "
            f"gantrain reads ({VERSION}): upgrade gantrain"
        )
    return manifest


def _integer(value, none_ok: bool = False) -> bool:
    if value is None:
        return none_ok
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# key -> (what it must be, the test): the keys a reader of the manifest relies on
_KEYS = {
    "version": ("an integer", lambda v: _integer(v)),
    "count": ("an integer >= 0", lambda v: _integer(v, True)),
    "shards": ("a list of shard entries", lambda v: isinstance(v, list)),
    "classes": ("a list of class names or null", lambda v: v is None or isinstance(v, list)),
}
_ENTRY = {
    "count": ("an integer >= 0", lambda v: _integer(v)),
    "bytes": ("an integer >= 0 or null", lambda v: _integer(v, True)),
    "sha256": ("a hex digest or null", lambda v: v is None or isinstance(v, str)),
}


def checked_manifest(manifest: dict, what: str) -> None:
    """Every key a reader uses has its type and every shard name stays below the set's folder,
    before any shard is read or written: UserError (or Escapes) naming the first that does not."""
    for key, (must, ok) in _KEYS.items():
        if not ok(manifest.get(key)):
            raise UserError(
                f"{what}: {key}={json.dumps(manifest.get(key))[:80]} is not {must}: pack again"
            )
    for i, entry in enumerate(manifest["shards"]):
        if not isinstance(entry, dict):
            raise UserError(f"{what}: shards[{i}] is not an object with a name: pack again")
        plain_name(entry.get("name"), "its folder", f"{what} (shards[{i}])")
        for key, (must, ok) in _ENTRY.items():
            if not ok(entry.get(key)):
                raise UserError(
                    f"{what}: shards[{i}].{key}={json.dumps(entry.get(key))[:80]} "
                    f"is not {must}: pack again"
                )


@dataclass(frozen=True)
class Entry:
    """One shard as the manifest states it."""

    name: str
    count: int
    sha256: str | None
    bytes: int | None
    first: int  # the global index of its first sample


def entries(manifest: dict) -> list[Entry]:
    out, first = [], 0
    for s in manifest["shards"]:
        count = s["count"]  # types checked with the manifest (checked_manifest)
        out.append(Entry(s["name"], count, s.get("sha256"), s.get("bytes"), first))
        first += count
    return out


def fetch(root: str, entry: Entry, timeout: float = TIMEOUT_S) -> bytes:
    """The shard's bytes, checked against its manifest entry (BadShard when they differ)."""
    try:
        data = read_bytes(root, entry.name, timeout)
    except FileNotFoundError:
        raise BadShard(entry.name, f"is missing from {root}") from None
    except UserError:
        raise
    except Exception as err:  # network and filesystem errors of every library: cannot read it
        raise BadShard(entry.name, f"cannot be read from {root} ({why(err, timeout)})") from None
    if entry.bytes is not None and len(data) != int(entry.bytes):
        raise BadShard(entry.name, f"is truncated ({len(data):,} of {int(entry.bytes):,} bytes)")
    if entry.sha256 and hashlib.sha256(data).hexdigest() != entry.sha256:
        raise BadShard(entry.name, "fails its sha256 checksum (it changed since it was packed)")
    return data


def samples(data: bytes, entry: Entry, labelled: bool) -> dict[int, tuple[bytes, int]]:
    """{global index: (image file bytes, class index or -1)} of a fetched shard."""
    found: dict[int, list] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key, _, ext = member.name.rpartition("/")[2].partition(".")
                item = found.setdefault(int(key), [None, -1])
                member_file = tar.extractfile(member)
                assert member_file is not None  # a regular file (isfile above)
                payload = member_file.read()
                if ext == "cls":
                    item[1] = int(payload.decode("ascii").strip())
                elif ext in ("png", "jpg", "jpeg"):
                    item[0] = payload
    except (tarfile.TarError, ValueError, UnicodeDecodeError, OSError) as err:
        raise BadShard(entry.name, f"is not a readable tar of samples ({err})") from None
    want = range(entry.first, entry.first + entry.count)
    if sorted(found) != list(want) or any(v[0] is None for v in found.values()):
        raise BadShard(entry.name, f"does not hold the {entry.count} samples its manifest lists")
    if labelled and any(v[1] < 0 for v in found.values()):
        raise BadShard(entry.name, "has samples without a .cls label")
    return {k: (v[0], v[1]) for k, v in found.items()}


def decode_image(data: bytes, channels: int) -> torch.Tensor:
    """A packed image's bytes -> uint8 (channels, H, W); packed images need no resizing.
    TooLarge, from its header, for an image over the decoder's pixel bound (decode.py).

    torchvision's libpng/libjpeg decoding, a third faster than PIL's for small images; PIL
    for what it does not take (an alpha channel, a format it does not know)."""
    from torchvision.io import ImageReadMode
    from torchvision.io import decode_image as tv_decode

    open_checked(data).close()  # the header alone: a bomb is refused before it is decoded
    try:
        image = tv_decode(
            torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.UNCHANGED
        )
    except RuntimeError:
        image = None
    if image is not None and image.shape[0] in (1, 3):
        return to_channels(image[None], channels)[0]  # (C, H, W)
    with Image.open(io.BytesIO(data)) as img:
        arr = np.array(img.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.reshape(arr.shape[0], arr.shape[1], channels)).permute(2, 0, 1)


def cached_copy(root: str, entry: Entry, timeout: float = TIMEOUT_S) -> str:
    """A local root holding a verified copy of a remote shard (kept in the user's cache, so
    reference images over a network are fetched once); a local root as it is. The shard's
    name is checked to stay inside the cache folder before anything is fetched or written."""
    if not is_url(root):
        return root
    key = hashlib.sha256(root.encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gantrain" / "shards"
    folder = base / key
    path = contained(folder, entry.name, f"the manifest of {root}")
    if (
        is_regular(path)
        and entry.sha256
        and (hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256)
    ):
        return str(folder)
    data = fetch(root, entry, timeout)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, part = temp_beside(path, ".part")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(part, path)  # atomic: a killed copy leaves no half shard under the real name
    return str(folder)
