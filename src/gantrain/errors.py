"""Errors a user can cause, reported as one line with no traceback."""

from __future__ import annotations

import sys


class UserError(Exception):
    """A mistake in config, data or checkpoint; the message names the bad value and the fix."""


class WriteFailed(UserError):
    """A file of the run could not be written (a full disk, a quota, a read-only folder)."""

    def __init__(self, what: str, path, err: OSError):
        self.what, self.path = what, path
        self.reason = (err.strerror or str(err)).lower()
        super().__init__(f"could not write {what} {path}: {self.reason}")


def report(err: BaseException, prog: str = "gantrain") -> None:
    # one line: newlines inside a message would read as a traceback-like wall of text
    msg = " ".join(str(err).split())
    print(f"{prog}: error: {msg}", file=sys.stderr, flush=True)
