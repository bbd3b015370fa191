"""The priorities of generation's threads: a lowered nice value or ``SCHED_IDLE``, the autogroup's nice, the
kernel's shortest time slice (Linux; elsewhere each does nothing).

Generation takes the CPU that the app's light requests (tokenize, compare, decode) leave idle: a run's threads
go to ``generation_nice`` or under ``SCHED_IDLE`` (``lower_priority``, ``lower_all_but``); a worker process in
a session of its own sets its autogroup's nice as work comes and goes (``Autogroup``); its threads ask for a
0.1 ms time slice (``short_slice``). The package's docstring (``rsdemo.generation.worker``) says why.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Collection

__all__ = [
    "LIGHT_HOLD_S",
    "SHORT_SLICE_NS",
    "Autogroup",
    "lower_all_but",
    "lower_priority",
    "name_thread",
    "own_session",
    "short_slice",
]

log = logging.getLogger(__name__)

LIGHT_HOLD_S = 0.5  # a worker keeps giving way this long after the app's last light request (requests come in bursts)


def lower_priority(nice: int, *, idle: bool = False, tid: int | None = None) -> None:
    """Lower this thread's CPU priority (Linux: threads are tasks with their own nice value and policy).

    Generation then takes the CPU that light requests leave idle instead of competing with them; the
    threads torch or llama.cpp start for this thread's parallel work inherit it. ``idle``: Linux's
    ``SCHED_IDLE`` policy (only CPU time no other task wants) instead of a nice value. Elsewhere it does
    nothing. Only lowering is allowed without privileges: a thread cannot get its priority back. ``tid``:
    another thread of this process instead.
    """
    tid = tid or threading.get_native_id()
    if idle and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
            return
        except OSError:  # not permitted here (or the thread has ended): the nice value instead
            pass
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError:  # not permitted here, or the thread has ended: it keeps its priority
        pass


class Autogroup:
    """This worker's session's share of the CPU (Linux's autogroup): nice 19 while the app has light requests in
    flight (``busy``) and no run reads its prompt; else 0, a fair share of the machine.

    ``enter()`` when a run starts (or a view asks for logits), ``leave()`` once it has its first token (or ends
    without one); ``hold()`` is ``enter()`` and returns a ``leave`` that counts once, however often called.
    ``govern()`` starts a thread that follows ``busy`` (every 20 ms). The kernel lets anyone set their own
    group's nice between 0 and 19, up and down, but only once per 100 ms machine-wide (``EAGAIN``): a change
    refused for that is tried again 0.11 s later, with whatever is wanted by then. Where there is no
    ``/proc/self/autogroup`` it does nothing.

    >>> app = {"busy": True}
    >>> group = Autogroup(path=None, busy=lambda: app["busy"])
    >>> group.enter(); group.wanted
    0
    >>> group.leave(); group.wanted
    19
    >>> app["busy"] = False; group.wanted
    0
    """

    IDLE_NICE = 19

    def __init__(self, *, path: str | None = "/proc/self/autogroup", busy: Callable[[], bool] = lambda: True) -> None:
        self._busy = busy
        self._path = path if path and os.path.exists(path) else None
        self._lock = threading.Lock()
        self._reading = 0
        self._applied: int | None = None
        self._retry: threading.Timer | None = None

    @property
    def wanted(self) -> int:
        return self.IDLE_NICE if not self._reading and self._busy() else 0

    governor = 0  # the native id of the thread ``govern`` started (0: none); runs never lower it

    def govern(self, every_s: float = 0.02) -> None:
        """Follow the app's light requests from a daemon thread (nothing to do without an autogroup), named
        ``rsdemo-govern`` for ``ps``."""
        if self._path is None:
            return
        started = threading.Event()

        def follow() -> None:
            self.governor = threading.get_native_id()
            name_thread(b"rsdemo-govern")
            started.set()
            while True:
                time.sleep(every_s)
                self.apply()

        threading.Thread(target=follow, name="rsdemo-govern", daemon=True).start()
        started.wait(5)

    def enter(self) -> None:
        with self._lock:
            self._reading += 1
        self.apply()

    def leave(self) -> None:
        with self._lock:
            self._reading = max(0, self._reading - 1)
        self.apply()

    def hold(self) -> Callable[[], None]:
        """``enter()`` now; the returned function ``leave()``s on its first call and does nothing after."""
        self.enter()
        left = threading.Event()

        def release() -> None:
            if not left.is_set():
                left.set()
                self.leave()

        return release

    def apply(self, *, retried: bool = False) -> None:
        """Set the group's nice to what the runs want now (later, if the kernel says too soon)."""
        with self._lock:
            if retried:
                self._retry = None
            wanted = self.wanted
            if self._path is None or wanted == self._applied:
                return
            try:
                self._write(wanted)
                self._applied = wanted
            except OSError as err:
                if err.errno == errno.EAGAIN and self._retry is None:
                    self._retry = threading.Timer(0.11, self.apply, kwargs={"retried": True})
                    self._retry.daemon = True
                    self._retry.start()
                elif err.errno != errno.EAGAIN:  # not allowed here: the group keeps its nice
                    log.debug("autogroup nice %d refused: %s", wanted, err)
                    self._path = None

    def _write(self, nice: int) -> None:
        with open(self._path, "w") as f:  # type: ignore[arg-type]
            f.write(str(nice))


def name_thread(name: bytes) -> None:
    """The calling thread's name as the kernel shows it (``/proc/.../comm``; Linux ``prctl(PR_SET_NAME)``)."""
    import ctypes

    try:
        ctypes.CDLL(None).prctl(15, name[:15], 0, 0, 0)
    except (OSError, AttributeError):
        pass


_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}  # the syscall's number; Python has no binding for it
SHORT_SLICE_NS = 100_000  # the shortest time slice the kernel allows (0.1 ms)


def short_slice() -> bool:
    """Ask the kernel (Linux 6.12+, EEVDF) for the shortest time slice for this thread and every thread it starts.

    A task that wakes on a core where a worker thread runs takes the core once the worker's slice is over: with
    0.1 ms instead of the default (0.7-3 ms) the app's and other sessions' threads wait less behind a decode.
    ``sched_setattr`` with ``sched_runtime`` (SCHED_OTHER keeps the slice through a later nice value or
    ``SCHED_IDLE``, and threads inherit it); needs no privilege. False where it is not available.
    """
    import ctypes
    import platform

    number = _SCHED_SETATTR.get(platform.machine())
    if number is None or not sys.platform.startswith("linux"):
        return False

    class SchedAttr(ctypes.Structure):
        _fields_ = [
            ("size", ctypes.c_uint32),
            ("policy", ctypes.c_uint32),
            ("flags", ctypes.c_uint64),
            ("nice", ctypes.c_int32),
            ("priority", ctypes.c_uint32),
            ("runtime", ctypes.c_uint64),
            ("deadline", ctypes.c_uint64),
            ("period", ctypes.c_uint64),
        ]

    attr = SchedAttr(
        size=ctypes.sizeof(SchedAttr),
        policy=os.SCHED_OTHER,
        nice=os.getpriority(os.PRIO_PROCESS, 0),
        runtime=SHORT_SLICE_NS,
    )
    try:
        return ctypes.CDLL(None, use_errno=True).syscall(number, 0, ctypes.byref(attr), 0) == 0
    except (OSError, AttributeError):
        return False


def own_session(busy: Callable[[], bool]) -> Autogroup:
    """Leave the app's session for one of its own (its own autogroup); its nice is set as work comes and goes."""
    try:
        os.setsid()
    except (AttributeError, OSError):  # not POSIX, or already a session leader
        return Autogroup(path=None)
    return Autogroup(busy=busy)


def lower_all_but(keep: Collection[int], nice: int, idle: bool) -> None:
    """Lower every thread of this process but ``keep`` (the one reading the pipe, the autogroup's governor): the
    runs' own, and the OpenMP teams llama.cpp and torch started from them."""
    for task in os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else ():
        if int(task) not in keep:
            lower_priority(nice, idle=idle, tid=int(task))
