"""Hypothesis properties of the display segments, through the real engines and on synthetic offsets.

For every catalog key and every text (Hypothesis-generated from hard characters and special-token strings):

(a) the segment texts join back to the input (tiling; gap segments cover what lossy tokenizers drop);
(b) the segment ids, flattened, equal ``result.ids`` and ``engine.encode(text)``;
(c) each non-gap segment's ``first`` is the number of ids before it;
(d) for lossless keys, each segment's token bytes are exactly its text's UTF-8 bytes (whole characters,
    no U+FFFD unless the input has one).
"""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference_segments import reference_segments

from rsdemo.backend import Backend
from rsdemo.catalog import TOKENIZERS
from rsdemo.core.errors import EmptyInputError
from rsdemo.tokenization.segments import Segment, build_segments

KEYS = list(TOKENIZERS)
SP_KEYS = [key for key, spec in TOKENIZERS.items() if spec.adapter == "sentencepiece"]
BYTE_LEVEL_KEYS = [key for key, spec in TOKENIZERS.items() if spec.family == "byte-level BPE"] + ["byte"]
LOSSLESS_KEYS = [key for key, spec in TOKENIZERS.items() if spec.lossless]

SPECIAL_STRINGS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|begin_of_text|>",
    "<|eot_id|>",
    "<|endofprompt|>",
    "<|fim_prefix|>",
    "<s>",
    "</s>",
    "<unk>",
    "[CLS]",
    "[SEP]",
    "[UNK]",
    "[MASK]",
    "<0x41>",
]
HARD_CHARS = [
    *"aZ09.,'!?-_#(){}$€",
    " ",
    "\t",
    "\n",
    "\r",
    *"東京タワー你好世界。",
    *"مرحباשלוםनमस्ते",
    "🙂",
    "👨",
    "👩",
    "👧",
    "🏽",
    "💻",
    "🇫",
    "🇷",
    "🏴",
    "\u200d",  # ZWJ
    "\u0301",  # combining acute
    "\u030a",  # combining ring
    "\u200b",  # zero-width space
    "\u200c",
    "\ufeff",  # BOM / zero-width no-break space
    "é",
    "e",
    "\ufffd",
]
_any_char = st.characters(blacklist_categories=("Cs",))
_chars = st.one_of(st.sampled_from(HARD_CHARS), _any_char)
_pieces = st.one_of(st.text(alphabet=_chars, min_size=1, max_size=12), st.sampled_from(SPECIAL_STRINGS))
TEXTS = st.lists(_pieces, min_size=1, max_size=8).map("".join).filter(lambda t: t.strip() != "")

PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _key_params(*, with_bos: bool) -> list:
    params = []
    for key in KEYS:
        for add in (False, True) if with_bos else (False,):
            params.append(pytest.param(key, add, id=f"{key}-{'special' if add else 'plain'}"))
    return params


@pytest.fixture(scope="module")
def loaded(backend: Backend) -> Backend:
    """Load every engine once before Hypothesis times anything."""
    for key in KEYS:
        backend.adapter(key)
    return backend


# --- through the real engines -------------------------------------------------------------------------------

_SINGLE_BYTES: dict[str, frozenset[int]] = {}


def _single_bytes(backend: Backend, key: str) -> frozenset[int]:
    """The byte values the vocabulary has a one-byte token for (all 256 for a complete byte-level BPE)."""
    if key not in _SINGLE_BYTES:
        engine = backend.adapter(key)
        if key in ("char", "byte"):
            found = set(range(256))
        else:
            found = set()
            for token_id in range(engine.vocab_size):
                if token_id in engine.special_ids or not engine.has_id(token_id):
                    continue
                data = engine.token_bytes(token_id)
                if data is not None and len(data) == 1:
                    found.add(data[0])
        _SINGLE_BYTES[key] = frozenset(found)
    return _SINGLE_BYTES[key]


def _check_segments(backend: Backend, key: str, text: str, add: bool) -> None:
    engine = backend.adapter(key)
    result = backend.tokenize(text=text, tokenizer=key, add_special_tokens=add, display_limit=None)
    segments = result.segments

    # (a) tiling, with each segment starting where the previous one ended
    assert "".join(s.text for s in segments) == text
    position = 0
    for seg in segments:
        assert seg.start == position, seg
        position = seg.end

    # (b) ids
    flat = [i for seg in segments for i in seg.ids]
    assert flat == result.ids == engine.encode(text, add_special_tokens=add)
    assert result.shown_tokens == len(result.ids) and not result.truncated

    # (c) token indices
    count = 0
    for seg in segments:
        if seg.kind == "gap":
            assert seg.ids == () and seg.first == -1 and seg.text != "", seg
            continue
        assert seg.ids, seg
        assert seg.first == count, (seg, count)
        count += len(seg.ids)
        assert (seg.kind == "special") == all(i in engine.special_ids for i in seg.ids), seg
    assert count == len(result.ids)
    assert not any(a.kind == b.kind == "gap" for a, b in itertools.pairwise(segments)), "gaps are maximal"

    # (d) segments of lossless tokenizers are whole characters, when the vocabulary has every byte of the text
    # (SmolLM2's lacks a few; the library drops those characters: test_smollm2_dropped_character_is_a_gap)
    if (key in LOSSLESS_KEYS or key in BYTE_LEVEL_KEYS) and set(text.encode("utf-8")) <= _single_bytes(backend, key):
        assert all(seg.kind != "gap" for seg in segments), "a lossless tokenizer covers every character"
        first_token = next((s for s in segments if s.kind == "token"), None)
        for seg in segments:
            if not seg.text:
                continue
            if seg.kind == "special":
                assert "".join(engine.piece(i) for i in seg.ids) == seg.text, seg
                continue
            data = b"".join(engine.token_bytes(i) or b"" for i in seg.ids)
            expected = seg.text.encode("utf-8")
            if TOKENIZERS[key].normalization == "NFC":  # qwen: the tokens carry the NFC form of the segment
                expected = unicodedata.normalize("NFC", seg.text).encode("utf-8")
            if key in SP_KEYS and seg is first_token and data == b" " + expected:
                data = expected  # SentencePiece's dummy-prefix space belongs to the first piece
            assert data == expected, (seg, data)
            if len(seg.ids) > 1 and "\ufffd" not in text:
                assert "\ufffd" not in engine.decode(list(seg.ids)), seg


@pytest.mark.parametrize(("key", "add"), _key_params(with_bos=True))
@PROPERTY_SETTINGS
@given(text=TEXTS)
def test_segment_invariants(loaded: Backend, key: str, add: bool, text: str) -> None:
    _check_segments(loaded, key, text, add)


@pytest.mark.parametrize("key", LOSSLESS_KEYS)
@PROPERTY_SETTINGS
@given(text=TEXTS)
def test_lossless_decode_round_trip(loaded: Backend, key: str, text: str) -> None:
    assume("\u2581" not in text)  # SentencePiece cannot round-trip a literal U+2581
    assume(set(text.encode("utf-8")) <= _single_bytes(loaded, key))  # bytes the vocabulary lacks are dropped
    engine = loaded.adapter(key)
    assert engine.decode(engine.encode(text, add_special_tokens=False)) == text


@pytest.mark.parametrize("key", BYTE_LEVEL_KEYS + SP_KEYS)
def test_vocabulary_byte_coverage(loaded: Backend, key: str) -> None:
    """Every byte-level / byte-fallback vocabulary has all 256 single bytes, except SmolLM2's."""
    missing = set(range(256)) - _single_bytes(loaded, key)
    if key == "smollm2":
        # The GGUF vocabulary lacks these bytes (0xC0, 0xC1, 0xF5-0xFF never occur in UTF-8; 0xF1/0xF2 lead
        # U+40000-U+BFFFF). Computed from the vocabulary, not assumed: the check is that it is a small set.
        assert {0x16, 0xF1, 0xF2} <= missing and len(missing) < 32
    else:
        assert missing == set()


def test_smollm2_dropped_character_is_a_gap(loaded: Backend) -> None:
    """A character SmolLM2's vocabulary cannot spell is dropped by the library (test_golden checks the official
    tokenizer does the same); the segments still tile the text, with the dropped character as a gap."""
    result = loaded.tokenize(text="a\x16b", tokenizer="smollm2", display_limit=None)
    assert [(s.text, s.kind) for s in result.segments] == [("a", "token"), ("\x16", "gap"), ("b", "token")]
    assert loaded.adapter("smollm2").decode(result.ids) == "ab"


_WHITESPACE = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


@pytest.mark.parametrize("key", KEYS)
@PROPERTY_SETTINGS
@given(text=st.text(alphabet=_WHITESPACE, min_size=1, max_size=30), add=st.booleans())
def test_blank_text_is_tokenised(loaded: Backend, key: str, text: str, add: bool) -> None:
    """Whitespace-only text is text (issue 18, item 4): every tokenizer splits it and the segments tile it."""
    assert text.strip() == ""
    _check_segments(loaded, key, text, add)


@pytest.mark.parametrize("key", KEYS)
def test_only_empty_text_is_refused(backend: Backend, key: str) -> None:
    with pytest.raises(EmptyInputError, match="empty"):
        backend.tokenize(text="", tokenizer=key)


@pytest.mark.parametrize("key", KEYS)
def test_invisible_but_not_blank_text_is_tokenised(loaded: Backend, key: str) -> None:
    """Zero-width characters are not whitespace to ``str.strip``: they must be tokenised, not refused."""
    text = "\u200b\ufeff \u200d"
    _check_segments(loaded, key, text, add=False)


# --- the windowed path --------------------------------------------------------------------------------------

_WINDOW_UNIT = (
    "👨‍👩‍👧‍👦 é e\u0301 東京タワー <|endoftext|> a    b\r\n\tdef f(x): return x**2  # ok 1234567890 "
    "नमस्ते 🇫🇷🇯🇵 a\u200bb\ufeffc [CLS] <s> "
)
LONG_TEXT = _WINDOW_UNIT * (50_001 // len(_WINDOW_UNIT) + 1)


@pytest.mark.parametrize("limit", [50, 7, 13, 31])
@pytest.mark.parametrize(
    ("key", "add"),
    [
        pytest.param(key, add, id=f"{key}-{'special' if add else 'plain'}")
        for key in ("gpt2", "mistral-v1", "bert-base-uncased", "char")
        for add in (False, True)
    ],
)
def test_windowed_segments_equal_full_segments(
    backend: Backend, key: str, add: bool, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(LONG_TEXT) > 50_000  # long enough for the windowed path
    full = backend.tokenize(text=LONG_TEXT, tokenizer=key, add_special_tokens=add, display_limit=None)

    window = backend.tokenize(text=LONG_TEXT, tokenizer=key, add_special_tokens=add, display_limit=limit)
    assert window.ids == full.ids
    assert window.shown_tokens == limit and window.truncated
    assert window.stats == full.stats
    segs = window.segments
    assert sum(len(s.ids) for s in segs) == limit
    assert [i for s in segs for i in s.ids] == full.ids[:limit]
    assert LONG_TEXT.startswith("".join(s.text for s in segs))
    # every window segment but the last is exactly the full view's; the last may be cut inside a group
    assert segs[:-1] == full.segments[: len(segs) - 1]
    last, ref = segs[-1], full.segments[len(segs) - 1]
    if last == ref:
        return
    if ref.kind != "gap":  # cut inside ref's group: same place, fewer ids (the dropped gap case aside)
        assert (last.start, last.first) == (ref.start, ref.first)
        assert ref.text.startswith(last.text) and ref.ids[: len(last.ids)] == last.ids
    following = [i for s in full.segments[len(segs) - 1 :] for i in s.ids]
    assert following[: len(last.ids)] == list(last.ids)
    assert LONG_TEXT[last.start :].startswith(last.text)


# --- build_segments on synthetic offsets (pure) -------------------------------------------------------------

SPECIAL_IDS = frozenset(range(10))  # ids below 10 are special; every other id is unique and increasing


@st.composite
def tokenised_texts(draw):
    """A text cut into spans; each span becomes tokens of one shape, or a gap.

    Returns ``(text, ids, offsets, groups, lone_specials, spans)``: ``groups`` lists, for every span whose
    tokens must become one segment, ``(start, end, index of its first token, ids)``; ``lone_specials`` the
    indices of inserted special tokens that must stand alone; ``spans`` every span some token covers.
    """
    text = draw(st.text(alphabet=_chars, max_size=30))
    n = len(text)
    cuts = sorted({0, n, *draw(st.lists(st.integers(0, n), max_size=n + 1))})
    fresh = itertools.count(100)
    ids: list[int] = []
    offsets: list[tuple[int, int]] = []
    groups: list[tuple[int, int, int, tuple[int, ...]]] = []
    lone_specials: list[int] = []  # token indices of zero-width specials that stand alone
    spans: list[tuple[int, int]] = []  # every span some token covers

    def add(token_id: int, span: tuple[int, int]) -> None:
        ids.append(token_id)
        offsets.append(span)

    if draw(st.booleans()):  # a BOS / [CLS]
        lone_specials.append(len(ids))
        add(draw(st.integers(0, 9)), (0, 0))
    for s, e in itertools.pairwise(cuts):
        if draw(st.integers(0, 5)) == 0:  # an inserted special between spans
            lone_specials.append(len(ids))
            add(draw(st.integers(0, 9)), (s, s))
        shape = draw(
            st.sampled_from(
                ["one", "shared", "byte-fallback", "gap", "overlap", "nested", "special-text", "lead-inside"]
                + ["interrupted"]
            )
        )
        before = len(ids)
        if shape == "one":
            add(next(fresh), (s, e))
        elif shape == "shared":  # byte-level BPE: several tokens of one character
            for _ in range(draw(st.integers(2, 4))):
                add(next(fresh), (s, e))
        elif shape == "byte-fallback":  # SentencePiece <0xNN> lead bytes: zero-width, then the last byte
            for _ in range(draw(st.integers(1, 3))):
                add(next(fresh), (s, s))
            if draw(st.integers(0, 4)) == 0:  # a zero-width special among them stays in the character's group
                add(draw(st.integers(0, 9)), (s, s))
                add(next(fresh), (s, s))
            add(next(fresh), (s, e))
        elif shape == "nested" and e - s >= 2:  # a later token inside an earlier, wider one
            add(next(fresh), (s, e))
            add(next(fresh), (s, draw(st.integers(s + 1, e - 1))))
        elif shape == "overlap" and e - s >= 2:  # tokens that share a character in the middle
            m = draw(st.integers(s + 1, e - 1))
            add(next(fresh), (s, m + 1))
            add(next(fresh), (m, e))
        elif shape == "special-text":  # a special token written in the text
            add(draw(st.integers(0, 9)), (s, e))
        elif shape == "lead-inside":  # zero-width pieces between tokens of one character join that character
            add(next(fresh), (s, e))
            for _ in range(draw(st.integers(1, 3))):
                add(next(fresh), (s, s))
            add(next(fresh), (s, e))
        elif shape == "interrupted":  # a special token between two tokens of one character (offsets go back)
            add(next(fresh), (s, e))
            add(draw(st.integers(0, 9)), (s, s))
            add(next(fresh), (s, e))
            spans.append((s, e))
            continue
        elif shape != "gap":
            add(next(fresh), (s, e))
        if len(ids) > before:
            groups.append((s, e, before, tuple(ids[before:])))
            spans.append((s, e))
    trailing = draw(st.sampled_from(["none", "special", "zero-width"]))
    if trailing == "special":  # [SEP] / EOS, at (0, 0) as Hugging Face reports it
        lone_specials.append(len(ids))
        add(draw(st.integers(0, 9)), (0, 0))
    elif trailing == "zero-width":  # a dangling lead byte
        add(next(fresh), (n, n))
    return text, ids, offsets, groups, lone_specials, spans


def _check_tiling(text: str, ids: list[int], segments: list[Segment], *, complete: bool) -> None:
    joined = "".join(s.text for s in segments)
    assert joined == text if complete else text.startswith(joined)
    position, count = 0, 0
    for seg in segments:
        assert seg.start == position
        position = seg.end
        if seg.kind == "gap":
            assert seg.ids == () and seg.first == -1 and seg.text
        else:
            assert seg.ids and seg.first == count
            assert (seg.kind == "special") == all(i in SPECIAL_IDS for i in seg.ids)
            count += len(seg.ids)
    assert [i for s in segments for i in s.ids] == ids
    assert not any(a.kind == b.kind == "gap" for a, b in itertools.pairwise(segments))


@settings(max_examples=300, deadline=None)
@given(case=tokenised_texts())
def test_build_segments_synthetic(case) -> None:
    text, ids, offsets, groups, lone_specials, spans = case
    segments = build_segments(text, ids=ids, offsets=offsets, special_ids=SPECIAL_IDS)
    _check_tiling(text, ids, segments, complete=True)

    # each span's tokens form exactly one segment with exactly that span's text
    by_first = {s.first: s for s in segments if s.kind != "gap"}
    for s, e, index, group_ids in groups:
        seg = by_first[index]
        assert (seg.text, seg.ids, seg.start) == (text[s:e], group_ids, s)
    # an inserted special stands alone, without text
    for index in lone_specials:
        assert by_first[index].text == "" and by_first[index].ids == (ids[index],)
        assert by_first[index].kind == "special"
    # text no token covers is a gap, and only that
    covered = set().union(*(range(s, e) for s, e in spans)) if spans else set()
    for seg in segments:
        inside = set(range(seg.start, seg.end))
        assert inside.isdisjoint(covered) if seg.kind == "gap" else inside <= covered


@settings(max_examples=300, deadline=None)
@given(case=tokenised_texts(), data=st.data())
def test_build_segments_with_limit(case, data) -> None:
    text, ids, offsets, *_ = case
    limit = data.draw(st.integers(0, len(ids)))
    full = build_segments(text, ids=ids, offsets=offsets, special_ids=SPECIAL_IDS)
    window = build_segments(
        text, ids=ids, offsets=offsets, special_ids=SPECIAL_IDS, limit=limit, tail_gap=limit == len(ids)
    )
    _check_tiling(text, ids[:limit], window, complete=limit == len(ids))
    if limit == len(ids):
        assert window == full
        return
    # compare with the full view without its trailing gap (a window cannot know the text after it, so
    # it cannot move closing specials past that gap either)
    full = build_segments(text, ids=ids, offsets=offsets, special_ids=SPECIAL_IDS, tail_gap=False)
    # every segment whose tokens all lie inside the window is exactly the full view's ...
    done = [j for j, seg in enumerate(full) if seg.kind != "gap" and seg.first + len(seg.ids) <= limit]
    kept = done[-1] + 1 if done else 0
    assert window[:kept] == full[:kept]
    # ... and what follows is at most a gap, then the first tokens of the one group the limit cut
    rest = window[kept:]
    assert not rest or any(seg.ids for seg in rest)
    assert [seg.kind for seg in rest].count("gap") <= (1 if rest and rest[0].kind == "gap" else 0)
    cut = next((seg for seg in full[kept:] if seg.kind != "gap"), None)
    if rest:
        assert cut is not None
        rest_ids = [i for seg in rest for i in seg.ids]
        assert rest_ids == list(cut.ids[: len(rest_ids)]) and len(rest_ids) < len(cut.ids)
        texts = "".join(seg.text for seg in rest if seg.kind != "gap")
        assert cut.text.startswith(texts)


@settings(max_examples=300, deadline=None)
@given(case=tokenised_texts(), data=st.data())
def test_fast_segments_equal_the_slow_reference(case, data) -> None:
    text, ids, offsets, *_ = case
    limit = data.draw(st.one_of(st.none(), st.integers(0, len(ids))))
    tail = limit is None or limit >= len(ids)
    args = dict(ids=ids, offsets=offsets, special_ids=SPECIAL_IDS, limit=limit, tail_gap=tail)
    assert build_segments(text, **args) == reference_segments(text, **args)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fast_segments_equal_the_slow_reference_on_arbitrary_offsets(data) -> None:
    """Offsets shaped as tokenizers make them: inserted specials at (0, 0) before and after the text
    (BERT's [CLS] … [SEP]); in between, starts that never go back, spans that overlap (byte-level tokens
    of one character) and zero-width non-special tokens (byte-fallback lead bytes); any ids."""
    text = data.draw(st.text(alphabet="ab 你🙂\n", max_size=12))
    spans: list[tuple[int, int]] = []
    ids: list[int] = []
    for _ in range(data.draw(st.integers(0, 2))):
        spans.append((0, 0))
        ids.append(data.draw(st.integers(0, 9)))
    floor = 0
    for _ in range(data.draw(st.integers(0, 8))):
        s = data.draw(st.integers(floor, len(text)))
        e = data.draw(st.integers(s, len(text)))
        spans.append((s, e))
        ids.append(data.draw(st.integers(10, 14)) if s == e else data.draw(st.integers(0, 14)))
        floor = s
    for _ in range(data.draw(st.integers(0, 2))):
        spans.append((0, 0))
        ids.append(data.draw(st.integers(0, 9)))
    args = dict(ids=ids, offsets=spans, special_ids=SPECIAL_IDS)
    fast = build_segments(text, **args)
    assert fast == reference_segments(text, **args)
    assert [i for seg in fast for i in seg.ids] == ids
