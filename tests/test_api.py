"""Wiring: the real app on 127.0.0.1, every named endpoint called through gradio_client."""

from __future__ import annotations

import pytest
from gradio_client import Client

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(server_url: str) -> Client:
    return Client(server_url, verbose=False)


def test_the_named_endpoints_are_the_api(client: Client) -> None:
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert names == {"/tokenize", "/compare", "/decode", "/generate"}  # the page's own events are private


def test_tokenize_endpoint(client: Client) -> None:
    result = client.predict("Hello world, 你好", "gpt2", False, api_name="/tokenize")
    assert result["ids"] == [15496, 995, 11, 220, 19526, 254, 25001, 121]
    assert [s["text"] for s in result["segments"]] == ["Hello", " world", ",", " ", "你", "好"]
    assert result["stats"]["tokens"] == 8 and result["tokenizer"] == "gpt2" and not result["truncated"]


def test_tokenize_endpoint_adds_special_tokens(client: Client) -> None:
    result = client.predict("hi 🇫", "mistral-v1", True, api_name="/tokenize")
    assert result["ids"] == [1, 12014, 28705, 243, 162, 138, 174]
    assert result["segments"][0]["kind"] == "special"
    assert client.predict(text="hi", tokenizer="char", api_name="/tokenize")["ids"] == [104, 105]  # by name


def test_compare_endpoint(client: Client) -> None:
    result = client.predict("Hello world", ["gpt2", "char", "byte"], False, api_name="/compare")
    assert result["done"] and [r["tokenizer"] for r in result["results"]] == ["gpt2", "char", "byte"]
    assert [r["stats"]["tokens"] for r in result["results"]] == [2, 11, 11]
    assert [r["differing"] for r in result["results"]] == [0, 10, 10]  # every letter but the space


def test_compare_does_not_mark_unknown_tokens_as_disagreements(client: Client) -> None:
    result = client.predict("Hi \U0001f44b there", ["gpt2", "bert-base-uncased"], False, api_name="/compare")
    assert [r["differing"] for r in result["results"]] == [0, 0]  # both split at the same places


def test_decode_endpoint(client: Client) -> None:
    result = client.predict("[15496, 995]", "gpt2", api_name="/decode")
    assert result["text"] == "Hello world"
    assert [t["piece"] for t in result["tokens"]] == ["Hello", "Ġworld"]


@pytest.mark.parametrize(
    ("endpoint", "args", "message"),
    [
        ("/tokenize", ("", "gpt2", False), "empty"),
        ("/tokenize", ("hi", "gpt5", False), "Known: gpt2"),
        ("/tokenize", ("hi", "../../etc/passwd", False), "not a Hugging Face Hub repo id"),
        ("/tokenize", ("hi", "Qwen/Qwen2.5-0.5B", False), "HF_HUB_OFFLINE"),
        ("/decode", ("[1, two]", "gpt2"), "not a token id"),
        ("/decode", ("[99999999]", "gpt2"), "not an id of the gpt2 vocabulary"),
        ("/compare", ("hi", ["gpt2"], False), "2 to 6"),
    ],
)
def test_bad_input_gets_a_message_and_the_app_keeps_serving(
    client: Client, endpoint: str, args: tuple, message: str
) -> None:
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name=endpoint)
    assert client.predict("ok", "char", False, api_name="/tokenize")["ids"] == [111, 107]
