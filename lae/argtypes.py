"""argparse types shared by every command line of lae (the subcommands and the toys)."""

from __future__ import annotations

import argparse
import math

COUNT_MAX = 10**6  # the largest count any option takes: a few more digits would run for weeks
# torch threads: more than this is no machine's core count (100000 crashed inside torch)
THREADS_MAX = 1024
SEED_MAX = 2**63 - 1  # what torch.manual_seed takes (a larger one was an overflow traceback)


def decimal_number(value: object) -> float | None:
    """``value`` as a float when it is a number (not a bool) or text that spells a decimal one
    (YAML 1.1 reads ``1e-4`` as text); None otherwise, also for text with an underscore, which
    Python's float would read as a digit separator (``1_0e-3`` is 0.01). An int beyond the float
    range raises OverflowError.

    Example:
        >>> decimal_number("1e-4"), decimal_number(3), decimal_number("1_0"), decimal_number(True)
        (0.0001, 3.0, None, None)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and "_" not in value:
        try:
            return float(value)
        except ValueError:
            return None
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
            value = int(text)
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
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def path_text(text: str) -> str:
    """An argparse type for a path the command writes: not empty (an unset shell variable,
    ``--out "$RUN"``, would otherwise name the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a file or folder name")
    return text
