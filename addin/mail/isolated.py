"""Run one file's work in a child process, so a crash there is that file's failure only.

A hostile workbook can kill the process that reads it outright (a native library aborting on an
absurd allocation exits with SIGABRT, status 134): no Python ``except`` sees that. Running the
read in a forked child turns it into :class:`IsolatedCrashError` for that file, while the
batch goes on.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

T = TypeVar("T")


class IsolatedCrashError(RuntimeError):
    """The child process died or ran out of time without an answer."""


def _child(conn: Connection, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        answer: tuple[str, Any] = ("ok", func(*args))
    except BaseException as exc:  # every failure goes back to the parent
        answer = ("error", exc)
    try:
        conn.send(answer)
    except Exception as exc:  # the result or the exception would not pickle
        conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    conn.close()


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(code).name
    except ValueError:
        return f"signal {code}"


def run_isolated(func: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
    """``func(*args)`` computed in a forked child; its exception re-raised here.

    Raises IsolatedCrashError when the child dies (a signal, an abort) or ``timeout`` seconds
    pass first (the child is then killed).
    """
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(send, func, args), daemon=True)
    process.start()
    send.close()
    try:
        if not receive.poll(timeout):
            process.kill()
            raise IsolatedCrashError(f"gave up after {timeout:g} s")
        kind, value = receive.recv()
    except EOFError:
        process.join(5)
        code = process.exitcode
        if code is not None and code < 0:
            raise IsolatedCrashError(f"the reader crashed ({_signal_name(-code)})") from None
        raise IsolatedCrashError(f"the reader stopped without an answer (exit {code})") from None
    finally:
        receive.close()
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
    if kind == "error":
        raise value
    result: T = value
    return result
