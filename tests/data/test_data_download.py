"""download_file and download=True, against a local HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import gzip
import hashlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from lae.data import DataConfig, download_file, load_dataset
from lae.data.idx import MIRRORS, SHA256, idx_bytes
from lae.errors import DataError


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def server(tmp_path):
    """(folder served, base URL) of a local HTTP server, stopped after the test."""
    root = tmp_path / "served"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def served_idx(server):
    """A small valid IDX .gz on the server, and the sha256 of its uncompressed content."""
    root, url = server
    raw = idx_bytes(np.arange(6, dtype=np.uint8) % 10)
    (root / "labels.gz").write_bytes(gzip.compress(raw))
    return f"{url}/labels.gz", hashlib.sha256(raw).hexdigest()


def test_download_verifies_uncompressed_sha256(tmp_path, served_idx):
    url, sha = served_idx
    dest = download_file(url, tmp_path / "out" / "labels.gz", sha256=sha, decompressed=True)
    assert gzip.decompress(dest.read_bytes())[:4] == b"\x00\x00\x08\x01"
    assert [p.name for p in dest.parent.iterdir()] == ["labels.gz"]  # no temp files left


def test_checksum_mismatch_deletes_download(tmp_path, served_idx):
    url, _ = served_idx
    dest = tmp_path / "out" / "labels.gz"
    with pytest.raises(DataError, match="failed verification.*sha256.*deleted"):
        download_file(url, dest, sha256="0" * 64, decompressed=True)
    assert list(dest.parent.iterdir()) == []


def test_md5_of_the_file(tmp_path, served_idx, server):
    url, _ = served_idx
    md5 = hashlib.md5((server[0] / "labels.gz").read_bytes()).hexdigest()
    assert download_file(url, tmp_path / "a.gz", md5=md5).exists()


def test_existing_verified_file_is_kept(tmp_path, served_idx):
    url, sha = served_idx
    dest = download_file(url, tmp_path / "labels.gz", sha256=sha, decompressed=True)
    mtime = dest.stat().st_mtime_ns
    download_file("http://127.0.0.1:9/unreachable", dest, sha256=sha, decompressed=True)
    assert dest.stat().st_mtime_ns == mtime


def test_existing_mismatching_file_is_not_overwritten(tmp_path, served_idx):
    url, _ = served_idx
    dest = tmp_path / "labels.gz"
    dest.write_bytes(b"user data")
    with pytest.raises(DataError, match="exists but"):
        download_file(url, dest, md5="0" * 32)
    assert dest.read_bytes() == b"user data"


def test_network_error_names_url(tmp_path, server):
    _, url = server
    with pytest.raises(DataError, match=r"could not download .*/missing\.gz.*--data-dir"):
        download_file(f"{url}/missing.gz", tmp_path / "out" / "missing.gz")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.fixture
def fake_mnist_server(server, monkeypatch, fake_idx_dataset):
    """Fake MNIST files on the local server, set as the MNIST mirror with their checksums."""
    root, url = server
    fake_idx_dataset(root)
    hashes = {
        p.name[:-3]: hashlib.sha256(gzip.decompress(p.read_bytes())).hexdigest()
        for p in root.glob("*.gz")
    }
    monkeypatch.setitem(SHA256, "mnist", hashes)
    monkeypatch.setitem(MIRRORS, "mnist", url)
    return root


def test_load_dataset_downloads_into_data_dir(tmp_path, fake_mnist_server):
    cfg = DataConfig(name="mnist", data_dir=str(tmp_path / "d"), download=True)
    assert len(load_dataset(cfg).train) == 20
    assert len(list((tmp_path / "d").glob("*.gz"))) == 4


def test_load_dataset_download_rejects_wrong_files(tmp_path, fake_mnist_server, monkeypatch):
    monkeypatch.setitem(SHA256["mnist"], "t10k-labels-idx1-ubyte", "f" * 64)
    cfg = DataConfig(name="mnist", data_dir=str(tmp_path / "d"), download=True)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz failed verification"):
        load_dataset(cfg)
    assert not (tmp_path / "d" / "t10k-labels-idx1-ubyte.gz").exists()
