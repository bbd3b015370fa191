"""A generation worker process (``worker.client.spawn`` starts it): load one model, run what the app sends.

``main ARGV``: the pipe's file descriptor, the engine (``llamacpp`` or ``transformers``) and the app's light
signal's descriptor (-1: none). It imports its engine's libraries at once, waits for its configuration, loads
the model in its own session (``generation_idle``), says ``ready``, then runs each ``run`` / ``generate`` /
``logits`` request on a thread of its own until the app says ``close`` or goes away. The package
``rsdemo.generation.worker`` says why, and ``worker.protocol`` what crosses the pipe.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ...core.settings import Settings
from .. import crashes
from ..light_signal import LightSignal
from ..worker.protocol import Connection, Replies, describe
from ..worker.scheduling import LIGHT_HOLD_S, Autogroup, lower_all_but, own_session, short_slice

__all__ = ["main"]

log = logging.getLogger(__name__)


def _import_libraries(engine: str) -> None:
    """The engine's libraries, imported while the app converts the weights or loads its own copy of the model."""
    if engine == "transformers":  # while the app loads its own copy of the model
        import transformers  # noqa: F401

        from ... import loading  # noqa: F401
    else:  # the per-token softmax and filters are small: a torch thread team would only wait beside llama.cpp's
        import torch

        torch.set_num_threads(1)
        from transformers import AutoTokenizer  # noqa: F401 - it reads the tokenizer: imported while the app converts

        from ... import loading  # noqa: F401


def _read_tokenizer(key: str, settings: Settings) -> None:
    """Read (and cache) a GGUF model's tokenizer before the model; a failure is the model load's to report."""
    from ...loading import gguf_tokenizer

    try:
        gguf_tokenizer(key=key, settings=settings)
    except Exception:  # noqa: BLE001 - the load reads it again and raises the error the app shows
        log.debug("reading the %s tokenizer ahead failed", key, exc_info=True)


def _load_llamacpp(config: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from ...catalog import get_model_spec
    from ...loading import gguf_tokenizer
    from ...tokenization.adapters import HFAdapter
    from ..engine_check import run_check
    from ..llamacpp_model import LlamaCppModel
    from ..llamacpp_native import cpu_variant, extra_buffers

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
    from ...core.runtime import Runtime
    from ...loading import load_model_bundle

    bundle = load_model_bundle(
        key=config["key"], runtime=Runtime("cpu", "cpu", "float32", False), settings=config["settings"]
    )
    return bundle, {"nbytes": bundle.nbytes}


class _Worker:
    """The loaded model and the runs in flight: each request on a thread of its own, its events to the app."""

    def __init__(self, conn: Connection, *, loaded: Any, group: Autogroup, busy: Callable[[], bool]) -> None:
        self.conn = conn
        self.loaded = loaded
        self.group = group
        self.busy = busy
        self.cancels: dict[int, threading.Event] = {}
        self.replies = Replies(conn, on_lost=lambda run_id: self.cancels.get(run_id, threading.Event()).set())
        self.send = self.replies.send
        self.main_thread = threading.get_native_id()

    def lowering(self, nice: int, idle: bool, reading: Callable[[], None]) -> Callable[[int], None]:
        """A run's priority, step by step: after its first token (or step) every thread but the pipe's goes to
        ``nice`` and the group may give way; with ``idle``, under ``SCHED_IDLE`` once the app has light requests
        in flight (one way: an unprivileged thread cannot come back, so not before they are there: on a quiet
        machine, or beside a build, a run keeps its share)."""
        state = {"idle": False}

        def after(step: int) -> None:
            if step == 0:
                lower_all_but((self.main_thread, self.group.governor), nice, False)
                reading()
            if idle and not state["idle"] and self.busy():
                state["idle"] = True
                lower_all_but((self.main_thread, self.group.governor), nice, True)

        return after

    def run(self, run_id: int, job: Any) -> None:
        """A llama.cpp run (a ``DecodeJob``): its events as the decode loop emits them."""
        from ..llamacpp_model import decode

        reading = self.group.hold()  # until its first token, or its end without one
        after = self.lowering(job.nice, job.idle, reading)
        try:
            decode(
                self.loaded,
                job,
                self.cancels[run_id],
                lambda kind, payload: self.send(run_id, kind, payload),
                lambda _job, step: after(step),
            )
        finally:
            self.cancels.pop(run_id, None)
            reading()

    def generate(self, run_id: int, request: dict[str, Any]) -> None:
        """A transformers run: the prompt and the first step at ``generation_nice`` (at the app's priority with
        ``generation_boost``), the rest lowered; a tick a second tells the app the run is alive."""
        from ...custom_decoding import CUSTOM_METHODS
        from ..transformers_engine import generate_stream

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
                self.send(run_id, "tick", None)

        sent: list[int] = []  # the ids the app has of the run so far
        reading = self.group.hold()  # until its first step, or its end without one
        after = self.lowering(nice, limits.generation_idle, reading)
        try:
            for result in generate_stream(
                bundle=self.loaded,
                cancel=self.cancels[run_id],
                custom_methods=dict(CUSTOM_METHODS),
                limits=limits,
                on_step=step,
                **request,
            ):
                ids = [t.id for t in result.beams[0].tokens] if result.beams else []
                if result.done or not sent or ids[: len(sent)] != sent:  # a beam search's leader may change
                    self.send(run_id, "result", result)
                else:
                    beam = result.beams[0]
                    self.send(run_id, "tokens", (beam.tokens[len(sent) :], beam.text, result.ttft_s, result.elapsed_s))
                sent = ids
            self.send(run_id, "end", None)
        except Exception as err:  # noqa: BLE001 - reported to the app, which raises it
            self.send(run_id, "error", err)
        finally:
            self.cancels.pop(run_id, None)
            reading()

    def logits(self, run_id: int, ids: list[int], start: int) -> None:
        """A view's teacher-forced logits (llama.cpp), at the group's full weight: a visitor waits for them."""
        answering = self.group.hold()  # a visitor waits for the whole answer
        try:
            self.send(run_id, "logits", self.loaded.logits(ids, start=start))
        except Exception as err:  # noqa: BLE001 - reported to the app
            self.send(run_id, "error", err)
        finally:
            answering()

    def serve(self) -> None:
        """Read the app's messages until it says close or goes away; then end at once."""
        handlers = {"run": self.run, "generate": self.generate, "logits": self.logits}
        try:
            while True:
                message = self.conn.recv()
                if message[0] in handlers:
                    if message[0] != "logits":
                        self.cancels[message[1]] = threading.Event()
                    threading.Thread(target=handlers[message[0]], args=message[1:], daemon=True).start()
                elif message[0] == "cancel":
                    self.cancels.get(message[1], threading.Event()).set()
                elif message[0] == "close":
                    break
        except (EOFError, OSError):  # the app is gone
            pass
        for event in list(self.cancels.values()):
            event.set()
        os._exit(0)  # the model's memory goes with the process; no interpreter teardown racing the run threads


def main(argv: Sequence[str]) -> int:
    """The worker process: load the model, then run what the app sends until it says close or goes away."""
    crashes.IN_CHILD = True  # the fault seam (RSDEMO_FAULT) is honoured here only
    conn = Connection(int(argv[0]))
    engine_arg = argv[1] if len(argv) > 1 else "llamacpp"
    light = LightSignal(int(argv[2]), owner=False) if len(argv) > 2 and int(argv[2]) >= 0 else None
    _import_libraries(engine_arg)
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
        short_slice()  # before the model's threads start: they inherit it
    busy = (lambda: light.busy(hold_s=LIGHT_HOLD_S)) if light is not None else (lambda: True)
    group = own_session(busy) if idle else Autogroup(path=None)
    group.govern()
    loading = group.hold()  # a visitor waits for the load too
    try:
        loaded, ready = (_load_transformers if engine == "transformers" else _load_llamacpp)(config)
    except Exception as err:  # noqa: BLE001 - reported to the app, which raises it
        conn.send(("failed", describe(err)))
        return 1
    finally:
        loading()
    conn.send(("ready", ready))
    _Worker(conn, loaded=loaded, group=group, busy=busy).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
