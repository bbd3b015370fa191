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
import ctypes
import dataclasses
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..decoding import METHODS, generation_config, get_method
from ..errors import AssetMissingError, InputError
from ..settings import Settings
from .engine import Capabilities
from .processors import apply, stages
from .prompts import build_prompt
from .reproduce import reproduce_code
from .requests import check_request
from .results import Beam, GeneratedToken, GenerationResult, StreamText, alternatives, make_token
from .transformers_engine import TOP_K_ALTERNATIVES, lower_priority

__all__ = ["LlamaCppEngine", "LlamaCppModel", "teacher_forced_logits"]

Progress = Callable[[str], None]
MAX_CONTEXT = 4096  # tokens a run may hold (prompt and output); each context's KV cache is sized for it
_STALL_S = 60.0
_lock = threading.Lock()
_state: dict[str, Any] = {}


def _bindings() -> Any:
    """``llama_cpp.llama_cpp`` (the ctypes bindings), with llama.cpp's own logging silenced; None if absent.

    A failed import is tried again after a minute: the demo builds llama.cpp in the background at first start.
    """
    with _lock:
        if _state.get("lib") is None and time.monotonic() >= _state.get("retry_at", 0.0):
            try:
                import importlib

                importlib.invalidate_caches()
                import llama_cpp.llama_cpp as lib  # noqa: PLC0415 - optional, heavy
            except Exception as err:  # noqa: BLE001 - not installed, or built for another machine
                _state["lib"], _state["error"] = None, f"{type(err).__name__}: {err}"
                _state["retry_at"] = time.monotonic() + 60.0
                return None
            quiet = lib.llama_log_callback(lambda level, text, data: None)
            _state["quiet"] = quiet  # kept alive: llama.cpp calls it from C
            lib.llama_log_set(quiet, ctypes.c_void_p(0))
            lib.llama_backend_init()
            _state["lib"] = lib
        return _state["lib"]


def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


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

    def __init__(self, *, key: str, spec: Any, path: Path, tokenizer: Any, adapter: Any, contexts: int,
                 threads: int = 0) -> None:
        lib = _bindings()
        self.threads = threads if threads > 0 else _threads()
        self.key = key
        self.spec = spec
        self.path = path
        self.tokenizer = tokenizer
        self.adapter = adapter
        self.device = "cpu"
        self.dtype = "torch.float32"  # what the reproduce code loads the GGUF as in transformers
        params = lib.llama_model_default_params()
        self._model = lib.llama_model_load_from_file(str(path).encode(), params)
        if not self._model:
            raise AssetMissingError(f"llama.cpp could not read the {key} model file.")
        self.vocab_size = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(self._model))
        self.n_ctx = min(MAX_CONTEXT, lib.llama_model_n_ctx_train(self._model) or MAX_CONTEXT)
        self._max_contexts = max(1, contexts)
        self._free: list[Any] = []
        self._made = 0
        self.held: dict[int, tuple[int, ...]] = {}  # per context: the prompt batches its memory holds
        self._available = threading.Condition()
        self.nbytes = path.stat().st_size + self._max_contexts * self._kv_bytes()

    def _kv_bytes(self) -> int:
        """An upper bound of one context's KV cache (f16 keys and values for every layer)."""
        try:
            from gguf import GGUFReader

            fields = GGUFReader(str(self.path)).fields
            arch = bytes(fields["general.architecture"].parts[-1]).decode()

            def number(name: str) -> int:
                return int(fields[f"{arch}.{name}"].parts[-1][0])

            head_dim = number("embedding_length") // number("attention.head_count")
            return number("block_count") * 2 * number("attention.head_count_kv") * head_dim * self.n_ctx * 2
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
        thread = threading.Thread(target=decode, args=(self, job, cancel, lambda kind, payload: events.put((kind, payload))),
                                  name="rsdemo-llamacpp", daemon=True)
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

    def missing(self) -> str | None:
        if _bindings() is None:
            return ("llama.cpp is not installed here (bash scripts/setup.sh builds it, a few minutes once); "
                    "transformers runs instead.")
        return None

    def serves(self, key: str) -> str | None:
        from ..catalog import MODELS

        spec = MODELS.get(key)
        if spec is None or spec.source != "gguf":
            return "llama.cpp here runs the embedded GGUF models only; Hub models run on transformers."
        return None

    def precheck(self, key: str, *, settings: Settings) -> None:
        return None

    def model_size(self, key: str, *, runtime: Any, settings: Settings) -> int:
        path = self._path(key)
        worker = 0
        if uses_worker(settings):
            from .decode_worker import PROCESS_BYTES as worker
        return path.stat().st_size + settings.generation_slots * 128 * 1024 * 1024 + worker

    @staticmethod
    def _path(key: str) -> Path:
        from ..catalog import get_model_spec
        from ..loading import package_dir

        spec = get_model_spec(key)
        assert spec.package is not None and spec.path is not None
        path = package_dir(spec.package) / spec.path
        if not path.is_file():
            raise AssetMissingError(f"The {key} model file is missing from its package; reinstall the asset packages.")
        return path

    def load(self, key: str, *, runtime: Any, settings: Settings, progress: Progress | None,
             budget: Any) -> LlamaCppModel:
        from ..catalog import get_model_spec
        from ..loading import gguf_tokenizer

        spec = get_model_spec(key)
        path = self._path(key)
        tokenizer = gguf_tokenizer(key=key, settings=settings, progress=progress)
        from ..tokenization.adapters import HFAdapter

        adapter = HFAdapter(tokenizer.backend_tokenizer, lossless=False)
        if uses_worker(settings):
            from .decode_worker import LlamaCppWorkerModel

            if progress is not None:
                progress("Starting llama.cpp's worker process")
            return LlamaCppWorkerModel(key=key, spec=spec, path=path, tokenizer=tokenizer, adapter=adapter,
                                       settings=settings)
        return LlamaCppModel(key=key, spec=spec, path=path, tokenizer=tokenizer, adapter=adapter,
                             contexts=settings.generation_slots, threads=settings.llamacpp_threads)

    def run(self, loaded: Any, *, prompt: str, method: str, params: dict[str, Any] | None, chat: bool,
            stop: Any, cancel: threading.Event, details: bool, limits: Settings,
            prefix: Sequence[int] = ()) -> Iterator[GenerationResult]:
        yield from _run(loaded, prompt=prompt, method=method, params=params, chat=chat, stop=stop, cancel=cancel,
                        limits=limits, prefix=prefix)


_NEEDS_IDS = frozenset({"repetition penalty", "no-repeat n-gram"})  # the stages that read the text so far




def _eos_ids(tokenizer: Any) -> set[int]:
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    ids.update(getattr(tokenizer, "rsdemo_eos_ids", ()))
    return ids


def _check_prefix(prefix: Sequence[int], vocab_size: int) -> list[int]:
    """A branch's forced tokens: ids of this vocabulary."""
    forced = [int(i) for i in prefix]
    if any(not 0 <= i < vocab_size for i in forced):
        raise InputError(f"A branch's tokens must be ids of this model's vocabulary (0 to {vocab_size - 1:,}).",
                         field="params")
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


def decode(loaded: LlamaCppModel, job: DecodeJob, cancel: Any, emit: Callable[[str, Any], None],
           background: Callable[[DecodeJob], None] | None = None) -> None:
    """The decode loop: llama.cpp's logits, transformers' stages and draw, one ``emit("token", ...)`` per token.

    Ends with ``emit("end", outcome)`` (``reason``, ``timed_out``) or ``emit("error", exception)``. Runs on a
    thread of the app (``generation_process=false``) or in the worker process (``decode_worker``).
    Priorities: the prompt and the first token run at ``job.nice`` (``job.boost``: at the app's); once the first
    token is out, ``background(job)`` lowers the run's threads for the rest (in the worker process:
    ``SCHED_IDLE`` with ``job.idle``; by default, this thread to its nice value).
    """
    import torch

    config = generation_config(method=job.method, params=job.params)
    pipeline = stages(config)
    deadline = time.monotonic() + job.time_limit_s
    outcome: dict[str, Any] = {}
    failure: BaseException | None = None
    context = None

    if not job.boost:  # before the first decode: the threads llama.cpp and torch start from this one inherit it
        lower_priority(job.nice)
    try:
        context = loaded.acquire(cancel)
        ids = list(job.ids)
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
            if _step == 0:  # the visitor has their first token: the rest takes the CPU light requests leave
                if background is not None:
                    background(job)
                elif job.boost:  # a thread of the app: never SCHED_IDLE, it may hold the interpreter lock
                    lower_priority(job.nice)
            ids.append(token)
            if token in job.eos:
                outcome["reason"] = "end of sequence token"
                break
            if job.stops and any(s in shown[-(len(s) + len(generated.text) + 8):] for s in job.stops):
                outcome["reason"] = "stop string"
                break
            if cancel.is_set():
                break
            if time.monotonic() > deadline:
                outcome["timed_out"] = True
                break
            loaded.read_token(context, token)
    except BaseException as err:  # handed to the consuming side
        failure = err
    finally:
        if context is not None:
            loaded.give_back(context)
    if failure is not None:
        emit("error", failure)
    else:
        emit("end", outcome)


def _run(loaded: Any, *, prompt: str, method: str, params: dict[str, Any] | None, chat: bool, stop: Any,
         cancel: threading.Event, limits: Settings, prefix: Sequence[int] = ()) -> Iterator[GenerationResult]:
    """Check the request, decode (``loaded.decode``: a thread, or the worker process), stream each token."""
    spec = get_method(method)
    values, stops = check_request(prompt=prompt, method=method, params=params, stop=stop, limits=limits,
                                  model_cap=getattr(loaded.spec, "max_new_tokens", None))
    config = generation_config(method=method, params=params)
    tokenizer, adapter = loaded.tokenizer, loaded.adapter
    info = build_prompt(tokenizer=tokenizer, prompt=prompt, chat=chat)
    max_new = int(values["max_new_tokens"])
    forced = _check_prefix(prefix, loaded.vocab_size)
    if len(info.ids) + len(forced) + max_new > loaded.n_ctx:
        raise InputError(f"The prompt is {len(info.ids):,} tokens; with {max_new} new tokens that passes the "
                         f"{loaded.n_ctx:,} tokens llama.cpp holds here. Shorten it, or choose the transformers engine.",
                         field="prompt")
    seed = int(values["seed"])
    job = DecodeJob(ids=tuple(info.ids), forced=tuple(forced), method=method, params=dict(params or {}),
                    max_new=max_new, seed=seed, stops=tuple(stops or ()), eos=frozenset(_eos_ids(tokenizer)),
                    time_limit_s=limits.run_time_limit_s, nice=limits.generation_nice,
                    idle=limits.generation_idle, boost=limits.generation_boost)
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
                    raise payload if isinstance(payload, (InputError, AssetMissingError)) else InputError(
                        f"{spec.label} failed on llama.cpp; try the transformers engine.") from payload
                if kind == "end":
                    finished, outcome = True, payload
                    break
                generated, shown, top = payload
                first_at = first_at or time.perf_counter()
                tokens.append(generated)
                tops.append(top)
                yield GenerationResult(**base, beams=(Beam(shown, tuple(tokens), None),), done=False,
                                       ttft_s=first_at - started, elapsed_s=time.perf_counter() - started)
    finally:
        if not finished:
            cancel.set()
    ended = time.perf_counter()
    first_at = first_at or ended
    tokens = [
        dataclasses.replace(token, raw_top=alternatives(adapter, raw_ids, raw_values),
                            top=alternatives(adapter, top_ids, values))
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
    code = reproduce_code(bundle=loaded, info=info, prompt=prompt, method=method, values=values, config=config,
                          stops=stops)
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
