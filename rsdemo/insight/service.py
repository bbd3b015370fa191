"""The model work of the insight views: one forward pass per prompt (kept), the beam search tree, the arena.

Each view takes a generation slot (``Admission.slot``) and the transformers model (``ModelPool.in_use``) for
its model work only; re-reading kept numbers (a slider move on the Inside tab) takes neither. On ZeroGPU the
model work runs inside ``spaces.GPU``: ``on_gpu`` wraps ``forward_pass``, ``record_beam_tree`` and
``raw_logprob_pass`` (as ``forward``, ``beam_tree`` and ``raw_logprob``), which are what the views call.

>>> _probe_ids(lambda text, add_special_tokens: type("Enc", (), {"input_ids": [len(text)]}), "cat")
(('cat', 3), (' cat', 4))
"""

from __future__ import annotations

import collections
import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..arguments import keys as key_list
from ..arguments import whole
from ..catalog import MODELS
from ..core.errors import InputError
from ..core.settings import Settings
from ..decoding import COMMON_PARAMS, METHODS, draw_seed, generation_config, get_method, resolve_params
from ..generation import GenerationResult, PromptInfo, build_prompt, check_request
from ..generation.eos import eos_ids, trim_after_eos
from ..generation.results import alternatives, make_token
from ..generation.service import GenerationService
from ..generation.transformers_engine import bundle_adapter
from .arena import arena_rows
from .beam_tree import TREE_BEAMS, BeamRecorder, build_tree, tree_steps
from .results import ArenaResult, BeamTreeResult, NextTokenResult, SurprisalResult
from .scoring import Scored, score
from .second_opinion import SecondOpinion, opinions
from .stages import stage_view
from .surprisal import surprisal_from_logprobs

__all__ = ["InsightService", "ScoredPrompt"]

F = TypeVar("F", bound=Callable[..., Any])
Progress = Callable[[str], None]

_FAST_METHODS = frozenset(METHODS) - {"beam", "beam_sample", "diverse_beam", "contrastive"}


@dataclass(frozen=True, slots=True)
class ScoredPrompt:
    """One forward pass over a prompt, kept: the numbers, and what turns ids into text."""

    model: str
    prompt: PromptInfo
    scored: Scored
    adapter: object
    tokenizer: object


class InsightService:
    """The insight views' model work (see the module docstring).

    Args:
        settings: the limits (``max_scored_tokens`` and those of a generation request).
        generation: its engine choice (models resolved, server-only ones refused), model pool and slots.
        generate: runs one generation (``Backend.generate``: on ZeroGPU, inside ``spaces.GPU``); the arena's runs.
        on_gpu: wraps a model-work entry point for ZeroGPU (``gpu_entry_point``); elsewhere returns it unchanged.
    """

    _SCORES_KEPT = 16  # prompts whose forward pass is kept: a slider move re-reads it, no model call

    def __init__(
        self,
        *,
        settings: Settings,
        generation: GenerationService,
        generate: Callable[..., Iterator[GenerationResult]],
        on_gpu: Callable[[F], F] = lambda fn: fn,
    ) -> None:
        self.settings = settings
        self.generation = generation
        self.choice = generation.choice
        self.models = generation.models
        self.admission = generation.admission
        self._generate = generate
        self._scores: collections.OrderedDict[tuple[str, str, bool, int], ScoredPrompt] = collections.OrderedDict()
        self._scores_lock = threading.Lock()
        # ZeroGPU: a forward pass, a recorded beam search, a raw score ask for a GPU; re-reading kept numbers does not
        self.kept_views: collections.OrderedDict[tuple[Any, ...], Any] = collections.OrderedDict()  # views.py's
        self.on_gpu = on_gpu  # the views of rsdemo.insight.views wrap their model work with it once, at start
        self.forward = on_gpu(self.forward_pass)
        self.beam_tree = on_gpu(self.record_beam_tree)
        self.raw_logprob = on_gpu(self.raw_logprob_pass)

    def _precheck(self, name: str) -> None:
        """An unusable Hub fails now, not after waiting for a slot."""
        if not self.models.injected("transformers") and not self.generation.model_loaded(name):
            self.generation.engines["transformers"].precheck(name, settings=self.settings)

    def usable_model(self, *, model: str, prompt: str, doing: str, what: str) -> str:
        """The resolved model key, once the prompt and the model are known to be usable (nothing loaded yet)."""
        name = self.choice.resolve_model(model)
        spec = MODELS.get(name, None)
        cap = spec.max_new_tokens if spec is not None else None
        check_request(prompt=prompt, method="greedy", params=None, stop=None, limits=self.settings, model_cap=cap,
                      doing=doing)  # fmt: skip
        self.choice.needs_weights(name, what)
        return name

    def score(self, *, model: str, prompt: str, chat: bool, progress: Progress | None, upto: int = 0) -> ScoredPrompt:
        """One teacher-forced forward pass over the prompt (transformers, inside a generation slot), kept.

        ``upto``: score only the first ``upto`` tokens (0: all), for the distribution after any token.
        """
        name = self.usable_model(model=model, prompt=prompt, doing="to score", what="The Inside tab")
        upto = whole(upto, name="position", minimum=0, also=" (0: after the whole prompt)")
        key = (name, prompt, bool(chat), upto)
        with self._scores_lock:
            if key in self._scores:
                self._scores.move_to_end(key)
                return self._scores[key]
        self._precheck(name)
        scored = self.forward(model=name, prompt=prompt, chat=chat, upto=upto, progress=progress)
        with self._scores_lock:
            self._scores[key] = scored
            while len(self._scores) > self._SCORES_KEPT:
                self._scores.popitem(last=False)
        return scored

    def forward_pass(
        self, *, model: str, prompt: str, chat: bool, upto: int, progress: Progress | None
    ) -> ScoredPrompt:
        """The model part of ``score``: a slot, the model, one forward pass (on ZeroGPU, inside ``spaces.GPU``)."""
        name, spec = model, MODELS.get(model, None)
        with self.admission.slot(), self.models.in_use("transformers", name, progress) as bundle:
            info = _document(
                build_prompt(tokenizer=bundle.tokenizer, prompt=prompt, chat=bool(chat)),
                tokenizer=bundle.tokenizer,
                spec=spec,
            )
            if upto:
                info = _first_tokens(info, upto, tokenizer=bundle.tokenizer)
            if len(info.ids) > self.settings.max_scored_tokens:
                raise InputError(
                    f"The prompt is {len(info.ids):,} tokens; the most this page scores is "
                    f"{self.settings.max_scored_tokens:,}.",
                    field="prompt",
                )
            return ScoredPrompt(
                name, info, score(model=bundle.model, ids=info.ids), bundle_adapter(bundle), bundle.tokenizer
            )

    def surprisal(
        self, *, model: str, prompt: str, chat: bool = False, progress: Progress | None = None
    ) -> SurprisalResult:
        """How surprising each prompt token is to the model: its probability given what precedes it.

        Raises:
            InputError: an empty or too long prompt.
            UnknownKeyError, HubError, AssetMissingError, CapacityError: as for generation.
        """
        scored = self.score(model=model, prompt=prompt, chat=chat, progress=progress)
        return SurprisalResult(
            scored.model,
            scored.prompt,
            _prompt_tokens(scored),
            surprisal_from_logprobs(ids=scored.prompt.ids, logprobs=scored.scored.logprobs),
        )

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
        scored = self.score(model=model, prompt=prompt, chat=chat, progress=progress, upto=position)
        typed = _probe_ids(scored.tokenizer, probes)
        view = stage_view(
            logits=scored.scored.last_logits,
            context_ids=scored.prompt.ids,
            method=method,
            params=params,
            top=10,
            probes=[i for _, i in typed],
            tokenizer=scored.tokenizer,
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

        Raises:
            InputError: fewer than 2 or more than 4 runs, an engine that cannot run a method, or what a
                generation request raises.
        """
        entries, chosen_engines, common = _arena_plan(
            self.generation, model=model, prompt=prompt, methods=methods, params=params, engines=engines
        )
        keys = [f"{m}@{e}" if e is not None and len(chosen_engines) > 1 else m for m, e in entries]
        runs: list[GenerationResult] = []
        seconds: list[float] = []
        logprobs: list[float | None] = []
        served = self.choice.served_only(self.choice.resolve_model(model)) is not None
        scorer = "transformers" if not served else "each run's engine"
        for n, (name, on) in enumerate(entries):
            started = time.perf_counter()
            final = None
            fast = on if len(chosen_engines) > 1 else (on or engine) if name in _FAST_METHODS else None
            for final in self._generate(  # noqa: B007
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
                else self.raw_logprob(model=final.model, run=final)
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

    def raw_logprob_pass(self, *, model: str, run: GenerationResult) -> float | None:
        """The sum of a run's tokens' log-probabilities under the raw model, by transformers' forward pass (None
        past ``max_scored_tokens``)."""
        ids = [*run.prompt.ids, *(t.id for t in run.tokens)]
        if len(ids) > self.settings.max_scored_tokens:
            return None
        resolve = self.choice.resolve_model
        with self.admission.slot(), self.models.in_use("transformers", resolve(model), None) as bundle:
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
        self.choice.needs_weights(run.model, "Comparing with transformers")
        resolve = self.choice.resolve_model
        with self.admission.slot(), self.models.in_use("transformers", resolve(run.model), progress) as bundle:
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

    def record_beam_tree(
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
        values = resolve_params(method="beam", params=params)
        if values["num_beams"] > TREE_BEAMS:
            raise InputError(
                f"The beam tree draws at most {TREE_BEAMS} beams; Beams is {values['num_beams']}. "
                f"Set Beams to {TREE_BEAMS} or fewer to draw it.",
                field="params",
            )
        steps, notes = tree_steps(values["max_new_tokens"])
        params = {**(params or {}), "max_new_tokens": steps}
        name = self.choice.resolve_model(model)
        self.choice.needs_weights(name, "The beam search tree")
        check_request(prompt=prompt, method="beam", params=params, stop=None, limits=self.settings)
        self._precheck(name)
        with self.admission.slot(), self.models.in_use("transformers", name, progress) as bundle:
            recorded = _recorded_beam_search(bundle, prompt=prompt, chat=chat, params=params, beams=values["num_beams"])
        return BeamTreeResult(name, *recorded, float(values["length_penalty"]), notes)


def _arena_plan(
    generation: GenerationService,
    *,
    model: str,
    prompt: str,
    methods: Sequence[str],
    params: dict | None,
    engines: Sequence[str] | None,
) -> tuple[list[tuple[str, str | None]], list[str], dict[str, Any]]:
    """The arena's runs ``(method, engine)``, the engines asked for and the common parameters, every run
    checked before the first starts."""
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
        check_request(prompt=prompt, method=name, params=common, stop=None, limits=generation.settings)
        if on is not None and len(chosen_engines) > 1:
            generation.choice.choose_engine(model=model, method=name, engine=on, params=common)  # refused now
    return entries, chosen_engines, common


def _recorded_beam_search(bundle: Any, *, prompt: str, chat: bool, params: dict, beams: int) -> tuple[Any, ...]:
    """``model.generate``'s beam search with a ``BeamRecorder`` last in its pipeline: the prompt, the tree, its
    tokens' text, the returned beams' scores and texts (``BeamTreeResult``'s fields in order)."""
    import torch
    from transformers.generation import LogitsProcessorList

    info = build_prompt(tokenizer=bundle.tokenizer, prompt=prompt, chat=bool(chat))
    config = generation_config(method="beam", params=params, return_dict_in_generate=True, output_scores=True)
    recorder = BeamRecorder(prompt_len=len(info.ids), keep=2 * int(beams))
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
    return info, tree, pieces, tuple(scores), texts


def _first_tokens(info: PromptInfo, upto: int, *, tokenizer: Any) -> PromptInfo:
    """The prompt cut after its first ``upto`` tokens (the distribution after any token)."""
    if upto > len(info.ids):
        raise InputError(
            f"The prompt has {len(info.ids):,} tokens; pick a position from 1 to "
            f"{len(info.ids):,} (0: after the whole prompt).",
            field="params",
        )
    return dataclasses.replace(info, ids=info.ids[:upto], text=tokenizer.decode(list(info.ids[:upto])))


def _prompt_tokens(scored: ScoredPrompt) -> tuple[Any, ...]:
    """Each prompt token with its probability given what precedes it, and what the model expected there."""
    run, adapter = scored.scored, scored.adapter
    tokens = []
    for k, token_id in enumerate(scored.prompt.ids):
        if k == 0:
            tokens.append(make_token(adapter, token_id, float("nan")))
            continue
        expected = alternatives(adapter, run.top_ids[k - 1].tolist(), run.top_probs[k - 1].tolist())
        tokens.append(make_token(adapter, token_id, math.exp(float(run.logprobs[k - 1])), raw_top=expected))
    return tuple(tokens)


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
