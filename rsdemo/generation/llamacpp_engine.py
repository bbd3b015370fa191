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
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import AssetMissingError, EngineFailedError, InputError
from ..core.settings import Settings
from ..decoding import METHODS, generation_config, get_method
from . import engine_check
from .engine import Capabilities
from .llamacpp_native import bindings as _bindings
from .llamacpp_native import extra_buffers, installed, model_params
from .llamacpp_native import threads as cpu_threads
from .llamacpp_weights import BYTES_PER_PARAM, shipped_kind, weights_built, weights_file
from .processors import apply, stages
from .prompts import build_prompt
from .reproduce import reproduce_code
from .requests import check_request
from .results import Beam, GeneratedToken, GenerationResult, StreamText, alternatives, make_token
from .thread_count import ThreadCount
from .transformers_engine import TOP_K_ALTERNATIVES, lower_priority

__all__ = ["LlamaCppEngine", "LlamaCppModel", "teacher_forced_logits"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
MAX_CONTEXT = 4096  # tokens a run may hold (prompt and output); each context's KV cache is sized for it
_STALL_S = 60.0
IN_CHILD = False  # set in the worker and probe processes: only there is the fault seam honoured


def fault(point: str) -> None:
    """The test seam for a native crash: ``RSDEMO_FAULT=self-check`` or ``first-decode`` makes a worker or probe
    process segfault there (a real SIGSEGV, as llama.cpp's own crash; never in the app's own process)."""
    if IN_CHILD and os.environ.get("RSDEMO_FAULT") == point:
        import ctypes

        ctypes.string_at(0)


def uses_worker(settings: Settings) -> bool:
    """Whether llama.cpp runs in a worker process (``generation_process``; its pipe is a passed file descriptor)."""
    return settings.generation_process and os.name == "posix"


def prompt_batches(n: int) -> list[tuple[int, int]]:
    """How a prompt of ``n`` tokens is read: batches ending at fixed edges (16, 32, 64, ... 512, then every 512).

    The edges do not depend on the prompt, so a batch's keys and values are the same bits whichever prompt it
    starts: a context that still holds a batch of the same tokens skips it (the chat template's system prompt,
    a prompt asked again), and a run gives the same numbers whether it skipped or not. No batch passes
    llama.cpp's 512.

    >>> prompt_batches(40)
    [(0, 16), (16, 32), (32, 40)]
    >>> prompt_batches(16), prompt_batches(1100)[-3:]
    ([(0, 16)], [(256, 512), (512, 1024), (1024, 1100)])
    """
    batches, start, edge = [], 0, 16
    while edge < n:
        batches.append((start, edge))
        start, edge = edge, (edge * 2 if edge < 512 else edge + 512)
    batches.append((start, n))
    return batches


class LlamaCppModel:
    """A GGUF model loaded by llama.cpp, its tokenizer, and a small pool of contexts (one per concurrent run)."""

    def __init__(
        self,
        *,
        key: str,
        spec: Any,
        path: Path,
        tokenizer: Any,
        adapter: Any,
        contexts: int,
        threads: int = 0,
        extra: bool = True,
    ) -> None:
        lib = _bindings()
        if lib is None:
            from .llamacpp_native import load_error

            raise EngineFailedError(f"could not be loaded here ({load_error()})", machine=False)
        self.threads = threads if threads > 0 else cpu_threads()
        self._adapt = threads <= 0  # llamacpp_threads 0: every core while free, one while contended
        self.last_threads = self.threads  # where the next run's ``ThreadCount`` starts
        self._context_threads: dict[int, int] = {}
        self.key = key
        self.spec = spec
        self.path = path
        self.tokenizer = tokenizer
        self.adapter = adapter
        self.device = "cpu"
        self.dtype = "torch.float32"  # what the reproduce code loads the GGUF as in transformers
        self._model = lib.llama_model_load_from_file(str(path).encode(), model_params(lib, extra=extra))
        if not self._model:
            raise EngineFailedError(f"could not load the {key} model file here")
        self.vocab_size = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(self._model))
        self.n_ctx = min(MAX_CONTEXT, lib.llama_model_n_ctx_train(self._model) or MAX_CONTEXT)
        self._max_contexts = max(1, contexts)
        self._free: list[Any] = []
        self._made = 0
        self.held: dict[int, tuple[int, ...]] = {}  # per context: the prompt batches its memory holds
        self._available = threading.Condition()
        self.nbytes = path.stat().st_size + self._max_contexts * self._kv_bytes()

    def _kv_bytes(self) -> int:
        """An upper bound of one context's KV cache (f16 keys and values for every layer).

        From the loaded model's own numbers (gguf's Python reader took 2.2 s over the file's 100,000 metadata
        fields on the 2-core machine measured, at every load)."""
        try:
            lib = _bindings()
            layers, heads = lib.llama_model_n_layer(self._model), lib.llama_model_n_head(self._model)
            head_dim = lib.llama_model_n_embd(self._model) // heads
            return layers * 2 * lib.llama_model_n_head_kv(self._model) * head_dim * self.n_ctx * 2
        except Exception:  # noqa: BLE001 - an estimate is enough for the memory bound
            return 256 * 1024 * 1024

    def acquire(self, cancel: threading.Event) -> Any:
        """A context of its own for one run (made on first need, at most one per generation slot)."""
        lib = _bindings()
        with self._available:
            while not self._free and self._made >= self._max_contexts:
                if cancel.is_set():
                    raise InputError("The generation was stopped before it started.")
                self._available.wait(0.25)
            if self._free:
                return self._free.pop()
            self._made += 1
        params = lib.llama_context_default_params()
        params.n_ctx = self.n_ctx
        params.n_batch = params.n_ubatch = 512
        params.n_threads = params.n_threads_batch = self.threads
        # flash attention off: its f16 arithmetic moved the distributions further from transformers' (top-1
        # agreement 95.8 % on, 97.1 % off, over 383 teacher-forced positions; benchmarks/README.md)
        params.flash_attn_type = 0
        context = lib.llama_init_from_model(self._model, params)
        if not context:
            with self._available:
                self._made -= 1
            raise AssetMissingError("llama.cpp could not make a context for this model.")
        return context

    def thread_count(self) -> ThreadCount | None:
        """A run's thread count, measured as it goes (None: ``llamacpp_threads`` fixes it)."""
        return ThreadCount(most=self.threads, start=self.last_threads) if self._adapt else None

    def set_threads(self, context: Any, threads: int) -> None:
        """The threads ``context`` decodes with from now on (llama.cpp reads it at each decode; the numbers are the
        same whatever the count)."""
        if self._context_threads.get(id(context)) != threads:
            self._context_threads[id(context)] = threads
            _bindings().llama_set_n_threads(context, threads, threads)

    def give_back(self, context: Any) -> None:
        with self._available:
            self._free.append(context)
            self._available.notify()

    def release(self) -> None:
        """Free the contexts and the model (the cache evicts it)."""
        lib = _bindings()
        with self._available:
            contexts, self._free = self._free, []
            model, self._model = self._model, None
        self.held.clear()
        for context in contexts:
            lib.llama_free(context)
        if model:
            lib.llama_model_free(model)

    def read_token(self, context: Any, token: int) -> None:
        """Read one token after what ``context`` holds (one at a time, as a run reads its own tokens)."""
        lib = _bindings()
        one = (lib.llama_token * 1)(token)
        if lib.llama_decode(context, lib.llama_batch_get_one(one, 1)) != 0:
            raise RuntimeError("llama.cpp failed to decode a token")

    def last_logits(self, context: Any) -> Any:
        """A copy of the next-token logits after the last token ``context`` read (a float32 array)."""
        import numpy as np

        lib = _bindings()
        return np.ctypeslib.as_array(lib.llama_get_logits_ith(context, -1), shape=(self.vocab_size,)).copy()

    def read_prompt(self, context: Any, ids: Sequence[int]) -> int:
        """Read ``ids`` into ``context`` in ``prompt_batches``, skipping the leading batches it still holds.

        Returns how many tokens were skipped. The logits of the last token are ready afterwards.
        """
        lib = _bindings()
        batches = prompt_batches(len(ids))
        held = self.held.pop(context, ())
        keep = 0
        for start, end in batches[:-1]:
            if held[start:end] != tuple(ids[start:end]):
                break
            keep = end
        memory = lib.llama_get_memory(context)
        if not keep or not lib.llama_memory_seq_rm(memory, 0, keep, -1):
            lib.llama_memory_clear(memory, True)
            keep = 0
        for start, end in batches:
            if end <= keep:
                continue
            chunk = (lib.llama_token * (end - start))(*ids[start:end])
            if lib.llama_decode(context, lib.llama_batch_get_one(chunk, end - start)) != 0:
                raise RuntimeError("llama.cpp could not read the prompt")
        self.held[context] = tuple(ids[: batches[-2][1]]) if len(batches) > 1 else ()
        return keep

    def decode(self, job: DecodeJob, cancel: threading.Event) -> Iterator[tuple[str, Any]]:
        """Run ``decode`` on a thread of this process; yield its events (``token``..., then ``end`` or ``error``)."""
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        thread = threading.Thread(
            target=decode,
            args=(self, job, cancel, lambda kind, payload: events.put((kind, payload))),
            name="rsdemo-llamacpp",
            daemon=True,
        )
        thread.start()
        ended = False
        try:
            while not ended:
                try:
                    kind, payload = events.get(timeout=_STALL_S)
                except queue.Empty:
                    raise InputError("Generation stalled and was stopped.") from None
                ended = kind in ("end", "error")
                yield kind, payload
        finally:
            if not ended:  # the visitor left, or the loop stalled: the thread stops at its next token
                cancel.set()
            thread.join(timeout=5)

    def logits(self, ids: Sequence[int], *, start: int) -> Any:
        """See ``teacher_forced_logits``."""
        import numpy as np

        context = self.acquire(threading.Event())
        try:
            self.read_prompt(context, ids[:start])  # in the batches a run reads its prompt in: the same numbers
            rows = []
            for k in range(start, len(ids) + 1):
                rows.append(self.last_logits(context))
                if k < len(ids):
                    self.read_token(context, ids[k])
            return np.stack(rows)
        finally:
            self.give_back(context)


class LlamaCppEngine:
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

    def precheck(self, key: str, *, settings: Settings) -> None:
        return None

    def model_size(self, key: str, *, runtime: Any, settings: Settings) -> int:
        from ..catalog import get_model_spec

        source = self._path(key)
        kind = settings.llamacpp_weights
        spec = get_model_spec(key)
        size = (
            source.stat().st_size
            if kind == shipped_kind(spec.path or "")
            else int(spec.params_m * 1e6 * BYTES_PER_PARAM[kind])
        )
        worker = 0
        if uses_worker(settings):
            from .decode_worker import PROCESS_BYTES as worker
        return size + settings.generation_slots * 128 * 1024 * 1024 + worker

    @staticmethod
    def _path(key: str) -> Path:
        """The GGUF file the package ships (``llamacpp_weights`` may run another built from it)."""
        from ..catalog import get_model_spec
        from ..loading import package_dir

        spec = get_model_spec(key)
        assert spec.package is not None and spec.path is not None
        path = package_dir(spec.package) / spec.path
        if not path.is_file():
            raise AssetMissingError(f"The {key} model file is missing from its package; reinstall the asset packages.")
        return path

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
        from .decode_worker import LlamaCppWorkerModel, discard, read_tokenizer_first, spawn

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


_NEEDS_IDS = frozenset({"repetition penalty", "no-repeat n-gram"})  # the stages that read the text so far


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


@dataclasses.dataclass(frozen=True, slots=True)
class DecodeJob:
    """One run's decode loop, as plain data (it crosses to the worker process): what to read, how to choose."""

    ids: tuple[int, ...]  # the prompt's ids
    forced: tuple[int, ...]  # a branch's tokens, read after the prompt
    method: str
    params: dict[str, Any] | None
    max_new: int
    seed: int
    stops: tuple[str, ...]
    eos: frozenset[int]
    time_limit_s: float  # from the moment the decode starts
    nice: int  # the priority of the prompt and the first token (and of the rest, without ``idle``)
    idle: bool = False  # after the first token, SCHED_IDLE (in the worker process only)
    boost: bool = False  # the prompt and the first token at the app's priority instead of ``nice``


def decode(
    loaded: LlamaCppModel,
    job: DecodeJob,
    cancel: Any,
    emit: Callable[[str, Any], None],
    background: Callable[[DecodeJob, int], None] | None = None,
) -> None:
    """The decode loop: llama.cpp's logits, transformers' stages and draw, one ``emit("token", ...)`` per token.

    Ends with ``emit("end", outcome)`` (``reason``, ``timed_out``) or ``emit("error", exception)``. Runs on a
    thread of the app (``generation_process=false``) or in the worker process (``decode_worker``).
    Priorities: the prompt and the first token run at ``job.nice`` (``job.boost``: at the app's); after each token
    ``background(job, step)`` may lower the run's threads for the rest (in the worker process: to the nice value
    after the first, under ``SCHED_IDLE`` once the app has light requests in flight, with ``job.idle``); on a
    thread of the app, this thread goes to its nice value after the first token.
    """
    import torch

    config = generation_config(method=job.method, params=job.params)
    pipeline = stages(config)
    deadline = time.monotonic() + job.time_limit_s
    outcome: dict[str, Any] = {}
    failure: BaseException | None = None
    context = None
    count = None

    if not job.boost:  # before the first decode: the threads llama.cpp and torch start from this one inherit it
        lower_priority(job.nice)
    try:
        context = loaded.acquire(cancel)
        count = loaded.thread_count()
        if count is not None:
            loaded.set_threads(context, count.current)
        ids = list(job.ids)
        fault("first-decode")
        loaded.read_prompt(context, ids)
        generator = torch.Generator().manual_seed(job.seed)
        # a branch continues after tokens the visitor chose: read them one at a time, as the original run
        # did (a batch takes other kernels, and its last digits differ)
        for token in job.forced:
            loaded.read_token(context, token)
            ids.append(token)
        text = StreamText()
        needs_ids = any(name in _NEEDS_IDS for name, _ in pipeline)
        for _step in range(job.max_new):
            scores = torch.from_numpy(loaded.last_logits(context)).unsqueeze(0)
            raw = torch.softmax(scores[0], dim=-1)
            if pipeline:
                so_far = torch.tensor([ids], dtype=torch.long) if needs_ids else None
                filtered_scores = apply(pipeline, so_far, scores.clone())
                filtered = torch.softmax(filtered_scores[0], dim=-1)
            else:  # greedy with no penalty: the filters change nothing
                filtered_scores, filtered = scores, raw
            if config.do_sample:
                token = int(torch.multinomial(filtered, 1, generator=generator))
            else:
                token = int(torch.argmax(filtered_scores[0]))
            # the alternatives' ids and probabilities now (cheap); their pieces and texts once, at the end
            raw_values, raw_ids = torch.topk(raw, TOP_K_ALTERNATIVES)
            values, top_ids = (raw_values, raw_ids) if filtered is raw else torch.topk(filtered, TOP_K_ALTERNATIVES)
            top = (raw_ids.tolist(), raw_values.tolist(), top_ids.tolist(), values.tolist())
            generated = make_token(loaded.adapter, token, float(raw[token]), float(filtered[token]))
            shown = text.add(generated)
            emit("token", (generated, shown, top))
            if background is not None:  # the worker process: its priority policy, token by token
                background(job, _step)
            elif _step == 0 and job.boost:  # a thread of the app: never SCHED_IDLE, it may hold the interpreter lock
                lower_priority(job.nice)
            ids.append(token)
            if token in job.eos:
                outcome["reason"] = "end of sequence token"
                break
            if job.stops and any(s in shown[-(len(s) + len(generated.text) + 8) :] for s in job.stops):
                outcome["reason"] = "stop string"
                break
            if cancel.is_set():
                break
            if time.monotonic() > deadline:
                outcome["timed_out"] = True
                break
            if count is not None:
                loaded.set_threads(context, count.threads())
            loaded.read_token(context, token)
    except BaseException as err:  # handed to the consuming side
        failure = err
    finally:
        if count is not None:
            loaded.last_threads = count.current
        if context is not None:
            loaded.give_back(context)
    if failure is not None:
        emit("error", failure)
    else:
        emit("end", outcome)


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
    values, stops = check_request(
        prompt=prompt,
        method=method,
        params=params,
        stop=stop,
        limits=limits,
        model_cap=getattr(loaded.spec, "max_new_tokens", None),
    )
    config = generation_config(method=method, params=params)
    tokenizer, adapter = loaded.tokenizer, loaded.adapter
    info = build_prompt(tokenizer=tokenizer, prompt=prompt, chat=chat)
    max_new = int(values["max_new_tokens"])
    forced = _check_prefix(prefix, loaded.vocab_size)
    if len(info.ids) + len(forced) + max_new > loaded.n_ctx:
        raise InputError(
            f"The prompt is {len(info.ids):,} tokens; with {max_new} new tokens that passes the "
            f"{loaded.n_ctx:,} tokens llama.cpp holds here. Shorten it, or choose the transformers engine.",
            field="prompt",
        )
    seed = int(values["seed"])
    job = DecodeJob(
        ids=tuple(info.ids),
        forced=tuple(forced),
        method=method,
        params=dict(params or {}),
        max_new=max_new,
        seed=seed,
        stops=tuple(stops or ()),
        eos=frozenset(_eos_ids(tokenizer)),
        time_limit_s=limits.run_time_limit_s,
        nice=limits.generation_nice,
        idle=limits.generation_idle,
        boost=limits.generation_boost,
    )
    started = time.perf_counter()
    first_at: float | None = None
    tokens: list[GeneratedToken] = []
    tops: list[Any] = []
    outcome: dict[str, Any] = {}
    base = dict(model=loaded.key, method=method, params=values, seed=seed, prompt=info)
    finished = False
    try:
        with contextlib.closing(loaded.decode(job, cancel)) as events:
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
                first_at = first_at or time.perf_counter()
                tokens.append(generated)
                tops.append(top)
                yield GenerationResult(
                    **base,
                    beams=(Beam(shown, tuple(tokens), None),),
                    done=False,
                    ttft_s=first_at - started,
                    elapsed_s=time.perf_counter() - started,
                )
    except EngineFailedError:  # before the first token: the run goes on on another engine, with this cancel flag
        finished = True
        raise
    finally:
        if not finished:
            cancel.set()
    ended = time.perf_counter()
    first_at = first_at or ended
    tokens = [
        dataclasses.replace(
            token, raw_top=alternatives(adapter, raw_ids, raw_values), top=alternatives(adapter, top_ids, values)
        )
        for token, (raw_ids, raw_values, top_ids, values) in zip(tokens, tops)
    ]
    n_new = len(tokens)
    text = tokenizer.decode([t.id for t in tokens], skip_special_tokens=False)
    timed_out = outcome.get("timed_out", False)
    stopped = cancel.is_set() and not timed_out and "reason" not in outcome and n_new < max_new
    if stopped:
        reason = "stopped by you"
    elif timed_out:
        reason = f"time limit ({limits.run_time_limit_s:g} s)"
    else:
        reason = outcome.get("reason") or ("max new tokens" if n_new >= max_new else "stopped")
    code = reproduce_code(
        bundle=loaded, info=info, prompt=prompt, method=method, values=values, config=config, stops=stops
    )
    yield GenerationResult(
        **base,
        beams=(Beam(text, tuple(tokens), None),),
        done=True,
        stopped=stopped,
        ttft_s=first_at - started,
        tokens_per_s=(n_new - 1) / (ended - first_at) if n_new > 1 and ended > first_at else None,
        elapsed_s=ended - started,
        finish_reason=reason,
        code="# This run used llama.cpp on the GGUF file; transformers with the same method and seed:\n" + code,
        notes=info.warnings,
    )


def teacher_forced_logits(loaded: LlamaCppModel, ids: list[int], *, start: int) -> Any:
    """llama.cpp's next-token logits after each prefix ``ids[:k]`` for ``k`` in ``start..len(ids)``.

    Returns:
        A ``(len(ids) - start + 1, vocab)`` float32 array: row ``j`` predicts ``ids[start + j]`` (the last row
        predicts what would follow the whole sequence).
    """
    return loaded.logits(list(ids), start=start)
