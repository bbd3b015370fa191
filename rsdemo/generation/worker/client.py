"""The app's side of the generation worker processes: start one, send it runs, read their events, stop it.

``spawn`` starts a worker (``rsdemo.generation.child.worker``), ``DecodeWorker`` is the app's end of one, and
the engines hold it as ``LlamaCppWorkerModel`` (llama.cpp's decode loop in the worker, the tokenizer here) or
``TransformersWorker`` (transformers' whole runs in the worker, the model here too). The package's docstring
(``rsdemo.generation.worker``) says why generation runs in processes of its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ...core import errors
from ...core.children import python_module
from ...core.errors import InputError
from ...core.settings import Settings
from ..crashes import crash, signal_name
from ..light_signal import LightSignal
from .protocol import Connection, rebuild

__all__ = [
    "PROCESS_BYTES",
    "DecodeWorker",
    "LlamaCppWorkerModel",
    "TransformersWorker",
    "discard",
    "read_tokenizer_first",
    "spawn",
    "uses_worker",
]

log = logging.getLogger(__name__)

SPIN_COUNT = 20_000  # GOMP_SPINCOUNT for the workers: see ``spawn``
PROCESS_BYTES = (
    640 * 1024 * 1024
)  # a worker's own memory (Python, torch, transformers, the tokenizer), measured ~0.5 GiB
_START_TIMEOUT_S = 120.0
_STALL_S = 60.0
_POLL_S = 0.1  # how often a waiting run looks at its Stop button
_LABELS = {"llamacpp": "llama.cpp's worker process", "transformers": "transformers' worker process"}


def uses_worker(settings: Settings) -> bool:
    """Whether generation runs in a worker process (``generation_process``; its pipe is a passed file descriptor)."""
    return settings.generation_process and os.name == "posix"


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
        # (``scheduling.own_session``), without it it stays: there its nice values count against the app's threads
        process = subprocess.Popen(
            python_module(
                "rsdemo.generation.child.worker",
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
            raise rebuild(payload)
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
                    payload = rebuild(payload)
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
        from ..results import Beam

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
