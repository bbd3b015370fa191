"""Getting the default model ready in the background once the app serves (``settings.warm_up``).

A Space starts with an empty cache after every sleep, and the first run of the embedded model used to wait for
everything a first load does: the F16 weights converted from the shipped Q4_1, the tokenizer read out of the GGUF
file, llama.cpp's worker process started and checked (62.7 s measured on a CPU Space). ``WarmUp`` runs those steps
on a thread of its own once the app serves. The steps are the backend's own loading paths (``Backend.warm_up``
builds them), so a run asked for meanwhile joins the same load (``LoadCache`` is single-flight) instead of starting
a second one, and shows ``WarmUp.stage`` while it waits.

Priorities: the heavy work is in child processes. The weights conversion takes every core for a few seconds, at
``generation_nice``; llama.cpp's worker process reads the tokenizer and loads the model on one core, at the
priority any worker loads at (a process inherits its starter's priority for good, and this one then serves
visitors' runs). The warm-up thread itself keeps the app's priority: its own Python work is short, and a thread of
low priority holding the interpreter lock would stall the app's requests.

>>> seen = []
>>> warm = WarmUp(steps=[Step("converting weights…", lambda report: report("half way")),
...                      Step("loading…", lambda report: seen.append("loaded"))])
>>> warm.run()
>>> (warm.done, warm.stage, warm.error, seen)
(True, '', None, ['loaded'])
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Step", "WarmUp"]

log = logging.getLogger(__name__)
Report = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a warm-up.

    Attributes:
        name: what the page shows while it runs (until the step reports something more precise).
        run: the work; it is handed a ``report(words)`` for its own progress messages.
    """

    name: str
    run: Callable[[Report], object]


class WarmUp:
    """Steps run once, in order, on a background thread; their progress readable by anyone (``stage``).

    Args:
        steps: what to do. A step that raises ends the warm-up (logged; ``error`` keeps it): a run asked for
            afterwards loads what it needs itself, and fails with the same clear error if it must.
        target: what it is getting ready, as the backend's model cache names it (``(engine, model)``); a step
            may set it once known. A run for that target waits for the warm-up instead of loading.
    """

    def __init__(self, *, steps: Sequence[Step], target: tuple[str, str] | None = None) -> None:
        self.steps = tuple(steps)
        self.target = target
        self.error: BaseException | None = None
        self.seconds: float | None = None  # how long it took, once done
        self._stage = ""
        self._lock = threading.Lock()
        self._started = threading.Event()
        self._done = threading.Event()

    @property
    def stage(self) -> str:
        """What it is doing now, in words ("" before it starts and once done)."""
        with self._lock:
            return self._stage

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def running(self) -> bool:
        """Started and not finished yet."""
        return self._started.is_set() and not self._done.is_set()

    def start(self) -> WarmUp:
        """Run the steps on a daemon thread (``rsdemo-warm-up``); returns at once."""
        self._started.set()
        threading.Thread(target=self.run, name="rsdemo-warm-up", daemon=True).start()
        return self

    def run(self) -> None:
        """Run the steps in the calling thread (``start`` runs this on its own thread)."""
        self._started.set()
        began = time.perf_counter()
        try:
            for step in self.steps:
                self._report(step.name)
                step.run(self._report)
        except Exception as err:  # noqa: BLE001 - a run asked for later loads (and reports) it itself
            self.error = err
            log.warning("the warm-up stopped at %r: %s", self.stage, err)
        finally:
            self.seconds = time.perf_counter() - began
            self._report("")
            self._done.set()
        if self.error is None:
            log.info("warm-up done in %.1f s", self.seconds)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until it is done (True) or ``timeout`` seconds have passed (False)."""
        return self._done.wait(timeout)

    def _report(self, words: str) -> None:
        with self._lock:
            self._stage = words
