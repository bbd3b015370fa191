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

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..core.errors import InputError
from ..core.seeding import seeded
from ..core.settings import Settings, get_settings
from ..decoding import METHODS, custom_kwarg_names, generation_config, get_method
from ..tokenization.adapters import HFAdapter
from .engine import Capabilities
from .eos import eos_ids, trim_after_eos
from .prompts import build_prompt
from .reproduce import reproduce_code
from .requests import check_request
from .results import Alternative, Beam, GeneratedToken, GenerationResult, StreamText, make_token, top_alternatives

__all__ = ["TOP_K_ALTERNATIVES", "TransformersEngine", "generate_stream"]

TOP_K_ALTERNATIVES = 10
_STREAM_TIMEOUT_S = 120.0  # a crashed generate thread cannot hang the UI longer than this


def lower_priority(nice: int, *, idle: bool = False, tid: int | None = None) -> None:
    """Lower this thread's CPU priority (Linux: threads are tasks with their own nice value and policy).

    Generation then takes the CPU that light requests leave idle instead of competing with them; the
    threads torch or llama.cpp start for this thread's parallel work inherit it. ``idle``: Linux's
    ``SCHED_IDLE`` policy (only CPU time no other task wants) instead of a nice value. Elsewhere it does
    nothing. Only lowering is allowed without privileges: a thread cannot get its priority back. ``tid``:
    another thread of this process instead.
    """
    tid = tid or threading.get_native_id()
    if idle and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
            return
        except OSError:  # not permitted here (or the thread has ended): the nice value instead
            pass
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError:  # not permitted here, or the thread has ended: it keeps its priority
        pass


def with_worker(nbytes: int, *, runtime: Any, settings: Settings) -> int:
    """The memory a transformers model of ``nbytes`` parameters takes with its generation worker process.

    On a CPU with ``generation_process`` its generation runs go to a worker process that loads its own copy
    (``decode_worker.TransformersWorker``): twice the parameters and the process. A model whose two copies
    would not fit ``max_model_mb``, and any GPU, generate in the app's process (``nbytes`` unchanged).

    >>> from rsdemo.core.runtime import Runtime
    >>> from rsdemo.core.settings import Settings
    >>> s, cpu = Settings(cache_dir="."), Runtime("cpu", "cpu", "float32", False)
    >>> with_worker(100, runtime=cpu, settings=s) > 200, with_worker(s.max_model_mb * 2**20, runtime=cpu, settings=s)
    (True, 8589934592)
    """
    from .decode_worker import PROCESS_BYTES
    from .llamacpp_engine import uses_worker

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
    import torch
    from transformers.generation.stopping_criteria import StoppingCriteria, StoppingCriteriaList, StopStringCriteria
    from transformers.generation.streamers import BaseStreamer

    limits = limits or get_settings()
    spec = get_method(method)
    values, stops = check_request(
        prompt=prompt,
        method=method,
        params=params,
        stop=stop,
        limits=limits,
        model_cap=getattr(bundle.spec, "max_new_tokens", None),
    )
    # custom decoding loops (contrastive, diverse beam) do not get generate's tokenizer, so their stop
    # strings travel as a stopping criterion instead of GenerationConfig.stop_strings
    config = generation_config(
        method=method,
        params=params,
        stop_strings=(stops or None) if not spec.custom else None,
        return_dict_in_generate=True,
        output_scores=details,
        output_logits=details,
    )
    model, tokenizer = bundle.model, bundle.tokenizer
    adapter = bundle_adapter(bundle)
    info = build_prompt(tokenizer=tokenizer, prompt=prompt, chat=chat)
    vocab = model.get_output_embeddings().weight.shape[0]
    bad = [int(i) for i in prefix if not 0 <= int(i) < vocab]
    if bad:
        raise InputError(
            f"A branch's tokens (prefix) must be ids of this model's vocabulary, 0 to {vocab - 1:,}; got {bad[0]}.",
            field="params",
        )
    input_ids = torch.tensor([list(info.ids) + [int(i) for i in prefix]], device=bundle.device)
    seed = int(values["seed"])
    cancel = cancel or threading.Event()
    timed_out = threading.Event()
    deadline = time.monotonic() + limits.run_time_limit_s
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    live = details and spec.streams and spec.custom is None
    last_logits: list[Any] = [None]
    worker_thread: list[int | None] = [None]

    class Collector(BaseStreamer):
        def __init__(self) -> None:
            self.prompt_seen = False

        def put(self, value: Any) -> None:
            if not self.prompt_seen:
                self.prompt_seen = True
                return
            token = int(value.reshape(-1)[0])
            row = last_logits[0]
            events.put(("token", (token, row)))

        def end(self) -> None:
            events.put(("end", None))

    prompt_len = input_ids.shape[1]
    preview = not spec.streams  # beam methods stream their leading candidate, provisionally

    class Cancelled(StoppingCriteria):
        """Stops at the next step once ``cancel`` is set or the time limit passes; each call also tells the
        consumer the run is alive. A beam method's candidates come sorted best first: row 0 is the leader."""

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            if preview and input_ids.shape[1] > prompt_len:
                events.put(("preview", input_ids[0, prompt_len:].tolist()))
            else:
                events.put(("tick", None))
            if on_step is not None:
                on_step()
            if not cancel.is_set() and time.monotonic() > deadline:
                timed_out.set()
                cancel.set()
            return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

    criteria = [Cancelled()]
    if stops and spec.custom:
        criteria.append(StopStringCriteria(tokenizer, stops))
    kwargs: dict[str, Any] = {
        "generation_config": config,
        "attention_mask": torch.ones_like(input_ids),
        "stopping_criteria": StoppingCriteriaList(criteria),
    }
    if stops and not spec.custom:
        kwargs["tokenizer"] = tokenizer
    if spec.streams:
        # generate() hands a custom loop no streamer of its own: contrastive search takes token_streamer=
        kwargs["token_streamer" if spec.custom else "streamer"] = Collector()
    if spec.custom is not None:
        if not custom_methods or spec.custom not in custom_methods:
            raise InputError(f"{spec.label} is not available in this build.")
        kwargs["custom_generate"] = custom_methods[spec.custom]
        kwargs.update({name: values[name] for name in custom_kwarg_names(method)})
    if config.pad_token_id is None and model.generation_config.pad_token_id is None:
        kwargs["pad_token_id"] = model.generation_config.eos_token_id or tokenizer.eos_token_id

    hook = None
    if live:
        head = model.get_output_embeddings()

        def keep_last(_module: Any, _inputs: Any, output: Any) -> None:
            if threading.get_ident() == worker_thread[0]:  # the model may be generating for others at once
                last_logits[0] = output[0, -1].detach().float()

        hook = head.register_forward_hook(keep_last)

    outcome: dict[str, Any] = {}

    def worker() -> None:
        worker_thread[0] = threading.get_ident()
        lower_priority(limits.generation_nice)
        try:
            with seeded(seed, device=str(bundle.device)), torch.inference_mode():
                outcome["output"] = model.generate(input_ids, **kwargs)
        except BaseException as err:  # handed to the consuming thread
            outcome["error"] = err
        finally:
            events.put(("done", None))

    started = time.perf_counter()
    first_at: float | None = None
    preview_at: float | None = None
    previewed: list[int] = []
    made: dict[int, GeneratedToken] = {}  # a preview's tokens, by id (the leader changes; its tokens repeat)
    eos = eos_ids(tokenizer, model)
    streamed: list[GeneratedToken] = []
    shown = StreamText()
    base = dict(model=bundle.key, method=method, params=values, seed=seed, prompt=info)
    thread = threading.Thread(target=worker, name="rsdemo-generate", daemon=True)
    finished = False
    try:
        thread.start()
        while True:
            try:
                kind, payload = events.get(timeout=_STREAM_TIMEOUT_S)
            except queue.Empty:
                cancel.set()
                raise InputError("Generation stalled and was stopped.") from None
            if kind == "token":
                token, row = payload
                first_at = first_at or time.perf_counter()
                if live and row is not None:
                    probs = torch.softmax(row, dim=-1)
                    gen = make_token(adapter, token, float(probs[token]), raw_top=_alternatives(probs, adapter))
                else:
                    gen = make_token(adapter, token, float("nan"))
                streamed.append(gen)
                yield GenerationResult(
                    **base,
                    beams=(Beam(shown.add(gen), tuple(streamed), None),),
                    done=False,
                    ttft_s=first_at - started,
                    elapsed_s=time.perf_counter() - started,
                )
            elif kind == "preview":
                ids = trim_after_eos(payload, eos)
                if ids == previewed:  # a custom loop may ask its criteria more than once a step
                    continue
                previewed = ids
                preview_at = preview_at or time.perf_counter()
                tokens = tuple(made.get(i) or made.setdefault(i, make_token(adapter, i, float("nan"))) for i in ids)
                yield GenerationResult(
                    **base,
                    beams=(Beam(tokenizer.decode(ids, skip_special_tokens=False), tokens, None),),
                    done=False,
                    ttft_s=preview_at - started,
                    elapsed_s=time.perf_counter() - started,
                )
            elif kind == "done":
                finished = True
                break
    finally:
        if not finished:  # the consumer went away (stop button, closed page): stop the worker at the next token
            cancel.set()
        if hook is not None:
            hook.remove()
    thread.join(timeout=5)
    if "error" in outcome:
        err = outcome["error"]
        if isinstance(err, ValueError):
            raise InputError(f"{spec.label} could not run with these settings: {err}") from err
        raise err
    output = outcome["output"]
    ended = time.perf_counter()
    beams = _final_beams(
        model=model,
        output=output,
        prompt_len=input_ids.shape[1],
        adapter=adapter,
        tokenizer=tokenizer,
        beam_method=not spec.streams,
    )
    n_new = len(beams[0].tokens) if beams else 0
    first_at = first_at or ended
    rate = (n_new - 1) / (ended - first_at) if n_new > 1 and ended > first_at else None
    if not spec.streams and n_new:
        rate = n_new / (ended - started)
    complete = _finished(beams, tokenizer, model, values["max_new_tokens"])
    stopped = cancel.is_set() and not timed_out.is_set() and not complete
    reason = _finish_reason(beams, tokenizer, model, values["max_new_tokens"], stopped, stops)
    if timed_out.is_set() and not complete:
        reason = f"time limit ({limits.run_time_limit_s:g} s)"
    yield GenerationResult(
        **base,
        beams=beams,
        done=True,
        stopped=stopped,
        ttft_s=(first_at - started) if spec.streams else None,
        tokens_per_s=rate,
        elapsed_s=ended - started,
        finish_reason=reason,
        code=reproduce_code(
            bundle=bundle, info=info, prompt=prompt, method=method, values=values, config=config, stops=stops
        ),
        notes=info.warnings,
    )


def _finished(beams: Sequence[Beam], tokenizer: Any, model: Any, max_new: int) -> bool:
    if not beams or not beams[0].tokens:
        return False
    toks = beams[0].tokens
    return len(toks) >= max_new or toks[-1].id in eos_ids(tokenizer, model)


def _finish_reason(
    beams: Sequence[Beam], tokenizer: Any, model: Any, max_new: int, stopped: bool, stops: Sequence[str]
) -> str:
    if stopped:
        return "stopped by you"
    toks = beams[0].tokens if beams else ()
    if toks and toks[-1].id in eos_ids(tokenizer, model):
        return "end of sequence token"
    if len(toks) >= max_new:
        return "max new tokens"
    if stops and beams and any(s in beams[0].text for s in stops):
        return "stop string"
    return "stopped"


def _final_beams(
    *, model: Any, output: Any, prompt_len: int, adapter: HFAdapter, tokenizer: Any, beam_method: bool
) -> tuple[Beam, ...]:
    import torch

    sequences = output.sequences
    scores = output.scores or ()
    logits = getattr(output, "logits", None) or ()
    beam_indices = getattr(output, "beam_indices", None)
    seq_scores = getattr(output, "sequences_scores", None)
    eos = eos_ids(tokenizer, model)
    beams = []
    for b in range(sequences.shape[0]):
        new_ids = trim_after_eos(sequences[b, prompt_len:].tolist(), eos)
        tokens = []
        for step, token in enumerate(new_ids):
            if not scores:  # probabilities not gathered (details=False): tokens only
                tokens.append(make_token(adapter, token, float("nan")))
                continue
            if step >= len(scores):
                break
            row = int(beam_indices[b, step]) if beam_method and beam_indices is not None else b
            if row < 0:  # padding after a finished beam
                break
            filtered = torch.softmax(scores[step][row].float(), dim=-1)
            raw = torch.softmax(logits[step][row].float(), dim=-1) if step < len(logits) else filtered
            tokens.append(
                make_token(
                    adapter,
                    token,
                    float(raw[token]),
                    float(filtered[token]),
                    _alternatives(raw, adapter),
                    _alternatives(filtered, adapter),
                )
            )
        text = tokenizer.decode([t.id for t in tokens], skip_special_tokens=False)
        score = float(seq_scores[b]) if seq_scores is not None else None
        beams.append(Beam(text, tuple(tokens), score))
    return tuple(beams)


class TransformersEngine:
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

    def missing(self) -> str | None:
        return None

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
        from .decode_worker import TransformersWorker, discard, spawn

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
