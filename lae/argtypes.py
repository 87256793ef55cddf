"""argparse types shared by every command line of lae (the subcommands and the toys)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

COUNT_MAX = 10**6  # the largest count any option takes: a few more digits would run for weeks
# the most steps a run can have taken (2^53: a float64 counts them exactly); more is an edit
STEP_MAX = 2**53
# torch threads: more than this is no machine's core count (100000 crashed inside torch)
THREADS_MAX = 1024
SEED_MAX = 2**63 - 1  # what torch.manual_seed takes (a larger one was an overflow traceback)
# lae computes in float32: a setting beyond its largest number is inf there (a tensor built from
# it raised an overflow traceback), one below its smallest normal number loses its digits and
# then is 0 (a step size of 1e-50 was a chain that never moved)
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.1754943508222875e-38
_TOO_LARGE = "beyond float32's largest number, 3.4e38 (lae computes in float32)"


class NumberRangeError(ValueError):
    """A number that float32, the precision lae computes in, does not hold; the message says
    which bound it crosses."""


def check_float32(number: float) -> float:
    """``number`` itself when float32 holds it: 0, NaN, an infinity (each setting decides on
    those) or a magnitude in [1.2e-38, 3.4e38]; :class:`NumberRangeError` otherwise.

    Example:
        >>> check_float32(1e-3), check_float32(0.0)
        (0.001, 0.0)
    """
    magnitude = abs(number)
    if FLOAT32_MAX < magnitude < math.inf:
        raise NumberRangeError(_TOO_LARGE)
    if 0 < magnitude < FLOAT32_TINY:
        raise NumberRangeError("below float32's smallest normal number, 1.2e-38 (lae computes "
                               "in float32, where it would be 0)")
    return number


def decimal_number(value: object) -> float | None:
    """``value`` as a float when it is a number (not a bool) or text that spells a decimal one
    (YAML 1.1 reads ``1e-4`` as text); None otherwise, also for text with an underscore, which
    Python's float would read as a digit separator (``1_0e-3`` is 0.01), or with a character
    outside ASCII (it reads the full-width ``８`` as 8). A number float32 does
    not hold raises :class:`NumberRangeError` (:func:`check_float32`).

    Example:
        >>> decimal_number("1e-4"), decimal_number(3), decimal_number("1_0"), decimal_number(True)
        (0.0001, 3.0, None, None)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return check_float32(float(value))
        except OverflowError:  # an int beyond even float64's range
            raise NumberRangeError(_TOO_LARGE) from None
    if isinstance(value, str) and "_" not in value and value.isascii():  # float reads "８" too
        try:
            number = float(value)
        except ValueError:
            return None
        return check_float32(number)
    return None


def count(minimum: int, maximum: int | None = None, what: str = ""):
    """An argparse type: an integer in [minimum, maximum], else an error naming the range (the
    flag is named by argparse), before any work.

    Example:
        >>> count(1, 10)("3")
        3
    """
    def parse(text: str) -> int:
        try:
            value = ascii_number(int)(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            top = f" and <= {maximum}{what}" if maximum is not None else ""
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}{top}, got "
                                             f"{value}")
        return value
    return parse


def seed(text: str) -> int:
    """An argparse type for ``--seed``: an integer in [0, 2^63 - 1]."""
    return count(0, SEED_MAX)(text)


def positive_number(text: str) -> float:
    """An argparse type: a finite number > 0 that float32 holds (:func:`decimal_number`)."""
    try:
        value = decimal_number(text)
    except NumberRangeError as exc:
        raise argparse.ArgumentTypeError(f"{text} is {exc}") from None
    if value is None:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def path_text(text: str) -> str:
    """An argparse type for a path the command writes: not empty (an unset shell variable,
    ``--out "$RUN"``, would otherwise name the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a file or folder name")
    return text


def nonempty_text(text: str) -> str:
    """An argparse type for a name the command reads (a checkpoint): not empty or blank (an
    unset shell variable would otherwise name a folder's default)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty value; give a name")
    return text


def file_path_text(text: str) -> str:
    """An argparse type for a file the command writes (:func:`path_text`), not spelled as a
    folder: ``--out results.json/`` would otherwise write the file ``results.json``."""
    path_text(text)
    if text.endswith(("/", "\\")):
        raise argparse.ArgumentTypeError(f"{text} ends in a slash, which names a folder; this "
                                         f"option writes a file: drop the slash")
    return text


def ascii_number(kind: type) -> Callable[[str], Any]:
    """An argparse type: ``kind(text)`` (int or float) for text in ASCII without underscores,
    else ValueError: Python reads the full-width ``８`` as 8 and ``1_0`` as 10, neither what a
    user meant to type.

    Example:
        >>> ascii_number(int)("12"), ascii_number(float)("0.5")
        (12, 0.5)
    """
    def parse(text: str) -> Any:
        if not text.isascii() or "_" in text:
            raise ValueError(text)  # argparse: "invalid int value: '８'"
        return kind(text)
    parse.__name__ = kind.__name__
    return parse
