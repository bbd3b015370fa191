"""What the UI, the CLI and the API call: tokenize, compare, decode, token_info, generate.

Plain Python in, plain Python out (dataclasses of lists, strings and numbers): no gradio, no
tensors. ``Backend`` is a façade: it builds the services and wires ``rsdemo.loading`` and ZeroGPU in.

- ``tokenization`` (``TokenizationService``): tokenizers loaded once; tokenize, compare, decode, token details.
- ``models`` (``ModelPool``): the loaded models, bounded by count and bytes before a load.
- ``admission`` (``Admission``): the generation slots, the line for them, each visitor's runs.
- ``choice`` (``EngineChoice``): which engine runs a request; ``generation`` (``GenerationService``): the runs.
- ``insight`` (``InsightService``): the model work of the Inside tab, the arena and the beam search tree.

>>> backend = Backend()
>>> result = backend.tokenize(text="né!", tokenizer="byte")
>>> [(s.text, s.ids) for s in result.segments]
[('n', (110,)), ('é', (195, 169)), ('!', (33,))]
>>> backend.decode(ids="[110, 195, 169]", tokenizer="byte").text
'né'
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .catalog import DEFAULT_TOKENIZER, TOKENIZERS
from .core.disk import DiskBudget
from .core.runtime import Runtime, gpu_entry_point, on_zerogpu
from .core.settings import Settings, get_settings
from .decoding import METHODS
from .generation import GenerationResult, default_engines
from .generation.admission import Admission
from .generation.engine import GenerationEngine
from .generation.engine_choice import EngineChoice, is_serving, resolve_key
from .generation.light_signal import LightSignal
from .generation.model_pool import ModelPool
from .generation.service import GenerationService
from .insight.results import ArenaResult, BeamTreeResult, NextTokenResult, SurprisalResult
from .insight.second_opinion import SecondOpinion
from .insight.service import InsightService
from .loading import (
    ModelBundle,
    cache_entries,
    hub_problem,
    load_hub_tokenizer,
    load_tokenizer,
    needs_build,
    parse_hub_ref,
)
from .tokenization.adapters import TokenizerAdapter
from .tokenization.results import CompareResult, DecodeResult, TokenInfo, TokenizeResult, TokenizerInfo
from .tokenization.service import TokenizationService
from .warmup import WarmUp

__all__ = ["Backend", "CompareResult", "DecodeResult", "TokenInfo", "TokenizeResult", "TokenizerInfo"]

Progress = Callable[[str], None]
TokenizerLoader = Callable[[str], TokenizerAdapter]


def _light(method: Callable[..., Any]) -> Callable[..., Any]:
    """Count a light request (tokenize, compare, decode, the Inside tab) in flight while it runs: generation
    workers give way to the app while there are some (``light_signal.LightSignal``). A generator is counted while
    it is iterated."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def stepped(self: Backend, *args: Any, **kwargs: Any) -> Iterator[Any]:
            signal = LightSignal.shared()
            steps = method(self, *args, **kwargs)
            try:
                while True:
                    with signal.light() if signal is not None else contextlib.nullcontext():
                        try:
                            item = next(steps)
                        except StopIteration:
                            return
                    yield item
            finally:
                steps.close()

        return stepped

    @functools.wraps(method)
    def counted(self: Backend, *args: Any, **kwargs: Any) -> Any:
        signal = LightSignal.shared()
        with signal.light() if signal is not None else contextlib.nullcontext():
            return method(self, *args, **kwargs)

    return counted


def _load_tokenizer(settings: Settings, budget: DiskBudget, name: str, progress: Progress | None) -> TokenizerAdapter:
    """A catalog tokenizer (``progress`` told about a first-time build) or a Hub one, through ``rsdemo.loading``."""
    if name in TOKENIZERS:
        return load_tokenizer(key=name, settings=settings, progress=progress, budget=budget)
    return load_hub_tokenizer(ref=parse_hub_ref(name), settings=settings, budget=budget)


class Backend:
    """The one object the UI and the CLI talk to.

    Args:
        settings: limits and the cache directory (default: from the environment).
        tokenizer_loader: builds an adapter for a catalog key (default: ``rsdemo.loading``); tests inject fakes.
        runtime: the device policy (default: detected from the environment).
        model_loader: builds a ``ModelBundle`` for a model key (default: ``rsdemo.loading``); tests inject tiny models.
        model_size: the parameter bytes a model key will take once loaded, known before loading it (default:
            ``rsdemo.loading.model_size_bytes``: catalog data or the Hub's safetensors metadata).
        engines: the generation engines, in any order (default: ``rsdemo.generation.default_engines()``); a
            test's ``model_loader`` and ``model_size`` replace the transformers engine's own.

    Generation policy (see the README's "Limits and safety"): at most ``settings.generation_slots`` runs at
    once in the process, each visitor at most ``settings.runs_per_visitor`` (a newer run stops the oldest),
    each run at most ``settings.run_time_limit_s`` seconds. Models are loaded inside a run's slot, after
    room is made for them, and are never evicted while a run uses them.
    """

    HUB_RECHECK_S = 300.0  # how long a Hub reachability probe's answer stands

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        tokenizer_loader: TokenizerLoader | None = None,
        runtime: Runtime | None = None,
        model_loader: Callable[[str], ModelBundle] | None = None,
        model_size: Callable[[str], int] | None = None,
        engines: Sequence[GenerationEngine] | None = None,
    ) -> None:
        self.settings = settings = settings or get_settings()
        self.disk = DiskBudget(settings.cache_dir, max_bytes=settings.max_disk_bytes, in_use=self._entries_in_use)
        self.tokenization = TokenizationService(
            settings=settings,
            loader=functools.partial(_load_tokenizer, settings, self.disk)
            if tokenizer_loader is None
            else lambda name, _progress: tokenizer_loader(name),
            resolve=functools.partial(resolve_key, registry=TOKENIZERS, kind="tokenizer"),
            builds=lambda name: needs_build(key=name, settings=settings),
        )
        ranked = sorted(engines or default_engines(settings), key=lambda e: e.capabilities.rank)
        self.engines: dict[str, GenerationEngine] = {e.capabilities.name: e for e in ranked}
        self.models = ModelPool(
            settings=settings,
            engines=self.engines,
            disk=self.disk,
            runtime=runtime,
            model_loader=model_loader,
            model_size=model_size,
        )
        self.admission = Admission(settings)
        self.choice = EngineChoice(engines=self.engines, models=self.models)
        self.generation = GenerationService(settings=settings, choice=self.choice, admission=self.admission)
        self._hub_seen: tuple[float, str] | None = None  # (when, hub_problem) of the last reachability probe
        self._hub_lock = threading.Lock()
        # ZeroGPU: only model work asks for a GPU, for a time that follows max_new_tokens; a served run asks for none
        self._zerogpu = zerogpu = runtime.on_zerogpu if runtime is not None else on_zerogpu(os.environ)
        on_gpu = functools.partial(gpu_entry_point, duration=self.generation.gpu_seconds, zerogpu=zerogpu)
        self._run_on_gpu = on_gpu(self.generation.run)
        self._served_first = zerogpu and any(is_serving(e) for e in self.engines.values())
        self.insight = InsightService(
            settings=settings, generation=self.generation, generate=self.generate, on_gpu=on_gpu
        )

    def _entries_in_use(self) -> list[Path]:
        """The cache entries of the loaded tokenizers and models: the disk budget never deletes them."""
        names = [*self.tokenization.loaded_names(), *self.models.loaded_names()]
        return [entry for name in names for entry in cache_entries(key=name, settings=self.settings)]

    @staticmethod
    def tokenizer_choices() -> list[tuple[str, str]]:
        """``(label, key)`` pairs for dropdowns, in catalog order."""
        return [(spec.label, spec.key) for spec in TOKENIZERS.values()]

    def resolve(self, tokenizer: str) -> str:
        """Normalise a tokenizer name: a catalog key, or a Hub ref ``owner/name[@rev]``."""
        return self.tokenization.resolve(tokenizer)

    def needs_build(self, tokenizer: str) -> bool:
        """Whether the first use of ``tokenizer`` builds an artefact (the UI shows a notice)."""
        return self.tokenization.needs_build(tokenizer)

    def adapter(self, tokenizer: str, *, progress: Progress | None = None) -> TokenizerAdapter:
        """The loaded adapter for a catalog key or Hub ref (loaded once, then cached)."""
        return self.tokenization.adapter(tokenizer, progress=progress)

    def info(self, tokenizer: str) -> TokenizerInfo:
        """What the UI shows about a tokenizer (loads it if needed)."""
        return self.tokenization.info(tokenizer)

    @_light
    def tokenize(
        self,
        *,
        text: str,
        tokenizer: str,
        add_special_tokens: bool = False,
        display_limit: int | None = -1,
        progress: Progress | None = None,
    ) -> TokenizeResult:
        """Tokenise ``text``: every id, stats over the whole text, display segments for the first tokens
        (``TokenizationService.tokenize``)."""
        return self.tokenization.tokenize(
            text=text,
            tokenizer=tokenizer,
            add_special_tokens=add_special_tokens,
            display_limit=display_limit,
            progress=progress,
        )

    @_light
    def token_info(self, *, tokenizer: str, token_id: int) -> TokenInfo:
        """The vocabulary entry for one id (``InvalidIdsError`` for an id not in the vocabulary)."""
        return self.tokenization.token_info(tokenizer=tokenizer, token_id=token_id)

    @_light
    def compare(self, *, text: str, tokenizers: Sequence[str], add_special_tokens: bool = False) -> CompareResult:
        """The same text through 2 to ``settings.max_compare`` tokenizers."""
        return self.tokenization.compare(text=text, tokenizers=tokenizers, add_special_tokens=add_special_tokens)

    @_light
    def compare_steps(
        self, *, text: str, tokenizers: Sequence[str], add_special_tokens: bool = False
    ) -> Iterator[CompareResult]:
        """``compare``, one tokenizer at a time: a partial result after each, the marked one last."""
        yield from self.tokenization.compare_steps(
            text=text, tokenizers=tokenizers, add_special_tokens=add_special_tokens
        )

    @_light
    def decode(self, *, ids: str | Sequence[int], tokenizer: str) -> DecodeResult:
        """Decode a list of ids (or its text form, ``"[1, 2, 3]"``) to text."""
        return self.tokenization.decode(ids=ids, tokenizer=tokenizer)

    @property
    def runtime(self) -> Runtime:
        """The device policy (detected on first use, so tokenizer-only use never imports torch)."""
        return self.models.runtime

    def model_choices(self) -> list[tuple[str, str]]:
        """``(label, key)`` pairs for the model dropdown (a model only the operator's server has comes last)."""
        return self.choice.model_choices()

    def hub_problem(self, *, probe: bool = True) -> str:
        """Why Hub tokenizers and models cannot load here, or "" when they can (``loading.hub_problem``).

        ``probe``: also try to reach the Hub; the answer stands for ``HUB_RECHECK_S`` (one probe of at most
        ``hub_timeout_s`` then serves every page load). Without it only the configuration counts (no network).

        >>> backend = Backend(settings=Settings.from_env({"RSDEMO_HUB": "0"}))
        >>> backend.hub_problem().startswith("Loading from the Hugging Face Hub")
        True
        """
        if not probe:
            return hub_problem(settings=self.settings, probe=False)
        with self._hub_lock:
            now = time.monotonic()
            if self._hub_seen is None or now - self._hub_seen[0] > self.HUB_RECHECK_S:
                self._hub_seen = (now, hub_problem(settings=self.settings))
            return self._hub_seen[1]

    def model_choices_here(self, *, hub_problem: str = "") -> list[tuple[str, str]]:
        """``model_choices`` less the Hub's models when ``hub_problem`` says the Hub cannot be used."""
        return self.choice.model_choices_here(hub_problem=hub_problem)

    @staticmethod
    def method_choices() -> list[tuple[str, str]]:
        """``(label, key)`` pairs for the decoding-method dropdown."""
        return [(m.label, m.key) for m in METHODS.values()]

    def resolve_model(self, model: str) -> str:
        """A catalog model key, a model only the operator's server has, or a validated Hub ref."""
        return self.choice.resolve_model(model)

    def model(self, model: str, *, progress: Progress | None = None, engine: str = "transformers") -> ModelBundle:
        """The loaded model (once, then cached; ``CapacityError`` when it does not fit the memory bound)."""
        return self.generation.model(model, progress=progress, engine=engine)

    def choose_engine(
        self, *, model: str, method: str, engine: str | None = None, params: dict | None = None
    ) -> tuple[GenerationEngine, str]:
        """The engine that runs a request, and why: the one asked for, or the fastest that can."""
        return self.choice.choose_engine(model=model, method=method, engine=engine, params=params)

    def model_loaded(self, model: str, *, engine: str = "transformers") -> bool:
        return self.generation.model_loaded(model, engine=engine)

    def preload_models(self) -> list[str]:
        """Load the embedded catalog models now (ZeroGPU wants them on ``cuda`` at start-up)."""
        return self.generation.preload_models()

    def warm_up(self, *, start: bool = True) -> WarmUp | None:
        """Get the Tokenize tab's tokenizer and the Generate tab's default run's model ready in the background
        (``GenerationService.warm_up``): the ``WarmUp`` (started unless ``start`` is False), or None when
        ``settings.warm_up`` is off or on ZeroGPU (which loads its models at start-up, ``preload_models``)."""
        if not self.settings.warm_up or self._zerogpu:
            return None
        return self.generation.warm_up(load_tokenizer=lambda: self.adapter(DEFAULT_TOKENIZER), start=start)

    @property
    def warming(self) -> WarmUp | None:
        """The start-up warm-up, once started; a run for its model waits for its load."""
        return self.generation.warming

    @warming.setter
    def warming(self, warm: WarmUp | None) -> None:
        self.generation.warming = warm

    def stop(self, *, visitor: str) -> int:
        """Stop every generation of ``visitor`` at its next token; returns how many were running."""
        return self.admission.stop(visitor=visitor)

    @property
    def running(self) -> int:
        """How many generations are running (or waiting for a slot) now."""
        return self.admission.running

    def generate(self, *, model: str, prompt: str, **options: Any) -> Iterator[GenerationResult]:
        """Generate from ``prompt``: streamed ``GenerationResult`` updates, the last with ``done=True``.

        ``options`` as ``GenerationService.run`` takes them (``method``, ``params``, ``chat``, ``visitor`` ...): they
        reach ``spaces.GPU`` and its duration exactly as given. A run the operator's server takes asks for no GPU.
        """
        request = {"model": model, "prompt": prompt, **options}
        if self._served_first and self.choice.served(request):
            return self.generation.run(**request)
        return self._run_on_gpu(**request)

    @_light
    def surprisal(
        self, *, model: str, prompt: str, chat: bool = False, progress: Progress | None = None
    ) -> SurprisalResult:
        """How surprising each prompt token is to the model: its probability given what precedes it."""
        return self.insight.surprisal(model=model, prompt=prompt, chat=chat, progress=progress)

    @_light
    def next_token(
        self,
        *,
        model: str,
        prompt: str,
        chat: bool = True,
        method: str = "greedy",
        params: dict | None = None,
        probes: str = "",
        position: int = 0,
        progress: Progress | None = None,
    ) -> NextTokenResult:
        """The model's next-token distribution after the prompt, through each stage of ``method``'s pipeline."""
        return self.insight.next_token(
            model=model,
            prompt=prompt,
            chat=chat,
            method=method,
            params=params,
            probes=probes,
            position=position,
            progress=progress,
        )

    def arena(
        self,
        *,
        model: str,
        prompt: str,
        methods: Sequence[str],
        params: dict | None = None,
        chat: bool = True,
        visitor: str | None = None,
        engine: str | None = None,
        engines: Sequence[str] | None = None,
    ) -> Iterator[ArenaResult]:
        """2 to 4 runs on one prompt, model and seed, one after another; a result after each."""
        return self.insight.arena(
            model=model,
            prompt=prompt,
            methods=methods,
            params=params,
            chat=chat,
            visitor=visitor,
            engine=engine,
            engines=engines,
        )

    def second_opinion(self, *, run: GenerationResult, progress: Progress | None = None) -> SecondOpinion:
        """transformers' own numbers at each token of a run another engine made: one teacher-forced forward pass."""
        return self.insight.second_opinion(run=run, progress=progress)

    def beam_tree(
        self,
        *,
        model: str,
        prompt: str,
        chat: bool = True,
        params: dict | None = None,
        progress: Progress | None = None,
    ) -> BeamTreeResult:
        """Beam search (transformers) with every kept hypothesis recorded at every step, as a tree."""
        return self.insight.beam_tree(model=model, prompt=prompt, chat=chat, params=params, progress=progress)
