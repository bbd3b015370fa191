"""The parts of one transformers run (``transformers_engine.generate_stream``): the checked request, what
``generate``'s thread hands the consuming thread as it goes, and the final beams with their probabilities.

``generate`` runs on a thread of its own (``GenerateThread``): a streamer (``put`` per chosen token) and a
stopping criterion (called once a step) put events on a queue the consuming thread reads — ``token`` with
the step's raw logits (kept by a forward hook on the LM head while single-sequence methods stream), ``preview``
with a beam method's leading candidate, ``tick`` for a step with nothing new, ``done`` at the end. The
criterion also stops the run at the next step once ``cancel`` is set or the time limit passes.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.errors import InputError
from ..core.seeding import seeded
from ..core.settings import Settings
from ..decoding import custom_kwarg_names, generation_config, get_method
from ..decoding.samplers import samplers_on
from ..tokenization.adapters import HFAdapter
from .eos import eos_ids, trim_after_eos
from .processors import neutral_config, stages
from .prompts import build_prompt
from .reproduce import reproduce_code
from .requests import check_request
from .results import TOP_K_ALTERNATIVES, Beam, GenerationResult, PromptInfo, make_token, top_alternatives
from .run_clock import END_OF_SEQUENCE, MAX_NEW_TOKENS, STOP_STRING, RunClock, finish_reason
from .worker.scheduling import lower_priority

__all__ = ["GenerateThread", "Prepared", "final_result", "prepare"]


@dataclass(frozen=True)
class Prepared:
    """A checked request: the method, its resolved parameters and stop strings, the ``GenerationConfig``, the
    prompt, and the ids ``generate`` starts from (the prompt's, then a branch's forced tokens)."""

    method: str
    spec: Any
    values: dict[str, Any]
    stops: list[str]
    config: Any
    info: PromptInfo
    input_ids: Any
    seed: int


def prepare(
    *,
    bundle: Any,
    prompt: str,
    method: str,
    params: dict[str, Any] | None,
    chat: bool,
    stop: str | Sequence[str] | None,
    details: bool,
    limits: Settings,
    prefix: Sequence[int],
) -> Prepared:
    """Check the request and build what ``generate`` reads (raises ``InputError`` for a bad request)."""
    import torch

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
    info = build_prompt(tokenizer=bundle.tokenizer, prompt=prompt, chat=chat)
    vocab = bundle.model.get_output_embeddings().weight.shape[0]
    bad = [int(i) for i in prefix if not 0 <= int(i) < vocab]
    if bad:
        raise InputError(
            f"A branch's tokens (prefix) must be ids of this model's vocabulary, 0 to {vocab - 1:,}; got {bad[0]}.",
            field="params",
        )
    input_ids = torch.tensor([list(info.ids) + [int(i) for i in prefix]], device=bundle.device)
    return Prepared(method, spec, values, stops, config, info, input_ids, int(values["seed"]))


class GenerateThread:
    """``generate`` on a thread of its own, and the events it hands the consuming thread (``events``).

    ``live``: the streamed tokens carry the step's raw logits (details wanted, a streaming method, no custom loop).
    After the ``done`` event, ``outcome`` holds ``output`` (``generate``'s) or ``error``.
    """

    def __init__(
        self,
        *,
        bundle: Any,
        run: Prepared,
        cancel: threading.Event,
        limits: Settings,
        details: bool,
        on_step: Callable[[], None] | None,
    ) -> None:
        self.bundle, self.run, self.cancel, self.limits = bundle, run, cancel, limits
        self.timed_out = threading.Event()
        self.deadline = time.monotonic() + limits.run_time_limit_s
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.live = details and run.spec.streams and run.spec.custom is None
        self.outcome: dict[str, Any] = {}
        self._on_step = on_step
        self._last_logits: Any = None
        self._ident: int | None = None
        self._thread: threading.Thread | None = None

    def kwargs(self, custom_methods: dict[str, Callable[..., Any]] | None) -> dict[str, Any]:
        """``generate``'s keyword arguments: the config, the stopping criteria, the streamer, a custom loop."""
        import torch
        from transformers.generation.stopping_criteria import StoppingCriteriaList, StopStringCriteria

        run, spec, model, tokenizer = self.run, self.run.spec, self.bundle.model, self.bundle.tokenizer
        criteria = [self._criterion()]
        if run.stops and spec.custom:
            criteria.append(StopStringCriteria(tokenizer, run.stops))
        kwargs: dict[str, Any] = {
            "generation_config": run.config,
            "attention_mask": torch.ones_like(run.input_ids),
            "stopping_criteria": StoppingCriteriaList(criteria),
        }
        if run.stops and not spec.custom:
            kwargs["tokenizer"] = tokenizer
        if samplers_on(run.values):  # rsdemo's stages: all of them, in its order, through logits_processor
            from transformers import LogitsProcessorList

            pipeline = stages(run.config, run.values, tokenizer=tokenizer)
            kwargs["generation_config"] = neutral_config(run.config)
            kwargs["logits_processor"] = LogitsProcessorList([p for _, p in pipeline])
        if spec.streams:
            # generate() hands a custom loop no streamer of its own: contrastive search takes token_streamer=
            kwargs["token_streamer" if spec.custom else "streamer"] = self._streamer()
        if spec.custom is not None:
            if not custom_methods or spec.custom not in custom_methods:
                raise InputError(f"{spec.label} is not available in this build.")
            kwargs["custom_generate"] = custom_methods[spec.custom]
            kwargs.update({name: run.values[name] for name in custom_kwarg_names(run.method)})
        if run.config.pad_token_id is None and model.generation_config.pad_token_id is None:
            kwargs["pad_token_id"] = model.generation_config.eos_token_id or tokenizer.eos_token_id
        return kwargs

    def _streamer(self) -> Any:
        from transformers.generation.streamers import BaseStreamer

        events, owner = self.events, self

        class Collector(BaseStreamer):
            def __init__(self) -> None:
                self.prompt_seen = False

            def put(self, value: Any) -> None:
                if not self.prompt_seen:
                    self.prompt_seen = True
                    return
                token = int(value.reshape(-1)[0])
                row = owner._last_logits
                events.put(("token", (token, row)))

            def end(self) -> None:
                events.put(("end", None))

        return Collector()

    def _criterion(self) -> Any:
        import torch
        from transformers.generation.stopping_criteria import StoppingCriteria

        owner, prompt_len = self, self.run.input_ids.shape[1]
        preview = not self.run.spec.streams  # beam methods stream their leading candidate, provisionally

        class Cancelled(StoppingCriteria):
            """Stops at the next step once ``cancel`` is set or the time limit passes; each call also tells the
            consumer the run is alive. A beam method's candidates come sorted best first: row 0 is the leader."""

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                if preview and input_ids.shape[1] > prompt_len:
                    owner.events.put(("preview", input_ids[0, prompt_len:].tolist()))
                else:
                    owner.events.put(("tick", None))
                if owner._on_step is not None:
                    owner._on_step()
                if not owner.cancel.is_set() and time.monotonic() > owner.deadline:
                    owner.timed_out.set()
                    owner.cancel.set()
                return torch.full(
                    (input_ids.shape[0],), owner.cancel.is_set(), dtype=torch.bool, device=input_ids.device
                )

        return Cancelled()

    def hook(self) -> Any:
        """While ``live``: keep each step's raw logits from the LM head (a hook to ``remove()``; else None)."""
        if not self.live:
            return None

        def keep_last(_module: Any, _inputs: Any, output: Any) -> None:
            if threading.get_ident() == self._ident:  # the model may be generating for others at once
                self._last_logits = output[0, -1].detach().float()

        return self.bundle.model.get_output_embeddings().register_forward_hook(keep_last)

    def start(self, kwargs: dict[str, Any]) -> None:
        """Start the thread: ``generate`` at ``generation_nice``, seeded, its outcome kept, then ``done``."""
        self._thread = threading.Thread(target=self._target(kwargs), name="rsdemo-generate", daemon=True)
        self._thread.start()

    def finish(self) -> None:
        """After ``done``: wait for the thread to end (a few seconds at most), raise what ``generate`` raised."""
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.raise_failure()

    def _target(self, kwargs: dict[str, Any]) -> Callable[[], None]:
        import torch

        def work() -> None:
            self._ident = threading.get_ident()
            lower_priority(self.limits.generation_nice)
            try:
                with seeded(self.run.seed, device=str(self.bundle.device)), torch.inference_mode():
                    self.outcome["output"] = self.bundle.model.generate(self.run.input_ids, **kwargs)
            except BaseException as err:  # handed to the consuming thread
                self.outcome["error"] = err
            finally:
                self.events.put(("done", None))

        return work

    def raise_failure(self) -> None:
        """Raise what ``generate`` raised, if it did (a ``ValueError``: the method cannot run with these settings)."""
        if "error" in self.outcome:
            err = self.outcome["error"]
            if isinstance(err, ValueError):
                raise InputError(f"{self.run.spec.label} could not run with these settings: {err}") from err
            raise err


def final_result(
    *,
    bundle: Any,
    run: Prepared,
    thread: GenerateThread,
    adapter: HFAdapter,
    clock: RunClock,
    base: dict[str, Any],
    prompt: str,
) -> GenerationResult:
    """The run's last result, from ``generate``'s output: every beam with its probabilities, the timing, why it
    ended, the code that reproduces it."""
    spec, model, tokenizer, cancel = run.spec, bundle.model, bundle.tokenizer, thread.cancel
    max_new = run.values["max_new_tokens"]
    beams = _final_beams(
        model=model,
        output=thread.outcome["output"],
        prompt_len=run.input_ids.shape[1],
        adapter=adapter,
        tokenizer=tokenizer,
        beam_method=not spec.streams,
    )
    n_new = len(beams[0].tokens) if beams else 0
    rate = clock.tokens_per_s(n_new)
    if not spec.streams and n_new:
        rate = n_new / clock.elapsed_s
    complete = _finished(beams, tokenizer, model, max_new)
    stopped = cancel.is_set() and not thread.timed_out.is_set() and not complete
    reason = finish_reason(
        stopped=stopped,
        timed_out=thread.timed_out.is_set() and not complete,
        time_limit_s=thread.limits.run_time_limit_s,
        natural=_natural_reason(beams, tokenizer, model, max_new, run.stops),
    )
    return GenerationResult(
        **base,
        beams=beams,
        done=True,
        stopped=stopped,
        ttft_s=clock.ttft_s if spec.streams else None,
        tokens_per_s=rate,
        elapsed_s=clock.elapsed_s,
        finish_reason=reason,
        code=reproduce_code(
            bundle=bundle,
            info=run.info,
            prompt=prompt,
            method=run.method,
            values=run.values,
            config=run.config,
            stops=run.stops,
        ),
        notes=run.info.warnings,
    )


def _finished(beams: Sequence[Beam], tokenizer: Any, model: Any, max_new: int) -> bool:
    if not beams or not beams[0].tokens:
        return False
    toks = beams[0].tokens
    return len(toks) >= max_new or toks[-1].id in eos_ids(tokenizer, model)


def _natural_reason(
    beams: Sequence[Beam], tokenizer: Any, model: Any, max_new: int, stops: Sequence[str]
) -> str | None:
    """What ended the run by itself (None: nothing it can name)."""
    toks = beams[0].tokens if beams else ()
    if toks and toks[-1].id in eos_ids(tokenizer, model):
        return END_OF_SEQUENCE
    if len(toks) >= max_new:
        return MAX_NEW_TOKENS
    if stops and beams and any(s in beams[0].text for s in stops):
        return STOP_STRING
    return None


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
                    top_alternatives(raw, adapter, TOP_K_ALTERNATIVES),
                    top_alternatives(filtered, adapter, TOP_K_ALTERNATIVES),
                )
            )
        text = tokenizer.decode([t.id for t in tokens], skip_special_tokens=False)
        score = float(seq_scores[b]) if seq_scores is not None else None
        beams.append(Beam(text, tuple(tokens), score))
    return tuple(beams)
