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
import json
import logging
import math
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..catalog import MODELS
from ..core.errors import AssetMissingError, HubUnavailableError, InputError, RsdemoError, ServerError
from ..core.settings import Settings
from ..decoding import get_method
from .engine import Capabilities
from .prompts import build_prompt
from .requests import check_request
from .results import Alternative, Beam, GeneratedToken, GenerationResult, PromptInfo, StreamText, make_token
from .servers import ServerKind, get_server_kind

__all__ = ["RemoteConfig", "RemoteEngine", "RemoteModel", "reproduce_request"]

Progress = Callable[[str], None]
log = logging.getLogger(__name__)
API_KEY_ENV = "RSDEMO_REMOTE_API_KEY"
_ID_PREFIX = "token_id:"


@dataclass(frozen=True, slots=True)
class RemoteConfig:
    """Where the operator's server is and how to talk to it (never from a visitor).

    Attributes:
        base_url: the OpenAI-compatible base (``http://host:8000/v1``) or a TGI / Inference Endpoint root.
        kind: what server it is (``rsdemo.generation.servers``).
        model: the rsdemo model key it serves (a catalog key, or a Hub repo id for a model only the server has).
        served_name: the name the server knows the model by ("": the first of its ``/v1/models``).
        tokenizer: ``local`` (the model's own tokenizer: catalog data or the Hub), a folder the operator names,
            or ``server`` (the server's tokenize endpoint).
        api_key: the bearer token (from ``RSDEMO_REMOTE_API_KEY``; kept out of ``repr``, logs and results).
        timeout_s: the longest wait for the server's next bytes (connecting, or between two streamed tokens).
        retries: how many times a request that failed before streaming (connection refused, 429, 5xx) is tried
            again, with back-off.
        logprobs: the alternatives asked for per token (capped at the server's maximum).
    """

    base_url: str
    kind: ServerKind
    model: str
    served_name: str = ""
    tokenizer: str = "local"
    api_key: str = field(default="", repr=False)
    timeout_s: float = 30.0
    retries: int = 2
    logprobs: int = 10

    @classmethod
    def from_settings(
        cls, settings: Settings, *, environ: Mapping[str, str] | None = None, base_url: str | None = None
    ) -> RemoteConfig:
        """The operator's configuration (``base_url`` overrides ``settings.remote_url``: the CLI's ``--base-url``).

        Raises:
            InputError: a base URL that is not ``http(s)://host[:port][/path]``, or an unknown server kind.
        """
        environ = os.environ if environ is None else environ
        url = (base_url if base_url is not None else settings.remote_url).strip().rstrip("/")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
            raise InputError("The serving engine's base URL must look like http://host:port/v1.", field="engine")
        try:
            kind = get_server_kind(settings.remote_server)
        except RsdemoError as err:
            raise InputError(str(err), field="engine") from None
        return cls(
            base_url=url,
            kind=kind,
            model=settings.remote_model.strip(),
            served_name=settings.remote_served_name.strip(),
            tokenizer=settings.remote_tokenizer.strip(),
            api_key=environ.get(API_KEY_ENV, ""),
            timeout_s=settings.remote_timeout_s,
            retries=settings.remote_retries,
            logprobs=min(settings.remote_logprobs, kind.max_logprobs),
        )

    @property
    def root(self) -> str:
        """The server root (the base URL without a trailing ``/v1``), where ``/tokenize`` and ``/health`` are."""
        return self.base_url[:-3] if self.base_url.endswith("/v1") else self.base_url

    @property
    def where(self) -> str:
        """The server's host and port, without credentials or path (safe to show and log)."""
        parts = urllib.parse.urlsplit(self.base_url)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


class _Vocabulary:
    """Pieces and bytes of token ids: the local tokenizer's, or learnt from the server (``tokenizer=server``)."""

    def __init__(self, *, adapter: Any = None, detokenize: Callable[[int], str] | None = None) -> None:
        self._adapter = adapter
        self._detokenize = detokenize
        self._texts: dict[int, str] = {}
        self._lock = threading.Lock()

    def piece(self, token_id: int) -> str:
        return self._adapter.piece(token_id) if self._adapter is not None else self.text(token_id)

    def token_bytes(self, token_id: int) -> bytes | None:
        if self._adapter is not None:
            return self._adapter.token_bytes(token_id)
        return self.text(token_id).encode("utf-8")

    def text(self, token_id: int) -> str:
        with self._lock:
            if token_id in self._texts:
                return self._texts[token_id]
        assert self._detokenize is not None
        text = self._detokenize(token_id)
        with self._lock:
            if len(self._texts) > 200_000:
                self._texts.clear()
            self._texts[token_id] = text
        return text

    def learn(self, token_id: int, text: str) -> None:
        with self._lock:
            self._texts.setdefault(token_id, text)


class RemoteModel:
    """A model on the operator's server: its client, its tokenizer here, and the name the server knows it by."""

    def __init__(
        self,
        *,
        key: str,
        config: RemoteConfig,
        tokenizer: Any,
        vocabulary: _Vocabulary,
        served_name: str,
        client: Any,
        tokenizer_note: str,
    ) -> None:
        self.key = key
        self.config = config
        self.spec = MODELS.get(key, None)
        self.tokenizer = tokenizer  # None when the server tokenises
        self.adapter = vocabulary
        self.served_name = served_name
        self.client = client
        self.tokenizer_note = tokenizer_note
        self.nbytes = 0  # nothing of the model is held here
        self._by_text: dict[str, int] | None = None

    def id_of(self, text: str) -> int | None:
        """A token id for a token text a server gave without its id (the local vocabulary, decoded; None: unknown)."""
        if self.tokenizer is None:
            return None
        if self._by_text is None:
            table: dict[str, int] = {}
            for token_id in range(len(self.tokenizer)):
                table.setdefault(self.tokenizer.decode([token_id], skip_special_tokens=False), token_id)
            self._by_text = table
        return self._by_text.get(text)

    def release(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()


class RemoteEngine:
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

    def precheck(self, key: str, *, settings: Settings) -> None:
        return None

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
        client = _client(config)
        served = config.served_name or _served_name(config, client)
        if config.tokenizer == "server":
            if not config.kind.tokenize:
                raise AssetMissingError(
                    f"The {config.kind.server} has no tokenize endpoint rsdemo can use; set "
                    "RSDEMO_REMOTE_TOKENIZER=local."
                )
            vocabulary = _Vocabulary(detokenize=lambda i: _detokenize(config, served, [i]))
            return RemoteModel(
                key=key,
                config=config,
                tokenizer=None,
                vocabulary=vocabulary,
                served_name=served,
                client=client,
                tokenizer_note=f"the server's own ({config.kind.tokenize})",
            )
        tokenizer, note = _local_tokenizer(key, config=config, settings=settings, progress=progress)
        from ..tokenization.adapters import HFAdapter

        vocabulary = _Vocabulary(adapter=HFAdapter(tokenizer.backend_tokenizer, lossless=False))
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


# --- talking to the server ------------------------------------------------------------------------------


def _client(config: RemoteConfig) -> Any:
    if config.kind.protocol == "tgi":
        return None  # each run makes its own httpx stream (see _tgi_steps)
    import openai

    # openai's own Timeout: the class of whichever HTTP library this openai release is built on (httpx, or httpx2
    # from openai 3.6x on, which does not take httpx's Timeout)
    timeout = openai.Timeout(config.timeout_s, connect=min(config.timeout_s, 10.0))
    return openai.OpenAI(
        base_url=config.base_url, api_key=config.api_key or "none", max_retries=config.retries, timeout=timeout
    )


def _send(config: RemoteConfig, client: Any, method: str, url: str, *, payload: Any, stream: bool) -> Any:
    """One request with the bounded retry: a refused connection, 429 or 5xx is tried again, with back-off.

    Returns the response (status below 400; streamed when ``stream``). Raises ``ServerError`` otherwise.
    """
    import httpx

    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    for attempt in range(config.retries + 1):
        last = attempt == config.retries
        try:
            response = client.send(client.build_request(method, url, json=payload, headers=headers), stream=stream)
        except httpx.TransportError as err:
            if last:
                raise _server_error(config, err) from None
        else:
            if last or (response.status_code < 500 and response.status_code != 429):
                if response.status_code >= 400:
                    response.close()
                    raise _server_error(
                        config, httpx.HTTPStatusError("error", request=response.request, response=response)
                    )
                return response
            response.close()
        time.sleep(min(2.0, 0.25 * 2**attempt))
    raise AssertionError("unreachable")


def _timeout(config: RemoteConfig) -> Any:
    import httpx

    return httpx.Timeout(config.timeout_s, connect=min(config.timeout_s, 10.0))


def _http(config: RemoteConfig, method: str, path: str, payload: dict | None = None) -> Any:
    """A plain JSON call to the server root (``/tokenize``, ``/detokenize``), with the same retry."""
    import httpx

    with httpx.Client(timeout=_timeout(config)) as client:
        response = _send(config, client, method, config.root + path, payload=payload, stream=False)
        try:
            return response.json()
        except ValueError as err:
            raise _server_error(config, err) from None


def _served_name(config: RemoteConfig, client: Any) -> str:
    if config.kind.protocol == "tgi":
        return config.model
    try:
        models = client.models.list().data
    except Exception as err:  # noqa: BLE001 - the client raises many types; one clear message
        raise _server_error(config, err) from None
    if not models:
        raise ServerError(f"The {config.kind.server} serves no model.")
    return str(models[0].id)


def _detokenize(config: RemoteConfig, served: str, ids: list[int]) -> str:
    return str(_http(config, "POST", "/detokenize", {"model": served, "tokens": ids}).get("prompt", ""))


def _server_error(config: RemoteConfig, err: BaseException) -> ServerError:
    """One clear sentence for whatever the client raised; the details go to the log, never a secret."""
    label, where = config.kind.label, config.where  # the host goes to the log only, never to a visitor
    name = type(err).__name__
    status = getattr(err, "status_code", None) or getattr(getattr(err, "response", None), "status_code", None)
    log.warning("%s server at %s: %s (%s)", label, where, name, status)
    if "Timeout" in name:
        return ServerError(f"The {label} server did not answer within {config.timeout_s:g} s.")
    if status in (401, 403):
        return ServerError(
            f"The {label} server refused rsdemo's credentials (HTTP {status}); the "
            "operator should check RSDEMO_REMOTE_API_KEY."
        )
    if status is not None:
        return ServerError(f"The {label} server answered with an error (HTTP {status}).")
    if any(word in name for word in ("Connect", "Protocol", "Read", "Transport", "Incomplete")):
        return ServerError(f"The {label} server is not answering (is it running?).")
    return ServerError(f"The {label} server failed ({name}).")


def _local_tokenizer(
    key: str, *, config: RemoteConfig, settings: Settings, progress: Progress | None
) -> tuple[Any, str]:
    """The served model's tokenizer, here: catalog data, a folder the operator names, or the Hub."""
    from transformers import AutoTokenizer

    spec = MODELS.get(key, None)
    if config.tokenizer not in {"", "local"}:
        try:
            return (
                AutoTokenizer.from_pretrained(config.tokenizer, trust_remote_code=False),
                "the operator's folder, here",
            )
        except Exception as err:  # noqa: BLE001 - a bad folder is the operator's setting
            raise AssetMissingError("RSDEMO_REMOTE_TOKENIZER names no tokenizer folder rsdemo can read.") from err
    if spec is not None and spec.source == "gguf":
        from ..loading import gguf_tokenizer

        return gguf_tokenizer(key=key, settings=settings, progress=progress), "the catalog's, here (byte-exact)"
    repo = spec.repo_id if spec is not None and spec.repo_id else key
    if not settings.hub_usable:
        raise HubUnavailableError(
            f"{key}'s tokenizer comes from the Hub, which this server cannot reach; set "
            "RSDEMO_REMOTE_TOKENIZER to a local folder or to server."
        )
    from ..loading import hub_cache_dir, parse_hub_ref

    ref = parse_hub_ref(repo)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            ref.repo_id, revision=ref.revision, trust_remote_code=False, cache_dir=hub_cache_dir(settings)
        )
    except Exception as err:  # noqa: BLE001
        raise AssetMissingError(f"{key}'s tokenizer could not be loaded from the Hub.") from err
    return tokenizer, "the Hub repository's, here"


# --- a run ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Step:
    """One streamed token as the server reports it."""

    id: int | None
    text: str
    logprob: float | None
    top: list[tuple[int | None, str, float]]
    special: bool = False


def _token_id(text: str) -> int | None:
    if text.startswith(_ID_PREFIX):
        try:
            return int(text[len(_ID_PREFIX) :])
        except ValueError:
            return None
    return None


def _openai_steps(
    loaded: RemoteModel,
    *,
    ids: list[int],
    text: str,
    fields: dict[str, Any],
    stops: list[str],
    logprobs: int,
    holder: dict[str, Any],
) -> Iterator[_Step]:
    """Stream ``/v1/completions`` on token ids; one ``_Step`` per token (a chunk may carry several)."""
    config, kind = loaded.config, loaded.config.kind
    standard = {name: value for name, value in fields.items() if name not in kind.extra}
    extra = {name: value for name, value in fields.items() if name in kind.extra}
    if kind.ids:
        extra["return_tokens_as_token_ids"] = True
    try:
        stream = loaded.client.completions.create(
            model=loaded.served_name,
            prompt=ids if kind.token_prompt else text,
            stream=True,
            logprobs=logprobs or None,
            stop=stops or None,
            extra_body=extra or None,
            **standard,
        )
    except Exception as err:  # noqa: BLE001
        raise _server_error(config, err) from None
    holder["close"] = stream.close
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        if choice.finish_reason:
            holder["finish"] = choice.finish_reason
            # vLLM: the stop string that ended the run (None: the end-of-sequence token)
            holder["stop_reason"] = getattr(choice, "stop_reason", None)
        lp = choice.logprobs
        tokens = list(getattr(lp, "tokens", None) or [])
        if not tokens:
            if choice.text:  # a server that sends text without log-probabilities
                holder["text_only"] = True
                yield _Step(None, choice.text, None, [])
            continue
        values = list(getattr(lp, "token_logprobs", None) or [None] * len(tokens))
        tops = list(getattr(lp, "top_logprobs", None) or [{}] * len(tokens))
        texts = _split_delta(choice.text or "", tokens, kind.ids)
        for token, text, value, top in zip(tokens, texts, values, tops):
            token_id = _token_id(token) if kind.ids else None
            alts = [
                (_token_id(t) if kind.ids else None, "" if kind.ids else t, float(v))
                for t, v in (top or {}).items()
                if v is not None
            ]
            yield _Step(token_id, text if kind.ids else token, value, alts)


def _split_delta(text: str, tokens: Sequence[str], by_id: bool) -> list[str]:
    """A chunk's text over its tokens: all of it on the last (vLLM holds a split character back until whole)."""
    if not by_id:
        return list(tokens)
    return [""] * (len(tokens) - 1) + [text]


def _tgi_steps(
    loaded: RemoteModel, *, text: str, fields: dict[str, Any], stops: list[str], logprobs: int, holder: dict[str, Any]
) -> Iterator[_Step]:
    """Stream TGI's ``generate`` (``details`` + ``top_n_tokens``), parsed by ``huggingface_hub``'s TGI types.

    The request is the one ``InferenceClient.text_generation(stream=True, details=True)`` sends, made with httpx:
    ``InferenceClient`` refuses every request while ``HF_HUB_OFFLINE=1`` (rsdemo's offline default), even to
    the operator's own server.
    """
    import httpx
    from huggingface_hub import TextGenerationStreamOutput

    config = loaded.config
    body = {
        "inputs": text,
        "stream": True,
        "parameters": {**fields, "details": True, "top_n_tokens": logprobs or None, "stop": stops or None},
    }
    client = httpx.Client(timeout=_timeout(config))
    try:
        response = _send(config, client, "POST", config.root, payload=body, stream=True)
        holder["close"] = response.close
        for line in response.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            payload = json.loads(line[5:])
            if payload.get("error"):
                log.warning("TGI server at %s: %s", config.where, str(payload.get("error_type") or "error"))
                raise ServerError(f"The {config.kind.server} reported an error mid-stream.")
            out = TextGenerationStreamOutput.parse_obj_as_instance(payload)
            if out.details is not None:
                holder["finish"] = str(getattr(out.details, "finish_reason", "") or "")
            alts = [(int(t.id), t.text, float(t.logprob)) for t in (out.top_tokens or []) if t.logprob is not None]
            yield _Step(int(out.token.id), out.token.text, out.token.logprob, alts, bool(out.token.special))
    except RsdemoError:
        raise
    except Exception as err:  # noqa: BLE001 - a timeout, a broken stream
        raise _server_error(config, err) from None
    finally:
        client.close()


def _prompt(loaded: RemoteModel, *, prompt: str, chat: bool) -> PromptInfo:
    if loaded.tokenizer is not None:
        return build_prompt(tokenizer=loaded.tokenizer, prompt=prompt, chat=chat)
    config = loaded.config
    body: dict[str, Any] = {"model": loaded.served_name, "return_token_strs": True}
    if chat:
        body.update(messages=[{"role": "user", "content": prompt}], add_generation_prompt=True)
    else:
        body.update(prompt=prompt, add_special_tokens=True)
    ids = [int(i) for i in _http(config, "POST", config.kind.tokenize, body).get("tokens", [])]
    return PromptInfo(_detokenize(config, loaded.served_name, ids), tuple(ids), chat)


def _generated(loaded: RemoteModel, step: _Step, *, after: bool) -> GeneratedToken:
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
    config, kind = loaded.config, loaded.config.kind
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
    if kind.protocol == "tgi":
        steps = _tgi_steps(loaded, text=info.text, fields=fields, stops=stops, logprobs=config.logprobs, holder=holder)
    else:
        prompt_text = info.text
        if forced:  # a branch: the chosen tokens follow the prompt
            if loaded.tokenizer is None:
                raise InputError(f"The {kind.server} takes text, so a branch needs the tokenizer here.", field="params")
            prompt_text += loaded.tokenizer.decode(forced, skip_special_tokens=False)
        steps = _openai_steps(
            loaded,
            ids=[*info.ids, *forced],
            text=prompt_text,
            fields=fields,
            stops=stops,
            logprobs=config.logprobs,
            holder=holder,
        )
    max_new = int(values["max_new_tokens"])
    deadline = time.monotonic() + limits.run_time_limit_s
    base = dict(model=loaded.key, method=method, params=values, seed=int(values["seed"]), prompt=info)
    started = time.perf_counter()
    first_at: float | None = None
    tokens: list[GeneratedToken] = []
    text = StreamText()
    served = f"{kind.server}, {kind.probabilities} its filters"
    stopped = timed_out = False
    try:
        for step in steps:
            token = _generated(loaded, step, after=kind.probabilities == "after")
            first_at = first_at or time.perf_counter()
            tokens.append(token)
            shown = text.add(token)
            yield GenerationResult(
                **base,
                beams=(Beam(shown, tuple(tokens), None),),
                done=False,
                ttft_s=first_at - started,
                elapsed_s=time.perf_counter() - started,
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
        error = _server_error(config, err)
        if tokens and "not answering" in str(error):
            raise ServerError(
                f"The {kind.server} stopped answering mid-stream ({len(tokens)} tokens had arrived)."
            ) from None
        raise ServerError(f"{error} ({len(tokens)} tokens had arrived.)" if tokens else str(error)) from None
    finally:
        close = holder.get("close")
        if close is not None:
            close()  # closing the connection makes the server stop the request
    ended = time.perf_counter()
    first_at = first_at or ended
    finish = holder.get("finish", "")
    if not (finish or stopped or timed_out):  # the stream ended without the server saying why: it broke
        raise ServerError(f"The {kind.server} stopped answering mid-stream ({len(tokens)} tokens had arrived).")
    if stopped:
        reason_text = "stopped by you"
    elif timed_out:
        reason_text = f"time limit ({limits.run_time_limit_s:g} s)"
    elif finish == "length" or len(tokens) >= max_new:
        reason_text = "max new tokens"
    elif finish == "stop_sequence" or isinstance(holder.get("stop_reason"), str):
        reason_text = "stop string"
    elif finish in {"stop", "eos_token"}:
        reason_text = "end of sequence token"
    else:
        reason_text = finish or "stopped"
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
        ttft_s=first_at - started,
        tokens_per_s=(len(tokens) - 1) / (ended - first_at) if len(tokens) > 1 and ended > first_at else None,
        elapsed_s=ended - started,
        finish_reason=reason_text,
        code=reproduce_request(loaded, ids=[*info.ids, *forced], fields=fields, stops=stops),
        notes=tuple(notes),
        served=served,
    )


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
