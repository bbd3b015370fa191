"""Who may run a generation now: the process's slots, a first-come line for them, each visitor's runs.

At most ``settings.generation_slots`` runs hold a slot at once; the others wait in line, first come first served,
told how many runs are ahead of them, for at most ``run_time_limit_s``. A visitor has at most
``runs_per_visitor`` runs: a newer one stops their oldest. Runs on the operator's server hold no slot but one
of ``remote_streams`` streams (the server does the batching).

>>> from rsdemo.core.settings import Settings
>>> admission = Admission(Settings.from_env({}))  # two generation slots
>>> with admission.slot():
...     admission.free_slots
1
>>> admission.free_slots, admission.running
(2, 0)
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Iterator

from ..core.errors import CapacityError, InputError
from ..core.settings import Settings

__all__ = ["Admission"]

_STOPPED = "The generation was stopped before it started."


class Admission:
    """The generation slots, the line for them, the runs of each visitor and the streams to a server.

    Args:
        settings: ``generation_slots``, ``runs_per_visitor``, ``run_time_limit_s`` and ``remote_streams``.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._slots = threading.Condition()  # guards the free-slot count and the waiting line
        self._free_slots = settings.generation_slots
        self._waiting: collections.deque[object] = collections.deque()
        self._runs: dict[str, list[threading.Event]] = {}  # visitor -> cancel flags of their runs, oldest first
        self._runs_lock = threading.Lock()
        self._remote_slots = threading.BoundedSemaphore(max(1, settings.remote_streams))

    @property
    def free_slots(self) -> int:
        """How many generation slots are free now."""
        with self._slots:
            return self._free_slots

    def stop(self, *, visitor: str) -> int:
        """Stop every generation of ``visitor`` at its next token; returns how many were running."""
        with self._runs_lock:
            flags = list(self._runs.get(visitor, ()))
        for flag in flags:
            flag.set()
        return len(flags)

    @property
    def running(self) -> int:
        """How many generations are running (or waiting for a slot) now."""
        with self._runs_lock:
            return sum(len(flags) for flags in self._runs.values())

    @contextlib.contextmanager
    def visitor_run(self, visitor: str, cancel: threading.Event) -> Iterator[None]:
        """Register a run; a visitor over ``runs_per_visitor`` has their oldest runs stopped."""
        with self._runs_lock:
            flags = self._runs.setdefault(visitor, [])
            flags.append(cancel)
            older = flags[: max(0, len(flags) - max(1, self.settings.runs_per_visitor))]
        for flag in older:
            flag.set()
        try:
            yield
        finally:
            with self._runs_lock:
                flags = self._runs.get(visitor, [])
                if cancel in flags:
                    flags.remove(cancel)
                if not flags:
                    self._runs.pop(visitor, None)

    def wait_for_slot(self, cancel: threading.Event) -> Iterator[int]:
        """Wait, first come first served, for one of the ``generation_slots``; yields how many runs are ahead.

        Returns holding the slot (give it back with ``release_slot``). A run stopped while it waits never starts.

        Raises:
            InputError: the run was stopped while waiting.
            CapacityError: no slot came free within ``run_time_limit_s``.
        """
        ticket = object()
        deadline = time.monotonic() + self.settings.run_time_limit_s
        shown = None
        with self._slots:
            self._waiting.append(ticket)
        try:
            while True:
                with self._slots:
                    if self._free_slots > 0 and self._waiting[0] is ticket:
                        self._waiting.popleft()
                        self._free_slots -= 1
                        return
                    ahead = self._waiting.index(ticket)  # runs waiting before this one
                    self._slots.wait(0.25)
                if cancel.is_set():
                    raise InputError(_STOPPED)
                if time.monotonic() > deadline:
                    raise CapacityError("Every generation slot has been busy for too long. Try again in a minute.")
                if ahead != shown:
                    shown = ahead
                    yield ahead
        finally:
            with self._slots:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._slots.notify_all()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a generation slot for model work that does not stream its place in line (the insight views)."""
        for _ahead in self.wait_for_slot(threading.Event()):
            pass
        try:
            yield
        finally:
            self.release_slot()

    def release_slot(self) -> None:
        """Give back a slot ``wait_for_slot`` returned holding."""
        with self._slots:
            self._free_slots += 1
            self._slots.notify_all()

    @contextlib.contextmanager
    def remote_stream(self, cancel: threading.Event) -> Iterator[None]:
        """Hold one of the ``remote_streams`` streams to the operator's server while the block runs.

        Raises:
            InputError: the run was stopped while waiting.
            CapacityError: no stream came free within ``run_time_limit_s``.
        """
        deadline = time.monotonic() + self.settings.run_time_limit_s
        while not self._remote_slots.acquire(timeout=0.25):
            if cancel.is_set():
                raise InputError(_STOPPED)
            if time.monotonic() > deadline:
                raise CapacityError("Every stream to the serving engine has been busy for too long.")
        try:
            yield
        finally:
            self._remote_slots.release()
