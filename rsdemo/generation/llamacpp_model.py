"""A GGUF model loaded by llama.cpp, and the decode loop that runs it: llama.cpp's logits, transformers' stages.

``LlamaCppModel`` holds the model, its tokenizer and a small pool of contexts (one per concurrent run); it
reads a prompt in fixed batches (``prompt_batches``: a context that still holds a batch skips it) and gives the
next-token logits. ``decode`` is one run's loop, as plain data in (``DecodeJob``) and events out, on a thread of
the app or in the worker process (``rsdemo.generation.child.worker``).
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import AssetMissingError, EngineFailedError, InputError
from ..decoding import generation_config, resolve_params
from .crashes import fault
from .llamacpp_native import bindings as _bindings
from .llamacpp_native import model_params
from .llamacpp_native import threads as cpu_threads
from .processors import NEEDS_IDS, apply, stages
from .results import TOP_K_ALTERNATIVES, StreamText, make_token
from .thread_count import ThreadCount
from .worker.scheduling import lower_priority

__all__ = ["MAX_CONTEXT", "DecodeJob", "LlamaCppModel", "decode", "prompt_batches", "teacher_forced_logits"]

MAX_CONTEXT = 4096  # tokens a run may hold (prompt and output); each context's KV cache is sized for it
_STALL_S = 60.0


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
    """A GGUF model loaded by llama.cpp, its tokenizer, and a small pool of contexts (one per concurrent run).

    ``extra`` (llama.cpp's extra buffer types, the weights repacked) is off unless asked for: on a CPU with AMX
    llama.cpp's AMX buffer stops the process with an illegal instruction at the first decode, so a caller that
    names nothing (a test, a benchmark) gets what runs on every CPU; the app passes
    ``extra_buffers(settings.llamacpp_extra_buffers)``.
    """

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
        extra: bool = False,
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
    thread of the app (``generation_process=false``) or in the worker process (``rsdemo.generation.child.worker``).
    Priorities: the prompt and the first token run at ``job.nice`` (``job.boost``: at the app's); after each token
    ``background(job, step)`` may lower the run's threads for the rest (in the worker process: to the nice value
    after the first, under ``SCHED_IDLE`` once the app has light requests in flight, with ``job.idle``); on a
    thread of the app, this thread goes to its nice value after the first token.
    """
    import torch

    config = generation_config(method=job.method, params=job.params)
    pipeline = stages(config, resolve_params(method=job.method, params=job.params), tokenizer=loaded.tokenizer)
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
        ids = _read_prompt(loaded, job, context)
        generator = torch.Generator().manual_seed(job.seed)
        text = StreamText()
        needs_ids = any(name in NEEDS_IDS for name, _ in pipeline)
        for _step in range(job.max_new):
            so_far = torch.tensor([ids], dtype=torch.long) if needs_ids else None
            token, raw, filtered, top = _choose(loaded.last_logits(context), pipeline, so_far, config, generator)
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


def _read_prompt(loaded: LlamaCppModel, job: DecodeJob, context: Any) -> list[int]:
    """Read the job's prompt, then a branch's forced tokens, into ``context``; the ids it holds."""
    ids = list(job.ids)
    fault("first-decode")
    loaded.read_prompt(context, ids)
    # a branch continues after tokens the visitor chose: read them one at a time, as the original run
    # did (a batch takes other kernels, and its last digits differ)
    for token in job.forced:
        loaded.read_token(context, token)
        ids.append(token)
    return ids


def _choose(logits: Any, pipeline: Any, so_far: Any, config: Any, generator: Any) -> tuple[int, Any, Any, Any]:
    """One step's token from llama.cpp's logits: transformers' stages, then the draw (``config.do_sample``) or the
    argmax.

    Returns the token, the raw and filtered distributions, and the top alternatives' ids and probabilities under
    each (cheap now; their pieces and texts are made once, at the end).
    """
    import torch

    scores = torch.from_numpy(logits).unsqueeze(0)
    raw = torch.softmax(scores[0], dim=-1)
    if pipeline:
        filtered_scores = apply(pipeline, so_far, scores.clone())
        filtered = torch.softmax(filtered_scores[0], dim=-1)
    else:  # greedy with no penalty: the filters change nothing
        filtered_scores, filtered = scores, raw
    if config.do_sample:
        token = int(torch.multinomial(filtered, 1, generator=generator))
    else:
        token = int(torch.argmax(filtered_scores[0]))
    raw_values, raw_ids = torch.topk(raw, TOP_K_ALTERNATIVES)
    values, top_ids = (raw_values, raw_ids) if filtered is raw else torch.topk(filtered, TOP_K_ALTERNATIVES)
    return token, raw, filtered, (raw_ids.tolist(), raw_values.tolist(), top_ids.tolist(), values.tolist())


def teacher_forced_logits(loaded: LlamaCppModel, ids: list[int], *, start: int) -> Any:
    """llama.cpp's next-token logits after each prefix ``ids[:k]`` for ``k`` in ``start..len(ids)``.

    Returns:
        A ``(len(ids) - start + 1, vocab)`` float32 array: row ``j`` predicts ``ids[start + j]`` (the last row
        predicts what would follow the whole sequence).
    """
    return loaded.logits(list(ids), start=start)
