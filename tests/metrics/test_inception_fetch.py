"""InceptionV3's weights are fetched once into torch hub's cache; offline, one line that names
the file and the folder. A server on 127.0.0.1 stands in for the network."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading

import pytest

from gantrain.errors import UserError
from gantrain.metrics import extractors
from gantrain.metrics.fetch import FetchFailed, fetch

BODY = b"not really InceptionV3, but bytes with a known hash" * 100
PREFIX = hashlib.sha256(BODY).hexdigest()[:8]


class _Files(http.server.SimpleHTTPRequestHandler):
    requests = 0

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).requests += 1
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A file server on 127.0.0.1 over tmp_path/site holding w.pth; yields its base URL."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "w.pth").write_bytes(BODY)
    _Files.requests = 0
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Files, directory=str(site))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/w.pth"  # nothing listens there now: refused at once


def test_fetch_once_into_the_cache(server, tmp_path):
    dest = tmp_path / "hub" / "checkpoints" / "w.pth"
    assert fetch(f"{server}/w.pth", dest, PREFIX) == dest and dest.read_bytes() == BODY
    assert fetch(f"{server}/w.pth", dest, PREFIX) == dest and _Files.requests == 1
    assert [p.name for p in dest.parent.iterdir()] == ["w.pth"]


def test_a_download_with_the_wrong_hash_is_not_kept(server, tmp_path):
    dest = tmp_path / "w.pth"
    with pytest.raises(FetchFailed, match="sha256"):
        fetch(f"{server}/w.pth", dest, "00000000")
    assert list(tmp_path.iterdir()) == [tmp_path / "site"]


def test_a_silent_server_times_out(tmp_path):
    with socket.socket() as s:  # accepts connections (the backlog) but never answers
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        url = f"http://127.0.0.1:{s.getsockname()[1]}/w.pth"
        with pytest.raises(FetchFailed, match="timed out"):
            fetch(url, tmp_path / "w.pth", PREFIX, read_timeout_s=0.5)
    assert not list(tmp_path.iterdir())


def test_first_evaluation_fetches_the_weights(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(extractors, "INCEPTION_FILE", "w.pth")
    monkeypatch.setattr(extractors, "INCEPTION_URL", f"{server}/w.pth")
    monkeypatch.setattr(extractors, "INCEPTION_SHA256", PREFIX)
    path = extractors.inception_weights(None)
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / "w.pth"
    assert path.read_bytes() == BODY


def test_offline_is_one_line_naming_the_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(extractors, "INCEPTION_URL", closed_port_url())
    with pytest.raises(UserError, match="failed") as err:
        extractors.make_extractor("inception", {"_target_": "gantrain.data.image_folder.load"})
    message = str(err.value)
    folder = tmp_path / "hub" / "checkpoints"
    assert "\n" not in message and extractors.INCEPTION_FILE in message and str(folder) in message
    assert not folder.exists() or not list(folder.iterdir())


def test_a_given_path_is_never_fetched(tmp_path, monkeypatch):
    monkeypatch.setattr(extractors, "INCEPTION_URL", closed_port_url())
    with pytest.raises(UserError, match="it is not there"):
        extractors.inception_weights(str(tmp_path / "mine.pth"))


def test_without_torch_fidelity_the_line_says_what_to_install(tmp_path, monkeypatch):
    import torchmetrics.utilities.imports as imports

    monkeypatch.setattr(imports, "_TORCH_FIDELITY_AVAILABLE", False)
    with pytest.raises(UserError, match="pip install torch-fidelity"):
        extractors.inception_weights(None)


def test_the_fetch_timeout_key_bounds_a_silent_server(tmp_path, monkeypatch):
    import time

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with socket.socket() as s:  # accepts connections (the backlog) but never answers
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        monkeypatch.setattr(extractors, "INCEPTION_URL", f"http://127.0.0.1:{s.getsockname()[1]}/")
        t0 = time.monotonic()
        with pytest.raises(UserError, match="timed out") as err:
            extractors.make_extractor("inception", {}, fetch_timeout=0.5)
        waited = time.monotonic() - t0
    assert "\n" not in str(err.value) and waited < 20  # the default would wait 30 s
