"""The remote engine: a serving engine the operator runs (vLLM, llama.cpp's server, TGI, any OpenAI-compatible
server) behind the same seam and the same views as the in-process engines.

The operator names the server in the settings (``RSDEMO_REMOTE_URL``, ``RSDEMO_REMOTE_SERVER``,
``RSDEMO_REMOTE_MODEL``; the token in ``RSDEMO_REMOTE_API_KEY``); a visitor can never type a URL. The server
streams the tokens with their log-probabilities and its top alternatives (OpenAI ``logprobs``; vLLM names
each token by id with ``return_tokens_as_token_ids``; TGI ``details`` + ``top_n_tokens``), and rsdemo turns
them into the same ``GenerationResult`` a local run yields, so the token view, the arena and branching work
unchanged. The prompt is tokenised by rsdemo with the model's own tokenizer (catalog data, a Hub tokenizer
or a folder the operator names) and sent as token ids, so the server reads exactly the tokens the page
shows; or, with ``RSDEMO_REMOTE_TOKENIZER=server``, by the server's own ``/tokenize`` endpoint (vLLM).

>>> config = RemoteConfig.from_settings(Settings(cache_dir=None, remote_url="http://127.0.0.1:8000/v1"),
...                                     environ={"RSDEMO_REMOTE_API_KEY": "sk-secret"})
>>> config.kind.label, config.root, "sk-secret" in repr(config)
('vLLM', 'http://127.0.0.1:8000', False)
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any

from ..catalog import MODELS
from ..core.errors import AssetMissingError, InputError, RsdemoError, ServerError
from ..core.settings import Settings
from ..decoding import get_method
from .engine import Capabilities, ServingEngine
from .prompts import build_prompt
from .remote_config import API_KEY_ENV, RemoteConfig, RemoteModel, Vocabulary
from .remote_stream import (
    Step,
    client_for,
    detokenize,
    http,
    local_tokenizer,
    openai_steps,
    served_name,
    server_error,
    tgi_steps,
)
from .requests import check_request
from .results import Alternative, Beam, GeneratedToken, GenerationResult, PromptInfo, StreamText, make_token
from .run_clock import END_OF_SEQUENCE, MAX_NEW_TOKENS, STOP_STRING, RunClock, finish_reason

__all__ = ["API_KEY_ENV", "RemoteConfig", "RemoteEngine", "RemoteModel", "reproduce_request"]

Progress = Callable[[str], None]
log = logging.getLogger(__name__)


class RemoteEngine(ServingEngine):
    """The operator's serving engine: greedy and sampling streamed from the server, with its log-probabilities."""

    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        kind = config.kind
        filters = (
            "before its filters (the model's own distribution)"
            if kind.probabilities == "before"
            else "after its filters"
        )
        self.capabilities = Capabilities(
            name="remote",
            label=f"{kind.label} server (the operator's)",
            methods=kind.methods,
            devices=frozenset({"cpu", "cuda", "mps"}),
            streams=True,
            probabilities=True,
            rank=0,
            note=f"{kind.label} runs on the operator's server; its probabilities are taken {filters}.",
        )
        self._lock = threading.Lock()
        self._loaded: RemoteModel | None = None

    # --- the seam ---------------------------------------------------------------------------------------

    def missing(self) -> str | None:
        try:
            if self.config.kind.protocol == "openai":
                import openai  # noqa: F401, PLC0415 - optional until a server is configured
            else:
                import huggingface_hub  # noqa: F401, PLC0415
        except ImportError:
            return "The openai package is not installed here (pip install openai)."
        return None

    def serves(self, key: str) -> str | None:
        if key != self.config.model:
            return f"The {self.config.kind.label} server serves {self.config.model} only."
        return None

    def exclusive(self, key: str) -> bool:
        """Only the server has this model: no local engine may try to load it."""
        return key == self.config.model and key not in MODELS

    def model_size(self, key: str, *, runtime: Any, settings: Settings) -> int:
        return 0

    def refuses(self, *, method: str, values: Mapping[str, Any]) -> str | None:
        return self.config.kind.refuses(method=method, values=values)

    def loaded(self, key: str, *, settings: Settings, progress: Progress | None = None) -> RemoteModel:
        """The model's client and tokenizer, made once (no weights are held here, so it is not in the model cache)."""
        with self._lock:
            if self._loaded is None or self._loaded.key != key:
                self._loaded = self.load(key, runtime=None, settings=settings, progress=progress, budget=None)
            return self._loaded

    def load(
        self, key: str, *, runtime: Any, settings: Settings, progress: Progress | None, budget: Any
    ) -> RemoteModel:
        config = self.config
        client = client_for(config)
        served = config.served_name or served_name(config, client)
        if config.tokenizer == "server":
            if not config.kind.tokenize:
                raise AssetMissingError(
                    f"The {config.kind.server} has no tokenize endpoint rsdemo can use; set "
                    "RSDEMO_REMOTE_TOKENIZER=local."
                )
            vocabulary = Vocabulary(detokenize=lambda i: detokenize(config, served, [i]))
            return RemoteModel(
                key=key,
                config=config,
                tokenizer=None,
                vocabulary=vocabulary,
                served_name=served,
                client=client,
                tokenizer_note=f"the server's own ({config.kind.tokenize})",
            )
        tokenizer, note = local_tokenizer(key, config=config, settings=settings, progress=progress)
        from ..tokenization.adapters import HFAdapter

        vocabulary = Vocabulary(adapter=HFAdapter(tokenizer.backend_tokenizer, lossless=False))
        return RemoteModel(
            key=key,
            config=config,
            tokenizer=tokenizer,
            vocabulary=vocabulary,
            served_name=served,
            client=client,
            tokenizer_note=note,
        )

    def run(
        self,
        loaded: RemoteModel,
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


# --- a run ----------------------------------------------------------------------------------------------


def _prompt(loaded: RemoteModel, *, prompt: str, chat: bool) -> PromptInfo:
    if loaded.tokenizer is not None:
        return build_prompt(tokenizer=loaded.tokenizer, prompt=prompt, chat=chat)
    config = loaded.config
    body: dict[str, Any] = {"model": loaded.served_name, "return_token_strs": True}
    if chat:
        body.update(messages=[{"role": "user", "content": prompt}], add_generation_prompt=True)
    else:
        body.update(prompt=prompt, add_special_tokens=True)
    ids = [int(i) for i in http(config, "POST", config.kind.tokenize, body).get("tokens", [])]
    return PromptInfo(detokenize(config, loaded.served_name, ids), tuple(ids), chat)


def _generated(loaded: RemoteModel, step: Step, *, after: bool) -> GeneratedToken:
    """A server's token as a ``GeneratedToken`` (bytes from the tokenizer here, or the server's text)."""
    prob = math.exp(step.logprob) if step.logprob is not None else float("nan")
    vocab = loaded.adapter
    token_id = step.id if step.id is not None else loaded.id_of(step.text)
    alts = []
    for alt_id, alt_text, value in step.top:
        alt_id = alt_id if alt_id is not None else loaded.id_of(alt_text)
        if alt_id is None:
            continue
        if loaded.tokenizer is None and alt_text:
            vocab.learn(alt_id, alt_text)
        alts.append((alt_id, math.exp(value)))
    alts.sort(key=lambda a: -a[1])
    if token_id is not None and loaded.tokenizer is not None:
        token = make_token(vocab, token_id, prob)
    else:  # the server's own text (server tokenizer, or a text the vocabulary here does not have)
        if token_id is not None:
            vocab.learn(token_id, step.text)
        data = None if step.special else step.text.encode("utf-8")
        token = GeneratedToken(token_id if token_id is not None else -1, step.text, prob, text=step.text, data=data)
    top = tuple(
        Alternative(i, vocab.piece(i), p, vocab.text(i) if loaded.tokenizer is None else make_token(vocab, i, p).text)
        for i, p in alts
        if p > 0.0
    )
    if after:  # the server's numbers are after its filters: they are the filtered distribution
        return dataclasses.replace(token, prob=prob, top=top, raw_top=top)
    return dataclasses.replace(token, raw_top=top)


def _run(
    loaded: RemoteModel,
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
    """Stream one run from the server; every update is a ``GenerationResult`` as a local engine yields."""
    kind = loaded.config.kind
    get_method(method)  # an unknown method fails here, by name
    values, stops = check_request(
        prompt=prompt,
        method=method,
        params=params,
        stop=stop,
        limits=limits,
        model_cap=getattr(loaded.spec, "max_new_tokens", None),
    )
    reason = kind.refuses(method=method, values=values)
    if reason:
        raise InputError(reason, field="method" if method not in kind.methods else "params")
    info = _prompt(loaded, prompt=prompt, chat=chat)
    forced = [int(i) for i in prefix]
    if forced and kind.protocol == "tgi":
        raise InputError("TGI takes text, not token ids, so rsdemo cannot branch on it.", field="params")
    fields = kind.request(values=values, method=method)
    holder: dict[str, Any] = {}
    steps = _steps(loaded, info=info, forced=forced, fields=fields, stops=stops, holder=holder)
    base = dict(model=loaded.key, method=method, params=values, seed=int(values["seed"]), prompt=info)
    served = f"{kind.server}, {kind.probabilities} its filters"
    clock = RunClock()
    tokens: list[GeneratedToken] = []
    text = StreamText()
    stopped, timed_out = yield from _stream(
        loaded, steps, tokens, text, clock=clock, cancel=cancel, limits=limits, base=base, served=served, holder=holder
    )
    clock.end()
    finish = holder.get("finish", "")
    if not (finish or stopped or timed_out):  # the stream ended without the server saying why: it broke
        raise ServerError(f"The {kind.server} stopped answering mid-stream ({len(tokens)} tokens had arrived).")
    natural = _natural_reason(finish, holder, n_new=len(tokens), max_new=int(values["max_new_tokens"]))
    notes = [
        *info.warnings,
        f"Served by the operator's {kind.server} ({loaded.served_name}); tokenizer: "
        f"{loaded.tokenizer_note}; probabilities {kind.probabilities} the server's filters.",
    ]
    if holder.get("text_only"):
        notes.append(f"The {kind.server} sent some tokens without log-probabilities.")
    final_text = (
        loaded.tokenizer.decode([t.id for t in tokens], skip_special_tokens=False)
        if loaded.tokenizer is not None and all(t.id >= 0 for t in tokens)
        else text.text
    )
    yield GenerationResult(
        **base,
        beams=(Beam(final_text, tuple(tokens), None),),
        done=True,
        stopped=stopped,
        ttft_s=clock.ttft_s,
        tokens_per_s=clock.tokens_per_s(len(tokens)),
        elapsed_s=clock.elapsed_s,
        finish_reason=finish_reason(
            stopped=stopped, timed_out=timed_out, time_limit_s=limits.run_time_limit_s, natural=natural
        ),
        code=reproduce_request(loaded, ids=[*info.ids, *forced], fields=fields, stops=stops),
        notes=tuple(notes),
        served=served,
    )


def _steps(
    loaded: RemoteModel,
    *,
    info: PromptInfo,
    forced: list[int],
    fields: dict[str, Any],
    stops: list[str],
    holder: dict[str, Any],
) -> Iterator[Step]:
    """The server's streamed tokens for this prompt (and a branch's forced tokens): TGI's, or OpenAI-compatible."""
    config, kind = loaded.config, loaded.config.kind
    if kind.protocol == "tgi":
        return tgi_steps(loaded, text=info.text, fields=fields, stops=stops, logprobs=config.logprobs, holder=holder)
    prompt_text = info.text
    if forced:  # a branch: the chosen tokens follow the prompt
        if loaded.tokenizer is None:
            raise InputError(f"The {kind.server} takes text, so a branch needs the tokenizer here.", field="params")
        prompt_text += loaded.tokenizer.decode(forced, skip_special_tokens=False)
    return openai_steps(
        loaded,
        ids=[*info.ids, *forced],
        text=prompt_text,
        fields=fields,
        stops=stops,
        logprobs=config.logprobs,
        holder=holder,
    )


def _stream(
    loaded: RemoteModel,
    steps: Iterator[Step],
    tokens: list[GeneratedToken],
    text: StreamText,
    *,
    clock: RunClock,
    cancel: threading.Event,
    limits: Settings,
    base: dict[str, Any],
    served: str,
    holder: dict[str, Any],
) -> Generator[GenerationResult, None, tuple[bool, bool]]:
    """An update per streamed token until the server ends the run, Stop or the time limit; returns whether it was
    ``(stopped, timed_out)``. A broken stream raises ``ServerError`` (saying how many tokens had arrived)."""
    kind = loaded.config.kind
    deadline = time.monotonic() + limits.run_time_limit_s
    stopped = timed_out = False
    try:
        for step in steps:
            token = _generated(loaded, step, after=kind.probabilities == "after")
            ttft_s = clock.first()
            tokens.append(token)
            shown = text.add(token)
            yield GenerationResult(
                **base,
                beams=(Beam(shown, tuple(tokens), None),),
                done=False,
                ttft_s=ttft_s,
                elapsed_s=clock.elapsed(),
                served=served,
            )
            if cancel.is_set():
                stopped = True
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
    except RsdemoError as err:
        if not isinstance(err, ServerError) or not tokens:
            raise
        raise ServerError(f"{err} ({len(tokens)} tokens had arrived.)") from None
    except Exception as err:  # noqa: BLE001 - the stream broke mid-way (the server died, a socket closed)
        error = server_error(loaded.config, err)
        if tokens and "not answering" in str(error):
            raise ServerError(
                f"The {kind.server} stopped answering mid-stream ({len(tokens)} tokens had arrived)."
            ) from None
        raise ServerError(f"{error} ({len(tokens)} tokens had arrived.)" if tokens else str(error)) from None
    finally:
        close = holder.get("close")
        if close is not None:
            close()  # closing the connection makes the server stop the request
    return stopped, timed_out


def _natural_reason(finish: str, holder: dict[str, Any], *, n_new: int, max_new: int) -> str | None:
    """What ended the run by the server's word (``finish_reason``, vLLM's ``stop_reason``)."""
    if finish == "length" or n_new >= max_new:
        return MAX_NEW_TOKENS
    if finish == "stop_sequence" or isinstance(holder.get("stop_reason"), str):
        return STOP_STRING
    if finish in {"stop", "eos_token"}:
        return END_OF_SEQUENCE
    return finish or None


def reproduce_request(
    loaded: RemoteModel, *, ids: Sequence[int], fields: Mapping[str, Any], stops: Sequence[str]
) -> str:
    """The request rsdemo sent, as Python with the ``openai`` client (no secret, no host: the reader's own)."""
    kind = loaded.config.kind
    if kind.protocol == "tgi":
        return (
            "# TGI, through huggingface_hub:\nfrom huggingface_hub import InferenceClient\n"
            'client = InferenceClient(base_url="http://YOUR-SERVER")\n'
            f"client.text_generation(PROMPT, details=True, top_n_tokens={loaded.config.logprobs}, "
            f"stop={list(stops)!r}, **{dict(fields)!r})"
        )
    standard = {k: v for k, v in fields.items() if k not in kind.extra}
    extra = {k: v for k, v in fields.items() if k in kind.extra}
    if kind.ids:
        extra["return_tokens_as_token_ids"] = True
    args = ", ".join(f"{k}={v!r}" for k, v in standard.items())
    return (
        f"# {kind.label}, through the openai client (the prompt as the token ids the page shows):\n"
        "from openai import OpenAI\n"
        'client = OpenAI(base_url="http://YOUR-SERVER/v1", api_key="...")\n'
        f"client.completions.create(model={loaded.served_name!r}, prompt={list(ids)!r}, stream=True, "
        f"logprobs={loaded.config.logprobs}, stop={list(stops) or None!r}, {args}, extra_body={extra!r})"
    )
