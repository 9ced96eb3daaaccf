"""Keep freed host memory inside the process (glibc).

A training round on the CPU allocates and frees the same multi-megabyte activation buffers every
time. By default glibc serves such blocks with mmap and returns them with munmap, so each round
takes them from the kernel again: one page fault per 4 KiB page, some 10,000 faults and about a
tenth of a DCGAN round on a 2-core machine. Serving them from the heap and not trimming it makes
those faults go away. Results do not change: only where the memory comes from.
"""

from __future__ import annotations

import ctypes
import sys

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def keep_freed_memory() -> bool:
    """True where glibc took the settings; False elsewhere (macOS, musl, Windows)."""
    libc = _libc()
    try:
        settings = (
            (M_MMAP_THRESHOLD, 32 << 20),
            (M_TRIM_THRESHOLD, 1 << 30),
            (M_TOP_PAD, 64 << 20),
        )
        return all(libc.mallopt(key, value) == 1 for key, value in settings)
    except AttributeError:  # None, or a libc without mallopt
        return False


def release_freed_memory() -> None:
    """Hand the memory kept for training rounds back before a one-off phase (an evaluation)
    that needs its own, so that the two do not add up in the peak."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
