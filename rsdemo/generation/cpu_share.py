"""How many threads a transformers run uses, and whether the app has light requests in flight.

**Threads.** A transformers step splits each operation across a team of threads that meet at a barrier after
it (hundreds per step). Whether a team beats one thread depends on the model, the CPU and what else runs: on
the embedded 135M model one thread was as fast as two on an idle 2-core machine and twice as fast beside a
build, while a larger model gains from every core. So ``ThreadTuner`` measures it, per run: it times a window of
steps with every core (``most``) and a window with one thread, keeps the faster, and asks again every
``every`` steps (what else runs changes). Nothing here is tuned to one CPU.

**Light requests.** The app counts its light requests in flight (tokenize, compare, decode, the Inside tab) in
a page of shared memory (``LightSignal``, a ``memfd`` the worker processes map too): a worker gives way to them
(its autogroup at nice 19, its threads under ``SCHED_IDLE``) only once there are some, and otherwise takes its
fair share of the machine, so a build or another tenant's batch job does not starve a generation the way
``SCHED_IDLE`` from the first token did.

>>> clock = {"t": 0.0}
>>> speed = {2: 0.02, 1: 0.01}  # seconds per step: one thread is faster here
>>> tuner = ThreadTuner(most=2, window=3, every=12, now=lambda: clock["t"])
>>> seen = []
>>> for _ in range(26):
...     n = tuner.threads(); seen.append(n); clock["t"] += speed[n]
>>> "".join(map(str, seen))  # the prompt; 3 steps timed with 2, 3 with 1: 1 wins; timed again 12 steps later
'22221111111111111112221111'
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
import statistics
import struct
import threading
import time
from collections.abc import Callable, Iterator

__all__ = ["LightSignal", "ThreadTuner"]

_LAYOUT = struct.Struct("=qq")  # light requests in flight, CLOCK_MONOTONIC ns of the last change


class ThreadTuner:
    """The threads one run uses for its next step: ``most`` or 1, whichever its own steps show to be faster.

    Call ``threads()`` before each step. The first call (the prompt) is not timed; then ``window`` steps run with
    ``most`` threads and ``window`` with one, and the one with the shorter median step keeps the run for ``every``
    steps before both are timed again.
    """

    def __init__(self, *, most: int, window: int = 4, every: int = 48,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.most = max(1, most)
        self._window, self._every, self._now = max(1, window), max(1, every), now
        self._last: float | None = None
        self._current = self.most
        self._plan: list[int] = []  # the thread counts of the steps being timed, in order
        self._times: dict[int, list[float]] = {}
        self._steps = 0
        self._settled_at = 0

    def threads(self) -> int:
        at = self._now()
        if self._last is not None and self._steps > 1 and self._timing:
            self._times.setdefault(self._timing, []).append(at - self._last)
        self._last = at
        self._steps += 1
        if self.most == 1:
            return 1
        if not self._plan and self._timing:  # both windows timed: keep the faster
            self._current = min(self._times, key=lambda n: statistics.median(self._times[n]))
            self._timing, self._times, self._settled_at = 0, {}, self._steps
        if not self._plan and not self._timing and (self._steps == 2 or
                                                    self._steps - self._settled_at >= self._every):
            self._plan = [self.most] * self._window + [1] * self._window
        if self._plan:
            self._timing = self._plan.pop(0)
            return self._timing
        return self._current

    _timing = 0  # the thread count of the step now being timed (0: none)


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
