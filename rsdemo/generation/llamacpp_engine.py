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


class LlamaCppModel:
    """A GGUF model loaded by llama.cpp, its tokenizer, and a small pool of contexts (one per concurrent run)."""

    def __init__(self, *, key: str, spec: Any, path: Path, tokenizer: Any, adapter: Any, contexts: int) -> None:
        lib = _bindings()
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
        params.n_threads = params.n_threads_batch = _threads()
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
        for context in contexts:
            lib.llama_free(context)
        if model:
            lib.llama_model_free(model)


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
        return path.stat().st_size + settings.generation_slots * 128 * 1024 * 1024

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
        return LlamaCppModel(key=key, spec=spec, path=path, tokenizer=tokenizer, adapter=adapter,
                             contexts=settings.generation_slots)

    def run(self, loaded: LlamaCppModel, *, prompt: str, method: str, params: dict[str, Any] | None, chat: bool,
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


def _run(loaded: LlamaCppModel, *, prompt: str, method: str, params: dict[str, Any] | None, chat: bool, stop: Any,
         cancel: threading.Event, limits: Settings, prefix: Sequence[int] = ()) -> Iterator[GenerationResult]:
    """Decode step by step in a worker thread (at a lower CPU priority); stream each token with its distributions."""
    import numpy as np
    import torch

    spec = get_method(method)
    values, stops = check_request(prompt=prompt, method=method, params=params, stop=stop, limits=limits,
                                  model_cap=getattr(loaded.spec, "max_new_tokens", None))
    config = generation_config(method=method, params=params)
    pipeline = stages(config)
    tokenizer, adapter = loaded.tokenizer, loaded.adapter
    info = build_prompt(tokenizer=tokenizer, prompt=prompt, chat=chat)
    max_new = int(values["max_new_tokens"])
    forced = _check_prefix(prefix, loaded.vocab_size)
    if len(info.ids) + len(forced) + max_new > loaded.n_ctx:
        raise InputError(f"The prompt is {len(info.ids):,} tokens; with {max_new} new tokens that passes the "
                         f"{loaded.n_ctx:,} tokens llama.cpp holds here. Shorten it, or choose the transformers engine.",
                         field="prompt")
    seed = int(values["seed"])
    eos = _eos_ids(tokenizer)
    lib = _bindings()
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    deadline = time.monotonic() + limits.run_time_limit_s
    outcome: dict[str, Any] = {}

    def worker() -> None:
        lower_priority(limits.generation_nice)
        context = None
        try:
            context = loaded.acquire(cancel)
            lib.llama_memory_clear(lib.llama_get_memory(context), True)
            ids = list(info.ids)
            batch_ids = (lib.llama_token * len(ids))(*ids)
            if lib.llama_decode(context, lib.llama_batch_get_one(batch_ids, len(ids))) != 0:
                raise RuntimeError("llama.cpp could not read the prompt")
            generator = torch.Generator().manual_seed(seed)
            one = (lib.llama_token * 1)()
            # a branch continues after tokens the visitor chose: read them one at a time, as the original run
            # did (a batch takes other kernels, and its last digits differ)
            for token in forced:
                one[0] = token
                if lib.llama_decode(context, lib.llama_batch_get_one(one, 1)) != 0:
                    raise RuntimeError("llama.cpp failed to decode a token")
                ids.append(token)
            tops = outcome.setdefault("tops", [])
            text = StreamText()
            needs_ids = any(name in _NEEDS_IDS for name, _ in pipeline)
            for _step in range(max_new):
                logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(context, -1), shape=(loaded.vocab_size,))
                scores = torch.from_numpy(logits.copy()).unsqueeze(0)
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
                tops.append((raw_ids.tolist(), raw_values.tolist(), top_ids.tolist(), values.tolist()))
                generated = make_token(adapter, token, float(raw[token]), float(filtered[token]))
                shown = text.add(generated)
                events.put(("token", (generated, shown)))
                ids.append(token)
                if token in eos:
                    outcome["reason"] = "end of sequence token"
                    break
                if stops and any(s in shown[-(len(s) + len(generated.text) + 8):] for s in stops):
                    outcome["reason"] = "stop string"
                    break
                if cancel.is_set():
                    break
                if time.monotonic() > deadline:
                    outcome["timed_out"] = True
                    break
                one[0] = token
                if lib.llama_decode(context, lib.llama_batch_get_one(one, 1)) != 0:
                    raise RuntimeError("llama.cpp failed to decode a token")
        except BaseException as err:  # handed to the consuming thread
            outcome["error"] = err
        finally:
            if context is not None:
                loaded.give_back(context)
            events.put(("done", None))

    started = time.perf_counter()
    first_at: float | None = None
    tokens: list[GeneratedToken] = []
    base = dict(model=loaded.key, method=method, params=values, seed=seed, prompt=info)
    thread = threading.Thread(target=worker, name="rsdemo-llamacpp", daemon=True)
    finished = False
    try:
        thread.start()
        while True:
            try:
                kind, payload = events.get(timeout=_STALL_S)
            except queue.Empty:
                cancel.set()
                raise InputError("Generation stalled and was stopped.") from None
            if kind == "done":
                finished = True
                break
            generated, shown = payload
            first_at = first_at or time.perf_counter()
            tokens.append(generated)
            yield GenerationResult(**base, beams=(Beam(shown, tuple(tokens), None),), done=False,
                                   ttft_s=first_at - started, elapsed_s=time.perf_counter() - started)
    finally:
        if not finished:
            cancel.set()
    thread.join(timeout=5)
    if "error" in outcome:
        err = outcome["error"]
        raise err if isinstance(err, (InputError, AssetMissingError)) else InputError(
            f"{spec.label} failed on llama.cpp; try the transformers engine.") from err
    ended = time.perf_counter()
    first_at = first_at or ended
    tokens = [
        dataclasses.replace(token, raw_top=alternatives(adapter, raw_ids, raw_values),
                            top=alternatives(adapter, top_ids, values))
        for token, (raw_ids, raw_values, top_ids, values) in zip(tokens, outcome.get("tops", []))
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
    import numpy as np

    lib = _bindings()
    context = loaded.acquire(threading.Event())
    try:
        lib.llama_memory_clear(lib.llama_get_memory(context), True)
        rows = []
        prefix = (lib.llama_token * start)(*ids[:start])
        if lib.llama_decode(context, lib.llama_batch_get_one(prefix, start)) != 0:
            raise RuntimeError("llama.cpp could not read the prefix")
        one = (lib.llama_token * 1)()
        for k in range(start, len(ids) + 1):
            logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(context, -1), shape=(loaded.vocab_size,))
            rows.append(logits.copy())
            if k < len(ids):
                one[0] = ids[k]
                if lib.llama_decode(context, lib.llama_batch_get_one(one, 1)) != 0:
                    raise RuntimeError("llama.cpp failed to decode a token")
        return np.stack(rows)
    finally:
        loaded.give_back(context)
