"""The seam every generation engine sits behind: what it can do, how it loads a model, how it runs.

An engine declares its capabilities as data (which decoding methods, which devices, whether it streams and
gives per-token probabilities), loads a model into whatever object it needs, and runs a checked request,
yielding ``GenerationResult`` updates — the same plain results whatever the engine, so every view (token
view, colouring, alternatives) works unchanged. A remote serving engine is one more module here.

Every engine inherits ``GenerationEngine``: whatever the backend asks an engine (``serves``, ``refuses``,
``exclusive``, ``config``, ``set_aside``, ``serving``) has a declared default, so it can ask any engine directly.
A serving engine (``ServingEngine``) adds ``loaded``: its model is a client, made once, not cached weights.

>>> caps = Capabilities(name="demo", label="Demo", methods=frozenset({"greedy"}), devices=frozenset({"cpu"}),
...                     streams=True, probabilities=True, rank=1)
>>> caps.refuses(method="greedy", device="cpu") is None, caps.refuses(method="beam", device="cpu")
(True, 'Demo runs greedy only; beam runs on transformers.')
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from ..core.errors import EngineFailedError
from ..core.settings import Settings
from ..decoding import METHODS
from .results import GenerationResult

__all__ = ["Capabilities", "GenerationEngine", "Loaded", "ServingEngine"]

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an engine can do, as data.

    Attributes:
        name: the key users type (``--engine NAME``, the ``engine`` field of ``/generate``).
        label: what the UI shows.
        methods: the decoding methods it runs (keys of ``rsdemo.decoding.METHODS``).
        devices: where it runs (``cpu``, ``cuda``, ``mps``; ZeroGPU counts as ``cuda``).
        streams: tokens arrive one by one.
        probabilities: per-token probabilities and alternatives.
        rank: lower is faster; the default engine is the lowest-ranked one that can run a request.
        note: a sentence on what it is and what its probabilities are.
    """

    name: str
    label: str
    methods: frozenset[str]
    devices: frozenset[str]
    streams: bool
    probabilities: bool
    rank: int
    note: str = ""

    def refuses(self, *, method: str, device: str) -> str | None:
        """Why this engine cannot run ``method`` on ``device`` (None: it can)."""
        if device not in self.devices:
            return f"{self.label} runs on {', '.join(sorted(self.devices))}, not {device}."
        if method not in self.methods:
            runs = ", ".join(m for m in METHODS if m in self.methods)
            return f"{self.label} runs {runs} only; {method} runs on transformers."
        return None


class Loaded(Protocol):
    """A model loaded by an engine: its key, its parameter memory, and how to free it."""

    key: str
    nbytes: int

    def release(self) -> None: ...


class GenerationEngine(abc.ABC):
    """One way of generating: transformers in process, a fast CPU engine, a remote server.

    Every question the backend asks an engine is declared here with its answer for an engine that has nothing
    to say (it serves every model, refuses nothing, has no server configuration), so every engine answers every
    question; an engine overrides what it knows better. ``model_size``, ``load`` and ``run`` are its own.
    """

    capabilities: Capabilities
    config: Any = None  # a serving engine's configuration (``RemoteConfig``); None for a local engine
    serving: ClassVar[bool] = False  # its models stay on a server (``ServingEngine``): no weights, no slot here

    def missing(self) -> str | None:
        """Why this engine cannot run here at all (a package not installed), or None."""
        return None

    def serves(self, key: str) -> str | None:
        """Why this engine does not run the model ``key`` (None: it does)."""
        return None

    def exclusive(self, key: str) -> bool:
        """Only this engine has the model ``key`` (a model only the operator's server serves)."""
        return False

    def refuses(self, *, method: str, values: Mapping[str, Any]) -> str | None:
        """Why this engine cannot run ``method`` with these resolved parameters (None: it can)."""
        return None

    def set_aside(self, err: EngineFailedError) -> bool:
        """Stop using this engine in this process after ``err`` (a crash of the machine's doing). Returns whether it
        was set aside now (an engine that cannot crash the machine never is)."""
        return False

    def precheck(self, key: str, *, settings: Settings) -> None:
        """Cheap checks before a run waits for a slot (is the Hub usable for a Hub model?); raises what load would."""
        return None

    @abc.abstractmethod
    def model_size(self, key: str, *, runtime: Any, settings: Settings) -> int:
        """The memory a model will take once loaded, known before loading it."""

    @abc.abstractmethod
    def load(self, key: str, *, runtime: Any, settings: Settings, progress: Progress | None, budget: Any) -> Loaded:
        """Load a model for this engine (the backend caches it and bounds the memory)."""

    @abc.abstractmethod
    def run(
        self,
        loaded: Any,
        *,
        prompt: str,
        method: str,
        params: dict[str, Any] | None,
        chat: bool,
        stop: Any,
        cancel: threading.Event,
        details: bool,
        limits: Settings,
        prefix: Sequence[int] = (),
    ) -> Iterator[GenerationResult]:
        """Generate: a ``GenerationResult`` per streamed token, the last with ``done=True``.

        ``prefix``: token ids forced after the prompt (a branch); the results hold only what follows them.
        """


class ServingEngine(GenerationEngine):
    """An engine whose model stays on a server: nothing of it is held here, so the backend neither caches it nor
    gives its runs a local slot; ``loaded`` makes (once) the client and tokenizer its runs use."""

    serving: ClassVar[bool] = True

    @abc.abstractmethod
    def loaded(self, key: str, *, settings: Settings, progress: Progress | None = None) -> Loaded:
        """The model's client and tokenizer, made once (not in the backend's model cache)."""
