"""Benchmark: rsdemo's tokenize-with-segments against the tokenizer library's own encode call.

For every catalog tokenizer and every text size, this times, interleaved in one process
(raw, rsdemo, raw, rsdemo, ... for N rounds, median of each):

* rsdemo: ``Backend.tokenize(text=..., tokenizer=key)``, what the Tokenize tab calls (every id and
  stats over the whole text, display segments and token details for the first
  ``settings.display_tokens`` tokens);
* raw: the library's plain encode on the very same loaded object (see ``raw_call``);
* view (informational): ``tokenize`` plus building the ``Segment`` objects and the token details,
  which ``tokenize`` leaves to first use (the UI does this next, then renders HTML).

The target (from the issue) is rsdemo <= 1.5x raw. This script measures and never asserts: it
exits 0 unless something fails to run.

Usage::

    python benchmarks/bench_tokenize.py                       # every tokenizer, 10 KiB and 1 MiB
    python benchmarks/bench_tokenize.py --sizes 10k,48k,1m    # plus the largest whole-text-offsets case
    python benchmarks/bench_tokenize.py --keys gpt2,char --sizes 10k --rounds 15 --json out.json

The texts are built deterministically by ``build_texts`` (see ``CORPUS_DESCRIPTION``).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

import machine as common  # benchmarks/machine.py

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from rsdemo.backend import Backend  # noqa: E402
from rsdemo.catalog import TOKENIZERS  # noqa: E402
from rsdemo.core.settings import Settings  # noqa: E402
from rsdemo.tokenization.adapters import (  # noqa: E402
    ByteAdapter,
    CharAdapter,
    HFAdapter,
    SentencePieceAdapter,
    TiktokenAdapter,
    TokenizerAdapter,
)

TARGET_RATIO = 1.5
# UTF-8 bytes. "48k" (not run by default) is the largest text Backend.tokenize still encodes whole with
# offsets (its _SMALL_TEXT cut is 50,000 chars); 1m takes the encode + prefix-window path.
SIZES = {"10k": 10 * 1024, "48k": 48 * 1024, "1m": 1024 * 1024}
DEFAULT_SIZES = "10k,1m"
DEFAULT_ROUNDS = {"10k": 25, "48k": 11, "1m": 7}  # the default run: about 50-70 s on 2 cores

CORPUS_DESCRIPTION = (
    "One ~75 KB unit, repeated and cut to exactly N UTF-8 bytes: English prose (the Python Language "
    "Reference topics 'execmodel', 'naming', 'assignment', 'function', 'exceptions' and 'truth' from "
    "the stdlib's pydoc_data.topics), Python code (stdlib textwrap.py and json/decoder.py, in "
    "```python fences), markdown (this repo's assets/tokenizers/README.md), split into paragraphs, "
    "with one line of a fixed multilingual block (Chinese, Japanese, Korean, accented Latin, Cyrillic, "
    "Greek, Arabic, emoji with ZWJ / skin-tone / flag sequences) after every 4th paragraph. "
    "Deterministic for a given Python version and repo commit."
)

PROSE_TOPICS = ("execmodel", "naming", "assignment", "function", "exceptions", "truth")

MULTILINGUAL = """\
## 多言語 / 多语言 / 다국어 sample

中文：分词器把文本切成词元，每个词元对应词表中的一个编号。汉字在字节级 BPE 里常常被拆成多个字节。
日本語：トークナイザーはテキストをトークンに分割します。ひらがな、カタカナ、漢字が混ざっています。
한국어: 토크나이저는 텍스트를 토큰으로 나눕니다. 한글 음절은 UTF-8에서 3바이트입니다.
Français : « Le cœur a ses raisons que la raison ne connaît point. » — naïve façade, déjà vu.
Deutsch: Größenwahn, Straße, Übermäßig; Español: ¿Dónde está el niño? ¡Mañana!
Русский: Съешь же ещё этих мягких французских булок. Ελληνικά: Καλημέρα κόσμε.
العربية: مرحبا بالعالم
Emoji: 🙂 😂 👍🏽 🚀 ✨ 🧠 👩‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷 🇯🇵 ❤️ 🤖 — math: ∑ ∫ √2 ≈ 1.414, π ≈ 3.14159, x² + y² = z².
"""


# --- texts ----------------------------------------------------------------------------------------


def _corpus_unit() -> str:
    """Prose and markdown paragraphs and whole code files, with one multilingual line after every 4th."""
    import pydoc_data.topics
    import textwrap
    from json import decoder as json_decoder

    topics = pydoc_data.topics.topics
    prose = [topics[name] for name in PROSE_TOPICS if name in topics]
    code = [Path(mod.__file__).read_text(encoding="utf-8") for mod in (textwrap, json_decoder)]
    markdown = (REPO_ROOT / "assets" / "tokenizers" / "README.md").read_text(encoding="utf-8")
    blocks: list[str] = []
    for i, part in enumerate(prose):
        blocks.extend(p.strip("\n") for p in part.split("\n\n") if p.strip())
        if i < len(code):
            blocks.append(f"```python\n{code[i].strip()}\n```")
        if i == 2:
            blocks.extend(p.strip("\n") for p in markdown.split("\n\n") if p.strip())
    lines = MULTILINGUAL.strip().splitlines()
    out: list[str] = []
    for i, block in enumerate(blocks):
        out.append(block)
        if i % 4 == 3:
            out.append(lines[(i // 4) % len(lines)])
    return "\n\n".join(out) + "\n"


def make_text(n_bytes: int, unit: str | None = None) -> str:
    """Exactly ``n_bytes`` UTF-8 bytes of the corpus (cut at a character boundary, padded with spaces)."""
    unit = unit or _corpus_unit()
    unit_bytes = unit.encode("utf-8")
    data = (unit_bytes * (n_bytes // len(unit_bytes) + 1))[:n_bytes]
    text = data.decode("utf-8", errors="ignore")  # drops a cut multi-byte character at the end
    text += " " * (n_bytes - len(text.encode("utf-8")))
    assert len(text.encode("utf-8")) == n_bytes
    return text


def build_texts(size_names: Sequence[str]) -> dict[str, str]:
    unit = _corpus_unit()
    return {name: make_text(SIZES[name], unit) for name in size_names}


def describe_text(text: str) -> str:
    ascii_chars = sum(1 for c in text if ord(c) < 128)
    cjk = sum(1 for c in text if 0x3040 <= ord(c) <= 0x9FFF or 0xAC00 <= ord(c) <= 0xD7AF)
    astral = sum(1 for c in text if ord(c) > 0xFFFF)
    return (
        f"{len(text):,} chars, {len(text.encode()):,} bytes, {ascii_chars / len(text):.1%} ASCII, "
        f"{cjk:,} CJK/kana/hangul chars, {astral:,} astral (emoji) chars"
    )


# --- the two calls --------------------------------------------------------------------------------


def raw_call(engine: TokenizerAdapter) -> Callable[[str], list[int]]:
    """The underlying library's own plain encode call on the loaded object (no offsets, no segments).

    ``add_special_tokens=False`` for HF matches what ``Backend.tokenize`` encodes by default, so both
    sides produce the same ids; the cost of two extra [CLS]/[SEP] ids would be nil anyway. A wrapping
    engine (one with an ``_inner`` engine, such as the NFC wrapper Qwen gets) is unwrapped; when it
    normalises, raw normalises the same way first (``unicodedata.normalize``), as the model's own code does.
    """
    inner = getattr(engine, "inner", None)
    if inner is not None:
        inner_call = raw_call(inner)
        form = "NFC" if type(engine).__name__ == "NFCAdapter" else getattr(engine, "normalization", None)
        if form:
            return lambda text: inner_call(unicodedata.normalize(form, text))
        return inner_call
    if isinstance(engine, TiktokenAdapter):
        enc = engine.encoding
        return lambda text: enc.encode(text, allowed_special="all")
    if isinstance(engine, SentencePieceAdapter):
        return engine.processor.encode
    if isinstance(engine, HFAdapter):
        tok = engine.tokenizer
        return lambda text: tok.encode(text, add_special_tokens=False).ids
    if isinstance(engine, ByteAdapter):
        return lambda text: list(text.encode())
    if isinstance(engine, CharAdapter):
        return lambda text: list(map(ord, text))
    raise TypeError(f"no raw call for {type(engine).__name__}")


def rsdemo_call(backend: Backend, key: str) -> Callable[[str], list[int]]:
    # the ids stay a numpy array (``result.id_array``); ``result.ids`` would make the list on first use
    return lambda text: backend.tokenize(text=text, tokenizer=key).id_array


def view_call(backend: Backend, key: str) -> Callable[[str], list[int]]:
    def run(text: str) -> list[int]:
        result = backend.tokenize(text=text, tokenizer=key)
        assert result.segments is not None and result.tokens is not None
        return result.ids

    return run


def _time_once(fn: Callable[[str], list[int]], text: str, *, keep_gc: bool = False) -> tuple[float, int]:
    gc.collect()
    if not keep_gc:
        gc.disable()
    try:
        start = time.perf_counter()
        ids = fn(text)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return elapsed, len(ids)


@dataclasses.dataclass
class Row:
    tokenizer: str
    engine: str
    size: str
    chars: int
    bytes: int
    tokens: int
    raw_tokens: int
    rounds: int
    raw_ms: float
    rsdemo_ms: float
    view_ms: float
    ratio: float
    ok: bool
    raw_all_ms: list[float]
    rsdemo_all_ms: list[float]


def bench_pair(backend: Backend, key: str, size: str, text: str, rounds: int, *, keep_gc: bool = False) -> Row:
    engine = backend.adapter(key)
    raw, ours, view = raw_call(engine), rsdemo_call(backend, key), view_call(backend, key)
    _, raw_tokens = _time_once(raw, text)  # warm-up (first calls build caches)
    _, tokens = _time_once(ours, text)
    _time_once(view, text)
    raw_times: list[float] = []
    our_times: list[float] = []
    view_times: list[float] = []
    for _ in range(rounds):  # interleaved: A, B, C, A, B, C, ...
        raw_times.append(_time_once(raw, text, keep_gc=keep_gc)[0])
        our_times.append(_time_once(ours, text, keep_gc=keep_gc)[0])
        view_times.append(_time_once(view, text, keep_gc=keep_gc)[0])
    raw_ms = statistics.median(raw_times) * 1e3
    our_ms = statistics.median(our_times) * 1e3
    view_ms = statistics.median(view_times) * 1e3
    ratio = our_ms / raw_ms if raw_ms > 0 else float("inf")
    return Row(
        tokenizer=key,
        engine=type(engine).__name__,
        size=size,
        chars=len(text),
        bytes=len(text.encode()),
        tokens=tokens,
        raw_tokens=raw_tokens,
        rounds=rounds,
        raw_ms=round(raw_ms, 3),
        rsdemo_ms=round(our_ms, 3),
        view_ms=round(view_ms, 3),
        ratio=round(ratio, 2),
        ok=ratio <= TARGET_RATIO,
        raw_all_ms=[round(t * 1e3, 3) for t in raw_times],
        rsdemo_all_ms=[round(t * 1e3, 3) for t in our_times],
    )


# --- reporting ------------------------------------------------------------------------------------


def machine_info() -> dict[str, object]:
    return {
        **common.machine_info(dists=("tiktoken", "sentencepiece", "tokenizers", "numpy", "transformers")),
        "rayon_threads": os.environ.get("RAYON_NUM_THREADS"),
        "tokenizers_parallelism": os.environ.get("TOKENIZERS_PARALLELISM"),
    }


def print_table(rows: Sequence[Row]) -> None:
    header = ("tokenizer", "size", "tokens", "raw ms", "rsdemo ms", "ratio", "<=1.5x", "view ms")
    lines = [header]
    for r in rows:
        tokens = f"{r.tokens:,}" if r.tokens == r.raw_tokens else f"{r.tokens:,} (raw {r.raw_tokens:,})"
        lines.append(
            (
                r.tokenizer,
                r.size,
                tokens,
                f"{r.raw_ms:.2f}",
                f"{r.rsdemo_ms:.2f}",
                f"{r.ratio:.2f}",
                "yes" if r.ok else "NO",
                f"{r.view_ms:.2f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))]
        print("  ".join(cells))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated, from {', '.join(SIZES)}")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="timed rounds per pair (default: " + ", ".join(f"{k}: {v}" for k, v in DEFAULT_ROUNDS.items()) + ")",
    )
    parser.add_argument("--keys", default="", help="comma-separated tokenizer keys (default: the whole catalog)")
    parser.add_argument(
        "--cache-dir", default=None, help="rsdemo cache dir (default: RSDEMO_CACHE_DIR or ~/.cache/rsdemo)"
    )
    parser.add_argument(
        "--keep-gc",
        action="store_true",
        help="leave the garbage collector on while timing (default: gc.disable() around each timed call)",
    )
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {unknown}; known: {list(SIZES)}")
    keys = [k.strip() for k in args.keys.split(",") if k.strip()] or list(TOKENIZERS)
    bad_keys = [k for k in keys if k not in TOKENIZERS]
    if bad_keys:
        parser.error(f"unknown tokenizer key(s) {bad_keys}; known: {list(TOKENIZERS)}")
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")

    settings = Settings.from_env(os.environ)
    if args.cache_dir:
        settings = dataclasses.replace(settings, cache_dir=Path(args.cache_dir).expanduser())
    backend = Backend(settings=settings)

    machine = machine_info()
    print(
        "machine:",
        machine["cpu"],
        f"| {machine['cores']} cores ({machine['usable_cores']} usable)",
        "|",
        machine["python"],
        "|",
        machine["platform"],
    )
    print(
        "libraries:",
        ", ".join(f"{k} {v}" for k, v in machine["versions"].items()),
        f"| rsdemo {machine['rsdemo_commit']} (rsdemo/*.py sha256 {machine['rsdemo_source_sha256']})",
    )
    print(
        f"settings: display_tokens={settings.display_tokens}, cache_dir={settings.cache_dir}, "
        f"gc {'on' if args.keep_gc else 'off'} while timing"
    )
    texts = build_texts(sizes)
    print("corpus:", CORPUS_DESCRIPTION)
    for name, text in texts.items():
        print(f"  {name}: {describe_text(text)}")
    print()

    rows: list[Row] = []
    started = time.perf_counter()
    for key in keys:
        t0 = time.perf_counter()
        backend.adapter(key)  # load once (first use may build an artefact into the cache)
        load_s = time.perf_counter() - t0
        for size in sizes:
            rounds = args.rounds or DEFAULT_ROUNDS[size]
            row = bench_pair(backend, key, size, texts[size], rounds, keep_gc=args.keep_gc)
            rows.append(row)
            print(
                f"  {key:<20} {size:<4} raw {row.raw_ms:9.2f} ms  rsdemo {row.rsdemo_ms:9.2f} ms  "
                f"x{row.ratio:<6.2f} (load {load_s:.2f} s)",
                flush=True,
            )
    print(
        f"\n{len(rows)} pairs in {time.perf_counter() - started:.1f} s; "
        f"median of interleaved rounds; target rsdemo/raw <= {TARGET_RATIO}\n"
    )
    print_table(rows)

    if args.json:
        payload = {
            "machine": machine,
            "corpus": CORPUS_DESCRIPTION,
            "texts": {name: describe_text(text) for name, text in texts.items()},
            "display_tokens": settings.display_tokens,
            "gc_during_timing": args.keep_gc,
            "target_ratio": TARGET_RATIO,
            "results": [dataclasses.asdict(r) for r in rows],
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
