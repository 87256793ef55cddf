"""The installed ``lae`` command (``[project.scripts]``) and ``python -m lae``.

Starting takes a second or more: :mod:`lae.cli` and the commands' parsers import torch, scipy
and matplotlib. An interrupt raised inside those imports ends in Python's traceback (or worse:
a half-imported numpy answers with a RecursionError), before the CLI's own handling of an
interrupt is in place. So this module, which imports nothing heavy, holds a Ctrl-C (SIGINT) or
a scheduler's stop (SIGTERM) back while the CLI loads (:func:`lae.cli.main` holds them back
while it builds its parser), and then ends as an interrupted command does: ``interrupted``,
status 130.
"""

from __future__ import annotations

import sys

from lae.interrupts import interrupts_deferred


def main() -> int:
    """Run ``lae`` with the command line of this process; its exit status (130: interrupted)."""
    try:
        with interrupts_deferred():  # raises KeyboardInterrupt at its end if one came
            from lae.cli import main as cli_main
    except KeyboardInterrupt:  # as a command interrupted later says it (lae.cli)
        print("interrupted", file=sys.stderr)
        return 130
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
