"""Wiring: the real app on 127.0.0.1, every api_name called through gradio_client."""

from __future__ import annotations

import pytest
from gradio_client import Client

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(server_url: str) -> Client:
    return Client(server_url, verbose=False)


def test_endpoints_are_named(client: Client) -> None:
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/tokenize", "/compare", "/decode"} <= names


def test_tokenize_endpoint(client: Client) -> None:
    stats, view, ids_text, result = client.predict(
        "Hello world, 你好", "gpt2", False, False, "text", api_name="/tokenize"
    )
    assert result["ids"] == [15496, 995, 11, 220, 19526, 254, 25001, 121]
    assert [s["text"] for s in result["segments"]] == ["Hello", " world", ",", " ", "你", "好"]
    assert ids_text == "[15496, 995, 11, 220, 19526, 254, 25001, 121]"
    assert "rs-tok" in view and "你" in view and "\ufffd" not in view
    assert ">8<" in stats  # the token count card


def test_tokenize_endpoint_shows_pieces_and_special_tokens(client: Client) -> None:
    stats, view, _, result = client.predict("hi 🇫", "mistral-v1", True, True, "pieces", api_name="/tokenize")
    assert result["ids"] == [1, 12014, 28705, 243, 162, 138, 174]
    sep = '<span class="rs-psep"> </span>'
    assert sep.join(["&lt;0xF0&gt;", "&lt;0x9F&gt;", "&lt;0x87&gt;", "&lt;0xAB&gt;"]) in view  # byte-fallback pieces
    assert "rs-special" in view


def test_compare_endpoint(client: Client) -> None:
    table, view = client.predict("Hello world", ["gpt2", "char", "byte"], False, False, api_name="/compare")
    rows = table["data"]
    assert [r[0] for r in rows] == ["gpt2", "char", "byte"]
    assert [r[1] for r in rows] == [2, 11, 11]
    assert view.count('class="rs-compare-row"') == 3 and "rs-diff" in view


def test_decode_endpoint(client: Client) -> None:
    text, view = client.predict("[15496, 995]", "gpt2", api_name="/decode")
    assert text == "Hello world" and "Ġworld" in view


@pytest.mark.parametrize(
    ("endpoint", "args", "message"),
    [
        ("/tokenize", ("", "gpt2", False, False, "text"), "empty"),
        ("/tokenize", ("hi", "gpt5", False, False, "text"), "Known: gpt2"),
        ("/tokenize", ("hi", "../../etc/passwd", False, False, "text"), "not a Hugging Face Hub repo id"),
        ("/tokenize", ("hi", "Qwen/Qwen2.5-0.5B", False, False, "text"), "HF_HUB_OFFLINE"),
        ("/decode", ("[1, two]", "gpt2"), "not a token id"),
        ("/decode", ("[99999999]", "gpt2"), "not an id of the gpt2 vocabulary"),
        ("/compare", ("hi", ["gpt2"], False, False), "2 to 6"),
    ],
)
def test_bad_input_gets_a_message_and_the_app_keeps_serving(
    client: Client, endpoint: str, args: tuple, message: str
) -> None:
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name=endpoint)
    assert client.predict("ok", "char", False, False, "text", api_name="/tokenize")[3]["ids"] == [111, 107]
