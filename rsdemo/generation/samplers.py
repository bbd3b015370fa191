"""rsdemo's own logits processors for the samplers transformers lacks: presence/frequency penalties, DRY, XTC,
top-nσ, dynamic temperature and Mirostat v2, each after llama.cpp's ``src/llama-sampling.cpp``.

Each is a callable ``(input_ids, scores) -> scores`` like a transformers ``LogitsProcessor`` (``(batch, vocab)``
float tensors; ``input_ids`` is the text so far, prompt and output): ``generate`` takes them in its
``logits_processor=``, and the llama.cpp engine applies them to llama.cpp's logits. A removed token's score is
``-inf`` (llama.cpp drops it from its candidate array instead: the same distribution).

>>> import torch
>>> TopNSigma(1.0)(None, torch.tensor([[3.0, 2.0, 1.0, 0.0]])).tolist()
[[3.0, 2.0, -inf, -inf]]
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from typing import Any

__all__ = [
    "DRY",
    "DynamicTemperature",
    "MirostatV2",
    "PresenceFrequencyPenalty",
    "TopNSigma",
    "XTC",
    "breaker_tokens",
]


class PresenceFrequencyPenalty:
    """OpenAI's penalties over the last ``last_n`` ids (prompt and output), as llama.cpp's penalties sampler:
    ``logit -= count × frequency + (count > 0) × presence``."""

    def __init__(self, presence: float, frequency: float, last_n: int) -> None:
        self.presence, self.frequency, self.last_n = presence, frequency, last_n

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        window = input_ids[:, -self.last_n :]
        counts = torch.zeros_like(scores).scatter_add_(1, window, torch.ones_like(window, dtype=scores.dtype))
        return scores - counts * self.frequency - (counts > 0).to(scores.dtype) * self.presence


class TopNSigma:
    """Top-nσ (Tang et al., 2024): keep the tokens whose logit is at least ``max - n·σ`` (σ over the remaining
    logits, population standard deviation, as llama.cpp)."""

    def __init__(self, n: float) -> None:
        self.n = n

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        alive = torch.isfinite(scores)
        count = alive.sum(-1, keepdim=True).clamp(min=1)
        values = torch.where(alive, scores, torch.zeros_like(scores))
        mean = values.sum(-1, keepdim=True) / count
        std = (torch.where(alive, (scores - mean) ** 2, torch.zeros_like(scores)).sum(-1, keepdim=True) / count).sqrt()
        top = scores.max(-1, keepdim=True).values
        return scores.masked_fill(scores < top - self.n * std, -math.inf)


class DynamicTemperature:
    """llama.cpp's temp-ext: the temperature from the normalised entropy of the remaining tokens,
    ``T = lo + (hi - lo) · (H / log n)^exponent`` with ``lo = max(0, t - range)``, ``hi = t + range``."""

    def __init__(self, temperature: float, spread: float, exponent: float) -> None:
        self.temperature, self.spread, self.exponent = temperature, spread, exponent
        self.last: list[float] = []  # the temperature of each row at the last call (the Inside tab can say it)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        lo, hi = max(0.0, self.temperature - self.spread), self.temperature + self.spread
        out, self.last = scores.clone(), []
        for row in range(scores.shape[0]):
            alive = torch.isfinite(scores[row])
            n = int(alive.sum())
            if n <= 1:
                self.last.append(self.temperature)
                continue
            p = torch.softmax(scores[row][alive].double(), -1)
            entropy = float(-(p * torch.log(p.clamp_min(1e-300))).sum())
            temp = lo + (hi - lo) * (entropy / math.log(n)) ** self.exponent
            self.last.append(temp)
            out[row] = scores[row] / max(temp, 1e-6)  # llama.cpp: a temperature of 0 keeps the top token only
        return out


class XTC:
    """XTC (exclude top choices, text-generation-webui PR 6335; llama.cpp): with chance ``probability`` per step
    (drawn from ``generator``, the run's seeded one), remove every token whose probability is at least
    ``threshold`` except the least probable of them; nothing when fewer than two are that probable."""

    def __init__(self, probability: float, threshold: float, generator: Any) -> None:
        self.probability, self.threshold, self.generator = probability, threshold, generator
        self.fired: list[bool] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        out, self.fired = scores.clone(), []
        for row in range(scores.shape[0]):
            chance = float(torch.rand((), generator=self.generator))
            above = torch.softmax(scores[row].float(), -1) >= self.threshold
            fire = chance <= self.probability and self.threshold <= 0.5 and int(above.sum()) >= 2
            self.fired.append(fire)
            if fire:
                keep = torch.where(above, scores[row], torch.full_like(scores[row], math.inf)).argmin()
                drop = above.clone()
                drop[keep] = False
                out[row] = scores[row].masked_fill(drop, -math.inf)
        return out


class MirostatV2:
    """Mirostat v2 (Basu et al., 2021), as llama.cpp: keep the tokens whose surprise ``-log2 p`` is at most
    ``mu`` (at least the top one), renormalise; after the draw, ``mu -= eta · (surprise of the chosen - tau)``.

    The draw happens after this stage, so the update for step t runs at step t+1, from the token the run chose
    (``input_ids``' last) and this stage's own distribution at step t. ``mu`` starts at ``2·tau`` for each run:
    each run builds its stages anew (``rsdemo.generation.processors.stages``). One sequence only.
    """

    def __init__(self, tau: float, eta: float) -> None:
        self.tau, self.eta = tau, eta
        self.mu = 2.0 * tau
        self._last: Any = None  # the kept distribution of the previous step (log2 probabilities)
        self._length: int | None = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        length = None if input_ids is None else int(input_ids.shape[-1])
        if self._last is not None and length is not None and length == (self._length or 0) + 1:
            chosen = int(input_ids[0, -1])
            surprise = -float(self._last[chosen])
            if math.isfinite(surprise):
                self.mu -= self.eta * (surprise - self.tau)
        log2p = torch.log_softmax(scores[0].double(), -1) / math.log(2)
        keep = -log2p <= self.mu
        keep[int(torch.argmax(scores[0]))] = True
        out = scores.masked_fill(~keep.unsqueeze(0), -math.inf)
        self._last = torch.log_softmax(out[0].double(), -1) / math.log(2)
        self._length = length
        return out


class DRY:
    """DRY, "don't repeat yourself" (p-e-w, text-generation-webui PR 5677; llama.cpp's port of koboldcpp's):
    a token that would extend a sequence already seen, longer than ``allowed_length``, gets its logit lowered by
    ``multiplier · base^(length - allowed_length)``; a breaker token (``breakers``: the ids whose text contains a
    sequence breaker) ends the look-back and is never penalised. The look-back covers the whole text so far
    (llama.cpp's default ``dry_penalty_last_n`` of -1, the context size).
    """

    def __init__(self, multiplier: float, base: float, allowed_length: int, breakers: frozenset[int]) -> None:
        self.multiplier, self.base, self.allowed, self.breakers = multiplier, base, allowed_length, breakers

    def penalties(self, ids: Sequence[int]) -> dict[int, float]:
        """``token -> penalty`` for the next position after ``ids``."""
        n = len(ids)
        if n <= self.allowed:
            return {}
        limit = n  # a breaker limits how far back a repeat can reach
        for i in range(n):
            if ids[n - 1 - i] in self.breakers:
                limit = i
                break
        if limit < self.allowed:
            return {}
        longest: dict[int, int] = {}
        for end in range(n - 1):  # a match of the text's suffix ending at ``end``: ids[end + 1] would extend it
            length = 0
            while length < limit and length <= end and ids[end - length] == ids[n - 1 - length]:
                length += 1
            if length >= self.allowed:
                token = ids[end + 1]
                longest[token] = max(longest.get(token, 0), length)
        most = int(88.7228391 / math.log(self.base)) if self.base > 1.000001 else 0
        out = {}
        for token, length in longest.items():
            if token in self.breakers:
                continue
            exponent = length - self.allowed
            if most > 0:
                exponent = min(exponent, most)
            out[token] = self.multiplier * self.base**exponent
        return out

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        out = scores.clone()
        for row in range(scores.shape[0]):
            for token, penalty in self.penalties(input_ids[row].tolist()).items():
                if token < out.shape[-1]:
                    out[row, token] -= penalty
        return out


_BREAKERS: weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], frozenset[int]]] = weakref.WeakKeyDictionary()


def breaker_tokens(tokenizer: Any, strings: Sequence[str]) -> frozenset[int]:
    """The ids whose text contains one of ``strings`` (llama.cpp's single-token sequence breakers; a breaker split
    across tokens is not matched), from a transformers tokenizer; computed once per tokenizer and breakers."""
    if tokenizer is None or not strings:
        return frozenset()
    cache = _BREAKERS.setdefault(tokenizer, {})
    key = tuple(strings)
    if key not in cache:
        size = len(tokenizer)
        texts = tokenizer.batch_decode([[i] for i in range(size)], skip_special_tokens=False)
        cache[key] = frozenset(i for i, text in enumerate(texts) if any(s in text for s in strings))
    return cache[key]
