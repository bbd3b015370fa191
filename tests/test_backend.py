"""The backend on real tokenizer files: bad input, the Hub, large text, decode, compare."""

from __future__ import annotations

import time

import pytest

from rsdemo.backend import Backend
from rsdemo.catalog import TOKENIZERS
from rsdemo.core.errors import (
    EmptyInputError,
    HubUnavailableError,
    InputError,
    InputTooLargeError,
    InvalidIdsError,
    InvalidRepoIdError,
    InvalidTextError,
    UnknownKeyError,
)
from rsdemo.core.settings import Settings
from rsdemo.loading import check_hub_reachable, needs_build, parse_hub_ref


@pytest.mark.parametrize(
    ("text", "error"),
    [("", EmptyInputError), ("a\udc80b", InvalidTextError)],
)
def test_bad_text_gets_a_clear_error(backend: Backend, text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        backend.tokenize(text=text, tokenizer="gpt2")
    assert backend.tokenize(text="still serving", tokenizer="gpt2").ids == [24219, 7351]


def test_whitespace_only_text_is_tokenised_and_compared(backend: Backend) -> None:
    """Issue 18, item 4: "\\n\\n\\t  " and 100,000 x "\\r\\n\\t" are text, on Tokenize and on Compare."""
    assert backend.tokenize(text="\n\n\t  ", tokenizer="gpt2").ids == [628, 197, 220, 220]
    long = "\r\n\t" * 100_000
    result = backend.tokenize(text=long, tokenizer="cl100k_base")
    assert result.stats.chars == 300_000 and result.truncated
    compared = backend.compare(text=long, tokenizers=["gpt2", "bert-base-uncased"])
    assert [r.stats.tokens for r in compared.results] == [300_000, 0]  # BERT drops whitespace: no tokens at all


def test_the_ids_box_holds_a_list_decode_takes_and_the_notice_says_so(backend: Backend) -> None:
    """Issue 18, item 5: the box holds the shown ids as a valid list; the note and the download say the rest."""
    from rsdemo.ui import _ids_note, _ids_text, _notice

    result = backend.tokenize(text="ab" * 3_000, tokenizer="char")
    limit = backend.settings.display_tokens
    box = _ids_text(result)
    assert backend.decode(ids=box, tokenizer="char").text == ("ab" * 3_000)[:limit]  # pasted into Decode as it is
    notice = _notice(result)
    assert f"first {limit:,} of 6,000 tokens" in notice and "ids cover the whole text" not in notice
    assert f"holds the {limit:,} ids shown" in notice and "all 6,000" in notice
    assert f"first {limit:,} of the 6,000 ids" in _ids_note(result)
    short = backend.tokenize(text="abc", tokenizer="char")
    assert _ids_text(short) == "[97, 98, 99]" and _ids_note(short) == "" and _notice(short) == ""


def test_text_over_the_limit_is_refused(backend: Backend) -> None:
    with pytest.raises(InputTooLargeError, match="limit"):
        backend.tokenize(text="x" * (backend.settings.max_text_chars + 1), tokenizer="byte")


def test_unknown_key_lists_known_keys(backend: Backend) -> None:
    with pytest.raises(UnknownKeyError) as info:
        backend.tokenize(text="hi", tokenizer="gpt5")
    for key in TOKENIZERS:
        assert key in str(info.value)


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/etc/passwd", "hf:../x", "a/b/c", "owner/name@../../x", "https://evil.example/x/y"]
)
def test_paths_and_traversal_are_not_repo_ids(backend: Backend, name: str) -> None:
    with pytest.raises((InvalidRepoIdError, UnknownKeyError)):
        backend.tokenize(text="hi", tokenizer=name)


def test_local_directories_are_never_loaded(backend: Backend, tmp_path, monkeypatch) -> None:
    (tmp_path / "owner" / "model").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidRepoIdError):
        backend.tokenize(text="hi", tokenizer="owner/model")


def test_hub_ref_parsing() -> None:
    assert parse_hub_ref("Qwen/Qwen2.5-0.5B") == ("Qwen/Qwen2.5-0.5B", None)
    assert parse_hub_ref("hf:gpt2@v1.0") == ("gpt2", "v1.0")


def test_offline_hub_fails_at_once_with_a_clear_message(backend: Backend) -> None:
    with pytest.raises(HubUnavailableError, match="HF_HUB_OFFLINE"):
        backend.tokenize(text="hi", tokenizer="Qwen/Qwen2.5-0.5B")
    assert backend.tokenize(text="hi", tokenizer="char").ids == [104, 105]


def test_unreachable_hub_fails_within_the_probe_timeout(monkeypatch, tmp_path) -> None:
    # Online mode, but the endpoint is a closed local port: refused at once, never a 46 s retry loop.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    settings = Settings(cache_dir=tmp_path, hub_offline=False, hub_timeout_s=2.0)
    started = time.monotonic()
    with pytest.raises(HubUnavailableError, match="cannot be reached"):
        check_hub_reachable(settings=settings)
    assert time.monotonic() - started < 10  # a bound on the failure path, not a performance target


def test_the_hub_state_is_said_and_the_hubs_models_left_out_when_it_is_off(monkeypatch, tmp_path) -> None:
    import socket

    from huggingface_hub import constants

    from rsdemo.catalog import MODELS

    hub_models = {m.key for m in MODELS.values() if m.source == "hub"}
    for settings, said in (
        (Settings(cache_dir=tmp_path, hub=False), "switched off on this server"),
        (Settings(cache_dir=tmp_path, hub_offline=True), "HF_HUB_OFFLINE=1"),
    ):
        off = Backend(settings=settings)
        assert said in off.hub_problem(probe=False) and said in off.hub_problem()
        keys = [key for _, key in off.model_choices_here(hub_problem=off.hub_problem())]
        assert "smollm2-135m-instruct" in keys and not hub_models & set(keys)
    # online mode: a listening endpoint is a usable Hub (every model offered), a closed port an unreachable one
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{listening.getsockname()[1]}")
        online = Backend(settings=Settings(cache_dir=tmp_path, hub_offline=False, hub_timeout_s=2.0))
        assert online.hub_problem() == ""
        assert hub_models <= {key for _, key in online.model_choices_here(hub_problem="")}
    probes = []
    monkeypatch.setattr("rsdemo.backend.hub_problem", lambda **kw: probes.append(kw) or "unreachable")
    assert online.hub_problem() == ""  # the last probe's answer stands for a while: one probe serves many pages
    online._hub_seen = (time.monotonic() - online.HUB_RECHECK_S - 1, "")
    assert online.hub_problem() == "unreachable" and len(probes) == 1


def test_first_build_is_reported_then_cached(tmp_path) -> None:
    settings = Settings(cache_dir=tmp_path, hub_offline=True)
    backend = Backend(settings=settings)
    messages: list[str] = []
    assert needs_build(key="smollm2", settings=settings)
    assert backend.needs_build("smollm2") and not backend.needs_build("cl100k_base")
    backend.tokenize(text="hi", tokenizer="smollm2", progress=messages.append)
    assert messages and "first time" in messages[0]
    assert not needs_build(key="smollm2", settings=settings)
    assert list(tmp_path.rglob("smollm2/tokenizer.json")) and list(tmp_path.rglob("smollm2/manifest.json"))
    fresh = Backend(settings=settings)
    messages.clear()
    fresh.tokenize(text="hi", tokenizer="smollm2", progress=messages.append)
    assert messages == []


def test_large_text_shows_a_window_and_keeps_stats_whole(backend: Backend) -> None:
    unit = "The quick brown fox jumps over the lazy dog. 東京 🙂\n"
    text = unit * (1_000_000 // len(unit))
    result = backend.tokenize(text=text, tokenizer="cl100k_base")
    assert result.truncated and result.shown_tokens == backend.settings.display_tokens
    assert len(result.ids) == len(backend.adapter("cl100k_base").encode(text, add_special_tokens=False))
    assert result.stats.tokens == len(result.ids) and result.stats.chars == len(text)
    flat = [i for s in result.segments for i in s.ids]
    assert flat == result.ids[: result.shown_tokens]
    assert text.startswith("".join(s.text for s in result.segments))


def test_windowed_segments_equal_full_segments(backend: Backend) -> None:
    text = "a  b\t东京 🇫🇷 e\u0301 1234567 <s> " * 3000
    for key in ("mistral-v1", "smollm2", "bert-base-uncased", "byte", "shakespeare-unigram", "llama3"):
        windowed = backend.tokenize(text=text, tokenizer=key, display_limit=300)
        full = backend.tokenize(text=text, tokenizer=key, display_limit=None)
        assert windowed.ids == full.ids
        n = len(windowed.segments) - 1  # the last windowed segment may still grow in the full view
        assert windowed.segments[:n] == full.segments[:n], key


def test_special_tokens_toggle(backend: Backend) -> None:
    plain = backend.tokenize(text="hello", tokenizer="bert-base-uncased", add_special_tokens=False)
    with_special = backend.tokenize(text="hello", tokenizer="bert-base-uncased", add_special_tokens=True)
    assert plain.ids == [7592]
    assert with_special.ids == [101, 7592, 102]
    assert [s.kind for s in with_special.segments] == ["special", "token", "special"]
    llama = backend.tokenize(text="hello", tokenizer="llama3", add_special_tokens=True)
    assert llama.ids[0] == 128000 and llama.segments[0].kind == "special"


def test_literal_special_token_strings_are_special_segments(backend: Backend) -> None:
    result = backend.tokenize(text="a<|endoftext|>b", tokenizer="gpt2")
    assert [(s.text, s.kind) for s in result.segments] == [("a", "token"), ("<|endoftext|>", "special"), ("b", "token")]


def test_token_details(backend: Backend) -> None:
    result = backend.tokenize(text=" world你", tokenizer="gpt2")
    info = result.tokens[995]
    assert (info.piece, info.bytes, info.special) == ("Ġworld", b" world", False)
    assert result.tokens[19526].bytes == "你".encode()[:2]
    sp = backend.token_info(tokenizer="mistral-v1", token_id=243)
    assert (sp.piece, sp.bytes) == ("<0xF0>", b"\xf0")
    assert backend.token_info(tokenizer="gpt2", token_id=50256).special


def test_decode_round_trip_and_bad_ids(backend: Backend) -> None:
    assert (
        backend.decode(ids="[15496, 995, 11, 220, 19526, 254, 25001, 121]", tokenizer="gpt2").text
        == "Hello world, 你好"
    )
    assert backend.decode(ids=[22557, 1526], tokenizer="mistral-v1").text == "Hello world"
    assert backend.decode(ids="19526", tokenizer="gpt2").text == "\ufffd"  # half a character, shown honestly
    for bad in ("[1, x]", "", "-1", "99999999"):
        with pytest.raises(InvalidIdsError):
            backend.decode(ids=bad, tokenizer="gpt2")
    with pytest.raises(InvalidIdsError, match="100261"):
        backend.decode(ids="100261", tokenizer="cl100k_base")  # a hole in cl100k's ids
    with pytest.raises(InvalidIdsError):
        backend.decode(ids="55296", tokenizer="char")  # a surrogate code point


def test_compare(backend: Backend) -> None:
    result = backend.compare(text="unbelievable tokenization", tokenizers=["gpt2", "bert-base-uncased", "char"])
    assert [r.info.key for r in result.results] == ["gpt2", "bert-base-uncased", "char"]
    assert any(result.marks[2]) and result.differing[2] == sum(result.marks[2])
    assert len(result.marks[0]) == len(result.results[0].segments)
    with pytest.raises(InputError, match="2 to 6"):
        backend.compare(text="x", tokenizers=["gpt2"])
    with pytest.raises(InputError):
        backend.compare(text="x", tokenizers=list(TOKENIZERS)[:7])
    with pytest.raises(UnknownKeyError):
        backend.compare(text="x", tokenizers=["gpt2", "nope"])


def test_compare_streams_one_tokenizer_at_a_time(backend: Backend) -> None:
    steps = backend.compare_steps(text="Hello world", tokenizers=["gpt2", "char", "byte"])
    first = next(steps)
    assert not first.done and [r.info.key for r in first.results] == ["gpt2"] and first.marks == []
    *_, last = steps
    assert last.done and len(last.results) == 3


@pytest.mark.timeout(120)  # a hang guard: before the fix this took hours and kept a core busy
@pytest.mark.parametrize("unit", [" ", "\t", "\n", " \t\n", "\u3000"])
def test_compare_on_a_million_whitespace_characters(backend: Backend, unit: str) -> None:
    text = "a" + unit * (1_000_000 // len(unit)) + "b"
    result = backend.compare(text=text, tokenizers=["char", "byte", "gpt2"])
    assert result.differing[:2] == [0, 0]  # char and byte split at the same places
    assert [r.stats.tokens for r in result.results][:2] == [len(text), len(text.encode())]


def test_compare_marks_boundaries_past_the_display_window(backend: Backend) -> None:
    # char and byte agree everywhere, past the 2,000 tokens shown too
    text = "a" + " " * 2500 + "b"
    result = backend.compare(text=text, tokenizers=["char", "byte"])
    assert result.results[0].truncated and result.differing == [0, 0] and not any(result.marks[0])


def test_injected_loader_runs_the_real_code_path(settings: Settings) -> None:
    from rsdemo.tokenization.adapters import ByteAdapter

    loaded: list[str] = []

    def fake_loader(name: str) -> ByteAdapter:
        loaded.append(name)
        return ByteAdapter()

    backend = Backend(settings=settings, tokenizer_loader=fake_loader)
    backend.tokenize(text="ab", tokenizer="gpt2")
    backend.tokenize(text="cd", tokenizer="gpt2")
    assert loaded == ["gpt2"]
    assert backend.tokenize(text="é", tokenizer="gpt2").segments[0].ids == (195, 169)


def test_every_catalog_tokenizer_loads_offline(backend: Backend) -> None:
    for key in TOKENIZERS:
        result = backend.tokenize(text="Hello world", tokenizer=key)
        assert result.ids and result.info.vocab_size >= 256, key


@pytest.mark.parametrize("name", ["x" * 1_000_000, "a/" + "b" * 100_000, "hf:" + "c" * 5000])
def test_huge_tokenizer_names_get_a_short_message(backend: Backend, name: str) -> None:
    with pytest.raises((UnknownKeyError, InvalidRepoIdError)) as info:
        backend.tokenize(text="hi", tokenizer=name)
    assert len(str(info.value)) < 600


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.tokenize(text=None, tokenizer="gpt2"),
        lambda b: b.tokenize(text="hi", tokenizer=None),
        lambda b: b.decode(ids=None, tokenizer="gpt2"),
        lambda b: b.compare(text="hi", tokenizers=None),
    ],
)
def test_missing_arguments_get_typed_errors(backend: Backend, call) -> None:
    from rsdemo.core.errors import RsdemoError

    with pytest.raises(RsdemoError):
        call(backend)
