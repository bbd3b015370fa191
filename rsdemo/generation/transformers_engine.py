"""The transformers engine: ``model.generate`` with streaming, per-token probabilities and alternatives.

Plain Python out (dataclasses of ints, floats and strings): results cross process boundaries on
ZeroGPU (pickled), so no tensors leave this module.

How probabilities are gathered:
- while single-sequence methods stream, a forward hook on the LM head keeps the raw next-token
  distribution of the step, and the streamer pairs it with the token chosen at that step;
- when ``generate`` returns, ``output_logits`` (raw model) and ``output_scores`` (after the decoding
  filters: penalties, temperature, top-k/p ...) give both distributions for every token, and
  ``compute_transition_scores`` the per-beam scores. The final view uses those.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..core.errors import InputError
from ..core.settings import Settings, get_settings
from ..decoding import METHODS
from ..tokenization.adapters import HFAdapter
from .engine import Capabilities, GenerationEngine
from .eos import eos_ids, trim_after_eos
from .results import (
    TOP_K_ALTERNATIVES,
    Alternative,
    Beam,
    GeneratedToken,
    GenerationResult,
    StreamText,
    make_token,
    top_alternatives,
)
from .run_clock import RunClock
from .transformers_run import GenerateThread, final_result, prepare

__all__ = ["TOP_K_ALTERNATIVES", "TransformersEngine", "generate_stream"]

_STREAM_TIMEOUT_S = 120.0  # a crashed generate thread cannot hang the UI longer than this


def with_worker(nbytes: int, *, runtime: Any, settings: Settings) -> int:
    """The memory a transformers model of ``nbytes`` parameters takes with its generation worker process.

    On a CPU with ``generation_process`` its generation runs go to a worker process that loads its own copy
    (``worker.client.TransformersWorker``): twice the parameters and the process. A model whose two copies
    would not fit ``max_model_mb``, and any GPU, generate in the app's process (``nbytes`` unchanged).

    >>> from rsdemo.core.runtime import Runtime
    >>> from rsdemo.core.settings import Settings
    >>> s, cpu = Settings(cache_dir="."), Runtime("cpu", "cpu", "float32", False)
    >>> with_worker(100, runtime=cpu, settings=s) > 200, with_worker(s.max_model_mb * 2**20, runtime=cpu, settings=s)
    (True, 8589934592)
    """
    from .worker.client import PROCESS_BYTES, uses_worker

    total = 2 * nbytes + PROCESS_BYTES
    if (
        not uses_worker(settings)
        or getattr(runtime, "kind", "cpu") != "cpu"
        or total > settings.max_model_mb * 1024 * 1024
    ):
        return nbytes
    return total


def bundle_adapter(bundle: Any) -> HFAdapter:
    """The loaded model's tokenizer as an adapter (pieces, bytes), for building ``GeneratedToken``s."""
    return getattr(bundle, "adapter", None) or HFAdapter(bundle.tokenizer.backend_tokenizer, lossless=False)


def _alternatives(probs: Any, adapter: HFAdapter, k: int = TOP_K_ALTERNATIVES) -> tuple[Alternative, ...]:
    return top_alternatives(probs, adapter, k)


def generate_stream(
    *,
    bundle: Any,
    prompt: str,
    method: str,
    params: dict[str, Any] | None = None,
    chat: bool = True,
    stop: str | Sequence[str] | None = None,
    cancel: threading.Event | None = None,
    custom_methods: dict[str, Callable[..., Any]] | None = None,
    details: bool = True,
    limits: Settings | None = None,
    prefix: Sequence[int] = (),
    on_step: Callable[[], None] | None = None,
) -> Iterator[GenerationResult]:
    """Generate, yielding a ``GenerationResult`` per streamed token and a final one with ``done=True``.

    Beam methods stream too: each step's update holds the leading candidate so far (tokens without
    probabilities; the leader may change), and the final result every returned beam with its scores.

    Runs may go on concurrently (in different threads): each draws its random numbers from its own
    generator seeded with its seed (``rsdemo.core.seeding``), so a seeded run gives the same text whoever else
    is generating.

    Args:
        bundle: a ``rsdemo.loading.ModelBundle``.
        prompt: the user's text.
        method: a key of ``rsdemo.decoding.METHODS``.
        params: the method's and the common parameters (``max_new_tokens``, ``seed`` ...).
        chat: apply the model's chat template.
        stop: stop strings (newline-separated text or a list).
        cancel: set it to stop generation at the next token (the worker thread then ends).
        custom_methods: the project-implemented decoding loops by name.
        details: gather per-token probabilities and alternatives (off: plain ``generate``, tokens only).
        limits: the prompt, stop-string, token and time limits (default: ``get_settings()``); a run that
            passes ``run_time_limit_s`` stops at the next token, marked "time limit".
        prefix: token ids forced after the prompt (a branch); generation continues after them and the
            results hold only the new tokens.
        on_step: called on generate's thread after each step (the worker process lowers the run's priority
            after the first and tells the app the run is alive).

    Raises:
        InputError: empty prompt, bad parameters, too many new tokens for the model.
    """
    limits = limits or get_settings()
    run = prepare(
        bundle=bundle,
        prompt=prompt,
        method=method,
        params=params,
        chat=chat,
        stop=stop,
        details=details,
        limits=limits,
        prefix=prefix,
    )
    adapter = bundle_adapter(bundle)
    cancel = cancel or threading.Event()
    generating = GenerateThread(bundle=bundle, run=run, cancel=cancel, limits=limits, details=details, on_step=on_step)
    kwargs = generating.kwargs(custom_methods)
    hook = generating.hook()
    clock = RunClock()
    base = dict(model=bundle.key, method=method, params=run.values, seed=run.seed, prompt=run.info)
    finished = False
    try:
        generating.start(kwargs)
        yield from _stream(generating, bundle=bundle, adapter=adapter, clock=clock, base=base)
        finished = True
    finally:
        if not finished:  # the consumer went away (stop button, closed page): stop the worker at the next token
            cancel.set()
        if hook is not None:
            hook.remove()
    generating.finish()
    clock.end()
    yield final_result(
        bundle=bundle, run=run, thread=generating, adapter=adapter, clock=clock, base=base, prompt=prompt
    )


def _stream(
    generating: GenerateThread, *, bundle: Any, adapter: HFAdapter, clock: RunClock, base: dict[str, Any]
) -> Iterator[GenerationResult]:
    """An update per streamed token (or a beam method's new leading candidate) until ``generate`` is done."""
    import torch

    previewed: list[int] = []
    made: dict[int, GeneratedToken] = {}  # a preview's tokens, by id (the leader changes; its tokens repeat)
    eos = eos_ids(bundle.tokenizer, bundle.model)
    streamed: list[GeneratedToken] = []
    shown = StreamText()
    while True:
        try:
            kind, payload = generating.events.get(timeout=_STREAM_TIMEOUT_S)
        except queue.Empty:
            generating.cancel.set()
            raise InputError("Generation stalled and was stopped.") from None
        if kind == "token":
            token, row = payload
            ttft_s = clock.first()
            if generating.live and row is not None:
                probs = torch.softmax(row, dim=-1)
                gen = make_token(adapter, token, float(probs[token]), raw_top=_alternatives(probs, adapter))
            else:
                gen = make_token(adapter, token, float("nan"))
            streamed.append(gen)
            yield GenerationResult(
                **base,
                beams=(Beam(shown.add(gen), tuple(streamed), None),),
                done=False,
                ttft_s=ttft_s,
                elapsed_s=clock.elapsed(),
            )
        elif kind == "preview":
            ids = trim_after_eos(payload, eos)
            if ids == previewed:  # a custom loop may ask its criteria more than once a step
                continue
            previewed = ids
            ttft_s = clock.first("preview")
            tokens = tuple(made.get(i) or made.setdefault(i, make_token(adapter, i, float("nan"))) for i in ids)
            yield GenerationResult(
                **base,
                beams=(Beam(bundle.tokenizer.decode(ids, skip_special_tokens=False), tokens, None),),
                done=False,
                ttft_s=ttft_s,
                elapsed_s=clock.elapsed(),
            )
        elif kind == "done":
            return


class TransformersEngine(GenerationEngine):
    """``model.generate`` from transformers, in process: every decoding method, on every device.

    Probabilities: the raw model's distribution and the one after the decoding filters, for every token.
    """

    capabilities = Capabilities(
        name="transformers",
        label="transformers (PyTorch)",
        methods=frozenset(METHODS),
        devices=frozenset({"cpu", "cuda", "mps"}),
        streams=True,
        probabilities=True,
        rank=10,
        note="model.generate in PyTorch; probabilities of the raw model and after the decoding filters.",
    )

    def precheck(self, key: str, *, settings: Settings) -> None:
        from ..catalog import MODELS
        from ..loading import check_hub_reachable

        spec = MODELS.get(key, None)
        if spec is None or spec.source == "hub":
            check_hub_reachable(settings=settings)

    def model_size(self, key: str, *, runtime: Any, settings: Settings) -> int:
        from ..loading import model_size_bytes

        size = model_size_bytes(key=key, runtime=runtime, settings=settings)
        return with_worker(size, runtime=runtime, settings=settings)

    def load(
        self, key: str, *, runtime: Any, settings: Settings, progress: Callable[[str], None] | None, budget: Any
    ) -> Any:
        from ..loading import load_model_bundle
        from .worker.client import TransformersWorker, discard, spawn

        spawned = None
        if with_worker(1, runtime=runtime, settings=settings) != 1:  # the worker imports its libraries meanwhile
            spawned = spawn("transformers")
        try:
            bundle = load_model_bundle(key=key, runtime=runtime, settings=settings, progress=progress, budget=budget)
            size = with_worker(bundle.nbytes, runtime=runtime, settings=settings)
            if spawned is not None and size != bundle.nbytes:
                if progress is not None:
                    progress("Starting transformers' worker process")
                try:
                    bundle.worker = TransformersWorker(key=key, settings=settings, spawned=spawned)  # type: ignore[attr-defined]
                except BaseException:
                    bundle.release()
                    raise
                spawned = None
                bundle.nbytes = size
        finally:
            if spawned is not None:
                discard(spawned)
        return bundle

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
        from ..custom_decoding import CUSTOM_METHODS

        handle = getattr(loaded, "worker", None)
        worker = handle.current() if handle is not None else None
        if worker is not None:
            request = dict(
                prompt=prompt,
                method=method,
                params=params,
                chat=chat,
                stop=stop,
                details=details,
                limits=limits,
                prefix=list(prefix),
            )
            yield from handle.generate(worker, request=request, cancel=cancel)
            return
        yield from generate_stream(
            bundle=loaded,
            prompt=prompt,
            method=method,
            params=params,
            chat=chat,
            stop=stop,
            cancel=cancel,
            custom_methods=dict(CUSTOM_METHODS),
            details=details,
            limits=limits,
            prefix=prefix,
        )
