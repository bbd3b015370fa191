"""Generation in worker processes of their own, at a low CPU priority: llama.cpp's decode loop, transformers' runs.

Why: generation does Python work for every token (the softmax, transformers' decoding stages, the draw, the
alternatives; transformers' whole ``generate`` loop). On a thread of the app that work takes the app's one
interpreter lock, and a thread holding it at a low priority stalls every tokenize / compare / decode request
behind it: on 2 cores two generations cut the light throughput to 55-70 % (``benchmarks/README.md``). In a child
process generation has an interpreter of its own, and the kernel's priorities work: each run reads its prompt
and draws its first token at ``generation_nice`` (``generation_boost``: at the app's priority), then its threads
(its own, and the OpenMP teams llama.cpp and torch started from it) go under ``SCHED_IDLE``
(``generation_idle``, the default) or stay at the nice value, so the rest of the run takes only the CPU that
light requests leave idle. Where Linux's autogroup scheduler is on (a desktop, a VM; not inside a container's
cgroup), the CPU is first shared between sessions and only then between the tasks of one: a worker in the
app's session gets its ``SCHED_IDLE`` time out of the app's share, so with other sessions busy (a browser, or
load-test clients on the same machine) it still took CPU the app wanted. With ``generation_idle`` the worker
therefore starts a session of its own and sets its group's nice (``/proc/self/autogroup``, which needs no
privilege): 0 while it loads its model, while a run reads its prompt (a long prompt is read at the group's
full weight) or a view asks for logits, 19 once every run has its first token (``_Autogroup``). Its threads
also ask for the kernel's shortest time slice (``_short_slice``, 0.1 ms): a task that wakes on a core a
decode holds waits at most about that long when the two are in different groups (instead of up to the
default slice, 1.4 ms on the 2-core machine measured). Without ``generation_idle`` it stays in the app's
session, where its nice values count against the app's threads.

One worker per loaded model. llama.cpp's (``LlamaCppWorkerModel``) loads the same GGUF file (memory-mapped, so
the page cache is shared) and the tokenizer, and runs one thread per run, as many at once as there are
generation slots; the app keeps the tokenizer too (it builds the prompt and names the alternatives), sends each
run as a ``DecodeJob`` and reads the same events the thread version yields: ``token`` per token, then ``end``
or ``error``. transformers' (``TransformersWorker``) loads its own copy of the model and runs
``generate_stream`` whole; streamed updates cross as their new tokens only (a whole update when a beam search's
leading candidate changes), and a ``tick`` a second tells the app the run is alive. Stop, a visitor leaving and
the time limit reach the child as a ``cancel`` message. The child ends with the app: when the app exits or is
killed, the kernel closes the app's end of the pipe and the child's read ends (``PR_SET_PDEATHSIG`` would not
do: it fires when the *thread* that started the child ends, and Gradio's worker threads come and go). A worker
that dies mid-run fails that run with a clear message, and the next run starts a new one.

>>> sorted(_ERRORS)[:2]
['AssetMissingError', 'CapacityError']
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import itertools
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ..core import errors
from ..core.children import python_module
from ..core.errors import InputError
from ..core.settings import Settings
from .engine_check import crash, signal_name
from .light_signal import LightSignal

__all__ = ["DecodeWorker", "PROCESS_BYTES", "TransformersWorker", "discard", "read_tokenizer_first", "spawn"]

log = logging.getLogger(__name__)

SPIN_COUNT = 20_000  # GOMP_SPINCOUNT for the workers: see ``spawn``
PROCESS_BYTES = (
    640 * 1024 * 1024
)  # a worker's own memory (Python, torch, transformers, the tokenizer), measured ~0.5 GiB
LIGHT_HOLD_S = 0.5  # a worker keeps giving way this long after the app's last light request (requests come in bursts)
_START_TIMEOUT_S = 120.0
_STALL_S = 60.0
_POLL_S = 0.1  # how often a waiting run looks at its Stop button
_LABELS = {"llamacpp": "llama.cpp's worker process", "transformers": "transformers' worker process"}
_ERRORS = {
    name: cls for name, cls in vars(errors).items() if isinstance(cls, type) and issubclass(cls, errors.RsdemoError)
}


def _describe(err: BaseException) -> tuple[str, str, str, bool]:
    """An exception as plain data for the pipe: class name, message, field, and whether the machine is the cause
    (``EngineFailedError.machine``)."""
    return type(err).__name__, str(err), getattr(err, "field", ""), getattr(err, "machine", False)


def _rebuild(described: tuple[Any, ...]) -> BaseException:
    """The app-side exception for a described one: rsdemo's own errors keep their class, others become RuntimeError."""
    name, message, field, machine = (*described, False)[:4]
    cls = _ERRORS.get(name)
    if cls is None:
        return RuntimeError(f"{name}: {message}")
    if cls is errors.EngineFailedError:
        return cls(message, field=field, machine=machine)
    return cls(message, field=field) if field else cls(message)


def spawn(engine: str) -> tuple[subprocess.Popen, Connection]:
    """Start a worker process (it imports its engine's libraries at once) and the app's end of its pipe.

    ``DecodeWorker(spawned=...)`` then tells it what to load: a caller may start it first and load its own copy
    of the model meanwhile. ``discard`` stops one that is not wanted after all.
    """
    ours, theirs = socket.socketpair()
    env = dict(os.environ)
    # OpenMP threads that wait at a barrier spin a little (about 0.1-0.5 ms), then sleep: a sleeping thread costs a
    # wake-up at each of a token's hundreds of barriers (OMP_WAIT_POLICY=PASSIVE made runs 3x slower on the VMs
    # measured), an unbounded spin burns the CPU of a team whose teammate is off its core. (A thread count that
    # follows the load was tried and left out: torch's results then change in their last bits with the load.)
    env.setdefault("GOMP_SPINCOUNT", str(SPIN_COUNT))
    env.setdefault("KMP_BLOCKTIME", "1")  # the same for LLVM's OpenMP (milliseconds)
    signal = LightSignal.shared()
    fds = (theirs.fileno(), *((signal.fd,) if signal is not None else ()))
    try:
        # started in the app's session; with generation_idle it moves to one of its own once told its model
        # (``_own_session``), without it it stays: there its nice values count against the app's threads
        process = subprocess.Popen(
            python_module(
                "rsdemo.generation.decode_worker",
                str(theirs.fileno()),
                engine,
                str(signal.fd if signal is not None else -1),
            ),
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            env=env,
        )
    finally:
        theirs.close()
    return process, Connection(ours.detach())


def read_tokenizer_first(spawned: tuple[subprocess.Popen, Connection], *, key: str, settings: Settings) -> None:
    """Have a spawned llama.cpp worker read ``key``'s tokenizer out of its GGUF file (and save it into the cache,
    ``loading.gguf_tokenizer``) before it is told its model: the app converts the weights meanwhile."""
    with contextlib.suppress(OSError):  # a worker that has gone already fails at its start, with its reason
        spawned[1].send({"read_tokenizer": key, "settings": settings})


def discard(spawned: tuple[subprocess.Popen, Connection]) -> None:
    """Stop a spawned worker that was never given a model (closing its pipe ends it)."""
    process, conn = spawned
    conn.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


class DecodeWorker:
    """The app's side of one worker process: start it, send runs, read their events, stop it.

    Args:
        key: the catalog key of the GGUF model (``engine="transformers"``: a catalog key or a Hub ref).
        path: the GGUF file (llama.cpp only).
        settings: the app's settings (the cache directory, the nice value, the slots).
        contexts: runs at once (one llama.cpp context each).
        engine: ``llamacpp`` (decode jobs) or ``transformers`` (whole ``generate_stream`` runs).
        spawned: a process ``spawn(engine)`` started earlier (None: start one now).
    """

    def __init__(
        self,
        *,
        key: str,
        settings: Settings,
        path: Path | None = None,
        contexts: int = 1,
        engine: str = "llamacpp",
        spawned: tuple[subprocess.Popen, Connection] | None = None,
    ) -> None:
        self.key = key
        self.label = _LABELS[engine]
        self._engine = engine
        self._process, self._conn = spawned or spawn(engine)
        self._send_lock = threading.Lock()
        self._runs: dict[int, queue.Queue[tuple[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._dead = False
        try:
            self._send(
                {"engine": engine, "key": key, "path": str(path or ""), "settings": settings, "contexts": contexts}
            )
            if not self._conn.poll(_START_TIMEOUT_S):
                raise errors.AssetMissingError(f"{self.label} did not start in time.")
            kind, payload = self._conn.recv()
        except (EOFError, OSError):
            code = self._exit_code()
            self.close()
            if engine == "llamacpp" and code is not None and code < 0:  # llama.cpp died loading or checking
                raise crash(returncode=code, when="in its self-check") from None
            log.error("%s for %s exited while starting (its error is above)", self.label, key)
            raise errors.AssetMissingError(f"{self.label} could not start; the server log says why.") from None
        except BaseException:
            self.close()
            raise
        if kind != "ready":
            self.close()
            raise _rebuild(payload)
        self.vocab_size: int = payload.get("vocab_size", 0)
        self.n_ctx: int = payload.get("n_ctx", 0)
        self.nbytes: int = payload["nbytes"]  # llama.cpp: the model file and its contexts' KV caches
        self.variant: str = payload.get("variant", "")  # llama.cpp: the CPU code it loaded (``cpu_variant``)
        self.pid: int = self._process.pid
        self._reader = threading.Thread(target=self._read, name=f"rsdemo-decode-worker-{self.pid}", daemon=True)
        self._reader.start()
        log.info(
            "%s %d serves %s%s",
            self.label,
            self.pid,
            key,
            f" (llama.cpp's {self.variant} CPU code)" if self.variant else "",
        )

    @property
    def alive(self) -> bool:
        return not self._dead and self._process.poll() is None

    def _exit_code(self) -> int | None:
        """The worker's exit status once it has gone (negative: the signal that killed it); None if it lingers."""
        try:
            return self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None

    def _send(self, message: Any) -> None:
        with self._send_lock:
            self._conn.send(message)

    def _read(self) -> None:
        try:
            while True:
                run_id, kind, payload = self._conn.recv()
                events = self._runs.get(run_id)
                if events is not None:
                    events.put((kind, payload))
        except (EOFError, OSError):
            pass
        finally:
            self._dead = True
            for events in list(self._runs.values()):
                events.put(("lost", None))

    def _request(self, message: tuple[Any, ...], cancel: threading.Event | None) -> Iterator[tuple[str, Any]]:
        run_id = next(self._ids)
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._runs[run_id] = events
        ended = cancelled = False
        received = 0
        try:
            try:
                self._send((message[0], run_id, *message[1:]))
            except OSError:
                self._dead = True
                raise InputError(f"{self.label} has stopped; try again (the next run starts a new one).") from None
            last = time.monotonic()
            while not ended:
                if cancel is not None and cancel.is_set() and not cancelled:
                    cancelled = True
                    with contextlib.suppress(OSError):
                        self._send(("cancel", run_id))
                try:
                    kind, payload = events.get(timeout=_POLL_S)
                except queue.Empty:
                    if self._dead:
                        kind, payload = "lost", None
                    elif time.monotonic() - last > _STALL_S:
                        raise InputError("Generation stalled and was stopped.") from None
                    else:
                        continue
                last = time.monotonic()
                if kind == "lost":
                    ended = True  # nothing left to cancel; the caller's run may go on elsewhere
                    code = self._exit_code()
                    if not received and self._engine == "llamacpp":  # the run can still go on elsewhere
                        raise crash(returncode=code, when="before its first token")
                    signal = f"; {signal_name(code)}" if signal_name(code) else ""
                    raise InputError(
                        f"{self.label} stopped mid-run ({received} tokens had arrived{signal}); "
                        "try again (the next run starts a new one)."
                    )
                if kind == "error":
                    payload = _rebuild(payload)
                received += kind in ("token", "tokens", "result")
                ended = kind in ("end", "error", "logits")
                yield kind, payload
        finally:
            self._runs.pop(run_id, None)
            if not ended and not cancelled:  # the visitor left: the child stops at its next token
                if cancel is not None:
                    cancel.set()
                with contextlib.suppress(OSError):
                    self._send(("cancel", run_id))

    def decode(self, job: Any, cancel: threading.Event) -> Iterator[tuple[str, Any]]:
        """Run a ``DecodeJob`` in the worker; yield its events as ``LlamaCppModel.decode`` does."""
        return self._request(("run", job), cancel)

    def generate(self, request: dict[str, Any], cancel: threading.Event) -> Iterator[tuple[str, Any]]:
        """Run ``generate_stream(**request)`` in a transformers worker; yield its events (``tokens``, ``result``,
        ``tick``, then ``end`` or ``error``)."""
        return self._request(("generate", request), cancel)

    def logits(self, ids: Sequence[int], *, start: int) -> Any:
        """The worker's ``LlamaCppModel.logits`` (teacher-forced next-token logits)."""
        for kind, payload in self._request(("logits", list(ids), start), None):
            if kind == "error":
                raise payload
            return payload
        raise InputError("llama.cpp's worker process gave no logits.")

    def close(self) -> None:
        """Stop the worker (the model is released with it)."""
        self._dead = True
        with contextlib.suppress(OSError, ValueError):
            self._send(("close",))
        try:
            self._process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)
        with contextlib.suppress(OSError):
            self._conn.close()


class LlamaCppWorkerModel:
    """A GGUF model whose decode loop runs in a ``DecodeWorker``; the app keeps its tokenizer (the ``Loaded`` seam).

    Same attributes and ``decode`` / ``logits`` as ``LlamaCppModel``; a worker that died is replaced on the next run.
    ``tokenizer`` and ``adapter`` may be set after the worker is ready (the app then loads the copy it saved);
    ``spawned``: a process ``spawn("llamacpp")`` started earlier.
    """

    def __init__(
        self,
        *,
        key: str,
        spec: Any,
        path: Path,
        settings: Settings,
        tokenizer: Any = None,
        adapter: Any = None,
        spawned: tuple[subprocess.Popen, Connection] | None = None,
    ) -> None:
        self.key, self.spec, self.path = key, spec, path
        self.tokenizer, self.adapter = tokenizer, adapter
        self.device, self.dtype = "cpu", "torch.float32"
        self._settings = settings
        self._lock = threading.Lock()
        self._worker: DecodeWorker | None = self._start(spawned)
        self.vocab_size = self._worker.vocab_size
        self.n_ctx = self._worker.n_ctx
        self.nbytes = self._worker.nbytes + PROCESS_BYTES

    def _start(self, spawned: tuple[subprocess.Popen, Connection] | None = None) -> DecodeWorker:
        return DecodeWorker(
            key=self.key,
            path=self.path,
            settings=self._settings,
            contexts=self._settings.generation_slots,
            spawned=spawned,
        )

    @property
    def worker(self) -> DecodeWorker:
        with self._lock:
            if self._worker is None:
                raise errors.AssetMissingError(f"The {self.key} model was released.")
            if not self._worker.alive:
                log.warning("llama.cpp worker process %d is gone; starting a new one", self._worker.pid)
                self._worker.close()
                self._worker = self._start()
            return self._worker

    def decode(self, job: Any, cancel: threading.Event) -> Iterator[tuple[str, Any]]:
        return self.worker.decode(job, cancel)

    def logits(self, ids: Sequence[int], *, start: int) -> Any:
        return self.worker.logits(ids, start=start)

    def release(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()


class TransformersWorker:
    """A transformers model's generation runs, in a ``DecodeWorker`` that loads its own copy of the model.

    The app keeps its copy for what runs in its own process (the Inside tab, the beam tree); every ``generate``
    run goes to the worker, where transformers' Python work per step never holds the app's interpreter lock and
    the run can go under ``SCHED_IDLE`` after its first step. A worker that died is replaced on the next run; one
    that cannot start leaves runs in the app's process (logged).
    """

    def __init__(
        self, *, key: str, settings: Settings, spawned: tuple[subprocess.Popen, Connection] | None = None
    ) -> None:
        self.key = key
        self._settings = settings
        self._lock = threading.Lock()
        self._released = False
        self._worker: DecodeWorker | None = self._start(spawned)

    def _start(self, spawned: tuple[subprocess.Popen, Connection] | None = None) -> DecodeWorker | None:
        try:
            return DecodeWorker(key=self.key, settings=self._settings, engine="transformers", spawned=spawned)
        except Exception:  # noqa: BLE001 - runs go in the app's process instead; the details go to the log
            log.warning(
                "transformers' worker process for %s could not start; generating in the app's process",
                self.key,
                exc_info=True,
            )
            return None

    def current(self) -> DecodeWorker | None:
        """The running worker (a new one if it died), or None when none could start."""
        with self._lock:
            if self._released:
                raise errors.AssetMissingError(f"The {self.key} model was released.")
            if self._worker is not None and not self._worker.alive:
                log.warning("transformers' worker process %d is gone; starting a new one", self._worker.pid)
                self._worker.close()
                self._worker = self._start()
            return self._worker

    @staticmethod
    def generate(worker: DecodeWorker, *, request: dict[str, Any], cancel: threading.Event) -> Iterator[Any]:
        """``generate_stream(**request)`` run by ``worker``: the same ``GenerationResult`` updates.

        Streamed updates cross the pipe as the new tokens only (a run's updates would otherwise carry every
        token so far, each time); the whole result is rebuilt here.
        """
        from .results import Beam

        last = None
        for kind, payload in worker.generate(request, cancel):
            if kind == "result":
                last = payload
                yield payload
            elif kind == "tokens" and last is not None:
                new, text, ttft_s, elapsed_s = payload
                last = dataclasses.replace(
                    last,
                    beams=(Beam(text, last.beams[0].tokens + tuple(new), None),),
                    ttft_s=ttft_s,
                    elapsed_s=elapsed_s,
                )
                yield last
            elif kind == "error":
                raise payload

    def release(self) -> None:
        with self._lock:
            self._released = True
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()


# --- the child --------------------------------------------------------------------------------------------------


class _Autogroup:
    """This worker's session's share of the CPU (Linux's autogroup): nice 19 while the app has light requests in
    flight (``busy``) and no run reads its prompt; else 0, a fair share of the machine.

    ``enter()`` when a run starts (or a view asks for logits), ``leave()`` once it has its first token (or ends
    without one); ``hold()`` is ``enter()`` and returns a ``leave`` that counts once, however often called.
    ``govern()`` starts a thread that follows ``busy`` (every 20 ms). The kernel lets anyone set their own
    group's nice between 0 and 19, up and down, but only once per 100 ms machine-wide (``EAGAIN``): a change
    refused for that is tried again 0.11 s later, with whatever is wanted by then. Where there is no
    ``/proc/self/autogroup`` it does nothing.

    >>> app = {"busy": True}
    >>> group = _Autogroup(path=None, busy=lambda: app["busy"])
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
            _name_thread(b"rsdemo-govern")
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


def _name_thread(name: bytes) -> None:
    """The calling thread's name as the kernel shows it (``/proc/.../comm``; Linux ``prctl(PR_SET_NAME)``)."""
    import ctypes

    try:
        ctypes.CDLL(None).prctl(15, name[:15], 0, 0, 0)
    except (OSError, AttributeError):
        pass


_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}  # the syscall's number; Python has no binding for it
SHORT_SLICE_NS = 100_000  # the shortest time slice the kernel allows (0.1 ms)


def _short_slice() -> bool:
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


def _own_session(busy: Callable[[], bool]) -> _Autogroup:
    """Leave the app's session for one of its own (its own autogroup); its nice is set as work comes and goes."""
    try:
        os.setsid()
    except (AttributeError, OSError):  # not POSIX, or already a session leader
        return _Autogroup(path=None)
    return _Autogroup(busy=busy)


def _lower_all_but(keep: Collection[int], nice: int, idle: bool) -> None:
    """Lower every thread of this process but ``keep`` (the one reading the pipe, the autogroup's governor): the
    runs' own, and the OpenMP teams llama.cpp and torch started from them."""
    from .transformers_engine import lower_priority

    for task in os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else ():
        if int(task) not in keep:
            lower_priority(nice, idle=idle, tid=int(task))


def _read_tokenizer(key: str, settings: Settings) -> None:
    """Read (and cache) a GGUF model's tokenizer before the model; a failure is the model load's to report."""
    from ..loading import gguf_tokenizer

    try:
        gguf_tokenizer(key=key, settings=settings)
    except Exception:  # noqa: BLE001 - the load reads it again and raises the error the app shows
        log.debug("reading the %s tokenizer ahead failed", key, exc_info=True)


def _load_llamacpp(config: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from ..catalog import get_model_spec
    from ..loading import gguf_tokenizer
    from ..tokenization.adapters import HFAdapter
    from .engine_check import run_check
    from .llamacpp_engine import LlamaCppModel
    from .llamacpp_native import cpu_variant, extra_buffers

    settings: Settings = config["settings"]
    spec = get_model_spec(config["key"])
    tokenizer = gguf_tokenizer(key=config["key"], settings=settings)
    adapter = HFAdapter(tokenizer.backend_tokenizer, lossless=False)
    loaded = LlamaCppModel(
        key=config["key"],
        spec=spec,
        path=Path(config["path"]),
        tokenizer=tokenizer,
        adapter=adapter,
        contexts=int(config["contexts"]),
        threads=settings.llamacpp_threads,
        extra=extra_buffers(settings.llamacpp_extra_buffers),
    )
    if spec.check is not None:  # before the first run: a crash here or wrong numbers set llama.cpp aside
        run_check(loaded, spec.check)
    return loaded, {
        "vocab_size": loaded.vocab_size,
        "n_ctx": loaded.n_ctx,
        "nbytes": loaded.nbytes,
        "variant": cpu_variant(),
    }


def _load_transformers(config: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from ..core.runtime import Runtime
    from ..loading import load_model_bundle

    bundle = load_model_bundle(
        key=config["key"], runtime=Runtime("cpu", "cpu", "float32", False), settings=config["settings"]
    )
    return bundle, {"nbytes": bundle.nbytes}


def main(argv: Sequence[str]) -> int:
    """The worker process: load the model, then run what the app sends until it says close or goes away."""
    from . import llamacpp_engine

    llamacpp_engine.IN_CHILD = True  # the fault seam (RSDEMO_FAULT) is honoured here only
    conn = Connection(int(argv[0]))
    engine_arg = argv[1] if len(argv) > 1 else "llamacpp"
    light = LightSignal(int(argv[2]), owner=False) if len(argv) > 2 and int(argv[2]) >= 0 else None
    if engine_arg == "transformers":  # while the app loads its own copy of the model
        import transformers  # noqa: F401

        from .. import loading  # noqa: F401
    else:  # the per-token softmax and filters are small: a torch thread team would only wait beside llama.cpp's
        import torch

        torch.set_num_threads(1)
        from transformers import AutoTokenizer  # noqa: F401 - it reads the tokenizer: imported while the app converts

        from .. import loading  # noqa: F401
    try:
        config = conn.recv()
        if "read_tokenizer" in config:  # ``read_tokenizer_first``: while the app converts the weights
            _read_tokenizer(config["read_tokenizer"], config["settings"])
            config = conn.recv()
    except (EOFError, OSError):  # discarded before it was given a model
        return 0
    engine = config.get("engine", "llamacpp")
    idle = config["settings"].generation_idle
    if idle:
        _short_slice()  # before the model's threads start: they inherit it
    busy = (lambda: light.busy(hold_s=LIGHT_HOLD_S)) if light is not None else (lambda: True)
    group = _own_session(busy) if idle else _Autogroup(path=None)
    group.govern()
    loading = group.hold()  # a visitor waits for the load too
    try:
        loaded, ready = (_load_transformers if engine == "transformers" else _load_llamacpp)(config)
    except Exception as err:  # noqa: BLE001 - reported to the app, which raises it
        conn.send(("failed", _describe(err)))
        return 1
    finally:
        loading()
    conn.send(("ready", ready))
    send_lock = threading.Lock()
    cancels: dict[int, threading.Event] = {}

    def send(run_id: int, kind: str, payload: Any) -> None:
        if kind == "error":
            payload = _describe(payload)
        try:
            with send_lock:
                conn.send((run_id, kind, payload))
        except OSError:  # the app is gone
            cancels.get(run_id, threading.Event()).set()

    main_thread = threading.get_native_id()

    def lowering(nice: int, idle: bool, reading: Callable[[], None]) -> Callable[[int], None]:
        """A run's priority, step by step: after its first token (or step) every thread but the pipe's goes to
        ``nice`` and the group may give way; with ``idle``, under ``SCHED_IDLE`` once the app has light requests
        in flight (one way: an unprivileged thread cannot come back, so not before they are there: on a quiet
        machine, or beside a build, a run keeps its share)."""
        state = {"idle": False}

        def after(step: int) -> None:
            if step == 0:
                _lower_all_but((main_thread, group.governor), nice, False)
                reading()
            if idle and not state["idle"] and busy():
                state["idle"] = True
                _lower_all_but((main_thread, group.governor), nice, True)

        return after

    def run(run_id: int, job: Any) -> None:
        from .llamacpp_engine import decode

        reading = group.hold()  # until its first token, or its end without one
        after = lowering(job.nice, job.idle, reading)
        try:
            decode(
                loaded,
                job,
                cancels[run_id],
                lambda kind, payload: send(run_id, kind, payload),
                lambda _job, step: after(step),
            )
        finally:
            cancels.pop(run_id, None)
            reading()

    def generate(run_id: int, request: dict[str, Any]) -> None:
        """A transformers run: the prompt and the first step at ``generation_nice`` (at the app's priority with
        ``generation_boost``), the rest lowered; a tick a second tells the app the run is alive."""
        from ..custom_decoding import CUSTOM_METHODS
        from .transformers_engine import generate_stream

        limits: Settings = request.pop("limits")
        nice = limits.generation_nice
        if limits.generation_boost:  # generate's thread starts at the app's priority
            limits = dataclasses.replace(limits, generation_nice=0)
        state = {"step": 0, "tick": time.monotonic()}

        def step() -> None:
            after(state["step"])
            state["step"] += 1
            if time.monotonic() - state["tick"] >= 1.0:
                state["tick"] = time.monotonic()
                send(run_id, "tick", None)

        sent: list[int] = []  # the ids the app has of the run so far
        reading = group.hold()  # until its first step, or its end without one
        after = lowering(nice, limits.generation_idle, reading)
        try:
            for result in generate_stream(
                bundle=loaded,
                cancel=cancels[run_id],
                custom_methods=dict(CUSTOM_METHODS),
                limits=limits,
                on_step=step,
                **request,
            ):
                ids = [t.id for t in result.beams[0].tokens] if result.beams else []
                if result.done or not sent or ids[: len(sent)] != sent:  # a beam search's leader may change
                    send(run_id, "result", result)
                else:
                    beam = result.beams[0]
                    send(run_id, "tokens", (beam.tokens[len(sent) :], beam.text, result.ttft_s, result.elapsed_s))
                sent = ids
            send(run_id, "end", None)
        except Exception as err:  # noqa: BLE001 - reported to the app, which raises it
            send(run_id, "error", err)
        finally:
            cancels.pop(run_id, None)
            reading()

    def logits(run_id: int, ids: list[int], start: int) -> None:
        answering = group.hold()  # a visitor waits for the whole answer
        try:
            send(run_id, "logits", loaded.logits(ids, start=start))
        except Exception as err:  # noqa: BLE001 - reported to the app
            send(run_id, "error", err)
        finally:
            answering()

    handlers = {"run": run, "generate": generate, "logits": logits}
    try:
        while True:
            message = conn.recv()
            if message[0] in handlers:
                if message[0] != "logits":
                    cancels[message[1]] = threading.Event()
                threading.Thread(target=handlers[message[0]], args=message[1:], daemon=True).start()
            elif message[0] == "cancel":
                cancels.get(message[1], threading.Event()).set()
            elif message[0] == "close":
                break
    except (EOFError, OSError):  # the app is gone
        pass
    for event in list(cancels.values()):
        event.set()
    os._exit(0)  # the model's memory goes with the process; no interpreter teardown racing the run threads


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
