"""Writing files so that a crash, a full disk or a second writer never leaves a half-written one,
refusing, before any work, outputs that would replace a user's files unasked, and the checks of
the numbers lae reads back from its own files (a hand edit is refused, not computed with)."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from lae.errors import LaeError


def is_whole_number(value: Any, low: int, high: int) -> bool:
    """Whether ``value`` read back from a lae file is an int (not a bool) in ``low..high``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def is_real(value: Any, low: float, high: float) -> bool:
    """Whether ``value`` read back from a lae file is an int or float (not a bool) in
    ``low..high`` (NaN is in no range)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and low <= value <= high)


def is_finite_number(value: Any, low: float = -math.inf, high: float = math.inf) -> bool:
    """Whether ``value`` read back from a lae file is a finite int or float (not a bool) in
    ``low..high``: lae writes no other number (a non-finite one is filed as null)."""
    return is_real(value, low, high) and math.isfinite(value)


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` on a temporary file in ``path``'s folder, then rename it over ``path``
    (``os.replace``: readers see the old file or the new one, never a mix). The temporary file
    is removed if ``write`` fails.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> atomic_write(p, lambda f: f.write(b"hello"))
        >>> p.read_text()
        'hello'
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:  # name the file the user wanted
            exc.filename = str(path)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(folder: Path) -> None:
    """Raise ``PermissionError``/``OSError`` now, before any work, when files cannot be created in
    ``folder`` (created if missing): a temporary file is made and removed."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".lae-write-check.", suffix=".tmp")
    os.close(fd)
    os.unlink(tmp)


def check_creatable(path: Path, what: str = "--out") -> None:
    """Raise :class:`LaeError` now, before any work, when ``path`` (a file or folder to be made)
    could not be: a part of it that exists is a file, or the nearest folder above it that exists
    is not writable, or a part of it is a symbolic link that leads nowhere (to a missing path, or
    round a loop). Nothing is created (a command that fails later leaves no empty folder)."""
    target = Path(os.path.abspath(path))
    for part in (target, *target.parents):
        if part.is_symlink() and not part.exists():  # exists() follows it: dangling or a loop
            raise LaeError(f"{what} {path}: {part} is a symbolic link to {os.readlink(part)}, "
                           f"which leads nowhere (a missing path, or a loop of links); remove "
                           f"it or give another path")
    above = target
    while not above.exists():
        above = above.parent
    if above != target and not above.is_dir():
        raise LaeError(f"{what} {path}: {above} is a file, so nothing can be made below it")
    if above != target and not os.access(above, os.W_OK | os.X_OK):
        raise LaeError(f"{what} {path}: the folder {above} is not writable")


# how each kind of file lae writes begins (JSON after leading white space), by suffix; the
# only Markdown lae writes is lae report's report.md
SIGNATURES = {".png": (b"\x89PNG",), ".jpg": (b"\xff\xd8",), ".jpeg": (b"\xff\xd8",),
              ".pdf": (b"%PDF",), ".svg": (b"<?xml", b"<svg"), ".json": (b"{",),
              ".md": (b"# lae report\n",), ".npz": (b"PK\x03\x04",)}  # npz: a zip archive


def looks_like_lae_output(path: Path) -> bool:
    """Whether the file ``path`` begins as lae's outputs of its suffix do (:data:`SIGNATURES`;
    any file of another suffix); reads 4 KiB through a link, not the whole file.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "notes.png"
        >>> _ = p.write_text("my notes")
        >>> looks_like_lae_output(p)
        False
    """
    signatures = SIGNATURES.get(path.suffix.lower())
    if signatures is None:
        return True
    try:
        with path.open("rb") as f:
            return f.read(4096).lstrip().startswith(signatures)
    except OSError:
        return False


def refuse_existing(paths: list[Path] | Path, overwrite: bool) -> None:
    """Refuse, before any work, file outputs that exist when ``--overwrite`` was not given (all
    of a command's outputs are checked together, so a second run never replaces some and keeps
    others), and any that is a folder, which no flag lets the command replace."""
    paths = [paths] if isinstance(paths, Path) else paths
    for path in paths:  # below a file, or a link that leads nowhere: said now, not after the work
        check_creatable(path, "output")
    folders = [str(p) for p in paths if p.is_dir()]
    if folders:  # --overwrite would not replace a folder by a file: say so before any work
        raise LaeError(f"{folders[0]} is a folder; this command writes a file there: give "
                       f"another --out, a file path")
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise LaeError(f"{', '.join(existing)} exist{'s' if len(existing) == 1 else ''}; pass "
                       "--overwrite to replace "
                       f"{'it' if len(existing) == 1 else 'them'} (or choose another --out)")
    foreign = [p for p in paths if p.is_file() and not looks_like_lae_output(p)]
    if foreign:  # --overwrite is for lae's own outputs, not a file that only shares the suffix
        raise LaeError(f"{foreign[0]} is not a {foreign[0].suffix} file as lae writes them "
                       f"(it begins otherwise); lae replaces or adds to only its own outputs: "
                       f"move it away or choose another --out")
