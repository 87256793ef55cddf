"""A stop asked for by a signal (Ctrl-C's SIGINT, a scheduler's SIGTERM), kept where the
KeyboardInterrupt it raises could be lost.

Python runs a signal handler between any two bytecodes, also inside a finalizer or a weakref
callback that the garbage collector happens to call; an exception raised there is printed as
"Exception ignored in: ..." and dropped, and the command would go on as if never stopped. So the
handler also records the request, long loops (a training epoch's steps) call
:func:`raise_if_requested`, and :func:`quiet_unraisable` (a ``sys.unraisablehook``) keeps the
dropped interrupt from printing a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

_requested = False


def request_stop(signum: int, frame: object) -> None:
    """A signal handler: record the stop, then raise KeyboardInterrupt where the program is."""
    global _requested
    _requested = True
    raise KeyboardInterrupt


def raise_if_requested() -> None:
    """Raise KeyboardInterrupt if a stop was asked for (one a finalizer may have swallowed)."""
    if _requested:
        raise KeyboardInterrupt


def clear() -> None:
    """Forget a request (a command starts afresh, also a second one in the same process)."""
    global _requested
    _requested = False


def quiet_unraisable(unraisable: Any) -> None:
    """``sys.unraisablehook``: a requested stop dropped inside a finalizer is kept by the flag
    and raised by the next :func:`raise_if_requested`, so it prints nothing; anything else goes
    to Python's default hook."""
    if _requested and issubclass(unraisable.exc_type, KeyboardInterrupt):
        return
    sys.__unraisablehook__(unraisable)
