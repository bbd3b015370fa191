"""Whether the app has light requests in flight, in shared memory its generation workers read.

The app counts its light requests in flight (tokenize, compare, decode, the Inside tab) in a page of shared
memory (``LightSignal``, a ``memfd`` the worker processes map too). A worker gives way to them (its autogroup at
nice 19, its threads under ``SCHED_IDLE``) only once there are some, and otherwise takes its fair share of the
machine: a build or another tenant's batch job no longer starves a generation the way ``SCHED_IDLE`` from the
first token did (0.29 tokens/s beside a compile, where a fair share gives half the idle speed).

>>> signal = LightSignal.create()
>>> with signal.light():
...     signal.busy(hold_s=0.0)
True
>>> signal.busy(hold_s=0.0), signal.busy(hold_s=60.0)
(False, True)
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import threading
import time
from collections.abc import Iterator

__all__ = ["LightSignal"]

_LAYOUT = struct.Struct("=qq")  # light requests in flight, CLOCK_MONOTONIC ns of the last change


class LightSignal:
    """Light requests in flight in the app, in shared memory a worker process maps too (``fd`` crosses to it).

    The app (the only writer) counts requests in and out under its lock; a worker reads the count and the time of
    the last change, so it can keep giving way for ``hold_s`` after a burst (requests come in bursts; the kernel
    lets a group's nice change only every 100 ms).
    """

    def __init__(self, fd: int, *, owner: bool) -> None:
        self.fd = fd
        self._map = mmap.mmap(fd, _LAYOUT.size)
        self._owner = owner
        self._lock = threading.Lock()

    _shared: LightSignal | None = None
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls) -> LightSignal | None:
        """This process's signal (the app's: one per process, made on first use), or None where there is none."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls.create()
            return cls._shared

    @classmethod
    def create(cls) -> LightSignal | None:
        """A new signal (the app's), or None where there is no ``memfd`` (not Linux)."""
        if not hasattr(os, "memfd_create"):
            return None
        fd = os.memfd_create("rsdemo-light", os.MFD_CLOEXEC)  # workers get it through pass_fds
        os.ftruncate(fd, _LAYOUT.size)
        return cls(fd, owner=True)

    @contextlib.contextmanager
    def light(self) -> Iterator[None]:
        """Count one light request in flight while the block runs."""
        self._add(1)
        try:
            yield
        finally:
            self._add(-1)

    def _add(self, delta: int) -> None:
        with self._lock:
            count, _ = _LAYOUT.unpack_from(self._map, 0)
            _LAYOUT.pack_into(self._map, 0, max(0, count + delta), time.monotonic_ns())

    def busy(self, *, hold_s: float) -> bool:
        """Light requests are in flight, or the last one ended less than ``hold_s`` ago."""
        count, changed = _LAYOUT.unpack_from(self._map, 0)
        return count > 0 or (changed > 0 and time.monotonic_ns() - changed < hold_s * 1e9)
