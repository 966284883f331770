"""Stopping the main thread like Ctrl-C, but only where unwinding is safe.

A KeyboardInterrupt raised at an arbitrary bytecode can land in two places that break the run:
- inside an import: a C extension cut off halfway (torch) stays half-registered, so its next
  import fails ("duplicate registrations") or the process aborts (SIGABRT, seen in CI);
- inside a `__del__`: Python prints "Exception ignored" and drops it, so the stop request is lost
  and the eval runs to the end.
There the request is retried a moment later instead, which costs at most one import's duration.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

RETRY_SEC = 0.05
_IMPORT_MACHINERY = frozenset({"<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>"})

_terminated = False


def terminated() -> bool:
    """Whether a SIGTERM asked this process to stop."""
    return _terminated


def unsafe_to_unwind(frame: FrameType | None) -> bool:
    """Whether an exception raised in `frame` would be lost or leave a module half-imported."""
    while frame is not None:
        code = frame.f_code
        if code.co_filename in _IMPORT_MACHINERY or code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _terminated
    _terminated = True
    if unsafe_to_unwind(frame):
        retry = threading.Timer(RETRY_SEC, os.kill, (os.getpid(), signum))
        retry.daemon = True
        retry.start()
        return
    raise KeyboardInterrupt


def install_sigterm_handler() -> None:
    """SIGTERM unwinds like Ctrl-C (so Inspect cancels cleanly and `finally` blocks run) instead of
    the default action, which would kill the process mid-write. Call from the main thread."""
    signal.signal(signal.SIGTERM, _on_sigterm)


def enable_sigint() -> object:
    """Make SIGINT raise KeyboardInterrupt in the main thread (what ``interrupt_main_when_safe`` sends);
    returns the handler it replaced. A process started in the background by a shell, or under nohup,
    inherits SIGINT ignored, and a preemption would then be lost. Call from the main thread."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is threading.main_thread() and previous in (signal.SIG_IGN, signal.SIG_DFL, None):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return previous


def restore_sigint(previous: object) -> None:
    if threading.current_thread() is threading.main_thread() and previous in (signal.SIG_IGN, signal.SIG_DFL):
        signal.signal(signal.SIGINT, previous)  # type: ignore[arg-type]


def interrupt_main_when_safe(give_up: threading.Event) -> bool:
    """From another thread: interrupt the main thread like Ctrl-C as soon as it is not importing
    or finalizing, unless `give_up` is set first. A small race remains: the main thread may enter
    an import between the check and the interrupt."""
    main = threading.main_thread().ident
    assert main is not None  # the main thread is always running
    while not give_up.is_set():
        if not unsafe_to_unwind(sys._current_frames().get(main)):
            # A real SIGINT, not _thread.interrupt_main(): that one waits out a blocking call.
            signal.pthread_kill(main, signal.SIGINT)
            return True
        give_up.wait(RETRY_SEC)
    return False


# AnyIO stops its idle worker threads when its event loop ends; an interrupt that unwinds the loop
# leaves them waiting on their queues. They are not daemon threads, so the interpreter would wait
# for them forever at exit (seen: a SIGTERM at the end of an eval, the command hung after
# "terminated").
_ANYIO_WORKER = "AnyIO worker thread"


def exit_past_orphaned_workers(code: int) -> None:
    """Exit with ``code`` now if an interrupted event loop left AnyIO's workers behind (exit handlers
    run first, as at a normal exit); otherwise return, for the usual exit."""
    if not any(thread.name == _ANYIO_WORKER and thread.is_alive() for thread in threading.enumerate()):
        return
    import atexit

    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)
