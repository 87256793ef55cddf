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

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
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


def ignored(signum: int) -> bool:
    """Whether the process ignores ``signum`` (SIG_IGN), as it was started: lae keeps that."""
    return signal.getsignal(signum) is signal.SIG_IGN


# a closed terminal's signal, where the system has one: a stop like SIGTERM
HANGUP = (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT), SIGTERM and SIGHUP until the block ends, then raise
    KeyboardInterrupt.

    An interrupt inside torch.save lands in the middle of its zip writer, whose cleanup then
    fails with an error of its own (a traceback instead of "interrupted") and leaves a
    half-written temporary file; one inside an import of torch or numpy leaves a half-imported
    module (a RecursionError). A checkpoint write and the CLI's start-up (:mod:`lae.launcher`)
    take seconds at most, so they are let finish. A signal the process ignores stays ignored.
    Signals can only be handled in the main thread: elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    # a signal the environment set to be ignored (as a shell does for a script's background
    # jobs) stays ignored
    held = [s for s in (signal.SIGINT, signal.SIGTERM, *HANGUP) if not ignored(s)]
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if caught:
        raise KeyboardInterrupt
