"""IDX files (the MNIST format) and the full MNIST / Fashion-MNIST datasets.

IDX layout (big-endian): two zero bytes, a dtype byte (0x08 = uint8), the number of dims,
one uint32 per dim, then the data. Labels are 1-D (magic 2049), images 3-D (magic 2051).
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from lae.data.config import DataConfig, RawData
from lae.data.registry import FILES, register_dataset
from lae.data.sources import RemoteFile, locate
from lae.errors import DataError

_GZIP_MAGIC = b"\x1f\x8b"
_UBYTE = 0x08
N_CLASSES = 10

# Base URLs, overridable (tests point them at a local server; users at a mirror).
MIRRORS: dict[str, str] = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
}

# SHA-256 of the *uncompressed* official files: stable even where the .gz was re-compressed.
SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte":
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte":
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte":
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte":
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte":
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte":
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte":
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte":
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

# Where the Debian package dataset-fashion-mnist installs the files.
FASHION_MNIST_SYSTEM_DIRS: tuple[str, ...] = ("/usr/share/datasets/fashion-mnist",)

_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if it starts with the gzip magic (whatever its suffix)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}") from e
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt gzip file ({e}); delete it and fetch it again") from e


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an unsigned-byte IDX file (gzipped or not) with ``ndim`` dimensions.

    Args:
        path: the file.
        ndim: 1 for labels (magic 2049), 3 for images (magic 2051).

    Returns:
        uint8 array of the shape in the header, e.g. [N] or [N, 28, 28].

    Raises:
        DataError: naming the file, for a wrong magic number, a length that does not match the
            header (truncated or with trailing bytes), or a corrupt gzip stream.
    """
    data = _read_bytes(Path(path))
    header_len = 4 + 4 * ndim
    expected_magic = (_UBYTE << 8) | ndim
    magic = int.from_bytes(data[:4], "big")
    if len(data) < 4 or magic != expected_magic:
        raise DataError(
            f"{path}: IDX magic number {magic} (0x{magic:08x}), expected {expected_magic} "
            f"(unsigned bytes, {ndim} dims): not an MNIST-style "
            f"{'label' if ndim == 1 else 'image'} file"
        )
    if len(data) < header_len:
        raise DataError(
            f"{path}: truncated: {len(data)} bytes is shorter than the IDX header "
            f"({header_len} bytes)"
        )
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected_len = header_len + math.prod(dims)  # Python ints: no int64 overflow
    if len(data) != expected_len:
        state = "truncated" if len(data) < expected_len else "has trailing bytes"
        raise DataError(
            f"{path}: {state}: header dims {dims} need {expected_len} bytes "
            f"(uncompressed), the file has {len(data)}"
        )
    # Copy: frombuffer gives a read-only view, which torch warns about when wrapping it.
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims).copy()


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` (values 0..255, any shape) as an unsigned-byte IDX file."""
    header = bytes([0, 0, _UBYTE, array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + dims + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool = True) -> Path:
    """Write ``array`` as an IDX file, gzipped by default (used for tests and exports)."""
    data = idx_bytes(array)
    Path(path).write_bytes(gzip.compress(data) if gz else data)
    return Path(path)


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 1, H, W] and labels int64 [N] (checked to be 0..9) from two IDX files."""
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels; "
            "expected the same count"
        )
    if labels.size and labels.max() >= N_CLASSES:
        raise DataError(
            f"{labels_path}: label {int(labels.max())} out of range, expected 0..{N_CLASSES - 1}"
        )
    return images[:, None], labels.astype(np.int64)


def idx_files(name: str) -> list[RemoteFile]:
    """The four IDX files of ``name`` ("mnist" or "fashion-mnist"), .gz or uncompressed."""
    return [
        RemoteFile(
            name=f"{stem}.gz",
            url=f"{MIRRORS[name]}/{stem}.gz",
            alternatives=(stem,),
            sha256=SHA256[name][stem],
            decompressed=True,
        )
        for stem in _FILES
    ]


def _load_idx_dataset(
    cfg: DataConfig, name: str, system_dirs: tuple[str, ...] = (), how_to_get: str = ""
) -> RawData:
    # Checksums are verified right after a download only: hashing 55 MB on every load is slow,
    # and the structural checks in read_idx catch truncated or foreign files.
    paths = locate(cfg, name, idx_files(name), system_dirs=system_dirs, how_to_get=how_to_get)
    train_x, train_y = read_idx_pair(paths[0], paths[1])
    test_x, test_y = read_idx_pair(paths[2], paths[3])
    return RawData("image", train_x, train_y, test_x, test_y)


@register_dataset("mnist", "MNIST handwritten digits, 60k/10k 28x28 grey (IDX files)",
                  reads=FILES)
def load_mnist(cfg: DataConfig) -> RawData:
    return _load_idx_dataset(cfg, "mnist")


@register_dataset("fashion-mnist", "Fashion-MNIST clothing, 60k/10k 28x28 grey (IDX files)",
                  reads=FILES)
def load_fashion_mnist(cfg: DataConfig) -> RawData:
    return _load_idx_dataset(
        cfg,
        "fashion-mnist",
        system_dirs=FASHION_MNIST_SYSTEM_DIRS,
        how_to_get="On Debian/Ubuntu: apt install dataset-fashion-mnist "
        "(files in /usr/share/datasets/fashion-mnist).",
    )
