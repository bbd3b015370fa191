"""Talking to the operator's server: the client, one request with the bounded retry, clear errors, the
tokenizer here, and the streamed tokens as ``Step``s (OpenAI-compatible ``/v1/completions``, TGI ``generate``).

A server's error becomes one sentence fit to show (``server_error``): the host goes to the log only, never a
secret.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..catalog import MODELS
from ..core.errors import AssetMissingError, HubUnavailableError, RsdemoError, ServerError
from ..core.settings import Settings
from .remote_config import RemoteConfig, RemoteModel

__all__ = [
    "Step",
    "client_for",
    "detokenize",
    "http",
    "local_tokenizer",
    "openai_steps",
    "served_name",
    "server_error",
    "tgi_steps",
]

Progress = Callable[[str], None]
log = logging.getLogger(__name__)
_ID_PREFIX = "token_id:"


def client_for(config: RemoteConfig) -> Any:
    if config.kind.protocol == "tgi":
        return None  # each run makes its own httpx stream (see _tgi_steps)
    import openai

    # openai's own Timeout: the class of whichever HTTP library this openai release is built on (httpx, or httpx2
    # from openai 3.6x on, which does not take httpx's Timeout)
    timeout = openai.Timeout(config.timeout_s, connect=min(config.timeout_s, 10.0))
    return openai.OpenAI(
        base_url=config.base_url, api_key=config.api_key or "none", max_retries=config.retries, timeout=timeout
    )


def send(config: RemoteConfig, client: Any, method: str, url: str, *, payload: Any, stream: bool) -> Any:
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
                raise server_error(config, err) from None
        else:
            if last or (response.status_code < 500 and response.status_code != 429):
                if response.status_code >= 400:
                    response.close()
                    raise server_error(
                        config, httpx.HTTPStatusError("error", request=response.request, response=response)
                    )
                return response
            response.close()
        time.sleep(min(2.0, 0.25 * 2**attempt))
    raise AssertionError("unreachable")


def http_timeout(config: RemoteConfig) -> Any:
    import httpx

    return httpx.Timeout(config.timeout_s, connect=min(config.timeout_s, 10.0))


def http(config: RemoteConfig, method: str, path: str, payload: dict | None = None) -> Any:
    """A plain JSON call to the server root (``/tokenize``, ``/detokenize``), with the same retry."""
    import httpx

    with httpx.Client(timeout=http_timeout(config)) as client:
        response = send(config, client, method, config.root + path, payload=payload, stream=False)
        try:
            return response.json()
        except ValueError as err:
            raise server_error(config, err) from None


def served_name(config: RemoteConfig, client: Any) -> str:
    if config.kind.protocol == "tgi":
        return config.model
    try:
        models = client.models.list().data
    except Exception as err:  # noqa: BLE001 - the client raises many types; one clear message
        raise server_error(config, err) from None
    if not models:
        raise ServerError(f"The {config.kind.server} serves no model.")
    return str(models[0].id)


def detokenize(config: RemoteConfig, served: str, ids: list[int]) -> str:
    return str(http(config, "POST", "/detokenize", {"model": served, "tokens": ids}).get("prompt", ""))


def server_error(config: RemoteConfig, err: BaseException) -> ServerError:
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


def local_tokenizer(
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


# --- the streamed tokens --------------------------------------------------------------------------------


@dataclass(slots=True)
class Step:
    """One streamed token as the server reports it."""

    id: int | None
    text: str
    logprob: float | None
    top: list[tuple[int | None, str, float]]
    special: bool = False


def prefixed_id(text: str) -> int | None:
    if text.startswith(_ID_PREFIX):
        try:
            return int(text[len(_ID_PREFIX) :])
        except ValueError:
            return None
    return None


def openai_steps(
    loaded: RemoteModel,
    *,
    ids: list[int],
    text: str,
    fields: dict[str, Any],
    stops: list[str],
    logprobs: int,
    holder: dict[str, Any],
) -> Iterator[Step]:
    """Stream ``/v1/completions`` on token ids; one ``Step`` per token (a chunk may carry several)."""
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
        raise server_error(config, err) from None
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
                yield Step(None, choice.text, None, [])
            continue
        values = list(getattr(lp, "token_logprobs", None) or [None] * len(tokens))
        tops = list(getattr(lp, "top_logprobs", None) or [{}] * len(tokens))
        texts = split_delta(choice.text or "", tokens, kind.ids)
        for token, text, value, top in zip(tokens, texts, values, tops):
            token_id = prefixed_id(token) if kind.ids else None
            alts = [
                (prefixed_id(t) if kind.ids else None, "" if kind.ids else t, float(v))
                for t, v in (top or {}).items()
                if v is not None
            ]
            yield Step(token_id, text if kind.ids else token, value, alts)


def split_delta(text: str, tokens: Sequence[str], by_id: bool) -> list[str]:
    """A chunk's text over its tokens: all of it on the last (vLLM holds a split character back until whole)."""
    if not by_id:
        return list(tokens)
    return [""] * (len(tokens) - 1) + [text]


def tgi_steps(
    loaded: RemoteModel, *, text: str, fields: dict[str, Any], stops: list[str], logprobs: int, holder: dict[str, Any]
) -> Iterator[Step]:
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
    client = httpx.Client(timeout=http_timeout(config))
    try:
        response = send(config, client, "POST", config.root, payload=body, stream=True)
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
            yield Step(int(out.token.id), out.token.text, out.token.logprob, alts, bool(out.token.special))
    except RsdemoError:
        raise
    except Exception as err:  # noqa: BLE001 - a timeout, a broken stream
        raise server_error(config, err) from None
    finally:
        client.close()
