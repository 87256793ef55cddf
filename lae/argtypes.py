"""argparse types shared by every command line of lae (the subcommands and the toys)."""

from __future__ import annotations

import argparse
import math

COUNT_MAX = 10**6  # the largest count any option takes: a few more digits would run for weeks
# torch threads: more than this is no machine's core count (100000 crashed inside torch)
THREADS_MAX = 1024
SEED_MAX = 2**63 - 1  # what torch.manual_seed takes (a larger one was an overflow traceback)


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
