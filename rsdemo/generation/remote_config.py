"""The operator's serving engine as data: where the server is (``RemoteConfig``) and a model on it
(``RemoteModel``: its client, its tokenizer here, the vocabulary its tokens are named by).

>>> config = RemoteConfig.from_settings(Settings(cache_dir=None, remote_url="http://127.0.0.1:8000/v1"),
...                                     environ={"RSDEMO_REMOTE_API_KEY": "sk-secret"})
>>> config.kind.label, config.where, "sk-secret" in repr(config)
('vLLM', '127.0.0.1:8000', False)
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..catalog import MODELS
from ..core.errors import InputError, RsdemoError
from ..core.settings import Settings
from .servers import ServerKind, get_server_kind

__all__ = ["API_KEY_ENV", "RemoteConfig", "RemoteModel", "Vocabulary"]

API_KEY_ENV = "RSDEMO_REMOTE_API_KEY"


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


class Vocabulary:
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
        vocabulary: Vocabulary,
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
