"""SIGTERM and SIGHUP end ``qwen`` the way Ctrl-C does, then exit with 128 + the signal.

The handler raises :class:`~qwen_cli.errors.Terminated`, a ``KeyboardInterrupt``, so every
path that keeps a partial answer on Ctrl-C keeps it here too (stored as interrupted).
Only the first signal raises: later ones are noted and ignored, so the cleanup that stores
the partial answer is not cut short by a second ``kill``. A signal that lands while the
store is writing waits (a few milliseconds at a time) until the write is done. After a
real hang-up the terminal is gone: what ``qwen`` still has to say goes nowhere instead of
failing (:func:`_replace_dead_terminal`).

:func:`received` tells ``main()`` (and the chat loop) that the process is on its way out.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from qwen_cli.errors import Terminated

_STORE_CODE = os.path.join("qwen_cli", "store", "")
_RETRY_S = 0.01
_received: int | None = None


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """SIGTERM and SIGHUP (where the platform has them) handled inside the block; the
    previous handlers come back after it. Outside the main thread, nothing changes."""
    global _received
    _received = None
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = [n for n in ("SIGTERM", "SIGHUP", "SIGALRM") if hasattr(signal, n)]
    saved = {n: signal.getsignal(getattr(signal, n)) for n in names}
    for name in ("SIGTERM", "SIGHUP"):
        if name in saved:
            signal.signal(getattr(signal, name), _on_signal)
    try:
        yield
    finally:
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
        for name, previous in saved.items():
            signal.signal(getattr(signal, name), previous if previous is not None else signal.SIG_DFL)


def received() -> int | None:
    """The number of the SIGTERM/SIGHUP that arrived, if one did."""
    return _received


def pending() -> Terminated | None:
    """The exception to end with, once a signal arrived (for loops that would go on)."""
    return None if _received is None else Terminated(_received)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _received
    if _received is not None:
        return  # already on the way out: let the partial answer be stored
    _received = signum
    if signum == getattr(signal, "SIGHUP", None):
        _replace_dead_terminal()
    if _in_store(frame) and hasattr(signal, "setitimer"):
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, _RETRY_S)
        return
    raise Terminated(signum)


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    if _received is None:
        return
    if _in_store(frame):
        signal.setitimer(signal.ITIMER_REAL, _RETRY_S)
        return
    raise Terminated(_received)


def _in_store(frame: FrameType | None) -> bool:
    """Is the store's code running (a write must not be cut in half)?"""
    while frame is not None:
        if _STORE_CODE in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def _replace_dead_terminal() -> None:
    """After a real hang-up every write to the terminal (and every terminal setting restored on
    the way out) fails with EIO, which would cut the cleanup short and lose the partial
    answer. Put a private pseudo-terminal, drained by a thread, in its place. A terminal that
    still answers (``kill -HUP`` from elsewhere) is left alone."""
    dead = [fd for fd in (0, 1, 2) if _hung_up(fd)]
    if not dead:
        return
    try:
        master, slave = os.openpty()
    except OSError:  # pragma: no cover - no ptys left
        return
    for fd in dead:
        os.dup2(slave, fd)
    os.close(slave)
    threading.Thread(target=_drain, args=(master,), name="qwen-hangup", daemon=True).start()


def _hung_up(fd: int) -> bool:
    try:
        import termios

        termios.tcgetattr(fd)
    except ImportError:  # pragma: no cover - no terminals to speak of (Windows)
        return False
    except termios.error as exc:
        return bool(exc.args) and exc.args[0] == errno.EIO
    except (OSError, ValueError):
        return False
    return False


def _drain(fd: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(fd, 65536):
            pass
