"""CelebA aligned faces: a folder ``img_align_celeba/`` of JPEGs (or its zip), as 64x64 RGB.

Each image is centre-cropped to 148x148 and resized to 64x64 (the usual VAE preprocessing).
Decoding ~200k JPEGs takes minutes, so the uint8 result is cached as a ``.pt`` file next to the
image folder, keyed by a hash of the file list (names and sizes).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from lae.data.config import DataConfig, RawData
from lae.data.npz import ZIP_READ_ERRORS
from lae.data.registry import FILES, register_dataset
from lae.data.sources import RemoteFile, locate
from lae.errors import DataError

log = logging.getLogger(__name__)

FOLDER = "img_align_celeba"
ZIP_NAME = "img_align_celeba.zip"
GDRIVE_ID = "0B7EVK8r0v71pZjFTYXZWM3FlRnM"  # torchvision's id for the aligned images
URL = f"https://drive.google.com/uc?export=download&id={GDRIVE_ID}"
MD5 = "00d2c5bc6d35e252742224ab0c1e8fcb"
PARTITION_FILE = "list_eval_partition.txt"
CROP, SIZE = 148, 64
TEST_FRACTION = 0.1  # used when list_eval_partition.txt is absent
HOW_TO_GET = (
    "Google Drive often refuses scripted downloads of large files: download "
    f"{ZIP_NAME} (and optionally {PARTITION_FILE}) by hand from the CelebA page "
    "(mmlab.ie.cuhk.edu.hk/projects/CelebA.html) into the folder given by --data-dir PATH."
)


def _extract_zip(zip_path: Path) -> Path:
    """Extract the images of ``zip_path`` into ``img_align_celeba/`` beside it (atomically)."""
    target = zip_path.parent / FOLDER
    with tempfile.TemporaryDirectory(prefix=".celeba.", dir=zip_path.parent) as tmp:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                zf.extractall(tmp)  # extractall drops absolute and '..' path parts
        except ZIP_READ_ERRORS as e:
            raise DataError(f"{zip_path}: corrupt or unreadable zip archive ({e})") from e
        extracted = Path(tmp) / FOLDER
        if not extracted.is_dir():
            raise DataError(f"{zip_path}: expected a top-level folder {FOLDER}/ in the archive")
        try:
            os.replace(extracted, target)
        except OSError as e:
            raise DataError(f"cannot move the images of {zip_path} to {target}: {e}") from e
    return target


def _crop_resize(path: Path) -> np.ndarray:
    """uint8 [3, 64, 64]: centre 148x148 crop of the JPEG at ``path``, resized to 64x64."""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from e
    except Exception as e:  # Pillow's decoders raise many types on damaged files
        raise DataError(f"{path}: not a readable image ({type(e).__name__}: {e})") from e
    w, h = img.size
    if w < CROP or h < CROP:
        raise DataError(f"{path}: image is {w}x{h}, expected at least {CROP}x{CROP}")
    left, top = (w - CROP) // 2, (h - CROP) // 2
    img = img.crop((left, top, left + CROP, top + CROP)).resize((SIZE, SIZE), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)


def _cache_key(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.name}:{f.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def load_images(folder: Path) -> tuple[torch.Tensor, list[str]]:
    """All ``*.jpg`` of ``folder`` (sorted by name) as uint8 [N, 3, 64, 64], and their names.

    Loads the cache ``celeba64_<key>.pt`` beside ``folder`` when its key matches; otherwise
    decodes the images (in threads: Pillow releases the GIL) and writes the cache if it can.
    """
    files = sorted(folder.glob("*.jpg"))
    if not files:
        raise DataError(f"{folder} holds no .jpg files; expected the CelebA aligned images")
    cache = folder.parent / f"celeba{SIZE}_{_cache_key(files)}.pt"
    names = [f.name for f in files]
    if cache.exists():
        try:
            images = torch.load(cache, weights_only=True)["images"]
            if images.shape == (len(files), 3, SIZE, SIZE) and images.dtype == torch.uint8:
                return images, names
            log.warning("ignoring cache %s: shape %s does not match", cache, tuple(images.shape))
        except Exception as e:  # a damaged cache is rebuilt, whatever torch raises
            log.warning("ignoring unreadable cache %s (%s: %s)", cache, type(e).__name__, e)
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        images = torch.from_numpy(np.stack(list(pool.map(_crop_resize, files))))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{cache.name}.", dir=cache.parent)
        os.close(fd)
        torch.save({"images": images}, tmp)
        os.replace(tmp, cache)  # atomic: a crash never leaves a half-written cache
    except OSError as e:  # a read-only data folder only costs speed
        log.warning("could not write the CelebA cache %s (%s)", cache, e)
    return images, names


def _read_partition(path: Path) -> dict[str, str]:
    """``list_eval_partition.txt``: lines ``<file name> <0|1|2>`` -> {file name: partition}."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}") from e
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a text file ({e.reason} at byte {e.start}); expected "
                        "lines '<image name> <0|1|2>'") from None
    partition = {}
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DataError(f"{path}:{number}: expected '<image name> <0|1|2>', got {line!r}")
        partition[fields[0]] = fields[1]
    return partition


def _test_mask(folder: Path, names: list[str]) -> np.ndarray:
    """bool [N]: official test partition (2) if list_eval_partition.txt exists, else last 10%."""
    for candidate in (folder.parent / PARTITION_FILE, folder / PARTITION_FILE):
        if candidate.exists():
            partition = _read_partition(candidate)
            unknown = [n for n in names if n not in partition]
            if unknown:
                raise DataError(f"{candidate} does not list {unknown[0]} "
                                f"({len(unknown)} images unlisted)")
            # Partitions 0 (train) and 1 (valid) both go to train; val_size carves val from it.
            return np.array([partition[n] == "2" for n in names])
    mask = np.zeros(len(names), dtype=bool)
    mask[len(names) - max(1, round(TEST_FRACTION * len(names))) :] = True
    return mask


@register_dataset("celeba", "CelebA aligned faces, 64x64 colour, no labels (manual download)",
                  reads=FILES)
def load_celeba(cfg: DataConfig) -> RawData:
    try:
        (path,) = locate(
            cfg, "celeba", [RemoteFile(ZIP_NAME, URL, (FOLDER,), md5=MD5)], how_to_get=HOW_TO_GET
        )
    except DataError as e:
        if HOW_TO_GET in str(e):
            raise
        raise DataError(f"{e}\n{HOW_TO_GET}") from e  # a failed Google Drive download
    folder = path.parent / FOLDER
    if not folder.is_dir():
        folder = _extract_zip(path)
    images, names = load_images(folder)
    test = torch.from_numpy(_test_mask(folder, names))
    return RawData("image", images[~test], None, images[test], None)
