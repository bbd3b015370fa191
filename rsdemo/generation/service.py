"""Generation runs, on this machine or on the operator's server, and the start-up warm-up of the default run.

A run on this machine registers for its visitor, waits for the start-up warm-up's load of its model (``warm_up``),
then for a slot (``Admission``), loads its model inside the slot (``ModelPool``) and streams the engine's results,
each tagged with the engine and why it was chosen (``EngineChoice``). A fast engine that fails before the first
token hands the run to transformers (and may be set aside for the process). A run on the operator's server holds
one of its streams instead of a slot.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..arguments import token_ids
from ..catalog import DEFAULT_MODEL, MODELS
from ..core.errors import EngineFailedError, InputError
from ..core.settings import Settings
from ..decoding import draw_seed
from ..loading import model_installed
from ..warmup import Step, WarmUp
from .admission import Admission
from .engine import GenerationEngine
from .engine_choice import EngineChoice, is_serving, set_aside
from .model_pool import Progress
from .requests import check_request
from .results import GenerationResult, PromptInfo

__all__ = ["GenerationService"]


class GenerationService:
    """Run generations (see the module docstring).

    Args:
        settings: the limits every request is checked against.
        choice: the engines, the models they have and which runs a request (its ``models``: the model pool).
        admission: the slots, the line for them, each visitor's runs, the streams to a server.
    """

    def __init__(self, *, settings: Settings, choice: EngineChoice, admission: Admission) -> None:
        self.settings = settings
        self.choice = choice
        self.engines = choice.engines
        self.models = choice.models
        self.admission = admission
        self.warming: WarmUp | None = None  # the start-up warm-up (``warm_up``), once started

    # --- models -------------------------------------------------------------------------------------

    def model(self, model: str, *, progress: Progress | None = None, engine: str = "transformers") -> Any:
        """The loaded model (once, then cached; the cache is bounded by count and memory, checked before loading)."""
        return self.models.get(engine, self.choice.resolve_model(model), progress=progress)

    def model_loaded(self, model: str, *, engine: str = "transformers") -> bool:
        return self.models.loaded(engine, self.choice.resolve_model(model))

    def gpu_seconds(self, *, model: str, params: dict | None = None, **_: object) -> int:
        """The ZeroGPU time to ask for: ``gpu_base_s`` plus the catalog's seconds per token, at most ``gpu_max_s``."""
        spec = MODELS.get((model or "").strip(), None)
        per_token = spec.gpu_seconds_per_token if spec is not None else 0.1
        values = params or {}
        try:
            new_tokens = int(values.get("max_new_tokens") or 64)
            beams = int(values.get("num_beams") or 1)
        except (TypeError, ValueError):
            new_tokens, beams = 64, 1
        limits = self.settings
        return int(min(limits.gpu_max_s, limits.gpu_base_s + per_token * new_tokens * max(1, beams // 2)))

    def preload_models(self) -> list[str]:
        """Load the embedded catalog models now (ZeroGPU wants them on ``cuda`` at start-up)."""
        keys = [spec.key for spec in MODELS.values() if spec.source == "gguf" and model_installed(spec)]
        for key in keys:
            self.model(key)
        return keys

    # --- the start-up warm-up -----------------------------------------------------------------------

    def warm_up(self, *, load_tokenizer: Callable[[], object], start: bool = True) -> WarmUp:
        """The warm-up of the Generate tab's default run (``Backend.warm_up``): its engine chosen, the tokenizer
        loaded (``load_tokenizer``), then its model, through ``model``, the path a run takes."""
        chosen: dict[str, Any] = {}

        def choose(_report: Progress) -> None:
            engine, _why = self.choice.choose_engine(model=DEFAULT_MODEL, method="greedy")  # the Generate tab's default
            chosen["engine"] = engine
            warm.target = (engine.capabilities.name, DEFAULT_MODEL)

        def load(report: Progress) -> None:
            if not is_serving(chosen["engine"]):  # a serving engine: nothing to load here
                self.model(DEFAULT_MODEL, engine=chosen["engine"].capabilities.name, progress=report)

        warm = WarmUp(
            steps=[
                Step("choosing the engine…", choose),
                Step("loading the tokenizer…", lambda _report: load_tokenizer()),
                Step("loading the model…", load),
            ]
        )
        self.warming = warm
        return warm.start() if start else warm

    def _warm_up_wait(self, engine: str, name: str, cancel: threading.Event) -> Iterator[str]:
        """While the warm-up gets this run's model ready (or has not said which yet), its stage, each time it
        changes; returns once it is done (its load is then cached, or failed and the run loads it itself)."""
        warm = self.warming
        shown = None
        while warm is not None and warm.running and warm.target in (None, (engine, name)):
            stage = warm.stage
            if stage and stage != shown:
                shown = stage
                yield stage
            if cancel.is_set():
                raise InputError("The generation was stopped before it started.")
            warm.wait(0.1)

    # --- runs ---------------------------------------------------------------------------------------

    def run(
        self,
        *,
        model: str,
        prompt: str,
        method: str = "greedy",
        params: dict | None = None,
        chat: bool = True,
        stop: str | None = None,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
        details: bool = True,
        visitor: str | None = None,
        engine: str | None = None,
        prefix: Sequence[int] = (),
    ) -> Iterator[GenerationResult]:
        """Generate from ``prompt``: streamed ``GenerationResult`` updates, the last with ``done=True``.

        Args:
            model: a catalog model key or a Hub ref.
            prompt: the user's text (the chat template is applied when ``chat``).
            method: a decoding method key (``rsdemo.decoding.METHODS``).
            params: the method's parameters and the common ones (``max_new_tokens``, ``seed`` ...).
            stop: stop strings, one per line.
            cancel: set it to stop at the next token.
            progress: told in words about slow first-time steps (a model's first load).
            details: gather per-token probabilities and alternatives (off: tokens only, plain ``generate``).
            visitor: who asks (a browser session, an API client); ``Admission.stop(visitor=...)`` stops their
                runs, and a visitor's newest run stops their older ones beyond ``settings.runs_per_visitor``.
            engine: the generation engine (``engines``); None: the fastest that can run the request.
            prefix: token ids forced after the prompt (a branch: the original run's tokens up to a position, then
                another candidate); the results hold only the tokens generated after them.

        Raises:
            InputError: empty prompt, parameters out of range, unknown method.
            UnknownKeyError, HubError, AssetMissingError: the model cannot be had.
            CapacityError: the model does not fit in memory, or every slot stays busy.
        """
        name = self.choice.resolve_model(model)
        spec = MODELS.get(name, None)
        prefix = token_ids(prefix, name="prefix")  # a branch's forced tokens (the API's name for them)
        params = draw_seed(params)  # a seed of -1: one drawn now, so the run, its code and its result agree
        if len(prefix) > self.settings.max_new_tokens:
            raise InputError(f"A branch may force at most {self.settings.max_new_tokens} tokens.", field="params")
        # every check that needs no model runs before a slot is taken or anything is loaded
        check_request(
            prompt=prompt,
            method=method,
            params=params,
            stop=stop,
            limits=self.settings,
            model_cap=spec.max_new_tokens if spec is not None else None,
        )
        chosen, reason = self.choice.choose_engine(model=name, method=method, engine=engine, params=params)
        request = dict(
            name=name,
            prompt=prompt,
            method=method,
            params=params,
            chat=chat,
            stop=stop,
            details=details,
            progress=progress,
            prefix=prefix,
        )
        if is_serving(chosen):  # a serving engine: no weights here, no local slot
            yield from self._run_remote(chosen, reason=reason, visitor=visitor, cancel=cancel, **request)
            return
        if not self.models.injected(chosen.capabilities.name) and not self.model_loaded(
            name, engine=chosen.capabilities.name
        ):
            chosen.precheck(name, settings=self.settings)  # an unusable Hub fails now, not after waiting for a slot
        yield from self._run_in_slot(chosen, reason=reason, visitor=visitor, cancel=cancel, **request)

    def _run_in_slot(
        self,
        chosen: GenerationEngine,
        *,
        reason: str,
        visitor: str | None,
        cancel: threading.Event | None,
        **request: Any,
    ) -> Iterator[GenerationResult]:
        """A run on this machine: registered for its visitor, after the warm-up's load of its model and a place in
        line, inside a slot; a fast engine that fails before its first token hands the run to transformers."""
        name = request["name"]
        tag = {"engine": chosen.capabilities.name, "engine_reason": reason}
        cancel = cancel or threading.Event()
        who = visitor or f"anonymous-{id(cancel)}"
        with self.admission.visitor_run(who, cancel):
            # the start-up warm-up is loading this model: wait for that load (not a second one), saying how far it is
            asked, waited = time.perf_counter(), False
            for stage in self._warm_up_wait(chosen.capabilities.name, name, cancel):
                waited = True
                yield _not_started(request, tag, preparing=stage)
            if waited:  # shown as the model's load, apart from the time to the first token
                tag["load_s"] = time.perf_counter() - asked
            for ahead in self.admission.wait_for_slot(cancel):
                yield _not_started(request, tag, waiting=ahead)
            try:
                try:
                    yield from self._run_local(chosen, tag=tag, cancel=cancel, **request)
                except EngineFailedError as err:  # before the first token: the run goes on on transformers
                    fallback = self.engines.get("transformers")
                    if fallback is None or fallback is chosen:
                        raise
                    label = chosen.capabilities.label.split(" (")[0]
                    self._set_aside(chosen, name, err)
                    note = f"{label} {err}; this run used transformers."
                    tag = {"engine": "transformers", "engine_reason": f"{fallback.capabilities.label}: {note}"}
                    yield from self._run_local(fallback, tag=tag, note=note, cancel=cancel, **request)
            finally:
                self.admission.release_slot()

    def _run_local(
        self,
        chosen: GenerationEngine,
        *,
        tag: dict[str, Any],
        name: str,
        prompt: str,
        method: str,
        params: dict | None,
        chat: bool,
        stop: str | None,
        cancel: threading.Event,
        details: bool,
        progress: Progress | None,
        prefix: Sequence[int],
        note: str = "",
    ) -> Iterator[GenerationResult]:
        """One run on an engine of this machine, inside a slot the caller holds: load (once), run, tag each update."""
        tag = dict(tag)
        was_loaded = self.model_loaded(name, engine=chosen.capabilities.name)
        asked = time.perf_counter()
        with self.models.in_use(chosen.capabilities.name, name, progress) as loaded:
            if not was_loaded:  # the time to first token below starts after the load: shown apart
                tag["load_s"] = time.perf_counter() - asked
            extra = {"prefix": list(prefix)} if prefix else {}
            for result in chosen.run(
                loaded,
                prompt=prompt,
                method=method,
                params=params,
                chat=chat,
                stop=stop,
                cancel=cancel,
                details=details,
                limits=self.settings,
                **extra,
            ):
                if note:
                    tag["notes"] = (note, *result.notes)
                yield dataclasses.replace(result, **tag)

    def _set_aside(self, engine: GenerationEngine, name: str, err: EngineFailedError) -> None:
        """A local engine failed on this machine before a run's first token: drop its model; a crash of the
        machine's doing (a signal, wrong numbers) sets the engine aside for the process (``set_aside``)."""
        self.models.discard(engine.capabilities.name, name)
        set_aside(engine, err)

    def _run_remote(
        self,
        chosen: Any,
        *,
        reason: str,
        visitor: str | None,
        cancel: threading.Event | None,
        name: str,
        prompt: str,
        method: str,
        params: dict | None,
        chat: bool,
        stop: str | None,
        details: bool,
        progress: Progress | None,
        prefix: Sequence[int],
    ) -> Iterator[GenerationResult]:
        """A run on the operator's server: at most ``remote_streams`` at once; the server does the batching."""
        tag = {"engine": chosen.capabilities.name, "engine_reason": reason}
        cancel = cancel or threading.Event()
        who = visitor or f"anonymous-{id(cancel)}"
        with self.admission.visitor_run(who, cancel), self.admission.remote_stream(cancel):
            asked = time.perf_counter()
            loaded = chosen.loaded(name, settings=self.settings, progress=progress)
            load_s = time.perf_counter() - asked
            if load_s > 0.05:
                tag["load_s"] = load_s
            extra = {"prefix": list(prefix)} if prefix else {}
            for result in chosen.run(
                loaded,
                prompt=prompt,
                method=method,
                params=params,
                chat=chat,
                stop=stop,
                cancel=cancel,
                details=details,
                limits=self.settings,
                **extra,
            ):
                yield dataclasses.replace(result, **tag)


def _not_started(request: Mapping[str, Any], tag: Mapping[str, Any], **state: Any) -> GenerationResult:
    """An update before the run starts: the warm-up's stage (``preparing``) or the place in line (``waiting``)."""
    return GenerationResult(
        model=request["name"],
        method=request["method"],
        params=dict(request["params"] or {}),
        seed=0,
        prompt=PromptInfo(request["prompt"], (), request["chat"]),
        beams=(),
        done=False,
        **state,
        **tag,
    )
