"""One download of a weights file into torch hub's cache, bounded in time and checked by the
hash prefix in its name (torch hub's convention), written to a temporary file and renamed, so
an interrupted fetch leaves nothing that looks like weights."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import time
import urllib.request
from pathlib import Path

from gantrain.files import temp_beside

log = logging.getLogger("gantrain")

READ_TIMEOUT_S = 30.0  # no byte for this long: the network is not there
TOTAL_TIMEOUT_S = 600.0  # the whole file (InceptionV3's is 91 MB), even over a slow link
BLOCK = 1 << 20


class FetchFailed(Exception):
    """Why a fetch did not leave the file in place, in a few words."""


def fetch(
    url: str,
    dest: Path,
    sha256_prefix: str,
    read_timeout_s: float = READ_TIMEOUT_S,
    total_timeout_s: float = TOTAL_TIMEOUT_S,
) -> Path:
    """Download url to dest unless it is there; raises FetchFailed with the reason."""
    if dest.is_file():
        return dest
    log.info("fetching %s into %s (once)", url, dest.parent)
    tmp = None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_beside(dest, ".part")
        digest = hashlib.sha256()
        deadline = time.monotonic() + total_timeout_s
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=read_timeout_s) as r:
            while block := r.read(BLOCK):
                if time.monotonic() > deadline:
                    raise FetchFailed(f"not complete after {total_timeout_s:.0f} s")
                out.write(block)
                digest.update(block)
        if not digest.hexdigest().startswith(sha256_prefix):
            raise FetchFailed(f"the download's sha256 does not start with {sha256_prefix}")
        os.replace(tmp, dest)
    except (OSError, http.client.HTTPException) as err:  # no network, timeouts, a full disk
        reason = str(getattr(err, "reason", None) or err or type(err).__name__)
        raise FetchFailed(reason.strip().splitlines()[0] if reason.strip() else "unknown") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return dest
