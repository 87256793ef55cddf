"""Download a file atomically and verify its checksum (urllib only, no extra dependency)."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from lae.errors import DataError

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
TIMEOUT_S = 60.0


def file_digest(path: Path, algorithm: str, *, decompressed: bool = False) -> str:
    """Hex digest (``"sha256"`` or ``"md5"``) of a file, or of its gunzipped content.

    Hashing the uncompressed bytes lets one checksum cover files that were re-compressed (the
    Debian Fashion-MNIST .gz files differ from the official ones, their content does not).
    """
    h = hashlib.new(algorithm)
    opener = gzip.open if decompressed else open
    try:
        with opener(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{path}: not a valid gzip file ({e})") from e
    return h.hexdigest()


def _mismatch(path: Path, *, sha256: str | None, md5: str | None, decompressed: bool) -> str | None:
    """A message describing the first checksum that does not match, or None if all match."""
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected is None:
            continue
        try:
            actual = file_digest(path, algorithm, decompressed=decompressed)
        except DataError:
            return "content is not a valid gzip stream"
        if actual != expected.lower():
            what = "uncompressed content" if decompressed else "file"
            return f"{algorithm} of the {what} is {actual}, expected {expected}"
    return None


def download_file(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    decompressed: bool = False,
) -> Path:
    """Download ``url`` to ``dest`` and verify it; return ``dest``.

    The bytes stream into a temporary file in ``dest``'s folder, are verified, then moved into
    place with ``os.replace`` so ``dest`` never holds a partial or unverified download.
    An existing ``dest`` that matches the checksums is kept without downloading; one that does
    not match is not ours to overwrite, so it is an error.

    Args:
        url: http(s) or file URL.
        dest: final path of the file.
        sha256, md5: expected hex digests (either, both or neither).
        decompressed: the digests are of the gunzipped content of ``dest``.

    Raises:
        DataError: on network errors (naming the URL), on a checksum mismatch (the downloaded
            file is deleted), or when an existing ``dest`` does not match.
    """
    dest = Path(dest)
    if dest.exists():
        problem = _mismatch(dest, sha256=sha256, md5=md5, decompressed=decompressed)
        if problem is None:
            return dest
        raise DataError(
            f"{dest} exists but its {problem}; delete it to download it again from {url}"
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the download folder {dest.parent}: {e}") from e

    log.info("downloading %s -> %s", url, dest)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                    TimeoutError) as e:
                raise DataError(
                    f"could not download {url}: {e}. If this machine is offline, fetch the file "
                    f"elsewhere and pass --data-dir PATH (data_dir=PATH) to the folder holding it"
                ) from e
        problem = _mismatch(tmp, sha256=sha256, md5=md5, decompressed=decompressed)
        if problem is not None:
            raise DataError(
                f"download of {url} failed verification: {problem}; the file was deleted. "
                f"The mirror may be serving a different file: download it by hand into "
                f"--data-dir PATH"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)  # a no-op after os.replace; removes partial / bad downloads
    return dest
