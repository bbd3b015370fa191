"""A serving-engine stand-in on 127.0.0.1: the wire format of vLLM's OpenAI server and of TGI, scripted.

The real engines are tested in ``tests/test_served_engines.py``; this stand-in makes the cases a real server
will not do on demand: a server that dies mid-stream, one that is too slow, one that fails and then recovers,
one that refuses the credentials, and a TGI server (no TGI runs on this machine). It speaks HTTP/1.1 with
chunked transfer encoding, as uvicorn does, so a server that dies mid-stream looks exactly like one: the
connection closes without the last chunk.

    POST /v1/completions       OpenAI completions, streamed (SSE), ``logprobs`` as vLLM writes them
                               (``token_id:N`` keys with ``return_tokens_as_token_ids``, token texts otherwise)
    GET  /v1/models            the served model
    POST /tokenize, /detokenize   vLLM's tokenizer endpoints (with the tokenizer the test gives)
    POST /                     TGI's ``generate`` with ``stream: true``: ``token`` + ``top_tokens`` + ``details``

A script is a list of :class:`Step` (token id, the text the server streams for it, its log-probability, the
top alternatives); the server streams ``min(len(script), max_tokens)`` of them.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ServingStandin", "Step"]


@dataclass
class Step:
    id: int
    text: str  # the streamed text delta (vLLM holds a split character back: "" then the whole character)
    logprob: float
    top: list[tuple[int, str, float]] = field(default_factory=list)  # (id, its own text, logprob)


class ServingStandin:
    """Start with ``with ServingStandin(tokenizer=tok) as server:``; ``server.base_url`` is ``http://…/v1``."""

    def __init__(self, *, tokenizer: Any = None, name: str = "standin-model") -> None:
        self.tokenizer = tokenizer
        self.name = name
        self.script: list[Step] = []
        self.ids = True  # vLLM's return_tokens_as_token_ids honoured; False: tokens named by their text
        self.delay_s = 0.0  # before each token
        self.die_after: int | None = None  # close the connection after this many tokens
        self.fail_first = 0  # answer 500 to this many requests first
        self.status: int | None = None  # answer every request with this status
        self.requests: list[dict[str, Any]] = []
        self.disconnects = 0  # streams the client closed before the end
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                return

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw) if raw else {}

            def _json(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self, body: dict[str, Any]) -> bool:
                with standin._lock:
                    standin.requests.append(
                        {"path": self.path, "body": body, "headers": {k.lower(): v for k, v in self.headers.items()}}
                    )
                    failing = standin.fail_first > 0
                    if failing:
                        standin.fail_first -= 1
                if standin.status is not None:
                    self._json(standin.status, {"error": {"message": "refused by the stand-in /secret/path"}})
                    return False
                if failing:
                    self._json(500, {"error": {"message": "internal error at /srv/secret/file.py"}})
                    return False
                return True

            def do_GET(self) -> None:  # noqa: N802
                if not self._record({}):
                    return
                if self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": standin.name, "object": "model"}]})
                elif self.path == "/health":
                    self._json(200, {})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                body = self._body()
                if not self._record(body):
                    return
                if self.path == "/v1/completions":
                    self._stream(self._openai_events(body))
                elif self.path == "/" and body.get("stream"):
                    self._stream(self._tgi_events(body))
                elif self.path == "/tokenize":
                    tok = standin.tokenizer
                    if "messages" in body:
                        text = tok.apply_chat_template(body["messages"], add_generation_prompt=True, tokenize=False)
                        ids = tok(text, add_special_tokens=False).input_ids
                    else:
                        ids = tok(body["prompt"]).input_ids
                    self._json(200, {"count": len(ids), "tokens": ids, "max_model_len": 2048})
                elif self.path == "/detokenize":
                    self._json(200, {"prompt": standin.tokenizer.decode(body["tokens"])})
                else:
                    self._json(404, {"error": "not found"})

            def _stream(self, events: Any) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for n, event in enumerate(events):
                        if standin.die_after is not None and n >= standin.die_after:
                            self.wfile.flush()
                            self.connection.shutdown(socket.SHUT_RDWR)  # no closing chunk: a broken stream
                            return
                        if standin.delay_s:
                            time.sleep(standin.delay_s)
                        data = f"data: {json.dumps(event)}\n\n".encode()
                        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                        self.wfile.flush()
                    done = b"data: [DONE]\n\n"
                    self.wfile.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    with standin._lock:
                        standin.disconnects += 1
                    self.close_connection = True

            def _openai_events(self, body: dict[str, Any]) -> Any:
                steps = standin.script[: int(body.get("max_tokens") or 16)]
                by_id = bool(body.get("return_tokens_as_token_ids")) and standin.ids
                for n, step in enumerate(steps):

                    def name(token_id: int, text: str) -> str:
                        return f"token_id:{token_id}" if by_id else text

                    top = {name(i, t): lp for i, t, lp in step.top}
                    top.setdefault(name(step.id, step.text), step.logprob)
                    last = n == len(steps) - 1
                    yield {
                        "id": "cmpl-1",
                        "object": "text_completion",
                        "created": 0,
                        "model": standin.name,
                        "choices": [
                            {
                                "index": 0,
                                "text": step.text,
                                "logprobs": {
                                    "tokens": [name(step.id, step.text)],
                                    "token_logprobs": [step.logprob],
                                    "top_logprobs": [top],
                                    "text_offset": [0],
                                },
                                "finish_reason": ("length" if len(steps) < len(standin.script) else "stop")
                                if last
                                else None,
                                "stop_reason": None,
                            }
                        ],
                    }

            def _tgi_events(self, body: dict[str, Any]) -> Any:
                params = body.get("parameters") or {}
                steps = standin.script[: int(params.get("max_new_tokens") or 16)]
                for n, step in enumerate(steps):
                    last = n == len(steps) - 1
                    yield {
                        "index": n,
                        "token": {"id": step.id, "text": step.text, "logprob": step.logprob, "special": False},
                        "top_tokens": [{"id": i, "text": t, "logprob": lp, "special": False} for i, t, lp in step.top],
                        "generated_text": "".join(s.text for s in steps) if last else None,
                        "details": {"finish_reason": "length", "generated_tokens": len(steps), "seed": None}
                        if last
                        else None,
                    }

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.root + "/v1"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["path"] == path]

    def __enter__(self) -> ServingStandin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
