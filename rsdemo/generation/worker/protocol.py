"""What crosses the pipe between the app and a worker process: messages, events, errors as plain data.

The pipe is a ``multiprocessing.connection.Connection`` over a socket pair (pickled messages). The app sends
the worker's configuration first (``{"engine", "key", "path", "settings", "contexts"}``, after an optional
``{"read_tokenizer", "settings"}``); the worker answers ``("ready", info)`` or ``("failed", error)``. Then the app
sends ``("run", id, DecodeJob)``, ``("generate", id, request)``, ``("logits", id, ids, start)``,
``("cancel", id)`` and ``("close",)``; the worker sends ``(id, kind, payload)`` events: ``token`` / ``tokens`` /
``result`` / ``tick``, then ``end``, ``error`` or ``logits``. Errors cross as ``describe``'s tuple, and rsdemo's
own keep their class on the app's side (``rebuild``).

>>> sorted(ERRORS)[:2]
['AssetIntegrityError', 'AssetMissingError']
>>> err = rebuild(describe(errors.InputError("Too long.", field="prompt")))
>>> type(err).__name__, str(err), err.field
('InputError', 'Too long.', 'prompt')
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from ...core import errors

__all__ = ["ERRORS", "Connection", "Replies", "describe", "rebuild"]

ERRORS = {
    name: cls for name, cls in vars(errors).items() if isinstance(cls, type) and issubclass(cls, errors.RsdemoError)
}


def describe(err: BaseException) -> tuple[str, str, str, bool]:
    """An exception as plain data for the pipe: class name, message, field, and whether the machine is the cause
    (``EngineFailedError.machine``)."""
    return type(err).__name__, str(err), getattr(err, "field", ""), getattr(err, "machine", False)


def rebuild(described: tuple[Any, ...]) -> BaseException:
    """The app-side exception for a described one: rsdemo's own errors keep their class, others become RuntimeError."""
    name, message, field, machine = (*described, False)[:4]
    cls = ERRORS.get(name)
    if cls is None:
        return RuntimeError(f"{name}: {message}")
    if cls is errors.EngineFailedError:
        return cls(message, field=field, machine=machine)
    return cls(message, field=field) if field else cls(message)


class Replies:
    """The worker's side of the pipe, shared by its run threads: one event at a time, errors described.

    When the app has gone (the pipe broke), the run that tried to answer is cancelled (``on_lost(run_id)``).
    """

    def __init__(self, conn: Connection, *, on_lost: Callable[[int], None]) -> None:
        self.conn = conn
        self._lock = threading.Lock()
        self._on_lost = on_lost

    def send(self, run_id: int, kind: str, payload: Any) -> None:
        if kind == "error":
            payload = describe(payload)
        try:
            with self._lock:
                self.conn.send((run_id, kind, payload))
        except OSError:  # the app is gone
            self._on_lost(run_id)
