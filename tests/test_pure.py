"""Pure modules, in milliseconds: segments, compare, stats, inputs, cache, catalog, render."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rsdemo.catalog import TOKENIZERS, get_tokenizer_spec
from rsdemo.core.cache import LoadCache
from rsdemo.core.errors import EmptyInputError, InputTooLargeError, InvalidIdsError, InvalidTextError, UnknownKeyError
from rsdemo.core.inputs import check_text, parse_ids
from rsdemo.core.settings import Settings
from rsdemo.render import render_token_view, visible_text
from rsdemo.tokenization.adapters import byte_to_unicode, char_offsets_from_byte_spans
from rsdemo.tokenization.compare import boundary_mask, differs_mask, shared_mask, snap_table
from rsdemo.tokenization.segments import Segment, build_segments, segment_table
from rsdemo.tokenization.stats import text_stats

# --- segments -----------------------------------------------------------------------------------


def test_byte_level_tokens_sharing_a_character_form_one_segment() -> None:
    # GPT-2 splits 你 into two byte tokens: both point at the same character.
    segs = build_segments("a你", ids=[64, 19526, 254], offsets=[(0, 1), (1, 2), (1, 2)])
    assert [(s.text, s.ids, s.first) for s in segs] == [("a", (64,), 0), ("你", (19526, 254), 1)]


def test_token_spanning_two_characters_merges_overlapping_runs() -> None:
    # tokens: [你 lead bytes] [你 tail + 好 lead] [好 tail]: one segment "你好" with three ids
    segs = build_segments("你好", ids=[1, 2, 3], offsets=[(0, 1), (0, 2), (1, 2)])
    assert [(s.text, s.ids) for s in segs] == [("你好", (1, 2, 3))]


def test_byte_fallback_lead_bytes_join_the_piece_that_carries_the_text() -> None:
    # sentencepiece: <0xF0><0x9F><0x87> have empty spans, <0xAB> carries the flag half
    segs = build_segments("x🇫", ids=[9, 243, 162, 138, 174], offsets=[(0, 1), (1, 1), (1, 1), (1, 1), (1, 2)])
    assert [(s.text, s.ids, s.first) for s in segs] == [("x", (9,), 0), ("🇫", (243, 162, 138, 174), 1)]


def test_inserted_special_tokens_and_gaps() -> None:
    text = "hi  there"
    segs = build_segments(text, ids=[101, 7, 8, 102], offsets=[(0, 0), (0, 2), (4, 9), (0, 0)], special_ids={101, 102})
    assert [(s.text, s.ids, s.kind) for s in segs] == [
        ("", (101,), "special"),
        ("hi", (7,), "token"),
        ("  ", (), "gap"),
        ("there", (8,), "token"),
        ("", (102,), "special"),
    ]
    assert "".join(s.text for s in segs) == text


def test_limit_stops_after_n_tokens_and_keeps_no_tail_gap() -> None:
    segs = build_segments("abc", ids=[1, 2, 3], offsets=[(0, 1), (1, 2), (2, 3)], limit=2, tail_gap=False)
    assert [s.text for s in segs] == ["a", "b"]


def test_trailing_uncovered_text_is_a_gap() -> None:
    segs = build_segments("ab ", ids=[1], offsets=[(0, 2)])
    assert [(s.text, s.kind) for s in segs] == [("ab", "token"), (" ", "gap")]


def test_empty_input_gives_no_segments() -> None:
    assert build_segments("", ids=[], offsets=[]) == []


def test_char_offsets_from_byte_spans_widens_to_whole_characters() -> None:
    def spans(text: str, pairs: list[tuple[int, int]]) -> list[list[int]]:
        starts, ends = zip(*pairs)
        return char_offsets_from_byte_spans(text, np.array(starts), np.array(ends)).tolist()

    assert spans("é🙂", [(0, 1), (1, 2), (2, 4), (4, 6)]) == [[0, 1], [0, 1], [1, 2], [1, 2]]  # 2 + 4 bytes
    assert spans("ab", [(0, 1), (1, 2)]) == [[0, 1], [1, 2]]
    assert spans("é", [(0, 0), (0, 2), (2, 2)]) == [[0, 0], [0, 1], [1, 1]]


def test_byte_to_unicode_is_a_bijection_onto_printable_characters() -> None:
    table = byte_to_unicode()
    assert len(set(table.values())) == 256
    assert all(c.isprintable() and not c.isspace() for c in table.values())


# --- compare ------------------------------------------------------------------------------------


def _shared(text: str, *tables):
    snap = snap_table(text)
    return snap, shared_mask(snap, [boundary_mask(snap, t) for t in tables])


def test_compare_ignores_where_whitespace_goes() -> None:
    text = "hello world"
    gpt = segment_table(text, ids=[1, 2], offsets=[(0, 5), (5, 11)])
    bert = segment_table(text, ids=[1, 2], offsets=[(0, 5), (6, 11)])
    snap, shared = _shared(text, gpt, bert)
    assert np.flatnonzero(shared).tolist() == [0, 6, 11]
    assert not differs_mask(snap, gpt, shared).any() and not differs_mask(snap, bert, shared).any()


def test_compare_marks_segments_on_unshared_boundaries() -> None:
    text = "unhappy day"
    a = segment_table(text, ids=[1, 2, 3], offsets=[(0, 2), (2, 7), (7, 11)])
    b = segment_table(text, ids=[4, 5], offsets=[(0, 7), (7, 11)])
    snap, shared = _shared(text, a, b)
    assert np.flatnonzero(boundary_mask(snap, a)).tolist() == [0, 2, 8, 11]
    assert np.flatnonzero(boundary_mask(snap, b)).tolist() == [0, 8, 11]
    assert differs_mask(snap, a, shared).tolist() == [True, True, False]
    assert differs_mask(snap, b, shared).tolist() == [False, False]


def test_compare_counts_unknown_and_dropped_spans_as_boundaries() -> None:
    text = "Hi \U0001f44b there\x00!"  # BERT maps the emoji to [UNK] and drops the NUL
    gpt = segment_table(text, ids=[1, 2, 3, 4, 5, 6], offsets=[(0, 2), (2, 4), (2, 4), (4, 10), (10, 11), (11, 12)])
    bert = segment_table(text, ids=[7, 100, 8, 9], offsets=[(0, 2), (3, 4), (4, 10), (11, 12)], special_ids={100})
    snap, shared = _shared(text, gpt, bert)
    assert np.flatnonzero(shared).tolist() == [0, 3, 5, 10, 11, 12]
    assert not differs_mask(snap, gpt, shared).any() and not differs_mask(snap, bert, shared).any()


def test_compare_snaps_over_every_kind_of_whitespace() -> None:
    text = "a\u3000\t\n b\u00a0c"
    assert snap_table(text).tolist() == [0, 5, 5, 5, 5, 5, 7, 7, 8]


@pytest.mark.timeout(60)  # a hang guard: the old per-segment scan took hours on this text
def test_compare_is_linear_on_a_million_spaces() -> None:
    text = "a" + " " * 1_000_000 + "b"
    chars = segment_table(text, ids=list(map(ord, text)), offsets=[(i, i + 1) for i in range(len(text))])
    whole = segment_table(text, ids=[1, 2, 3], offsets=[(0, 1), (1, 1_000_001), (1_000_001, 1_000_002)])
    snap, shared = _shared(text, chars, whole)
    assert not differs_mask(snap, chars, shared).any() and not differs_mask(snap, whole, shared).any()


# --- stats and inputs ---------------------------------------------------------------------------


def test_stats() -> None:
    s = text_stats(text="one two three", n_tokens=4, vocab_size=100)
    assert (s.tokens, s.chars, s.bytes, s.words) == (4, 13, 13, 3)
    assert (s.chars_per_token, s.bytes_per_token, s.tokens_per_word) == (3.25, 3.25, 1.33)
    assert text_stats(text="", n_tokens=0, vocab_size=1).chars_per_token == 0.0


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", EmptyInputError),
        ("x" * 11, InputTooLargeError),
        ("ok \ud800 no", InvalidTextError),
        (b"bytes", InvalidTextError),
        (None, InvalidTextError),
    ],
)
def test_check_text_refuses_bad_text_clearly(text: object, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        check_text(text, max_chars=10)
    assert len(str(info.value)) > 20


@pytest.mark.parametrize("text", ["\n\n\t  ", " ", "\u3000", "\r\n\t" * 100_000])
def test_whitespace_only_text_is_text(text: str) -> None:
    """Issue 18, item 4: a tokenizer tool with a "Show whitespace" option takes whitespace; only "" is empty."""
    assert check_text(text, max_chars=1_000_000) == text.encode("utf-8")
    with pytest.raises(EmptyInputError, match="empty") as info:
        check_text("", max_chars=10)
    assert "only whitespace" not in str(info.value)


def test_check_text_names_the_lone_surrogate() -> None:
    with pytest.raises(InvalidTextError, match="U\\+D800 at character 3"):
        check_text("ok \ud800", max_chars=100)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("[1, 2, 3]", [1, 2, 3]), ("1 2 3", [1, 2, 3]), ("1,2;3\n4", [1, 2, 3, 4]), (" [ 7 ] ", [7]), ("+5", [5])],
)
def test_parse_ids(raw: str, expected: list[int]) -> None:
    assert parse_ids(raw, max_ids=100) == expected


@pytest.mark.parametrize("raw", ["", "[]", "1, two", "1.5", "-3", "[1, 2", "0x10", "9" * 30, "1 2 3 4"])
def test_parse_ids_refuses_malformed_lists(raw: str) -> None:
    with pytest.raises(InvalidIdsError):
        parse_ids(raw, max_ids=3)


# --- catalog and settings -----------------------------------------------------------------------


def test_catalog_has_every_family_the_issue_names() -> None:
    keys = set(TOKENIZERS)
    assert {
        "gpt2",
        "cl100k_base",
        "o200k_base",
        "llama3",
        "qwen",
        "mistral-v1",
        "bert-base-uncased",
        "smollm2",
        "char",
        "word",
        "byte",
    } <= keys
    families = {s.family for s in TOKENIZERS.values()}
    assert {
        "byte-level BPE",
        "SentencePiece BPE",
        "SentencePiece Unigram",
        "WordPiece",
        "character",
        "word",
        "byte",
    } <= families


def test_unknown_key_lists_the_known_ones() -> None:
    with pytest.raises(UnknownKeyError) as info:
        get_tokenizer_spec("gpt5")
    assert "gpt5" in str(info.value) and "gpt2" in str(info.value) and "llama3" in str(info.value)


def test_settings_from_env() -> None:
    s = Settings.from_env({"RSDEMO_CACHE_DIR": "/tmp/abc", "HF_HUB_OFFLINE": "true"})
    assert str(s.cache_dir) == "/tmp/abc" and s.hub_offline
    assert not Settings.from_env({}).hub_offline


# --- render -------------------------------------------------------------------------------------


def test_render_escapes_user_text_and_marks_kinds() -> None:
    segs = [
        Segment("", (1,), 0, 0, "special"),
        Segment("<b>x</b>", (5,), 0, 1, "token"),
        Segment(" ", (), 8, -1, "gap"),
    ]
    html = render_token_view(segs, tokens={}, show_whitespace=False)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "rs-special" in html and "rs-gap" in html and "rs-c0" in html


def test_visible_text_draws_whitespace_and_invisible_characters() -> None:
    shown = visible_text("a\tb\u200bc", show_whitespace=True)
    assert "⇥" in shown and "U+200B" in shown
    assert visible_text("a b", show_whitespace=False) == "a b"


def _seg(text: str, ids: tuple[int, ...], start: int, first: int, kind: str = "token") -> Segment:
    return Segment(text, ids, start, first, kind)


def test_bidi_controls_never_reorder_the_token_view() -> None:
    """Issue 18, item 3: U+202E inside a token is isolated (text) or drawn as its name (whitespace shown)."""
    segs = [_seg("\u202e", (447, 106), 0, 0), _seg("abc", (39305,), 1, 2), _seg(" def", (825,), 4, 3)]
    plain = render_token_view(segs, tokens={}, show_whitespace=False)
    assert '<bdi class="rs-bidi">\u202e</bdi>' in plain and 'dir="auto"' in plain
    assert plain.count("\u202e") == 2  # the isolated character and the details' JSON; nothing else
    shown = render_token_view(segs, tokens={}, show_whitespace=True)
    assert ">RLO</span>" in shown and "\u202e" not in shown.split("data-d")[0]
    for control in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c":
        assert f'<bdi class="rs-bidi">{control}</bdi>' in visible_text(f"a{control}b", show_whitespace=False)
        assert control not in visible_text(f"a{control}b", show_whitespace=True)
    from types import SimpleNamespace

    from rsdemo.render import render_generation  # the generation view draws token text the same way

    token = SimpleNamespace(id=1, piece="x", prob=0.5, raw_prob=0.5, top=(), raw_top=())
    gen = render_generation([SimpleNamespace(text="\u202eabc", tokens=(0,), special=False)], [token])
    assert '<bdi class="rs-bidi">\u202e</bdi>abc' in gen and 'dir="auto"' in gen
    from rsdemo.render import plain_label  # the beam tree's SVG text: no markup, the control named

    assert plain_label("\u202eabc") == "RLOabc" and plain_label("\n") == "↵"


def test_a_token_that_draws_nothing_gets_a_visible_marker() -> None:
    """Issue 18, item 12: U+200D, newlines and lone combining marks are labelled; spaces and text are not."""
    from rsdemo.render import blank_marker, render_decode, render_generation

    assert blank_marker("\u200d", show_whitespace=False) == "ZWJ"
    assert blank_marker("\n", show_whitespace=False) == "↵" and blank_marker("\r\n", show_whitespace=False) == "␍↵"
    assert blank_marker("\u0301", show_whitespace=True) == "◌\u0301"
    assert blank_marker(" ", show_whitespace=False) == blank_marker("\t", show_whitespace=False) == ""
    assert blank_marker("a\u200d", show_whitespace=False) == blank_marker("\n", show_whitespace=True) == ""
    segs = [_seg(" 👩", (50, 51), 0, 0), _seg("\u200d", (447, 235), 2, 2), _seg("\n\n", (628,), 3, 4)]
    view = render_token_view(segs, tokens={}, show_whitespace=False)
    assert view.count("rs-zw") == 2 and 'data-zw="ZWJ"' in view and 'data-zw="↵↵"' in view
    assert "rs-zw" not in render_token_view(segs[:1], tokens={}, show_whitespace=False)
    from types import SimpleNamespace

    token = SimpleNamespace(id=198, piece="Ċ", prob=0.5, raw_prob=0.5, top=(), raw_top=())
    gen = render_generation([SimpleNamespace(text="\n", tokens=(0,), special=False)], [token])
    assert 'data-zw="↵"' in gen
    decoded = render_decode([SimpleNamespace(as_dict=lambda: {"id": 10, "piece": "\n", "bytes": "0a"})])
    assert "↵" in decoded


def test_long_tokens_are_boxes_and_long_gaps_are_cut() -> None:
    """Issue 18, item 12: a long token is one box (.rs-long) unless it holds a line break; a huge gap is counted."""
    from rsdemo.render import GAP_CHARS

    segs = [_seg("=" * 64, (23926,), 0, 0), _seg(" a", (257,), 64, 1), _seg("\n" * 20, (1,), 66, 2)]
    view = render_token_view(segs, tokens={}, show_whitespace=False)
    assert view.count("rs-long") == 1
    assert "rs-long" not in render_token_view(segs, tokens={}, show_whitespace=False, show="ids")
    gap = render_token_view([_seg("\r\n\t" * 100_000, (), 0, -1, "gap")], tokens={}, show_whitespace=False)
    assert len(gap) < 40 * GAP_CHARS and "299,000 more characters not covered by any token" in gap
    assert "No tokens" in gap and "⇥" in gap  # dropped whitespace is drawn even with whitespace off


def test_share_links_carry_every_setting_and_pick_the_tab() -> None:
    """Issue 18, item 8: whitespace and the token label come back; a Compare link opens the Compare tab."""
    from rsdemo.share import parse_share_query

    state = parse_share_query({"tokenizer": "llama3", "text": "Hi 🇫🇷", "special": "1", "ws": "1", "show": "ids"})
    assert (state.tokenizer, state.text, state.special, state.whitespace, state.show, state.tab) == (
        "llama3",
        "Hi 🇫🇷",
        True,
        True,
        "ids",
        "tokenize",
    )
    compare = parse_share_query({"compare": "gpt2,llama3,gpt2", "text": "x", "ws": "0"})
    assert compare.tab == "compare" and compare.compare == ("gpt2", "llama3") and compare.whitespace is False
    assert parse_share_query({"compare": "gpt2"}).tab == "tokenize"  # one tokenizer is not a comparison
    assert parse_share_query({"show": "bogus", "ws": "perhaps"}).show is None


def test_the_ids_file_is_a_list_decode_takes(tmp_path) -> None:
    """Issue 18, item 5: every id, as a JSON list, written once per content; old files are pruned."""
    import json

    from rsdemo.downloads import write_ids_file

    ids = np.arange(1_000_000, dtype=np.int64) % 50_257
    path = write_ids_file(ids=ids, tokenizer="openai/gpt2", directory=tmp_path)
    assert path.name == "token-ids-openai_gpt2-1000000.json" and json.loads(path.read_text()) == ids.tolist()
    assert parse_ids(path.read_text()[:30] + "]", max_ids=10)  # the same form as the Token ids box
    again = write_ids_file(ids=ids, tokenizer="openai/gpt2", directory=tmp_path)
    assert again == path
    for n in range(5):
        write_ids_file(ids=[n], tokenizer="gpt2", directory=tmp_path, keep=3)
    assert len(list(tmp_path.iterdir())) == 3


# --- cache --------------------------------------------------------------------------------------


def test_cache_loads_once_under_concurrent_requests() -> None:
    calls: list[str] = []
    gate = threading.Event()

    def slow_loader(key: str) -> str:
        calls.append(key)
        gate.wait(2)
        return key * 2

    cache: LoadCache[str, str] = LoadCache(loader=slow_loader, max_items=4)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("ab"))) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    gate.set()
    for t in threads:
        t.join()
    assert calls == ["ab"] and results == ["abab"] * 8


def test_cache_evicts_least_recently_used_and_reports_it() -> None:
    evicted: list[tuple[str, str]] = []
    cache: LoadCache[str, str] = LoadCache(loader=str.upper, max_items=2, on_evict=lambda k, v: evicted.append((k, v)))
    cache.get("a"), cache.get("b"), cache.get("a"), cache.get("c")
    assert evicted == [("b", "B")] and cache.keys() == ["a", "c"]
    cache.clear()
    assert cache.keys() == [] and ("a", "A") in evicted


def test_cache_does_not_keep_failures() -> None:
    attempts: list[int] = []

    def flaky(key: str) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("first load fails")
        return key

    cache: LoadCache[str, str] = LoadCache(loader=flaky, max_items=2)
    with pytest.raises(OSError):
        cache.get("k")
    assert cache.get("k") == "k" and len(attempts) == 2


# --- bootstrap ----------------------------------------------------------------------------------


def test_asset_bootstrap_only_acts_on_a_space_and_only_for_missing_packages() -> None:
    from rsdemo.bootstrap import ensure_asset_packages

    commands: list[list[str]] = []
    assert ensure_asset_packages(environ={}, run=commands.append) is False
    assert ensure_asset_packages(environ={"SPACE_ID": "me/rsdemo"}, run=commands.append) is False  # all installed
    assert commands == []


def test_a_closing_special_token_comes_after_the_text_it_closes() -> None:
    segs = build_segments("a  ", ids=[101, 7, 102], offsets=[(0, 0), (0, 1), (0, 0)], special_ids={101, 102})
    assert [(s.text, s.kind) for s in segs] == [("", "special"), ("a", "token"), ("  ", "gap"), ("", "special")]


@pytest.mark.parametrize(
    "text",
    [
        "word " * 30000,
        "  lead and trail  " * 7000,
        "tabs\tand\nnewlines\r\n\x1c\x1fseparators " * 4000,
        "no-break\u00a0space and ideographic\u3000space " * 3000,
        "東京 タワー 🙂 " * 12000,
        "x" * 120_000,
        " " * 120_000 + "x",
    ],
)
def test_fast_word_count_equals_str_split(text: str) -> None:
    from rsdemo.tokenization.stats import count_words

    assert count_words(text) == len(text.split())


def test_cache_is_bounded_by_weight_and_keeps_the_newest() -> None:
    evicted: list[str] = []
    cache: LoadCache[str, str] = LoadCache(
        loader=lambda k: k, max_items=10, weigh=len, max_weight=5, on_evict=lambda k, v: evicted.append(k)
    )
    cache.get("aa"), cache.get("bbb")
    assert cache.weight == 5 and evicted == []
    cache.get("c")
    assert evicted == ["aa"] and cache.keys() == ["bbb", "c"]
    cache.get("dddddddd")  # heavier than the bound alone: it stays, everything else goes
    assert cache.keys() == ["dddddddd"] and evicted == ["aa", "bbb", "c"]


def test_the_readme_lists_every_setting_as_settings_py_states_it() -> None:
    from pathlib import Path

    from rsdemo.core.settings import settings_markdown

    readme = (Path(__file__).resolve().parent.parent / "docs" / "operations.md").read_text(encoding="utf-8")
    assert settings_markdown() in readme


def test_settings_read_every_field_from_the_environment() -> None:
    from rsdemo.core.settings import Settings, settings_table

    env = {
        "RSDEMO_GENERATION_SLOTS": "5",
        "RSDEMO_HUB": "off",
        "RSDEMO_RUN_TIME_LIMIT_S": "2.5",
        "RSDEMO_MAX_MODEL_MB": "100",
        "HF_HUB_OFFLINE": "yes",
    }
    s = Settings.from_env(env)
    assert (s.generation_slots, s.hub, s.run_time_limit_s, s.max_model_bytes, s.hub_offline) == (
        5,
        False,
        2.5,
        100 * 1024 * 1024,
        True,
    )
    assert len(settings_table()) == len(Settings.__dataclass_fields__)
    for bad in ({"RSDEMO_GENERATION_SLOTS": "two"}, {"RSDEMO_MAX_TEXT_CHARS": "-1"}, {"RSDEMO_HUB": "maybe"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Settings.from_env(bad)
