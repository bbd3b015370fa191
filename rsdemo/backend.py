"""What the UI, the CLI and the API call: tokenize, compare, decode, token_info, generate.

Plain Python in, plain Python out (dataclasses of lists, strings and numbers): no gradio, no
tensors. Engines are loaded once through ``LoadCache``; a test can inject its own loader.

>>> backend = Backend()
>>> result = backend.tokenize(text="né!", tokenizer="byte")
>>> [(s.text, s.ids) for s in result.segments]
[('n', (110,)), ('é', (195, 169)), ('!', (33,))]
>>> backend.decode(ids="[110, 195, 169]", tokenizer="byte").text
'né'
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .arguments import keys as key_list
from .arguments import token_ids, whole
from .catalog import DEFAULT_MODEL, DEFAULT_TOKENIZER, MODELS, TOKENIZERS, get_tokenizer_spec
from .core.cache import LoadCache
from .core.disk import DiskBudget
from .core.errors import CapacityError, EngineFailedError, InputError, InvalidIdsError, UnknownKeyError
from .core.inputs import check_text, parse_ids
from .core.runtime import Runtime, current_runtime, gpu_entry_point, on_zerogpu
from .core.settings import Settings, get_settings
from .decoding import COMMON_PARAMS, METHODS, draw_seed, generation_config, get_method, resolve_params
from .generation import GenerationResult, PromptInfo, build_prompt, check_request, default_engines
from .generation.engine import GenerationEngine
from .generation.light_signal import LightSignal
from .generation.results import alternatives, make_token
from .generation.transformers_engine import bundle_adapter
from .insight.arena import arena_rows
from .insight.results import ArenaResult, BeamTreeResult, NextTokenResult, SurprisalResult
from .insight.scoring import Scored, score
from .insight.second_opinion import SecondOpinion, opinions
from .insight.stages import stage_view
from .insight.surprisal import surprisal_from_logprobs
from .loading import (
    ModelBundle,
    cache_entries,
    hub_problem,
    load_hub_tokenizer,
    load_tokenizer,
    needs_build,
    parse_hub_ref,
)
from .tokenization import compare as _compare
from .tokenization.adapters import TokenizerAdapter
from .tokenization.segments import Segment, SegmentTable, segment_table
from .tokenization.stats import Stats, text_stats
from .warmup import Step, WarmUp

__all__ = [
    "Backend",
    "CompareResult",
    "DecodeResult",
    "TokenInfo",
    "TokenizeResult",
    "TokenizerInfo",
]

Progress = Callable[[str], None]


def _light(method: Callable[..., Any]) -> Callable[..., Any]:
    """Count a light request (tokenize, compare, decode, the Inside tab) in flight while it runs: generation
    workers give way to the app while there are some (``light_signal.LightSignal``). A generator is counted while
    it is iterated."""
    import inspect

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


TokenizerLoader = Callable[[str], TokenizerAdapter]

# token details remembered across requests (id -> piece, bytes); cleared when full
_MAX_DETAILS = 200_000
# is_special[id] per loaded adapter; an entry goes when its adapter is evicted
_SPECIAL_LOOKUPS: weakref.WeakKeyDictionary[object, np.ndarray] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class TokenizerInfo:
    """What the UI shows about a tokenizer."""

    key: str
    label: str
    family: str
    notes: str
    lossless: bool
    vocab_size: int


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """One vocabulary entry: id, piece as stored, bytes (None for special tokens) and text."""

    id: int
    piece: str
    bytes: bytes | None
    special: bool

    @property
    def bytes_hex(self) -> str:
        return "special" if self.bytes is None else self.bytes.hex(" ")

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "piece": self.piece, "bytes": self.bytes_hex, "special": self.special}


class TokenizeResult:
    """A tokenised text: every id and stats over the whole text; display segments for the first tokens.

    Attributes:
        info: the tokenizer.
        text: the input.
        id_array: every token id of the whole text (``ids`` gives them as a list).
        table: the display segments of the first ``shown_tokens`` tokens, as arrays.
        shown_tokens: how many tokens the segments cover.
        stats: counts over the whole text.
        add_special_tokens: whether BOS / CLS / SEP were added.

    ``segments`` (objects) and ``tokens`` (vocabulary details of the shown ids) are made on first use.
    """

    def __init__(
        self,
        *,
        info: TokenizerInfo,
        text: str,
        id_array: np.ndarray,
        table: SegmentTable,
        shown_tokens: int,
        stats: Stats,
        add_special_tokens: bool,
        describe: Callable[[int], TokenInfo],
    ) -> None:
        self.info = info
        self.text = text
        self.id_array = id_array
        self.table = table
        self.shown_tokens = shown_tokens
        self.stats = stats
        self.add_special_tokens = add_special_tokens
        self._describe = describe

    @property
    def truncated(self) -> bool:
        return self.shown_tokens < len(self.id_array)

    @cached_property
    def ids(self) -> list[int]:
        """Every token id, as plain ints."""
        return self.id_array.tolist()

    @cached_property
    def segments(self) -> list[Segment]:
        return self.table.segments()

    @cached_property
    def tokens(self) -> dict[int, TokenInfo]:
        """Vocabulary details for every id the segments show."""
        return {i: self._describe(i) for i in dict.fromkeys(self.id_array[: self.shown_tokens].tolist())}

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: ``ids``, ``segments`` (text, ids, start, kind) and ``stats``."""
        return {
            "tokenizer": self.info.key,
            "ids": self.ids,
            "segments": [{"text": s.text, "ids": list(s.ids), "start": s.start, "kind": s.kind} for s in self.segments],
            "truncated": self.truncated,
            "stats": self.stats.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class CompareResult:
    """The same text through several tokenizers, with the boundaries they do not all share.

    Attributes:
        text: the input.
        results: one ``TokenizeResult`` per tokenizer (display window and whole-text stats).
        marks: per result, one flag per displayed segment: it starts or ends on a boundary not every
            tokenizer has (boundaries compared over the whole text). Empty while the comparison streams.
        differing: per result, how many segments of the whole text are so marked.
        done: False for the partial results ``Backend.compare_steps`` yields before the last tokenizer.
    """

    text: str
    results: list[TokenizeResult]
    marks: list[list[bool]]
    differing: list[int]
    done: bool = True


@dataclass(frozen=True, slots=True)
class DecodeResult:
    text: str
    tokens: list[TokenInfo]


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
        self.settings = settings or get_settings()
        self._local = threading.local()  # the progress callback of the request loading an adapter
        self._loader = tokenizer_loader or self._load_tokenizer
        self._tokenizers: LoadCache[str, TokenizerAdapter] = LoadCache(
            loader=self._loader, max_items=self.settings.max_tokenizers
        )
        self._details: dict[tuple[str, int], TokenInfo] = {}
        self._runtime = runtime
        self._model_loader = model_loader
        self._model_size = (
            model_size if model_size is not None else ((lambda _key: 0) if model_loader is not None else None)
        )
        self.engines: dict[str, GenerationEngine] = {
            e.capabilities.name: e
            for e in sorted(engines or default_engines(self.settings), key=lambda e: e.capabilities.rank)
        }
        self._remote_slots = threading.BoundedSemaphore(max(1, self.settings.remote_streams))
        self._models: LoadCache[tuple[str, str], ModelBundle] = LoadCache(
            loader=self._load_model,
            max_items=self.settings.max_models,
            weigh=lambda bundle: int(getattr(bundle, "nbytes", 0)),
            max_weight=self.settings.max_model_bytes,
            on_evict=lambda _key, bundle: bundle.release(),
            wait_s=self.settings.run_time_limit_s,
        )
        self.disk = DiskBudget(
            self.settings.cache_dir, max_bytes=self.settings.max_disk_bytes, in_use=self._entries_in_use
        )
        self._scores: collections.OrderedDict[tuple[str, str, bool, int], _ScoredPrompt] = collections.OrderedDict()
        self._scores_lock = threading.Lock()
        self._slots = threading.Condition()  # guards the free-slot count and the waiting line
        self._free_slots = self.settings.generation_slots
        self._waiting: collections.deque[object] = collections.deque()
        self._runs: dict[str, list[threading.Event]] = {}  # visitor -> cancel flags of their runs, oldest first
        self._runs_lock = threading.Lock()
        self.warming: WarmUp | None = None  # the start-up warm-up (``warm_up``), once started
        self._hub_seen: tuple[float, str] | None = None  # (when, hub_problem) of the last reachability probe
        self._hub_lock = threading.Lock()
        # ZeroGPU: only this entry point asks for a GPU, for a time that follows max_new_tokens
        zerogpu = runtime.on_zerogpu if runtime is not None else on_zerogpu(os.environ)
        self._zerogpu = zerogpu
        self.generate = gpu_entry_point(self._generate, duration=self._gpu_seconds, zerogpu=zerogpu)
        if zerogpu and any(hasattr(e, "loaded") for e in self.engines.values()):
            self.generate = functools.partial(self._served_or_gpu, self.generate)  # a served run asks for no GPU
        # the insight views' model work too (a forward pass, a recorded beam search); re-reading kept numbers does not
        self._forward = gpu_entry_point(self._forward_pass, duration=self._gpu_seconds, zerogpu=zerogpu)
        self.beam_tree = gpu_entry_point(self._beam_tree, duration=self._gpu_seconds, zerogpu=zerogpu)
        self._raw_logprob = gpu_entry_point(self._raw_logprob_pass, duration=self._gpu_seconds, zerogpu=zerogpu)

    # --- tokenizers -------------------------------------------------------------------------------

    @staticmethod
    def tokenizer_choices() -> list[tuple[str, str]]:
        """``(label, key)`` pairs for dropdowns, in catalog order."""
        return [(spec.label, spec.key) for spec in TOKENIZERS.values()]

    def _load_tokenizer(self, name: str) -> TokenizerAdapter:
        if name in TOKENIZERS:
            progress = getattr(self._local, "progress", None)
            return load_tokenizer(key=name, settings=self.settings, progress=progress, budget=self.disk)
        return load_hub_tokenizer(ref=parse_hub_ref(name), settings=self.settings, budget=self.disk)

    def _entries_in_use(self) -> list[Path]:
        """The cache entries of the loaded tokenizers and models: the disk budget never deletes them."""
        names = [*self._tokenizers.keys(), *(name for _engine, name in self._models.keys())]
        return [entry for name in names for entry in cache_entries(key=name, settings=self.settings)]

    def resolve(self, tokenizer: str) -> str:
        """Normalise a tokenizer name: a catalog key, or a Hub ref ``owner/name[@rev]``.

        Raises:
            UnknownKeyError: neither a catalog key nor something shaped like a repo id.
            InvalidRepoIdError: shaped like a path or a repo id but not a valid one.
        """
        return _resolve(tokenizer, registry=TOKENIZERS, kind="tokenizer")

    def needs_build(self, tokenizer: str) -> bool:
        """Whether the first use of ``tokenizer`` builds an artefact (the UI shows a notice)."""
        name = self.resolve(tokenizer)
        return name in TOKENIZERS and name not in self._tokenizers and needs_build(key=name, settings=self.settings)

    def adapter(self, tokenizer: str, *, progress: Progress | None = None) -> TokenizerAdapter:
        """The loaded adapter for a catalog key or Hub ref (loaded once, then cached)."""
        name = self.resolve(tokenizer)
        self._local.progress = progress  # the loader runs in this thread (LoadCache is single-flight)
        try:
            return self._tokenizers.get(name)
        finally:
            self._local.progress = None

    def info(self, tokenizer: str) -> TokenizerInfo:
        """What the UI shows about a tokenizer (loads it if needed)."""
        name = self.resolve(tokenizer)
        adapter = self.adapter(name)
        if name in TOKENIZERS:
            spec = get_tokenizer_spec(name)
            return TokenizerInfo(name, spec.label, spec.family, spec.notes, adapter.lossless, adapter.vocab_size)
        return TokenizerInfo(
            name, name, "Hugging Face Hub tokenizer", "Loaded from the Hub.", False, adapter.vocab_size
        )

    # --- tokenize ---------------------------------------------------------------------------------

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
        """Tokenise ``text``: every id, stats over the whole text, display segments for the first tokens.

        Args:
            text: the input (1 to ``settings.max_text_chars`` characters, valid Unicode).
            tokenizer: a catalog key or a Hub ref.
            add_special_tokens: add the tokenizer's BOS / CLS / SEP tokens.
            display_limit: segment at most this many tokens; -1 for ``settings.display_tokens``; None for all.
            progress: told in words when a first-time build starts.

        Raises:
            InputError: empty, too long or invalid text.
            UnknownKeyError, InvalidRepoIdError, HubError, AssetMissingError: the tokenizer cannot be had.
        """
        check_text(text, max_chars=self.settings.max_text_chars)
        limit = self.settings.display_tokens if display_limit == -1 else display_limit
        result, _ = self._tokenize(text, self.resolve(tokenizer), add_special_tokens, limit=limit, progress=progress)
        return result

    def _tokenize(
        self,
        text: str,
        name: str,
        add_special_tokens: bool,
        *,
        limit: int | None = -1,
        whole: bool = False,
        progress: Progress | None = None,
    ) -> tuple[TokenizeResult, SegmentTable | None]:
        """Tokenise checked text with a resolved name; with ``whole``, also the segments of the whole text."""
        adapter = self.adapter(name, progress=progress)
        if limit == -1:
            limit = self.settings.display_tokens
        ids, offsets = adapter.encode_with_offsets(
            text, add_special_tokens=add_special_tokens, limit=None if whole else limit
        )
        specials = self._special_lookup(name, adapter)
        full = segment_table(text, ids=ids, offsets=offsets, special_ids=specials) if whole else None
        shown = len(offsets) if limit is None else min(limit, len(offsets))
        table = segment_table(text, ids=ids, offsets=offsets[:shown], special_ids=specials, tail_gap=shown == len(ids))
        stats = text_stats(text=text, n_tokens=len(ids), vocab_size=adapter.vocab_size)
        result = TokenizeResult(
            info=self.info(name),
            text=text,
            id_array=ids,
            table=table,
            shown_tokens=shown,
            stats=stats,
            add_special_tokens=add_special_tokens,
            describe=functools.partial(self._describe, name),
        )
        return result, full

    @staticmethod
    def _special_lookup(name: str, adapter: TokenizerAdapter) -> np.ndarray:
        """``is_special[id]`` as a boolean array, made once per loaded adapter (and dropped with it)."""
        lookup = _SPECIAL_LOOKUPS.get(adapter)
        if lookup is None:
            lookup = np.zeros(adapter.vocab_size, dtype=bool)
            lookup[[i for i in adapter.special_ids if 0 <= i < adapter.vocab_size]] = True
            _SPECIAL_LOOKUPS[adapter] = lookup
        return lookup

    def _describe(self, name: str, token_id: int) -> TokenInfo:
        """Vocabulary details of one id, remembered per tokenizer (they never change)."""
        key = (name, token_id)
        found = self._details.get(key)
        if found is None:
            adapter = self.adapter(name)
            found = TokenInfo(
                token_id, adapter.piece(token_id), adapter.token_bytes(token_id), token_id in adapter.special_ids
            )
            if len(self._details) >= _MAX_DETAILS:
                self._details.clear()
            self._details[key] = found
        return found

    @_light
    def token_info(self, *, tokenizer: str, token_id: int) -> TokenInfo:
        """The vocabulary entry for one id.

        Raises:
            InvalidIdsError: the id is not in the vocabulary.
        """
        name = self.resolve(tokenizer)
        self._check_ids(self.adapter(name), [token_id], name)
        return self._describe(name, token_id)

    # --- compare ----------------------------------------------------------------------------------

    @_light
    def compare(self, *, text: str, tokenizers: Sequence[str], add_special_tokens: bool = False) -> CompareResult:
        """The same text through 2 to ``settings.max_compare`` tokenizers.

        Raises:
            InputError: fewer than two or more than ``max_compare`` tokenizers, or bad text.
        """
        final = None
        for final in self.compare_steps(text=text, tokenizers=tokenizers, add_special_tokens=add_special_tokens):  # noqa: B007
            pass
        assert final is not None
        return final

    @_light
    def compare_steps(
        self, *, text: str, tokenizers: Sequence[str], add_special_tokens: bool = False
    ) -> Iterator[CompareResult]:
        """``compare``, one tokenizer at a time: a partial result after each, the marked one last.

        A caller that stops iterating (a visitor who closed the page) stops the work between tokenizers.

        Raises:
            InputError: fewer than two or more than ``max_compare`` tokenizers, or bad text.
        """
        names = list(dict.fromkeys(t for t in (tokenizers or []) if t))
        low, high = self.settings.min_compare, self.settings.max_compare
        if not low <= len(names) <= high:
            raise InputError(f"Pick {low} to {high} different tokenizers to compare (you picked {len(names)}).")
        names = [self.resolve(n) for n in names]  # fail on a bad name before any work
        check_text(text, max_chars=self.settings.max_text_chars)
        snap = _compare.snap_table(text)
        results: list[TokenizeResult] = []
        masks: list[np.ndarray] = []
        tables: list[SegmentTable] = []
        for name in names:
            result, whole = self._tokenize(text, name, add_special_tokens, whole=True)
            results.append(result)
            tables.append(whole)
            masks.append(_compare.boundary_mask(snap, whole))
            if len(results) < len(names):
                yield CompareResult(text, list(results), [], [], done=False)
        shared = _compare.shared_mask(snap, masks)
        marks = [_compare.differs_mask(snap, r.table, shared).tolist() for r in results]
        differing = [int(_compare.differs_mask(snap, t, shared).sum()) for t in tables]
        yield CompareResult(text, results, marks, differing)

    # --- decode -----------------------------------------------------------------------------------

    def _check_ids(self, adapter: TokenizerAdapter, ids: Sequence[int], tokenizer: str) -> None:
        for token_id in ids:
            if not 0 <= token_id < adapter.vocab_size or not adapter.has_id(token_id):
                raise InvalidIdsError(
                    f"{token_id} is not an id of the {tokenizer} vocabulary "
                    f"(ids run from 0 to {adapter.vocab_size - 1:,})."
                )

    @_light
    def decode(self, *, ids: str | Sequence[int], tokenizer: str) -> DecodeResult:
        """Decode a list of ids (or its text form, ``"[1, 2, 3]"``) to text.

        Raises:
            InvalidIdsError: malformed, too many, or not in the vocabulary.
        """
        if isinstance(ids, str) or ids is None:
            id_list = parse_ids(ids, max_ids=self.settings.max_decode_ids)
        elif isinstance(ids, (list, tuple)) and all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            if len(ids) > self.settings.max_decode_ids:
                raise InvalidIdsError(
                    f"{len(ids):,} ids is too many to decode at once; the limit is {self.settings.max_decode_ids:,}."
                )
            id_list = list(ids)
        else:
            raise InvalidIdsError("Ids must be whole numbers, as a list or as text such as [15496, 995].")
        if any(i < 0 for i in id_list):
            raise InvalidIdsError("Ids are never negative.")
        name = self.resolve(tokenizer)
        adapter = self.adapter(name)
        self._check_ids(adapter, id_list, name)
        text = adapter.decode(id_list)
        shown = id_list[: self.settings.display_tokens]
        return DecodeResult(text, [self._describe(name, i) for i in shown])

    # --- models and generation --------------------------------------------------------------------

    @property
    def runtime(self) -> Runtime:
        """The device policy (detected on first use, so tokenizer-only use never imports torch)."""
        if self._runtime is None:
            self._runtime = current_runtime()
        return self._runtime

    def model_choices(self) -> list[tuple[str, str]]:
        """``(label, key)`` pairs for the model dropdown (a model only the operator's server has comes last)."""
        choices = [(spec.label, spec.key) for spec in MODELS.values()]
        for engine in self.engines.values():
            config = getattr(engine, "config", None)
            if config is not None and config.model not in MODELS:
                choices.append((f"{config.model} (served by {config.kind.label})", config.model))
        return choices

    HUB_RECHECK_S = 300.0  # how long a Hub reachability probe's answer stands

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
        if not hub_problem:
            return self.model_choices()
        hub_models = {spec.key for spec in MODELS.values() if spec.source == "hub"}
        return [(label, key) for label, key in self.model_choices() if key not in hub_models]

    def _served_only(self, name: str) -> GenerationEngine | None:
        """The engine that alone has this model (a model only the operator's server serves), or None."""
        for engine in self.engines.values():
            exclusive = getattr(engine, "exclusive", None)
            if exclusive is not None and exclusive(name):
                return engine
        return None

    def _needs_weights(self, name: str, what: str) -> None:
        """Refuse a view that needs the model's weights here for a model only a server has."""
        engine = self._served_only(name)
        if engine is not None:
            raise InputError(
                f"{what} needs the model's weights on this machine; {name} is only served by "
                f"{engine.capabilities.label}.",
                field="model",
            )

    @staticmethod
    def method_choices() -> list[tuple[str, str]]:
        """``(label, key)`` pairs for the decoding-method dropdown."""
        return [(m.label, m.key) for m in METHODS.values()]

    def resolve_model(self, model: str) -> str:
        """A catalog model key, or a validated Hub ref.

        Raises:
            UnknownKeyError: neither a catalog key nor shaped like a repo id.
            InvalidRepoIdError: shaped like a path or repo id but not a valid one.
        """
        if isinstance(model, str) and self._served_only(model.strip()) is not None:
            return model.strip()
        return _resolve(model, registry=MODELS, kind="model")

    def _load_model(self, key: tuple[str, str]) -> ModelBundle:
        engine_name, name = key
        progress = getattr(self._local, "progress", None)
        if progress is not None:
            progress(f"Loading {name} on {self.engines[engine_name].capabilities.label}…")
        if engine_name == "transformers" and self._model_loader is not None:
            return self._model_loader(name)
        return self.engines[engine_name].load(
            name, runtime=self.runtime, settings=self.settings, progress=progress, budget=self.disk
        )

    def _size_of(self, engine_name: str, name: str) -> int:
        if engine_name == "transformers" and self._model_size is not None:
            return self._model_size(name)
        return self.engines[engine_name].model_size(name, runtime=self.runtime, settings=self.settings)

    def model(self, model: str, *, progress: Progress | None = None, engine: str = "transformers") -> ModelBundle:
        """The loaded model (once, then cached; the cache is bounded by count and memory, checked before loading).

        Raises:
            CapacityError: the model does not fit the memory bound.
        """
        name = self.resolve_model(model)
        self._local.progress = progress
        try:
            return self._models.get((engine, name), size_hint=lambda: self._size_of(engine, name))
        finally:
            self._local.progress = None

    @contextlib.contextmanager
    def _model_in_use(self, engine: str, name: str, progress: Progress | None) -> Iterator[ModelBundle]:
        self._local.progress = progress
        try:
            with self._models.use((engine, name), size_hint=lambda: self._size_of(engine, name)) as bundle:
                self._local.progress = None
                yield bundle
        finally:
            self._local.progress = None

    def choose_engine(
        self, *, model: str, method: str, engine: str | None = None, params: dict | None = None
    ) -> tuple[GenerationEngine, str]:
        """The engine that runs a request, and why: the one asked for, or the fastest that can.

        A model only the operator's server has runs there or nowhere: a method the server cannot run is
        refused with the server's reason.

        Raises:
            UnknownKeyError: an engine name that does not exist.
            InputError: the engine asked for cannot run this method, model or device here (the message says why).
        """
        device = "cuda" if self.runtime.kind == "zerogpu" else self.runtime.device
        name = self.resolve_model(model)
        values = resolve_params(method=method, params=params)
        only = self._served_only(name)
        if only is not None and engine and engine != only.capabilities.name:
            raise InputError(f"{name} is only served by {only.capabilities.label}.", field="engine")
        if engine:
            chosen = self.engines.get(engine)
            if chosen is None:
                raise UnknownKeyError(kind="engine", key=engine, known=self.engines)
            reason = _refusal(chosen, name, method, device, values)
            if reason:
                raise InputError(reason, field="engine")
            return chosen, f"{chosen.capabilities.label}, as asked."
        if only is not None:
            reason = _refusal(only, name, method, device, values)
            if reason:
                raise InputError(f"{METHODS[method].label} is not available for {name}: {reason}", field="method")
            return only, f"{only.capabilities.label}: the only engine that has {name}."
        passed_over: list[str] = []
        for candidate in self.engines.values():
            reason = _refusal(candidate, name, method, device, values)
            if reason is None:
                why = f"{candidate.capabilities.label}: the fastest engine for {method} on {device} here"
                return candidate, why + (f" ({' '.join(passed_over)})" if passed_over else ".")
            passed_over.append(reason)
        raise InputError(f"No engine can run {method} here: {' '.join(passed_over)}", field="engine")

    def model_loaded(self, model: str, *, engine: str = "transformers") -> bool:
        return (engine, self.resolve_model(model)) in self._models

    def preload_models(self) -> list[str]:
        """Load the embedded catalog models now (ZeroGPU wants them on ``cuda`` at start-up)."""
        keys = [spec.key for spec in MODELS.values() if spec.source == "gguf"]
        for key in keys:
            self.model(key)
        return keys

    def warm_up(self, *, start: bool = True) -> WarmUp | None:
        """Get what a first visitor uses ready in the background (``settings.warm_up``; ``app.py`` calls it once the
        app serves): the Tokenize tab's tokenizer, then the Generate tab's default run's model on the engine that
        run takes, through ``model``, the path a run takes (llama.cpp: the weights converted, the tokenizer read,
        the worker process started and checked; see ``rsdemo.warmup`` for the priorities).

        A run for that model and engine asked for meanwhile waits for it and shows its stage (``_generate``).

        >>> # Backend().warm_up().wait(); Backend().model_loaded("smollm2-135m-instruct", engine="llama.cpp") -> True

        Returns:
            The ``WarmUp`` (started unless ``start`` is False), or None: turned off, or ZeroGPU (which loads its
            models at start-up, ``preload_models``).
        """
        if not self.settings.warm_up or self._zerogpu:
            return None
        chosen: dict[str, Any] = {}

        def choose(_report: Progress) -> None:
            engine, _why = self.choose_engine(model=DEFAULT_MODEL, method="greedy")  # the Generate tab's default
            chosen["engine"] = engine
            warm.target = (engine.capabilities.name, DEFAULT_MODEL)

        def load(report: Progress) -> None:
            if not hasattr(chosen["engine"], "loaded"):  # a serving engine: nothing to load here
                self.model(DEFAULT_MODEL, engine=chosen["engine"].capabilities.name, progress=report)

        warm = WarmUp(
            steps=[
                Step("choosing the engine…", choose),
                Step("loading the tokenizer…", lambda _report: self.adapter(DEFAULT_TOKENIZER)),
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

    def _gpu_seconds(self, *, model: str, params: dict | None = None, **_: object) -> int:
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

    def stop(self, *, visitor: str) -> int:
        """Stop every generation of ``visitor`` at its next token; returns how many were running."""
        with self._runs_lock:
            flags = list(self._runs.get(visitor, ()))
        for flag in flags:
            flag.set()
        return len(flags)

    @property
    def running(self) -> int:
        """How many generations are running (or waiting for a slot) now."""
        with self._runs_lock:
            return sum(len(flags) for flags in self._runs.values())

    @contextlib.contextmanager
    def _visitor_run(self, visitor: str, cancel: threading.Event) -> Iterator[None]:
        """Register a run; a visitor over ``runs_per_visitor`` has their oldest runs stopped."""
        with self._runs_lock:
            flags = self._runs.setdefault(visitor, [])
            flags.append(cancel)
            older = flags[: max(0, len(flags) - max(1, self.settings.runs_per_visitor))]
        for flag in older:
            flag.set()
        try:
            yield
        finally:
            with self._runs_lock:
                flags = self._runs.get(visitor, [])
                if cancel in flags:
                    flags.remove(cancel)
                if not flags:
                    self._runs.pop(visitor, None)

    def _wait_for_slot(self, cancel: threading.Event) -> Iterator[int]:
        """Wait, first come first served, for one of the ``generation_slots``; yields how many runs are ahead.

        Returns holding the slot (give it back with ``_release_slot``). A run stopped while it waits never starts.

        Raises:
            InputError: the run was stopped while waiting.
            CapacityError: no slot came free within ``run_time_limit_s``.
        """
        ticket = object()
        deadline = time.monotonic() + self.settings.run_time_limit_s
        shown = None
        with self._slots:
            self._waiting.append(ticket)
        try:
            while True:
                with self._slots:
                    if self._free_slots > 0 and self._waiting[0] is ticket:
                        self._waiting.popleft()
                        self._free_slots -= 1
                        return
                    ahead = self._waiting.index(ticket)  # runs waiting before this one
                    self._slots.wait(0.25)
                if cancel.is_set():
                    raise InputError("The generation was stopped before it started.")
                if time.monotonic() > deadline:
                    raise CapacityError("Every generation slot has been busy for too long. Try again in a minute.")
                if ahead != shown:
                    shown = ahead
                    yield ahead
        finally:
            with self._slots:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._slots.notify_all()

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        """Hold a generation slot for model work that does not stream its place in line (the insight views)."""
        for _ahead in self._wait_for_slot(threading.Event()):
            pass
        try:
            yield
        finally:
            self._release_slot()

    def _release_slot(self) -> None:
        with self._slots:
            self._free_slots += 1
            self._slots.notify_all()

    def _generate(
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
            visitor: who asks (a browser session, an API client); ``stop(visitor=...)`` stops their runs, and a
                visitor's newest run stops their older ones beyond ``settings.runs_per_visitor``.
            engine: the generation engine (``Backend.engines``); None: the fastest that can run the request.
            prefix: token ids forced after the prompt (a branch: the original run's tokens up to a position, then
                another candidate); the results hold only the tokens generated after them.

        Raises:
            InputError: empty prompt, parameters out of range, unknown method.
            UnknownKeyError, HubError, AssetMissingError: the model cannot be had.
            CapacityError: the model does not fit in memory, or every slot stays busy.
        """
        name = self.resolve_model(model)
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
        chosen, reason = self.choose_engine(model=name, method=method, engine=engine, params=params)
        if hasattr(chosen, "loaded"):  # a serving engine: no weights here, no local slot
            yield from self._generate_remote(
                chosen,
                name=name,
                prompt=prompt,
                method=method,
                params=params,
                chat=chat,
                stop=stop,
                cancel=cancel,
                progress=progress,
                details=details,
                visitor=visitor,
                prefix=prefix,
                reason=reason,
            )
            return
        injected = chosen.capabilities.name == "transformers" and self._model_loader is not None
        if not injected and not self.model_loaded(name, engine=chosen.capabilities.name):
            chosen.precheck(name, settings=self.settings)  # an unusable Hub fails now, not after waiting for a slot
        tag = {"engine": chosen.capabilities.name, "engine_reason": reason}
        cancel = cancel or threading.Event()
        who = visitor or f"anonymous-{id(cancel)}"
        with self._visitor_run(who, cancel):
            # the start-up warm-up is loading this model: wait for that load (not a second one), saying how far it is
            asked, waited = time.perf_counter(), False
            for stage in self._warm_up_wait(chosen.capabilities.name, name, cancel):
                waited = True
                yield GenerationResult(
                    model=name,
                    method=method,
                    params=dict(params or {}),
                    seed=0,
                    prompt=PromptInfo(prompt, (), chat),
                    beams=(),
                    done=False,
                    preparing=stage,
                    **tag,
                )
            if waited:  # shown as the model's load, apart from the time to the first token
                tag["load_s"] = time.perf_counter() - asked
            for ahead in self._wait_for_slot(cancel):
                yield GenerationResult(
                    model=name,
                    method=method,
                    params=dict(params or {}),
                    seed=0,
                    prompt=PromptInfo(prompt, (), chat),
                    beams=(),
                    done=False,
                    waiting=ahead,
                    **tag,
                )
            try:
                run = dict(
                    name=name,
                    prompt=prompt,
                    method=method,
                    params=params,
                    chat=chat,
                    stop=stop,
                    cancel=cancel,
                    details=details,
                    progress=progress,
                    prefix=prefix,
                )
                try:
                    yield from self._run_local(chosen, tag=tag, **run)
                except EngineFailedError as err:  # before the first token: the run goes on on transformers
                    fallback = self.engines.get("transformers")
                    if fallback is None or fallback is chosen:
                        raise
                    label = chosen.capabilities.label.split(" (")[0]
                    self._set_aside(chosen, name, err)
                    note = f"{label} {err}; this run used transformers."
                    tag = {"engine": "transformers", "engine_reason": f"{fallback.capabilities.label}: {note}"}
                    yield from self._run_local(fallback, tag=tag, note=note, **run)
            finally:
                self._release_slot()

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
        with self._model_in_use(chosen.capabilities.name, name, progress) as loaded:
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
        self._models.discard((engine.capabilities.name, name))
        set_aside = getattr(engine, "set_aside", None)
        if err.machine and set_aside is not None:
            set_aside(err)

    def _served_or_gpu(
        self, on_gpu: Callable[..., Iterator[GenerationResult]], **kwargs: Any
    ) -> Iterator[GenerationResult]:
        """ZeroGPU: a run the operator's server takes runs here, asking for no GPU; the rest inside ``spaces.GPU``."""
        try:
            chosen, _ = self.choose_engine(
                model=kwargs["model"],
                method=kwargs.get("method", "greedy"),
                engine=kwargs.get("engine"),
                params=kwargs.get("params"),
            )
        except Exception:  # noqa: BLE001 - the run itself raises the clear error
            chosen = None
        return (self._generate if chosen is not None and hasattr(chosen, "loaded") else on_gpu)(**kwargs)

    def _generate_remote(
        self,
        chosen: Any,
        *,
        name: str,
        prompt: str,
        method: str,
        params: dict | None,
        chat: bool,
        stop: str | None,
        cancel: threading.Event | None,
        progress: Progress | None,
        details: bool,
        visitor: str | None,
        prefix: Sequence[int],
        reason: str,
    ) -> Iterator[GenerationResult]:
        """A run on the operator's server: at most ``remote_streams`` at once; the server does the batching."""
        tag = {"engine": chosen.capabilities.name, "engine_reason": reason}
        cancel = cancel or threading.Event()
        who = visitor or f"anonymous-{id(cancel)}"
        with self._visitor_run(who, cancel):
            deadline = time.monotonic() + self.settings.run_time_limit_s
            while not self._remote_slots.acquire(timeout=0.25):
                if cancel.is_set():
                    raise InputError("The generation was stopped before it started.")
                if time.monotonic() > deadline:
                    raise CapacityError("Every stream to the serving engine has been busy for too long.")
            try:
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
            finally:
                self._remote_slots.release()

    # --- insight: the model's own numbers on a prompt ---------------------------------------------------

    _SCORES_KEPT = 16  # prompts whose forward pass is kept: a slider move re-reads it, no model call

    def _score(self, *, model: str, prompt: str, chat: bool, progress: Progress | None, upto: int = 0) -> _ScoredPrompt:
        """One teacher-forced forward pass over the prompt (transformers, inside a generation slot), kept.

        ``upto``: score only the first ``upto`` tokens (0: all), for the distribution after any token.
        """
        name = self.resolve_model(model)
        spec = MODELS.get(name, None)
        check_request(
            prompt=prompt,
            method="greedy",
            params=None,
            stop=None,
            limits=self.settings,
            model_cap=spec.max_new_tokens if spec is not None else None,
            doing="to score",
        )
        upto = whole(upto, name="position", minimum=0, also=" (0: after the whole prompt)")
        self._needs_weights(name, "The Inside tab")
        key = (name, prompt, bool(chat), upto)
        with self._scores_lock:
            if key in self._scores:
                self._scores.move_to_end(key)
                return self._scores[key]
        if self._model_loader is None and not self.model_loaded(name):
            self.engines["transformers"].precheck(name, settings=self.settings)
        scored = self._forward(model=name, prompt=prompt, chat=chat, upto=upto, progress=progress)
        with self._scores_lock:
            self._scores[key] = scored
            while len(self._scores) > self._SCORES_KEPT:
                self._scores.popitem(last=False)
        return scored

    def _forward_pass(
        self, *, model: str, prompt: str, chat: bool, upto: int, progress: Progress | None
    ) -> _ScoredPrompt:
        """The model part of ``_score``: a slot, the model, one forward pass (on ZeroGPU, inside ``spaces.GPU``)."""
        name, spec = model, MODELS.get(model, None)
        with self._slot(), self._model_in_use("transformers", name, progress) as bundle:
            info = _document(
                build_prompt(tokenizer=bundle.tokenizer, prompt=prompt, chat=bool(chat)),
                tokenizer=bundle.tokenizer,
                spec=spec,
            )
            if upto:
                if upto > len(info.ids):
                    raise InputError(
                        f"The prompt has {len(info.ids):,} tokens; pick a position from 1 to "
                        f"{len(info.ids):,} (0: after the whole prompt).",
                        field="params",
                    )
                info = dataclasses.replace(
                    info, ids=info.ids[:upto], text=bundle.tokenizer.decode(list(info.ids[:upto]))
                )
            if len(info.ids) > self.settings.max_scored_tokens:
                raise InputError(
                    f"The prompt is {len(info.ids):,} tokens; the most this page scores is "
                    f"{self.settings.max_scored_tokens:,}.",
                    field="prompt",
                )
            return _ScoredPrompt(
                name, info, score(model=bundle.model, ids=info.ids), bundle_adapter(bundle), bundle.tokenizer
            )

    @_light
    def surprisal(
        self, *, model: str, prompt: str, chat: bool = False, progress: Progress | None = None
    ) -> SurprisalResult:
        """How surprising each prompt token is to the model: its probability given what precedes it.

        >>> # Backend().surprisal(model="smollm2-135m-instruct", prompt="The cat sat on the mat.").surprisal.perplexity

        Raises:
            InputError: an empty or too long prompt.
            UnknownKeyError, HubError, AssetMissingError, CapacityError: as for generation.
        """
        scored = self._score(model=model, prompt=prompt, chat=chat, progress=progress)
        run, adapter = scored.scored, scored.adapter
        tokens = []
        for k, token_id in enumerate(scored.prompt.ids):
            if k == 0:
                tokens.append(make_token(adapter, token_id, float("nan")))
                continue
            expected = alternatives(adapter, run.top_ids[k - 1].tolist(), run.top_probs[k - 1].tolist())
            tokens.append(make_token(adapter, token_id, math.exp(float(run.logprobs[k - 1])), raw_top=expected))
        return SurprisalResult(
            scored.model,
            scored.prompt,
            tuple(tokens),
            surprisal_from_logprobs(ids=scored.prompt.ids, logprobs=run.logprobs),
        )

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
        """The model's next-token distribution after the prompt, through each stage of ``method``'s pipeline.

        ``position``: the distribution after the prompt's first ``position`` tokens instead (0: the whole prompt),
        to look at any point of a text (paste a generated answer after its prompt, and pick its tokens).

        The forward pass is kept for the last prompts, so changing the method or its parameters re-runs only
        the stages (no model call). ``probes``: words or tokens, one per line, whose probability and rank every
        stage reports (each becomes its first token; a word without a leading space is also tried with one).

        Raises:
            InputError: an empty or too long prompt, parameters out of range.
            UnknownKeyError, HubError, AssetMissingError, CapacityError: as for generation.
        """
        get_method(method)
        resolve_params(method=method, params=params)  # bad parameters fail before the model is touched
        scored = self._score(model=model, prompt=prompt, chat=chat, progress=progress, upto=position)
        typed = _probe_ids(scored.tokenizer, probes)
        view = stage_view(
            logits=scored.scored.last_logits,
            context_ids=scored.prompt.ids,
            method=method,
            params=params,
            top=10,
            probes=[i for _, i in typed],
        )
        shown = {i for row in view.rows for i, _ in row.top} | {i for _, i in typed}
        pieces = {i: make_token(scored.adapter, i, 0.0).text for i in shown}
        return NextTokenResult(
            scored.model, method, scored.prompt, view, pieces, typed, tuple(row.name for row in view.rows)
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
        """2 to 4 runs on one prompt, model and seed, one after another; a result after each.

        Each run is a decoding method, or with ``engines`` (two or more) a method on an engine: every method on
        every engine, so two engines stand side by side on the same method and seed. ``params`` holds the common
        parameters (``max_new_tokens``, ``seed``, ``repetition_penalty`` ...), given to every run; each method
        otherwise runs with its own defaults. A row of ``ArenaResult.methods`` is ``method`` or ``method@engine``.

        >>> # Backend().arena(model="smollm2-135m-instruct", prompt="Hi", methods=["greedy"],
        >>> #                 engines=["llama.cpp", "transformers"])

        Raises:
            InputError: fewer than 2 or more than 4 runs, an engine that cannot run a method, or what a
                generation request raises.
        """
        names = list(
            dict.fromkeys(
                key_list(
                    methods or [],
                    name="methods",
                    takes="decoding method keys",
                    example='["greedy", "top_p"]',
                    field="method",
                )
            )
        )
        chosen_engines = list(dict.fromkeys(e for e in (engines or []) if e))
        entries = (
            [(m, e) for m in names for e in chosen_engines]
            if len(chosen_engines) > 1
            else [(m, chosen_engines[0] if chosen_engines else None) for m in names]
        )
        if not 2 <= len(entries) <= 4:
            what = "method-and-engine pairs" if len(chosen_engines) > 1 else "different decoding methods"
            raise InputError(f"Pick 2 to 4 {what} (you picked {len(entries)}).", field="method")
        common = {k: v for k, v in (params or {}).items() if k in {p.name for p in COMMON_PARAMS}}
        common = dict(draw_seed(common) or {})  # a seed of -1: one drawn now, the same for every run
        for name, on in entries:
            get_method(name)
            check_request(prompt=prompt, method=name, params=common, stop=None, limits=self.settings)
            if on is not None and len(chosen_engines) > 1:
                self.choose_engine(model=model, method=name, engine=on, params=common)  # refused before any run
        keys = [f"{m}@{e}" if e is not None and len(chosen_engines) > 1 else m for m, e in entries]
        runs: list[GenerationResult] = []
        seconds: list[float] = []
        logprobs: list[float | None] = []
        scorer = "transformers" if self._served_only(self.resolve_model(model)) is None else "each run's engine"
        for n, (name, on) in enumerate(entries):
            started = time.perf_counter()
            final = None
            fast = on if len(chosen_engines) > 1 else (on or engine) if name in _FAST_METHODS else None
            for final in self.generate(  # noqa: B007
                model=model, prompt=prompt, method=name, params=common, chat=chat, visitor=visitor, engine=fast
            ):
                pass
            assert final is not None
            runs.append(final)
            seconds.append(time.perf_counter() - started)
            # one scorer for every row: the engines' own sums part in the last digits (llama.cpp's kernels,
            # a beam's cache), so the same text would read as two figures
            logprobs.append(
                final.logprob
                if scorer != "transformers"
                else self._raw_logprob(model=final.model, run=final)
                if final.tokens
                else None
            )
            rows = arena_rows(
                methods=keys[: n + 1],
                outputs=[[t.id for t in r.tokens] for r in runs],
                logprobs=logprobs,
                perplexities=[
                    None if lp is None or not r.tokens else math.exp(-lp / len(r.tokens))
                    for lp, r in zip(logprobs, runs)
                ],
                seconds=seconds,
            )
            yield ArenaResult(tuple(keys), tuple(runs), tuple(rows), done=n + 1 == len(entries), scored_by=scorer)

    def _raw_logprob_pass(self, *, model: str, run: GenerationResult) -> float | None:
        """The sum of a run's tokens' log-probabilities under the raw model, by transformers' forward pass (None
        past ``max_scored_tokens``)."""
        ids = [*run.prompt.ids, *(t.id for t in run.tokens)]
        if len(ids) > self.settings.max_scored_tokens:
            return None
        with self._slot(), self._model_in_use("transformers", self.resolve_model(model), None) as bundle:
            scored = score(model=bundle.model, ids=ids, top=1)
        return float(scored.logprobs[len(run.prompt.ids) - 1 :].sum())

    def second_opinion(self, *, run: GenerationResult, progress: Progress | None = None) -> SecondOpinion:
        """transformers' own numbers at each token of a run another engine made: one teacher-forced forward pass.

        Where nearly tied candidates are ranked the other way round by the two engines, ``SecondOpinion.differing``
        says so, with both probabilities; the token view marks those tokens.

        Raises:
            InputError: a run with no tokens, made by transformers itself, or longer than ``max_scored_tokens``.
        """
        if not run.tokens or not run.done:
            raise InputError("Run a generation first: there are no tokens to check yet.", field="engine")
        if run.engine == "transformers":
            raise InputError("This run is transformers' own: choose another engine to compare it with.", field="engine")
        ids = [*run.prompt.ids, *(t.id for t in run.tokens)]
        if len(ids) > self.settings.max_scored_tokens:
            raise InputError(
                f"The prompt and the run are {len(ids):,} tokens; the most this page scores is "
                f"{self.settings.max_scored_tokens:,}.",
                field="engine",
            )
        self._needs_weights(run.model, "Comparing with transformers")
        with self._slot(), self._model_in_use("transformers", self.resolve_model(run.model), progress) as bundle:
            scored = score(model=bundle.model, ids=ids, top=1)
            adapter = bundle_adapter(bundle)
        return SecondOpinion(
            run.engine,
            opinions(
                tokens=run.tokens,
                logprobs=scored.logprobs,
                top_ids=scored.top_ids,
                top_probs=scored.top_probs,
                start=len(run.prompt.ids),
                text=lambda i: make_token(adapter, i, 0.0).text,
            ),
        )

    def _beam_tree(
        self,
        *,
        model: str,
        prompt: str,
        chat: bool = True,
        params: dict | None = None,
        progress: Progress | None = None,
    ) -> BeamTreeResult:
        """Beam search (transformers) with every kept hypothesis recorded at every step, as a tree.

        At most ``TREE_BEAMS`` beams, so the picture stays readable; a longer Max new tokens draws a search of
        ``TREE_STEPS`` steps and says so in ``notes`` (the page's own default, 64, draws the first 32).

        Raises:
            InputError: bad parameters, more than 8 beams, an empty prompt.
        """
        from transformers.generation import LogitsProcessorList

        from .generation.eos import eos_ids, trim_after_eos
        from .insight.beam_tree import TREE_BEAMS, BeamRecorder, build_tree, tree_steps

        values = resolve_params(method="beam", params=params)
        if values["num_beams"] > TREE_BEAMS:
            raise InputError(
                f"The beam tree draws at most {TREE_BEAMS} beams; Beams is {values['num_beams']}. "
                f"Set Beams to {TREE_BEAMS} or fewer to draw it.",
                field="params",
            )
        steps, notes = tree_steps(values["max_new_tokens"])
        params = {**(params or {}), "max_new_tokens": steps}
        name = self.resolve_model(model)
        self._needs_weights(name, "The beam search tree")
        check_request(prompt=prompt, method="beam", params=params, stop=None, limits=self.settings)
        if self._model_loader is None and not self.model_loaded(name):
            self.engines["transformers"].precheck(name, settings=self.settings)
        with self._slot(), self._model_in_use("transformers", name, progress) as bundle:
            import torch

            info = build_prompt(tokenizer=bundle.tokenizer, prompt=prompt, chat=bool(chat))
            config = generation_config(method="beam", params=params, return_dict_in_generate=True, output_scores=True)
            recorder = BeamRecorder(prompt_len=len(info.ids), keep=2 * int(values["num_beams"]))
            input_ids = torch.tensor([list(info.ids)], device=bundle.device)
            with torch.inference_mode():
                out = bundle.model.generate(
                    input_ids,
                    generation_config=config,
                    attention_mask=torch.ones_like(input_ids),
                    logits_processor=LogitsProcessorList([recorder]),
                )
            eos = eos_ids(bundle.tokenizer, bundle.model)
            returned = [trim_after_eos(seq[len(info.ids) :].tolist(), eos) for seq in out.sequences]
            scores = [float(v) for v in out.sequences_scores]
            adapter = bundle_adapter(bundle)
            tree = build_tree(steps=recorder.steps, returned=returned, eos=eos)
            pieces = {n.token: make_token(adapter, n.token, 0.0).text for n in tree.nodes}
            texts = tuple(bundle.tokenizer.decode(r, skip_special_tokens=True) for r in returned)
        return BeamTreeResult(name, info, tree, pieces, tuple(scores), texts, float(values["length_penalty"]), notes)


_FAST_METHODS = frozenset(METHODS) - {"beam", "beam_sample", "diverse_beam", "contrastive"}


@dataclass(frozen=True, slots=True)
class _ScoredPrompt:
    model: str
    prompt: PromptInfo
    scored: Scored
    adapter: object
    tokenizer: object


def _document(info: PromptInfo, *, tokenizer: Any, spec: Any) -> PromptInfo:
    """A plain text, as a document starts in the model's training data (the catalog's ``document_start``)."""
    start = getattr(spec, "document_start", "") if spec is not None else ""
    if info.chat or not start:
        return info
    start_id = tokenizer.convert_tokens_to_ids(start)
    if not isinstance(start_id, int) or tokenizer.convert_ids_to_tokens(start_id) != start:
        return info  # the tokenizer has no such token
    if info.ids and info.ids[0] == start_id:
        return info
    return dataclasses.replace(info, text=start + info.text, ids=(start_id, *info.ids))


def _probe_ids(tokenizer: object, probes: str | Sequence[str] | None) -> tuple[tuple[str, int], ...]:
    """Words or tokens typed by a visitor -> (what was typed, its first token id); at most 8."""
    if not probes:
        return ()
    items = probes.split("\n") if isinstance(probes, str) else list(probes)
    out: list[tuple[str, int]] = []
    for item in items[:8]:
        if not isinstance(item, str) or not item.strip() or len(item) > 100:
            continue
        variants = [item] if item.startswith(" ") else [item, " " + item]
        for text in variants:
            ids = tokenizer(text, add_special_tokens=False).input_ids  # type: ignore[operator]
            if ids and (text, ids[0]) not in out:
                out.append((text, int(ids[0])))
    return tuple(out)


def _refusal(engine: GenerationEngine, model: str, method: str, device: str, values: dict | None = None) -> str | None:
    """Why ``engine`` cannot run this request here (None: it can)."""
    serves = getattr(engine, "serves", None)
    refuses = getattr(engine, "refuses", None)
    return (
        engine.missing()
        or (serves(model) if serves is not None else None)
        or (refuses(method=method, values=values or {}) if refuses is not None else None)
        or engine.capabilities.refuses(method=method, device=device)
    )


def _resolve(name: str | None, *, registry: Mapping[str, object], kind: str) -> str:
    """A registry key as it is, or a Hub ref (``owner/name[@rev]``, ``hf:name``) validated and normalised."""
    if name is not None and not isinstance(name, str):
        raise UnknownKeyError(kind=kind, key=repr(name), known=registry)
    name = (name or "").strip()
    if name in registry:
        return name
    if "/" in name or name.startswith("hf:"):
        ref = parse_hub_ref(name)
        return f"{ref.repo_id}@{ref.revision}" if ref.revision else ref.repo_id
    raise UnknownKeyError(kind=kind, key=name, known=registry)
