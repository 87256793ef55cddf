"""The installed ``lae`` command (``[project.scripts]``) and ``python -m lae``.

Importing :mod:`lae.cli` loads torch and every model (a second or more); a Ctrl-C meanwhile
would end in Python's traceback, before the CLI's own handling of an interrupt is in place. This
module imports nothing heavy at the top: the import itself runs under that handling.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Run ``lae`` with the command line of this process; its exit status (130: interrupted)."""
    try:
        from lae.cli import main as cli_main
    except KeyboardInterrupt:  # Ctrl-C while starting: as one during a command, no traceback
        print("interrupted", file=sys.stderr)
        return 130
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
