"""Hostile and malformed input, table-driven, through the real API (gradio_client) and the CLI.

Every case gets either a correct answer or a clear message (never an internal error, a path or a stack
trace), and the app keeps serving: a plain request right after each case must still work.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from gradio_client import Client

from rsdemo.cli import main

pytestmark = pytest.mark.slow

MB = 1024 * 1024
LEAKS = ("Traceback", "/work/", "/tmp/", "site-packages", "Internal error", "Something went wrong")


@dataclass(frozen=True)
class Case:
    name: str
    endpoint: str
    args: tuple[Any, ...]
    error: str | None = None  # a regex the message must match; None: the call must succeed
    check: Callable[[Any], bool] | None = None
    raw: bool = False  # sent as JSON over HTTP (gradio_client cannot encode a lone surrogate)


CASES = [
    # --- /tokenize: text, tokenizer, special, whitespace, show ---
    Case("empty text", "/tokenize", ("", "gpt2", False), "empty"),
    Case(
        "whitespace only",
        "/tokenize",
        (" \t\n", "gpt2", False),  # text (issue 18, item 4)
        check=lambda r: [s["text"] for s in r["segments"]] == [" ", "\t", "\n"],
    ),
    Case("over the size limit", "/tokenize", ("x" * (2 * MB + 1), "byte", False), "the limit is"),
    Case("lone surrogate", "/tokenize", ("ok \ud800 there", "gpt2", False), "lone surrogate", raw=True),
    Case(
        "NUL and control characters",
        "/tokenize",
        ("a\x00b\x01c\x1b[31m", "gpt2", False),
        check=lambda r: "".join(s["text"] for s in r["segments"]) == "a\x00b\x01c\x1b[31m",
    ),
    Case(
        "1 MB without spaces", "/tokenize", ("x" * MB, "cl100k_base", False), check=lambda r: r["stats"]["chars"] == MB
    ),
    Case(
        "1 MB of spaces",
        "/tokenize",
        ("a" + " " * MB + "b", "gpt2", False),
        check=lambda r: r["stats"]["chars"] == MB + 2,
    ),
    Case(
        "1 MB of tabs, Llama 3",
        "/tokenize",
        ("a" + "\t" * MB + "b", "llama3", False),
        check=lambda r: r["stats"]["chars"] == MB + 2,
    ),
    Case(
        "1 MB of U+3000, o200k",
        "/tokenize",
        ("a" + "\u3000" * MB + "b", "o200k_base", False),
        check=lambda r: r["stats"]["chars"] == MB + 2,
    ),
    Case(
        "HTML-like text",
        "/tokenize",
        ("<img src=x onerror=alert(1)>", "gpt2", False),
        check=lambda r: "".join(s["text"] for s in r["segments"]) == "<img src=x onerror=alert(1)>",
    ),
    Case(
        "script tag, Llama 3",
        "/tokenize",
        ("<script>alert(1)</script>", "llama3", False),
        check=lambda r: "".join(s["text"] for s in r["segments"]) == "<script>alert(1)</script>",
    ),
    Case("a tokenizer sent as a number", "/tokenize", ("hi", 42, False), "tokenizer must be .*; got 42"),
    Case("text sent as a number", "/tokenize", (42, "gpt2", False), "text must be a string; got 42"),
    Case("a boolean sent as a word", "/tokenize", ("hi", "gpt2", "maybe"), "must be true or false"),
    Case(
        "a boolean sent as the word false", "/tokenize", ("hi", "llama3", "false"), check=lambda r: r["ids"] == [6151]
    ),
    Case("unknown tokenizer key", "/tokenize", ("hi", "gpt5", False), "Known: gpt2"),
    Case("path traversal", "/tokenize", ("hi", "../../etc/passwd", False), "not a Hugging Face"),
    Case("absolute path", "/tokenize", ("hi", "/etc/passwd", False), "not a Hugging Face"),
    Case("relative path", "/tokenize", ("hi", "./rsdemo", False), "not a Hugging Face"),
    Case("a local folder shaped like a repo", "/tokenize", ("hi", "assets/tokenizers", False), "not a Hugging Face"),
    Case("URL", "/tokenize", ("hi", "https://evil.example/owner/name", False), "not a Hugging Face"),
    Case("revision traversal", "/tokenize", ("hi", "owner/name@../../x", False), "not a Hugging Face"),
    Case("huge name", "/tokenize", ("hi", "a/" + "b" * 10_000, False), "not a Hugging Face"),
    Case("HTML in a name", "/tokenize", ("hi", "<b>x</b>", False), "not a Hugging Face"),
    Case("Hub id offline", "/tokenize", ("hi", "Qwen/Qwen2.5-0.5B", False), "HF_HUB_OFFLINE"),
    # --- /compare: text, tokenizers, special, whitespace ---
    Case("one tokenizer", "/compare", ("hi", ["gpt2"], False), "2 to 6"),
    Case(
        "seven tokenizers",
        "/compare",
        ("hi", ["gpt2", "cl100k_base", "o200k_base", "llama3", "qwen", "char", "byte"], False),
        "2 to 6",
    ),
    Case("tokenizers sent as text", "/compare", ("hi", "gpt2,char", False), "must be a list"),
    Case("the same tokenizer twice", "/compare", ("hi", ["gpt2", "gpt2"], False), "2 to 6"),
    Case("an unknown tokenizer", "/compare", ("hi", ["gpt2", "nope"], False), "Known: gpt2"),
    Case("compare empty text", "/compare", ("", ["gpt2", "char"], False), "empty"),
    Case(
        "compare a million spaces",
        "/compare",
        ("a" + " " * 1_000_000 + "b", ["char", "byte"], False),
        check=lambda r: [x["differing"] for x in r["results"]] == [0, 0],
    ),
    # --- /decode: ids, tokenizer ---
    Case("words instead of ids", "/decode", ("Hello!!", "gpt2"), "not a token id"),
    Case("negative id", "/decode", ("[-1]", "gpt2"), "never negative"),
    Case("id past the vocabulary", "/decode", ("[99999999999]", "gpt2"), "not an id of the gpt2 vocabulary"),
    Case("a 30-digit id", "/decode", ("9" * 30, "gpt2"), "not a token id"),
    Case("unclosed list", "/decode", ("[1, 2", "gpt2"), "not a token id"),
    Case("float id", "/decode", ("1e5", "gpt2"), "not a token id"),
    Case("no ids", "/decode", ("", "gpt2"), "Type some token ids"),
    Case("ids as a list of words", "/decode", (["a", "b"], "gpt2"), "whole numbers"),
    Case("ids as a list of numbers", "/decode", ([15496, 995], "gpt2"), check=lambda r: r["text"] == "Hello world"),
    Case("too many ids", "/decode", (" ".join(["1"] * 100_001), "byte"), "too many"),
    Case("a hole in cl100k", "/decode", ("100261", "cl100k_base"), "not an id of the cl100k_base vocabulary"),
    Case("a surrogate code point", "/decode", ("55296", "char"), "not an id of the char vocabulary"),
    Case("a special token id", "/decode", ("50256", "gpt2"), check=lambda r: r["text"] == "<|endoftext|>"),
    # --- /generate: prompt, model, method, params, chat, stop ---
    Case(
        "empty prompt",
        "/generate",
        ("", "smollm2-135m-instruct", "greedy", {}, True, ""),
        "prompt is empty .*to generate from",
    ),
    Case(
        "prompt over the limit",
        "/generate",
        ("x" * 20_001, "smollm2-135m-instruct", "greedy", {}, True, ""),
        "the limit is 20,000",
    ),
    Case(
        "lone surrogate in a prompt",
        "/generate",
        ("hi \ud800", "smollm2-135m-instruct", "beam", {}, True, "", ""),
        "prompt is not valid Unicode: a lone surrogate U\\+D800",
        raw=True,
    ),
    Case(
        "lone surrogate in a stop string",
        "/generate",
        ("hi", "smollm2-135m-instruct", "greedy", {}, True, "ok\n\udfff", ""),
        "stop string is not valid Unicode",
        raw=True,
    ),
    Case("unknown method", "/generate", ("hi", "smollm2-135m-instruct", "telepathy", {}, True, ""), "Known: greedy"),
    Case(
        "unknown parameter",
        "/generate",
        ("hi", "smollm2-135m-instruct", "greedy", {"top_q": 1}, True, ""),
        "has no parameter top_q",
    ),
    Case(
        "trust_remote_code as a parameter",
        "/generate",
        ("hi", "smollm2-135m-instruct", "greedy", {"trust_remote_code": True}, True, ""),
        "has no parameter trust_remote_code",
    ),
    Case(
        "temperature zero",
        "/generate",
        ("hi", "smollm2-135m-instruct", "sample", {"temperature": 0}, True, ""),
        "between",
    ),
    Case(
        "non-numeric temperature",
        "/generate",
        ("hi", "smollm2-135m-instruct", "sample", {"temperature": "hot"}, True, ""),
        "must be a number",
    ),
    Case(
        "huge max new tokens",
        "/generate",
        ("hi", "smollm2-135m-instruct", "greedy", {"max_new_tokens": 10**9}, True, ""),
        "between 1 and 512",
    ),
    Case("negative seed", "/generate", ("hi", "smollm2-135m-instruct", "top_p", {"seed": -5}, True, ""), "between"),
    Case(
        "parameters that are not an object",
        "/generate",
        ("hi", "smollm2-135m-instruct", "greedy", ["max_new_tokens", 5], True, ""),
        "must be an object",
    ),
    Case(
        "too many stop strings",
        "/generate",
        ("hi", "smollm2-135m-instruct", "greedy", {}, True, "\n".join("abcdefghij")),
        "at most 8 stop strings",
    ),
    Case(
        "a long stop string",
        "/generate",
        ("hi", "smollm2-135m-instruct", "greedy", {}, True, "x" * 65),
        "at most 64 characters",
    ),
    Case("model path traversal", "/generate", ("hi", "../../etc/passwd", "greedy", {}, True, ""), "not a Hugging Face"),
    Case(
        "a model far larger than the machine",
        "/generate",
        ("hi", "meta-llama/Llama-3.1-405B", "greedy", {}, True, ""),
        "HF_HUB_OFFLINE",
    ),
    Case(
        "HTML in a prompt",
        "/generate",
        ("<img src=x onerror=alert(1)>", "smollm2-135m-instruct", "greedy", {"max_new_tokens": 2}, True, ""),
        check=lambda r: r["done"] and len(r["tokens"]) == 2,
    ),
    # --- the insight views: /surprisal, /next_token, /arena, /branch, /beam_tree ---
    Case(
        "surprisal of an empty prompt",
        "/surprisal",
        ("  ", "smollm2-135m-instruct", False),
        "prompt is empty .*to score",
    ),
    Case("surprisal of a path as a model", "/surprisal", ("hi", "../../etc/passwd", False), "not a Hugging Face"),
    Case(
        "next token with an unknown method",
        "/next_token",
        ("hi", "smollm2-135m-instruct", False, "telepathy", {}, "", 0),
        "Unknown decoding method",
    ),
    Case(
        "next token with top-p 7",
        "/next_token",
        ("hi", "smollm2-135m-instruct", False, "top_p", {"top_p": 7}, "", 0),
        "between",
    ),
    Case(
        "next token past the prompt's end",
        "/next_token",
        ("hi", "smollm2-135m-instruct", False, "greedy", {}, "", 10_000),
        "pick a position",
    ),
    Case(
        "probes that are HTML",
        "/next_token",
        ("The capital of France is", "smollm2-135m-instruct", False, "greedy", {}, "<img src=x onerror=alert(1)>", 0),
        check=lambda r: r["stages"][0]["probes"][0]["typed"] == "<img src=x onerror=alert(1)>",
    ),
    Case("an arena of one method", "/arena", ("hi", "smollm2-135m-instruct", ["greedy"], {}, True), "2 to 4"),
    Case(
        "an arena of ten methods",
        "/arena",
        ("hi", "smollm2-135m-instruct", ["greedy", "top_p", "top_k", "beam", "sample"] * 2, {}, True),
        "2 to 4",
    ),
    Case(
        "a branch of words, not ids",
        "/branch",
        ("hi", "smollm2-135m-instruct", "greedy", {"max_new_tokens": 2}, True, "", ["one", "two"]),
        "token ids",
    ),
    Case(
        "a branch outside the vocabulary",
        "/branch",
        ("hi", "smollm2-135m-instruct", "greedy", {"max_new_tokens": 2}, True, "", [10**9]),
        "vocabulary",
    ),
    Case(
        "a beam tree of 9 beams",
        "/beam_tree",
        ("hi", "smollm2-135m-instruct", {"num_beams": 9, "max_new_tokens": 4}, True),
        r"Beams \(num_beams\) must be a whole number between 2 and 8",
    ),
    # --- the Layers tab: /logit_lens, /lens_probe, /attention, /model_diff ---
    Case("a lens of an empty prompt", "/logit_lens", (" ", "smollm2-135m-instruct", False, "", -1), "prompt is empty"),
    Case(
        "a lens of a prompt over the limit",
        "/logit_lens",
        ("word " * 2100, "smollm2-135m-instruct", False, "", -1),
        "most this view reads is 2,048",
    ),  # fmt: skip
    Case("a lens of a path as a model", "/logit_lens", ("hi", "../../etc/passwd", False, "", -1), "not a Hugging Face"),
    Case("a lens position past the end", "/logit_lens", ("hi", "smollm2-135m-instruct", False, "x", 999), "position"),
    Case(
        "lens probes that are HTML",
        "/logit_lens",
        ("The capital of France is", "smollm2-135m-instruct", False, "<script>alert(1)</script>", -1),
        check=lambda r: r["probes"][0]["text"] == "<script>alert(1)</script>",
    ),
    Case("a lens row of 99", "/lens_probe", ("hi", "smollm2-135m-instruct", False, "", -1, 99), "layer"),
    Case("a lens row as words", "/lens_probe", ("hi", "smollm2-135m-instruct", False, "", -1, "top"), "layer"),
    Case(
        "attention over 128 tokens",
        "/attention",
        ("word " * 200, "smollm2-135m-instruct", False, 1, -1, -1),
        "most this view reads is 128",
    ),  # fmt: skip
    Case("attention at layer 0", "/attention", ("hi", "smollm2-135m-instruct", False, 0, -1, -1), "layer"),
    Case("attention of head 99", "/attention", ("hi", "smollm2-135m-instruct", False, 1, 99, -1), "head"),
    Case("attention of GPT-2 (no Hub here)", "/attention", ("hi", "gpt2", False, 1, -1, -1), "Hub"),
    Case(
        "two models on an empty text",
        "/model_diff",
        ("", "smollm2-135m-instruct", "smollm2-135m-instruct", "transformers", "transformers"),
        "empty",
    ),  # fmt: skip
    Case(
        "two models with an unknown engine",
        "/model_diff",
        ("hi", "smollm2-135m-instruct", "smollm2-135m-instruct", "transformers", "../../bin/sh"),
        "engine",
    ),  # fmt: skip
    Case(
        "two models on a lone surrogate",
        "/model_diff",
        ("ok \ud800", "smollm2-135m-instruct", "smollm2-135m-instruct", "transformers", "transformers"),
        "lone surrogate",
        raw=True,
    ),
]


@pytest.fixture(scope="module")
def client(server_url: str) -> Client:
    return Client(server_url, verbose=False)


def _raw_call(url: str, case: Case) -> Any:
    """Gradio's REST API with hand-made JSON: ``\\ud800`` escapes carry what a Python client cannot encode."""
    body = json.dumps({"data": list(case.args)}, ensure_ascii=True)
    start = httpx.post(
        f"{url}/gradio_api/call{case.endpoint}", content=body, headers={"content-type": "application/json"}, timeout=30
    )
    start.raise_for_status()
    events = httpx.get(f"{url}/gradio_api/call{case.endpoint}/{start.json()['event_id']}", timeout=60).text
    kind, _, data = events.partition("\ndata: ")
    if kind.endswith("error"):
        raise RuntimeError(json.loads(data)["error"])
    return json.loads(data)


def _call(client: Client, case: Case) -> Any:
    if case.raw:
        return _raw_call(client.src.rstrip("/"), case)
    if case.endpoint in {"/generate", "/arena", "/branch"}:  # streamed
        return client.submit(*case.args, api_name=case.endpoint).result()  # the last message, or the error
    return client.predict(*case.args, api_name=case.endpoint)


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_through_the_api(client: Client, case: Case) -> None:
    if case.error is None:
        result = _call(client, case)
        assert case.check is None or case.check(result)
    else:
        with pytest.raises(Exception, match=case.error) as err:
            _call(client, case)
        assert not any(leak in str(err.value) for leak in LEAKS), str(err.value)
    # and the app keeps serving
    assert client.predict("ok", "char", False, api_name="/tokenize")["ids"] == [111, 107]


CLI_CASES = [
    (["tokenize", "-t", "gpt2", ""], 2, "empty"),
    (["tokenize", "-t", "gpt5", "hi"], 2, "Known: gpt2"),
    (["tokenize", "-t", "../../etc/passwd", "hi"], 2, "not a Hugging Face"),
    (["tokenize", "-t", "gpt2", "ok \ud800"], 2, "lone surrogate"),
    (["decode", "-t", "gpt2", "Hello!!"], 2, "not a token id"),
    (["decode", "-t", "gpt2", "[-1]"], 2, "never negative"),
    (["generate", "--method", "sample", "--temperature", "9", "hi"], 2, "between"),
    (["generate", "--top-p", "0.5", "hi"], 2, "does not apply to Greedy"),
    (["generate", "--max-new-tokens", "100000", "hi"], 2, "between 1 and 512"),
    (["generate", "-m", "/etc/passwd", "hi"], 2, "not a Hugging Face"),
    (["generate", "--stop", "x" * 65, "hi"], 2, "at most 64 characters"),
    (["generate", ""], 2, "Type a prompt"),
    (["generate", "--method", "beam", "hi \ud800"], 2, "prompt is not valid Unicode"),
]


@pytest.mark.parametrize(("argv", "status", "message"), CLI_CASES, ids=[" ".join(a)[:40] for a, _, _ in CLI_CASES])
def test_hostile_input_through_the_cli(argv: list[str], status: int, message: str, capsys) -> None:
    out = io.StringIO()
    assert main(argv, stdout=out) == status
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ") and "Traceback" not in err


def test_the_cli_reads_a_megabyte_of_whitespace_from_stdin(capsys) -> None:
    out = io.StringIO()
    assert main(["tokenize", "-t", "cl100k_base", "--json"], stdin=io.StringIO("a" + " " * MB + "b"), stdout=out) == 0
    assert f'"chars": {MB + 2}' in out.getvalue()
