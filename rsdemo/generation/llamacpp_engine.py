"""The fast CPU engine: llama.cpp on the GGUF file that ships, with every token's distribution.

llama.cpp (through ``llama-cpp-python``'s ctypes bindings, built from source by ``scripts/setup.sh``)
runs the very weights the transformers path dequantises — the embedded model's Q4_1 GGUF — about five
times as fast on a CPU. rsdemo only asks it for the logits of each step; everything after that is
transformers' own code: the decoding stages (``rsdemo.generation.processors``: repetition penalty,
temperature, top-k, top-p, min-p, typical, epsilon, eta, in transformers' order), the softmax, and the
draw (``torch.multinomial`` with the run's seeded generator). So the probabilities and alternatives a
view shows are a softmax of llama.cpp's own logits, before and after the filters, and a seeded run
repeats itself. Greedy and the sampling family run here; beam search, contrastive search and diverse
beam search run on transformers.

When ``llama_cpp`` is not installed (the build is an extra), ``missing()`` says so and the backend uses
transformers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import AssetMissingError, EngineFailedError, InputError
from ..core.settings import Settings
from ..decoding import METHODS, generation_config, get_method
from . import engine_check
from .engine import Capabilities, GenerationEngine
from .llamacpp_model import DecodeJob, LlamaCppModel, teacher_forced_logits
from .llamacpp_native import extra_buffers, installed
from .llamacpp_weights import BYTES_PER_PARAM, shipped_kind, weights_built, weights_file
from .prompts import build_prompt
from .reproduce import reproduce_code
from .requests import check_request
from .results import Beam, GeneratedToken, GenerationResult, PromptInfo, alternatives
from .run_clock import MAX_NEW_TOKENS, RunClock, finish_reason
from .worker.client import uses_worker

__all__ = ["LlamaCppEngine", "LlamaCppModel", "teacher_forced_logits"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


class LlamaCppEngine(GenerationEngine):
    """llama.cpp on the embedded GGUF models, on the CPU: greedy and the sampling family."""

    capabilities = Capabilities(
        name="llama.cpp",
        label="llama.cpp (GGUF, CPU)",
        methods=frozenset(k for k, m in METHODS.items() if m.streams and m.custom is None),
        devices=frozenset({"cpu"}),
        streams=True,
        probabilities=True,
        rank=1,
        note="llama.cpp runs the GGUF weights; rsdemo applies transformers' own decoding stages to its logits, so "
        "probabilities are shown before and after the filters.",
    )

    def __init__(self, *, settings: Settings | None = None) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._why: str | None = None  # set aside for this process: what happened
        self._asked = False  # the remembered verdict was read

    def missing(self) -> str | None:
        if not installed():
            return (
                "llama.cpp is not installed here (bash scripts/setup.sh builds it, a few minutes once); "
                "transformers runs instead."
            )
        why = self.unusable()
        if why:
            return f"llama.cpp is unavailable on this machine: it {why}. Automatic runs use transformers."
        return None

    def unusable(self) -> str | None:
        """Why llama.cpp is set aside on this machine (a crash or a failed self-check, here or remembered), or None."""
        with self._lock:
            if self._why is None and not self._asked and self._settings is not None:
                self._asked = True
                verdict = engine_check.remembered(
                    self._settings.cache_dir, engine="llama.cpp", key=self._verdict_key(self._settings)
                )
                if verdict is not None and not verdict["ok"]:
                    self._why = (
                        f"{verdict['why']} (remembered from {verdict['when']}; a rebuilt llama.cpp or "
                        f"deleting {verdict['path']} tries again)"
                    )
            return self._why

    def set_aside(self, err: EngineFailedError) -> bool:
        """Stop using llama.cpp in this process after ``err`` (logged once; a crash of the machine's doing is also
        remembered for this build and CPU). Returns False when it was set aside already."""
        with self._lock:
            if self._why is not None:
                return False
            self._why = str(err)
        log.warning("llama.cpp set aside for this process: it %s; transformers runs instead", err)
        if err.machine and self._settings is not None:
            engine_check.remember(
                self._settings.cache_dir,
                engine="llama.cpp",
                key=self._verdict_key(self._settings),
                ok=False,
                why=str(err),
            )
        return True

    @staticmethod
    def _verdict_key(settings: Settings) -> str:
        return engine_check.verdict_key(
            engine="llama.cpp",
            options={"extra": extra_buffers(settings.llamacpp_extra_buffers), "weights": settings.llamacpp_weights},
        )

    def serves(self, key: str) -> str | None:
        from ..catalog import MODELS

        spec = MODELS.get(key, None)
        if spec is None or spec.source != "gguf":
            return "llama.cpp here runs the embedded GGUF models only; Hub models run on transformers."
        return None

    def model_size(self, key: str, *, runtime: Any, settings: Settings) -> int:
        from ..catalog import get_model_spec
        from ..loading import require_installed

        kind = settings.llamacpp_weights
        spec = get_model_spec(key)
        require_installed(spec)
        size = (
            self._path(key).stat().st_size
            if kind == shipped_kind(spec.path or "")
            else int(spec.params_m * 1e6 * BYTES_PER_PARAM[kind])
        )
        worker = 0
        if uses_worker(settings):
            from .worker.client import PROCESS_BYTES as worker
        return size + settings.generation_slots * 128 * 1024 * 1024 + worker

    @staticmethod
    def _path(key: str) -> Path:
        """The GGUF file the package ships, joined once if it ships in chunks (``llamacpp_weights`` may run another
        built from it)."""
        from ..catalog import get_model_spec
        from ..loading import model_file

        return model_file(get_model_spec(key))

    def load(
        self, key: str, *, runtime: Any, settings: Settings, progress: Progress | None, budget: Any
    ) -> LlamaCppModel:
        from ..catalog import get_model_spec
        from ..loading import gguf_tokenizer
        from ..tokenization.adapters import HFAdapter

        spec = get_model_spec(key)
        self._path(key)
        if uses_worker(settings):
            return self._load_in_worker(key, spec=spec, settings=settings, progress=progress, budget=budget)
        path = self.prepare(key, settings=settings, progress=progress, budget=budget)
        tokenizer = gguf_tokenizer(key=key, settings=settings, progress=progress)
        adapter = HFAdapter(tokenizer.backend_tokenizer, lossless=False)
        extra = extra_buffers(settings.llamacpp_extra_buffers)
        if spec.check is not None:
            self._probe(settings, path=path, check=spec.check, extra=extra, progress=progress)
        loaded = LlamaCppModel(
            key=key,
            spec=spec,
            path=path,
            tokenizer=tokenizer,
            adapter=adapter,
            contexts=settings.generation_slots,
            threads=settings.llamacpp_threads,
            extra=extra,
        )
        if spec.check is not None:
            try:
                engine_check.run_check(loaded, spec.check)
            except EngineFailedError:
                loaded.release()
                raise
        return loaded

    def prepare(self, key: str, *, settings: Settings, progress: Progress | None, budget: Any) -> Path:
        """What ``load`` first builds on disk, once: the GGUF file of ``llamacpp_weights`` (F16 from the shipped
        Q4_1: 2.6 s of every core on the 2-core machine measured, in a child process at ``generation_nice``, so the
        app's light requests keep their CPU).

        Raises:
            EngineFailedError: llama.cpp's quantizer crashed or failed.
        """
        if progress is not None and not weights_built(key=key, kind=settings.llamacpp_weights, settings=settings):
            progress(
                f"Converting the weights to {settings.llamacpp_weights.upper()} for llama.cpp (first time "
                "only, a few seconds)…"
            )
        return weights_file(
            key=key, kind=settings.llamacpp_weights, settings=settings, budget=budget, nice=settings.generation_nice
        )

    def _load_in_worker(
        self, key: str, *, spec: Any, settings: Settings, progress: Progress | None, budget: Any
    ) -> Any:
        """The model in a worker process, which checks the engine before it says ready (a crash costs only it).

        The worker starts first and, while the weights are converted, imports its libraries and reads the tokenizer
        out of the GGUF file, which it saves (``gguf_tokenizer``); the app's process then loads the saved copy. So
        the 5.5 s read happens once, beside the conversion, and outside the app's interpreter lock.
        """
        from ..loading import gguf_tokenizer
        from ..tokenization.adapters import HFAdapter
        from .worker.client import LlamaCppWorkerModel, discard, read_tokenizer_first, spawn

        spawned: Any = spawn("llamacpp")
        try:
            read_tokenizer_first(spawned, key=key, settings=settings)
            path = self.prepare(key, settings=settings, progress=progress, budget=budget)
            if progress is not None:
                progress("Loading the model in llama.cpp's worker process and checking llama.cpp on this CPU…")
            loaded = LlamaCppWorkerModel(key=key, spec=spec, path=path, settings=settings, spawned=spawned)
            spawned = None
        finally:
            if spawned is not None:
                discard(spawned)
        try:
            loaded.tokenizer = gguf_tokenizer(key=key, settings=settings, progress=progress)
            loaded.adapter = HFAdapter(loaded.tokenizer.backend_tokenizer, lossless=False)
        except BaseException:
            loaded.release()
            raise
        return loaded

    def _probe(self, settings: Settings, *, path: Path, check: Any, extra: bool, progress: Progress | None) -> None:
        """Before llama.cpp first runs in the app's own process on this machine: the self-check in a child process.

        A crash there would take the app down; a passed check is remembered for this build and CPU.
        """
        key = self._verdict_key(settings)
        verdict = engine_check.remembered(settings.cache_dir, engine="llama.cpp", key=key)
        if verdict is not None and verdict["ok"]:
            return
        if progress is not None:
            progress("Checking llama.cpp on this CPU (once)")
        engine_check.probe(path=path, check=check, extra=extra)
        engine_check.remember(settings.cache_dir, engine="llama.cpp", key=key, ok=True)

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
        yield from _run(
            loaded,
            prompt=prompt,
            method=method,
            params=params,
            chat=chat,
            stop=stop,
            cancel=cancel,
            limits=limits,
            prefix=prefix,
        )


def _eos_ids(tokenizer: Any) -> set[int]:
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    ids.update(getattr(tokenizer, "rsdemo_eos_ids", ()))
    return ids


def _check_prefix(prefix: Sequence[int], vocab_size: int) -> list[int]:
    """A branch's forced tokens: ids of this vocabulary."""
    forced = [int(i) for i in prefix]
    bad = [i for i in forced if not 0 <= i < vocab_size]
    if bad:
        raise InputError(
            f"A branch's tokens (prefix) must be ids of this model's vocabulary, 0 to "
            f"{vocab_size - 1:,}; got {bad[0]}.",
            field="params",
        )
    return forced


def _run(
    loaded: Any,
    *,
    prompt: str,
    method: str,
    params: dict[str, Any] | None,
    chat: bool,
    stop: Any,
    cancel: threading.Event,
    limits: Settings,
    prefix: Sequence[int] = (),
) -> Iterator[GenerationResult]:
    """Check the request, decode (``loaded.decode``: a thread, or the worker process), stream each token."""
    spec = get_method(method)
    request = _request(
        loaded, prompt=prompt, method=method, params=params, chat=chat, stop=stop, limits=limits, prefix=prefix
    )
    clock = RunClock()
    tokens: list[GeneratedToken] = []
    tops: list[Any] = []
    outcome: dict[str, Any] = {}
    base = dict(model=loaded.key, method=method, params=request.values, seed=request.job.seed, prompt=request.info)
    finished = False
    try:
        with contextlib.closing(loaded.decode(request.job, cancel)) as events:
            for kind, payload in events:
                if kind == "error":
                    finished = True
                    raise (
                        payload
                        if isinstance(payload, (InputError, AssetMissingError))
                        else InputError(f"{spec.label} failed on llama.cpp; try the transformers engine.")
                    ) from payload
                if kind == "end":
                    finished, outcome = True, payload
                    break
                generated, shown, top = payload
                ttft_s = clock.first()
                tokens.append(generated)
                tops.append(top)
                yield GenerationResult(
                    **base,
                    beams=(Beam(shown, tuple(tokens), None),),
                    done=False,
                    ttft_s=ttft_s,
                    elapsed_s=clock.elapsed(),
                )
    except EngineFailedError:  # before the first token: the run goes on on another engine, with this cancel flag
        finished = True
        raise
    finally:
        if not finished:
            cancel.set()
    clock.end()
    yield _final(loaded, request, tokens, tops, outcome, clock=clock, cancel=cancel, limits=limits, prompt=prompt)


@dataclasses.dataclass(frozen=True)
class _Request:
    """A checked request: its decode job, resolved parameters, stop strings, prompt and generation config."""

    job: DecodeJob
    values: dict[str, Any]
    stops: list[str]
    info: PromptInfo
    config: Any


def _request(
    loaded: Any,
    *,
    prompt: str,
    method: str,
    params: dict[str, Any] | None,
    chat: bool,
    stop: Any,
    limits: Settings,
    prefix: Sequence[int],
) -> _Request:
    """The request checked (raises ``InputError`` as ``check_request``, or for a prompt llama.cpp cannot hold)."""
    values, stops = check_request(
        prompt=prompt,
        method=method,
        params=params,
        stop=stop,
        limits=limits,
        model_cap=getattr(loaded.spec, "max_new_tokens", None),
    )
    config = generation_config(method=method, params=params)
    info = build_prompt(tokenizer=loaded.tokenizer, prompt=prompt, chat=chat)
    max_new = int(values["max_new_tokens"])
    forced = _check_prefix(prefix, loaded.vocab_size)
    if len(info.ids) + len(forced) + max_new > loaded.n_ctx:
        raise InputError(
            f"The prompt is {len(info.ids):,} tokens; with {max_new} new tokens that passes the "
            f"{loaded.n_ctx:,} tokens llama.cpp holds here. Shorten it, or choose the transformers engine.",
            field="prompt",
        )
    job = DecodeJob(
        ids=tuple(info.ids),
        forced=tuple(forced),
        method=method,
        params=dict(params or {}),
        max_new=max_new,
        seed=int(values["seed"]),
        stops=tuple(stops or ()),
        eos=frozenset(_eos_ids(loaded.tokenizer)),
        time_limit_s=limits.run_time_limit_s,
        nice=limits.generation_nice,
        idle=limits.generation_idle,
        boost=limits.generation_boost,
    )
    return _Request(job, values, stops, info, config)


def _final(
    loaded: Any,
    request: _Request,
    tokens: list[GeneratedToken],
    tops: list[Any],
    outcome: dict[str, Any],
    *,
    clock: RunClock,
    cancel: threading.Event,
    limits: Settings,
    prompt: str,
) -> GenerationResult:
    """The run's last result: the tokens with their alternatives named, the timing, why it ended, the code."""
    job, info, adapter = request.job, request.info, loaded.adapter
    tokens = [
        dataclasses.replace(
            token, raw_top=alternatives(adapter, raw_ids, raw_values), top=alternatives(adapter, top_ids, values)
        )
        for token, (raw_ids, raw_values, top_ids, values) in zip(tokens, tops)
    ]
    n_new = len(tokens)
    text = loaded.tokenizer.decode([t.id for t in tokens], skip_special_tokens=False)
    timed_out = outcome.get("timed_out", False)
    stopped = cancel.is_set() and not timed_out and "reason" not in outcome and n_new < job.max_new
    natural = outcome.get("reason") or (MAX_NEW_TOKENS if n_new >= job.max_new else None)
    code = reproduce_code(
        bundle=loaded,
        info=info,
        prompt=prompt,
        method=job.method,
        values=request.values,
        config=request.config,
        stops=request.stops,
    )
    return GenerationResult(
        model=loaded.key,
        method=job.method,
        params=request.values,
        seed=job.seed,
        prompt=info,
        beams=(Beam(text, tuple(tokens), None),),
        done=True,
        stopped=stopped,
        ttft_s=clock.ttft_s,
        tokens_per_s=clock.tokens_per_s(n_new),
        elapsed_s=clock.elapsed_s,
        finish_reason=finish_reason(
            stopped=stopped, timed_out=timed_out, time_limit_s=limits.run_time_limit_s, natural=natural
        ),
        code="# This run used llama.cpp on the GGUF file; transformers with the same method and seed:\n" + code,
        notes=info.warnings,
    )
