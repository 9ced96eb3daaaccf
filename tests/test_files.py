"""The checks every reader makes before opening a path built from data gantrain did not write:
the name stays inside its folder (by its words and through links), and the file is regular."""

from __future__ import annotations

import os

import pytest

from gantrain.errors import UserError
from gantrain.files import Escapes, contained, is_regular, plain_name


@pytest.mark.parametrize(
    "name", ["../x", "a/../../x", "/etc/passwd", "", "a\\..\\x", "C:x", "a\x00b", None, 7]
)
def test_names_that_leave_their_folder_by_their_words_are_refused(name, tmp_path):
    with pytest.raises(Escapes) as err:
        plain_name(name, str(tmp_path), "the manifest")
    assert isinstance(err.value, UserError) and "the manifest" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(Escapes):
        contained(tmp_path, name, "the manifest")


def test_plain_and_nested_names_stay_inside(tmp_path):
    assert plain_name("shard-000000.tar", "x", "m") == "shard-000000.tar"
    assert contained(tmp_path, "sub/a.tar", "m") == tmp_path.resolve() / "sub" / "a.tar"
    assert contained(tmp_path, "a/./b.png", "m") == tmp_path.resolve() / "a" / "b.png"


def test_a_link_leading_outside_is_refused_before_it_is_opened(tmp_path):
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (inside / "link").symlink_to(outside)
    with pytest.raises(Escapes, match="link/secret.tar"):
        contained(inside, "link/secret.tar", "the manifest")
    # a link that stays inside is followed
    (inside / "real").mkdir()
    (inside / "alias").symlink_to(inside / "real")
    assert contained(inside, "alias/a.png", "m") == inside.resolve() / "real" / "a.png"


def test_an_absolute_name_may_be_taken_only_inside_the_folder(tmp_path):
    path = str(tmp_path / "a.png")
    assert contained(tmp_path, path, "m", absolute=True) == tmp_path.resolve() / "a.png"
    with pytest.raises(Escapes, match="/etc/passwd"):
        contained(tmp_path, "/etc/passwd", "m", absolute=True)
    with pytest.raises(Escapes):
        contained(tmp_path, path, "m")  # not asked for: absolute names are refused


def test_only_regular_files_are_regular(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "gone")
    assert is_regular(tmp_path / "a.png")
    assert not is_regular(tmp_path / "pipe.png")
    assert not is_regular(tmp_path / "dangling.png")
    assert not is_regular(tmp_path)
    assert not is_regular("/dev/null")
