"""The ``lae`` subcommands, one module each, as :class:`~lae.commands.base.Command` records:
``lae.cli`` builds its parser from :data:`COMMANDS` and dispatches, nothing more. A new command
is a module here with its ``Command`` and one line below.
"""

from lae.commands import anomaly, bench, evaluate, inpaint, listing, report, sample, train
from lae.commands.base import Command

COMMANDS: dict[str, Command] = {c.name: c for c in (
    train.COMMAND, sample.COMMAND, evaluate.COMMAND, report.COMMAND, anomaly.COMMAND,
    inpaint.COMMAND, listing.LIST, listing.CONFIG, bench.COMMAND)}

__all__ = ["COMMANDS", "Command"]
