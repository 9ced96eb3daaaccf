"""Hostile inputs that are tiny on disk and huge when read: a PNG whose header states more pixels
than the decoder's bound, a zip whose one member inflates to gigabytes, and a server that
accepts connections and never answers."""

from __future__ import annotations

import socket
import struct
import threading
import zipfile
import zlib
from pathlib import Path

ROWS_PER_CHUNK = 256


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A real greyscale PNG of width x height black pixels, compressed to about a thousandth of
    its decoded size (written row block by row block: never held whole here)."""
    squeeze = zlib.compressobj(9)
    rows = b"\0" * ((width + 1) * ROWS_PER_CHUNK)  # filter byte 0, then the row's pixels
    parts = []
    for start in range(0, height, ROWS_PER_CHUNK):
        n = min(ROWS_PER_CHUNK, height - start)
        parts.append(squeeze.compress(rows[: (width + 1) * n]))
    parts.append(squeeze.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def zip_bomb(path: Path, member: str, inflated: int) -> Path:
    """A zip holding one member of `inflated` zero bytes, deflated (about a thousandth)."""
    block = b"\0" * 2**20
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z,
        z.open(member, "w") as out,
    ):
        for _ in range(inflated // len(block)):
            out.write(block)
    return path


def stalled_server() -> tuple[str, socket.socket]:
    """(url, listening socket) of a localhost server that accepts every connection and never
    sends a byte; close the socket to stop it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held = []  # accepted connections stay open, silent

    def accept():
        while True:
            try:
                held.append(sock.accept()[0])
            except OSError:  # the test closed the socket
                for conn in held:
                    conn.close()
                return

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}", sock
