"""Errors a user can cause, reported as one line with no traceback."""

from __future__ import annotations

import sys


class UserError(Exception):
    """A mistake in config, data or checkpoint; the message names the bad value and the fix."""


def report(err: BaseException, prog: str = "gantrain") -> None:
    # one line: newlines inside a message would read as a traceback-like wall of text
    msg = " ".join(str(err).split())
    print(f"{prog}: error: {msg}", file=sys.stderr, flush=True)
