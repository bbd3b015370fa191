"""The remote engine through the real clients (``openai``, ``huggingface_hub.InferenceClient``) against a serving
stand-in on loopback: the wire formats, the parameter mapping, log-probabilities to token views, the tokenizer
here or on the server, errors, time-outs, a server that dies mid-stream, secrets, and the backend's choice.

The real engines (vLLM, llama.cpp's server) are in ``tests/test_served_engines.py``.
"""

from __future__ import annotations

import codecs
import dataclasses
import io
import json
import logging
import math
import socket
import threading
import time
from typing import Any

import pytest
from serving_standin import ServingStandin, Step

from rsdemo.backend import Backend
from rsdemo.catalog import DEFAULT_MODEL
from rsdemo.cli import main as cli_main
from rsdemo.core.errors import InputError, ServerError
from rsdemo.core.settings import Settings, settings_markdown
from rsdemo.generation import build_prompt, token_segments
from rsdemo.generation.remote_engine import API_KEY_ENV, RemoteConfig, RemoteEngine
from rsdemo.generation.servers import SERVER_KINDS, get_server_kind
from rsdemo.loading import gguf_tokenizer
from rsdemo.render import render_generation
from rsdemo.tokenization.adapters import HFAdapter

SECRET = "sk-test-SECRET-4242"
TEXT = "Hi 👋 there, café!"


@pytest.fixture(scope="module")
def tok(settings: Settings) -> Any:
    return gguf_tokenizer(key=DEFAULT_MODEL, settings=settings)


def script_for(tok: Any, text: str) -> list[Step]:
    """The tokens of ``text`` as a server streams them: vLLM's deltas hold a split character back."""
    adapter = HFAdapter(tok.backend_tokenizer, lossless=False)
    decoder = codecs.getincrementaldecoder("utf-8")()
    steps = []
    for n, token_id in enumerate(tok(text, add_special_tokens=False).input_ids):
        data = adapter.token_bytes(token_id) or b""
        others = [(token_id + k, tok.decode([token_id + k]), math.log(0.3 / (k + 1))) for k in (1, 2, 3)]
        steps.append(Step(token_id, decoder.decode(data), math.log(0.5 + 0.01 * n), others))
    return steps


@pytest.fixture()
def server(tok: Any) -> Any:
    with ServingStandin(tokenizer=tok) as standin:
        standin.script = script_for(tok, TEXT)
        yield standin


def engine_for(
    server: ServingStandin, settings: Settings, kind: str = "vllm", **changes: Any
) -> tuple[RemoteEngine, Settings]:
    changes = {"remote_timeout_s": 5.0, "remote_retries": 1, **changes}
    s = dataclasses.replace(settings, remote_url=server.base_url, remote_server=kind, **changes)
    return RemoteEngine(RemoteConfig.from_settings(s, environ={API_KEY_ENV: SECRET})), s


def run(
    engine: RemoteEngine,
    s: Settings,
    *,
    method: str = "greedy",
    params: dict | None = None,
    cancel: threading.Event | None = None,
    prefix: list[int] | None = None,
    **kwargs: Any,
) -> list[Any]:
    loaded = engine.loaded(engine.config.model, settings=s)
    extra = {"prefix": prefix} if prefix else {}
    return list(
        engine.run(
            loaded,
            prompt=kwargs.get("prompt", "Say hi"),
            method=method,
            params={"max_new_tokens": 32, **(params or {})},
            chat=True,
            stop=kwargs.get("stop"),
            cancel=cancel or threading.Event(),
            details=True,
            limits=s,
            **extra,
        )
    )


# --- servers as data ----------------------------------------------------------------------------------------


def test_every_server_kind_maps_only_what_it_has() -> None:
    values = {
        "temperature": 0.7,
        "top_k": 40,
        "top_p": 0.9,
        "min_p": 0.05,
        "typical_p": 0.8,
        "epsilon_cutoff": 0.0,
        "eta_cutoff": 0.0,
        "repetition_penalty": 1.2,
        "no_repeat_ngram_size": 0,
        "seed": 7,
        "max_new_tokens": 9,
    }
    assert get_server_kind("vllm").request(values=values, method="min_p") == {
        "max_tokens": 9,
        "seed": 7,
        "temperature": 0.7,
        "top_k": 40,
        "top_p": 0.9,
        "min_p": 0.05,
        "repetition_penalty": 1.2,
    }
    assert get_server_kind("llamacpp").request(values=values, method="typical")["repeat_penalty"] == 1.2
    assert get_server_kind("tgi").request(values=values, method="greedy") == {
        "max_new_tokens": 9,
        "do_sample": False,
        "repetition_penalty": 1.2,
    }
    # greedy on an OpenAI-compatible server is temperature 0; the sampling fields are not sent
    assert get_server_kind("openai").request(values=values, method="greedy") == {"max_tokens": 9, "temperature": 0.0}
    for kind in SERVER_KINDS.values():
        assert kind.refuses(method="beam") and "needs a local engine" in kind.refuses(method="beam")
        assert kind.refuses(method="contrastive") and kind.refuses(method="diverse_beam")
        assert kind.refuses(method="greedy") is None
    assert "min-p" in get_server_kind("openai").refuses(method="min_p", values={"min_p": 0.05})
    assert "no-repeat n-gram size" in get_server_kind("vllm").refuses(
        method="greedy", values={"no_repeat_ngram_size": 3}
    )
    assert "typical" in get_server_kind("vllm").refuses(method="typical")


def test_the_operator_configuration_is_checked_and_keeps_the_secret_out(settings: Settings) -> None:
    for bad in ("file:///etc/passwd", "ftp://host/v1", "http://", "http://host/v1?x=1", "127.0.0.1:8000"):
        with pytest.raises(InputError, match="base URL"):
            RemoteConfig.from_settings(dataclasses.replace(settings, remote_url=bad))
    with pytest.raises(InputError, match="server kind"):
        RemoteConfig.from_settings(dataclasses.replace(settings, remote_url="http://h:1/v1", remote_server="x"))
    config = RemoteConfig.from_settings(
        dataclasses.replace(settings, remote_url="http://user:pw@h:8000/v1/"), environ={API_KEY_ENV: SECRET}
    )
    assert config.api_key == SECRET and SECRET not in repr(config)
    assert config.where == "h:8000" and config.root == "http://user:pw@h:8000"  # credentials never shown
    assert config.logprobs == 10
    assert (
        RemoteConfig.from_settings(
            dataclasses.replace(settings, remote_url="http://h:1", remote_server="tgi", remote_logprobs=50)
        ).logprobs
        == 5
    )  # TGI's cap
    assert "RSDEMO_REMOTE_URL" in settings_markdown() and API_KEY_ENV not in settings_markdown()


# --- a run, through the real openai client ------------------------------------------------------------------


def test_a_vllm_stream_becomes_the_same_tokens_probabilities_and_alternatives(
    server: ServingStandin, settings: Settings, tok: Any
) -> None:
    engine, s = engine_for(server, settings)
    results = run(engine, s)
    final = results[-1]
    assert [r.done for r in results] == [False] * len(server.script) + [True]
    assert [t.id for t in final.tokens] == [step.id for step in server.script]
    assert [r.tokens[-1].id for r in results[:-1]] == [step.id for step in server.script]  # one update per token
    for token, step in zip(final.tokens, server.script):
        assert token.raw_prob == pytest.approx(math.exp(step.logprob))
        assert token.prob is None  # vLLM's numbers are before its filters: they are the raw distribution
        assert [a.id for a in token.raw_top] == [step.id] + [i for i, _, _ in step.top]  # by probability
        assert token.raw_top[1].prob == pytest.approx(0.15)
        assert token.raw_top[1].text == tok.decode([step.id + 1])
    # byte-exact: the emoji split over byte-level tokens is one segment, and the segments join to the text
    segments = token_segments(final.tokens)
    assert "".join(seg.text for seg in segments) == TEXT == final.text
    emoji = [seg for seg in segments if "👋" in seg.text]
    assert len(emoji) == 1 and len(emoji[0].tokens) > 1
    assert any(step.text == "" for step in server.script)  # the stand-in held a split character back
    # the page colours by the raw distribution and its legend says so (there are no after-filter numbers)
    page = render_generation(segments, final.tokens, distribution="filtered")
    assert "under the model&#x27;s own distribution" in page or "under the model's own distribution" in page
    # the request: the exact prompt ids the page shows, greedy as temperature 0, ids named, the key sent
    body = server.bodies("/v1/completions")[-1]
    info = build_prompt(tokenizer=tok, prompt="Say hi", chat=True)
    assert body["prompt"] == list(info.ids) and final.prompt.ids == info.ids
    assert body["temperature"] == 0.0 and body["logprobs"] == 10 and body["return_tokens_as_token_ids"] is True
    assert body["stream"] is True and body["max_tokens"] == 32 and body["model"] == "standin-model"
    completions = [r for r in server.requests if r["path"] == "/v1/completions"]
    assert completions[-1]["headers"]["authorization"] == f"Bearer {SECRET}"
    assert final.finish_reason == "end of sequence token" and final.tokens_per_s is not None
    assert any("vLLM" in note and "before" in note for note in final.notes)
    assert final.served == "vLLM server, before its filters" and results[0].served == final.served
    assert "client.completions.create" in final.code and SECRET not in final.code


def test_sampling_parameters_reach_the_server_under_its_own_names(server: ServingStandin, settings: Settings) -> None:
    engine, s = engine_for(server, settings)
    run(
        engine,
        s,
        method="top_k",
        params={"top_k": 12, "temperature": 0.8, "seed": 5, "repetition_penalty": 1.3},
        stop="END\nhalt",
    )
    body = server.bodies("/v1/completions")[-1]
    assert (body["top_k"], body["temperature"], body["seed"], body["repetition_penalty"]) == (12, 0.8, 5, 1.3)
    assert body["stop"] == ["END", "halt"] and "top_p" not in body and "min_p" not in body
    engine, s = engine_for(server, settings, "llamacpp")
    run(engine, s, method="min_p", params={"min_p": 0.1, "repetition_penalty": 1.1})
    body = server.bodies("/v1/completions")[-1]
    assert (body["min_p"], body["repeat_penalty"]) == (0.1, 1.1)
    assert isinstance(body["prompt"], str) and body["prompt"].startswith("<|im_start|>")  # it takes text


def test_a_branch_sends_the_chosen_tokens_after_the_prompt(
    server: ServingStandin, settings: Settings, tok: Any
) -> None:
    engine, s = engine_for(server, settings)
    run(engine, s, prefix=[504, 3575])
    info = build_prompt(tokenizer=tok, prompt="Say hi", chat=True)
    assert server.bodies("/v1/completions")[-1]["prompt"] == [*info.ids, 504, 3575]


def test_a_server_that_names_no_ids_is_mapped_back_through_the_vocabulary(
    server: ServingStandin, settings: Settings, tok: Any
) -> None:
    server.ids = False
    server.script = script_for(tok, "The capital of France is Paris.")
    engine, s = engine_for(server, settings, "openai")
    final = run(engine, s)[-1]
    assert [t.id for t in final.tokens] == [step.id for step in server.script]
    assert final.text == "The capital of France is Paris."
    assert [a.id for a in final.tokens[0].raw_top][:2] == [server.script[0].id, server.script[0].top[0][0]]


def test_refused_methods_and_parameters_say_why(server: ServingStandin, settings: Settings) -> None:
    engine, s = engine_for(server, settings, "openai")
    with pytest.raises(InputError, match="min-p sampling needs a local engine"):
        run(engine, s, method="min_p")
    engine, s = engine_for(server, settings)
    with pytest.raises(InputError, match="no-repeat n-gram size"):
        run(engine, s, params={"no_repeat_ngram_size": 2})
    assert not server.bodies("/v1/completions")  # refused before anything was sent


def test_tgi_through_inference_client(server: ServingStandin, settings: Settings, tok: Any) -> None:
    engine, s = engine_for(server, settings, "tgi")
    final = run(engine, s, method="top_p", params={"top_p": 0.8, "seed": 3})[-1]
    assert [t.id for t in final.tokens] == [step.id for step in server.script]
    first = final.tokens[0]
    assert first.prob == pytest.approx(math.exp(server.script[0].logprob))  # TGI's numbers are after its filters
    assert final.served == "TGI server, after its filters"
    assert [a.id for a in first.top] == [i for i, _, _ in server.script[0].top]
    body = server.bodies("/")[-1]
    params = body["parameters"]
    assert body["stream"] is True and params["details"] is True and params["top_n_tokens"] == 5
    assert (params["do_sample"], params["top_p"], params["seed"]) == (True, 0.8, 3)
    assert body["inputs"] == build_prompt(tokenizer=tok, prompt="Say hi", chat=True).text
    assert [r for r in server.requests if r["path"] == "/"][-1]["headers"]["authorization"] == f"Bearer {SECRET}"
    assert final.finish_reason == "max new tokens" or final.finish_reason
    assert "".join(seg.text for seg in token_segments(final.tokens)) == TEXT


def test_the_servers_tokenizer_when_the_operator_says_so(server: ServingStandin, settings: Settings, tok: Any) -> None:
    engine, s = engine_for(server, settings, remote_tokenizer="server")
    final = run(engine, s)[-1]
    info = build_prompt(tokenizer=tok, prompt="Say hi", chat=True)
    assert final.prompt.ids == info.ids and final.prompt.text == tok.decode(list(info.ids))
    assert server.bodies("/tokenize")[0]["messages"] == [{"role": "user", "content": "Say hi"}]
    assert "".join(seg.text for seg in token_segments(final.tokens)) == TEXT  # the server's own texts
    assert final.tokens[0].raw_top[1].text == tok.decode([server.script[0].id + 1])  # /detokenize
    assert any("the server's own" in note for note in final.notes)


# --- errors, time-outs, a dying server, stopping --------------------------------------------------------------


def test_server_errors_are_clear_retried_and_leak_nothing(
    server: ServingStandin, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    engine, s = engine_for(server, settings)
    run(engine, s)  # loads the model's client (asks /v1/models)
    server.status = 500
    with pytest.raises(ServerError, match=r"answered with an error \(HTTP 500\)") as err:
        run(engine, s)
    assert len(server.bodies("/v1/completions")) == 1 + 2  # the first run, then one try and one retry
    assert "/srv" not in str(err.value) and "secret" not in str(err.value).lower()
    server.status = 401
    with pytest.raises(ServerError, match="refused rsdemo's credentials") as err:
        run(engine, s)
    assert SECRET not in str(err.value) and SECRET not in caplog.text
    server.status = None
    server.fail_first = 1
    assert run(engine, s)[-1].done  # a failure before the stream is retried


def test_a_server_that_dies_mid_stream(server: ServingStandin, settings: Settings) -> None:
    engine, s = engine_for(server, settings)
    server.die_after = 3
    with pytest.raises(ServerError, match=r"stopped answering mid-stream \(3 tokens had arrived\)"):
        run(engine, s)
    server.die_after = None
    assert run(engine, s)[-1].done  # the next run works


def test_a_slow_server_hits_the_timeout(server: ServingStandin, settings: Settings) -> None:
    engine, s = engine_for(server, settings, remote_retries=0)
    object.__setattr__(engine.config, "timeout_s", 0.5)
    engine.loaded(engine.config.model, settings=s)
    server.delay_s = 3.0
    started = time.monotonic()
    with pytest.raises(ServerError, match=r"did not answer within 0.5 s"):
        run(engine, s)
    assert time.monotonic() - started < 3.0


def test_an_unreachable_server_fails_fast_and_clearly(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = dataclasses.replace(settings, remote_url=f"http://127.0.0.1:{port}/v1", remote_retries=0)
    engine = RemoteEngine(RemoteConfig.from_settings(s))
    started = time.monotonic()
    with pytest.raises(ServerError, match="The vLLM server is not answering") as err:
        engine.loaded(DEFAULT_MODEL, settings=s)
    assert time.monotonic() - started < 5
    assert "127.0.0.1" not in str(err.value)  # the server's address is the operator's business, not a visitor's


def test_stopping_closes_the_stream(server: ServingStandin, settings: Settings) -> None:
    engine, s = engine_for(server, settings)
    engine.loaded(engine.config.model, settings=s)
    server.delay_s = 0.1
    cancel = threading.Event()
    results = []
    loaded = engine.loaded(engine.config.model, settings=s)
    for result in engine.run(
        loaded,
        prompt="Say hi",
        method="greedy",
        params={"max_new_tokens": 32},
        chat=True,
        stop=None,
        cancel=cancel,
        details=True,
        limits=s,
    ):
        results.append(result)
        if len(results) == 2:
            cancel.set()
    assert results[-1].done and results[-1].stopped and results[-1].finish_reason == "stopped by you"
    assert len(results[-1].tokens) == 2
    deadline = time.monotonic() + 5
    while not server.disconnects and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.disconnects == 1  # the server saw the client go and stopped writing


# --- the backend and the CLI ------------------------------------------------------------------------------------


def test_the_backend_runs_what_the_server_can_and_the_rest_locally(
    server: ServingStandin, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(API_KEY_ENV, SECRET)
    s = dataclasses.replace(settings, remote_url=server.base_url)
    backend = Backend(settings=s)
    assert list(backend.engines)[0] == "remote"
    final = list(backend.generate(model=DEFAULT_MODEL, prompt="Say hi", params={"max_new_tokens": 8}))[-1]
    assert final.engine == "remote" and "vLLM server" in final.engine_reason and len(final.tokens) == 8
    assert SECRET not in repr(final)
    assert backend.choose_engine(model=DEFAULT_MODEL, method="beam")[0].capabilities.name == "transformers"
    chosen, why = backend.choose_engine(model=DEFAULT_MODEL, method="top_p", params={"no_repeat_ngram_size": 2})
    assert chosen.capabilities.name != "remote" and "no-repeat n-gram size" in why
    # the method arena runs on the server too, each output its own request
    arena = list(
        backend.arena(
            model=DEFAULT_MODEL, prompt="Say hi", methods=["greedy", "top_p"], params={"max_new_tokens": 4, "seed": 3}
        )
    )[-1]
    assert arena.done and [run.engine for run in arena.runs] == ["remote", "remote"]
    assert [row.method for row in arena.rows] == ["greedy", "top_p"]
    assert server.bodies("/v1/completions")[-1]["seed"] == 3


def test_a_model_only_the_server_has(server: ServingStandin, settings: Settings, tok: Any, tmp_path: Any) -> None:
    tok.save_pretrained(str(tmp_path))
    s = dataclasses.replace(
        settings, remote_url=server.base_url, remote_model="acme/giant-70b", remote_tokenizer=str(tmp_path)
    )
    backend = Backend(settings=s)
    assert ("acme/giant-70b (served by vLLM)", "acme/giant-70b") in backend.model_choices()
    final = list(
        backend.generate(model="acme/giant-70b", prompt="Say hi", method="top_p", params={"max_new_tokens": 4})
    )[-1]
    assert final.engine == "remote" and "only engine" in final.engine_reason
    assert any("operator's folder" in note for note in final.notes)
    with pytest.raises(
        InputError,
        match="Beam search is not available for acme/giant-70b: The vLLM server runs greedy.*needs a local engine",
    ):
        backend.choose_engine(model="acme/giant-70b", method="beam")
    with pytest.raises(InputError, match="only served by"):
        backend.choose_engine(model="acme/giant-70b", method="greedy", engine="transformers")
    with pytest.raises(InputError, match="needs the model's weights on this machine"):
        backend.next_token(model="acme/giant-70b", prompt="Hi")


def test_the_cli_drives_a_served_engine(
    server: ServingStandin, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RSDEMO_CACHE_DIR", str(settings.cache_dir))
    monkeypatch.setattr("rsdemo.cli.get_settings", lambda: settings)
    out = io.StringIO()
    assert (
        cli_main(
            [
                "generate",
                "--engine",
                "remote",
                "--base-url",
                server.base_url,
                "--max-new-tokens",
                "5",
                "--json",
                "Say hi",
            ],
            stdout=out,
        )
        == 0
    )
    payload = json.loads(out.getvalue())
    assert payload["engine"] == "remote" and [t["id"] for t in payload["tokens"]] == [
        step.id for step in server.script[:5]
    ]
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    assert cli_main(["generate", "--base-url", "file:///etc/passwd", "Hi"], stdout=io.StringIO()) == 2
    assert "base URL must look like" in err.getvalue()


def test_the_app_offers_the_served_engine_and_keeps_its_address_and_key(
    server: ServingStandin, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real app and gradio_client: the Engine dropdown offers the operator's server, /generate
    streams from it, and neither the page's config nor the reply holds the key or the server's address."""
    import httpx
    from gradio_client import Client

    from rsdemo.ui import build_demo, configure_queue, launch_options

    monkeypatch.setenv(API_KEY_ENV, SECRET)
    backend = Backend(settings=dataclasses.replace(settings, remote_url=server.base_url))
    demo = build_demo(backend=backend)
    configure_queue(demo, backend.settings)
    _, url, _ = demo.launch(
        server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, ssr_mode=False, **launch_options()
    )
    try:
        config = httpx.get(url.rstrip("/") + "/config", timeout=30).text
        assert "vLLM server (the operator's)" in config
        assert SECRET not in config and server.base_url not in config and server.root not in config
        client = Client(url, verbose=False)
        reply = client.predict(
            "Say hi", DEFAULT_MODEL, "greedy", {"max_new_tokens": 6}, True, "", "remote", api_name="/generate"
        )
        assert reply["engine"] == "remote" and reply["done"]
        assert [t["id"] for t in reply["tokens"]] == [step.id for step in server.script[:6]]
        dumped = json.dumps(reply)
        assert SECRET not in dumped and server.root.split("//")[1] not in dumped
        # a branch from the served run: the chosen token follows the prompt in the server's request
        branch = client.predict(
            "Say hi", DEFAULT_MODEL, "greedy", {"max_new_tokens": 3}, True, "remote", [504], api_name="/branch"
        )
        assert branch["engine"] == "remote" and len(branch["tokens"]) == 3
        assert server.bodies("/v1/completions")[-1]["prompt"][-1] == 504
    finally:
        demo.close()


def test_on_zerogpu_a_served_run_asks_for_no_gpu(
    server: ServingStandin, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from test_runtime import ZEROGPU, _fake_spaces

    spaces = _fake_spaces()
    monkeypatch.setitem(sys.modules, "spaces", spaces)
    backend = Backend(settings=dataclasses.replace(settings, remote_url=server.base_url), runtime=ZEROGPU)
    record = spaces.decorated[0]
    assert record["fn"] == backend.generation.run
    final = list(backend.generate(model=DEFAULT_MODEL, prompt="Say hi", params={"max_new_tokens": 4}))[-1]
    assert final.engine == "remote" and record["calls"] == []  # the server did the work: no GPU quota spent
    backend.generate(model=DEFAULT_MODEL, prompt="Say hi", method="beam", params={"max_new_tokens": 4})
    assert len(record["calls"]) == 1  # beam search runs here, inside spaces.GPU
