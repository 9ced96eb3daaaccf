"""summary.json is plain JSON (no padding), and a full disk can still record a failure in it: a
reserve file beside it is given up to make room."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from helpers import small_filesystem

from gantrain.errors import WriteFailed
from gantrain.record.run_files import RESERVE, write_json


def test_summary_is_plain_json_and_the_reserve_lives_while_running(tmp_path):
    summary, spare = tmp_path / "summary.json", tmp_path / ".reserve"
    write_json(summary, {"status": "running"}, reserve=True)
    text = summary.read_text()
    assert text == json.dumps({"status": "running"}, indent=2) + "\n"
    assert not text.endswith("  \n") and "    \n" not in text and not text.endswith(" ")
    assert spare.stat().st_size == RESERVE
    write_json(summary, {"status": "done", "rounds": 4}, reserve=True)
    assert json.loads(summary.read_text()) == {"status": "done", "rounds": 4}
    assert not spare.exists()  # an ended run holds no room


def test_a_full_disk_gives_up_the_reserve_to_record_the_failure(tmp_path, monkeypatch):
    summary, spare = tmp_path / "summary.json", tmp_path / ".reserve"
    write_json(summary, {"status": "running"}, reserve=True)
    real = Path.write_text

    def full_while_reserved(self, *args, **kwargs):
        if spare.exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_while_reserved)
    write_json(summary, {"status": "failed", "error": "disk full"}, reserve=True)
    assert json.loads(summary.read_text())["status"] == "failed" and not spare.exists()


@pytest.fixture()
def small_disk(tmp_path):
    """A 1 MB filesystem (tmpfs), where this machine lets the tests mount one."""
    yield from small_filesystem(tmp_path / "small", "1m")


def test_a_really_full_disk_records_the_failure(small_disk):
    summary = small_disk / "summary.json"
    write_json(summary, {"status": "running"}, reserve=True)
    with pytest.raises(OSError) as full, open(small_disk / "filler", "wb") as f:
        while True:
            f.write(b"\0" * 4096)
            f.flush()
    assert full.value.errno == errno.ENOSPC
    error = "could not write the checkpoint: no space left on device " + "x" * 300
    with pytest.raises(WriteFailed, match="no space left on device"):  # the disk is really full
        write_json(small_disk / "other.json", {"status": "failed", "error": error})
    write_json(summary, {"status": "failed", "error": error}, reserve=True)
    assert json.loads(summary.read_text()) == {"status": "failed", "error": error}
