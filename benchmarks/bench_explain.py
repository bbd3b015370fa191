"""Benchmark: the slowest "Why this split" replay per tokenizer: the last token of a long word with no spaces
(2,000 Latin letters), of a long CJK run (2,000 characters), and of a 2,000-character word of one repeated letter.

The replay's work is bounded: the chunk (the pre-tokenizer's stretch holding the token) is replayed with a heap
merge, O(n log n) in its bytes, and a chunk over ``MAX_CHUNK_BYTES`` (32,768) is refused; Unigram asks SentencePiece
for its 5 best segmentations of the chunk; WordPiece words over 100 characters are one [UNK]. Times are the median of
``--rounds`` calls of ``explain_token`` (after one warm-up call that builds the tables once per tokenizer).

Usage::

    python benchmarks/bench_explain.py [--rounds 5] [--keys gpt2,mistral-v1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import time

from rsdemo.backend import Backend
from rsdemo.catalog import TOKENIZERS
from rsdemo.tokenization.explain import MAX_CHUNK_BYTES, explain_token


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
    except OSError:
        return "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _texts() -> dict[str, str]:
    rng = random.Random(20)
    return {
        "latin-2000": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(2000)),
        "cjk-2000": "".join(rng.choice("東京タワーは高い你好世界日本語中文字漢") for _ in range(2000)),
        "aaaa-2000": "a" * 2000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keys", default=",".join(TOKENIZERS))
    args = parser.parse_args()
    backend = Backend()
    print(f"CPU: {_cpu_model()}; chunk bound {MAX_CHUNK_BYTES:,} bytes; median of {args.rounds} rounds")
    texts = _texts()
    print(f"{'tokenizer':<22}" + "".join(f"{name:>14}" for name in texts) + "   slowest")
    for key in args.keys.split(","):
        adapter = backend.adapter(key)
        info = backend.info(key)
        explain_token(adapter=adapter, key=key, family=info.family, text="warm up", index=0)
        row = []
        for text in texts.values():
            last = len(adapter.encode(text, add_special_tokens=False)) - 1
            times = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                explain_token(adapter=adapter, key=key, family=info.family, text=text, index=last)
                times.append(time.perf_counter() - start)
            row.append(statistics.median(times) * 1000)
        print(f"{key:<22}" + "".join(f"{ms:>11.1f} ms" for ms in row) + f"   {max(row):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
