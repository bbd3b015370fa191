"""What a generation yields: plain dataclasses (ints, floats, strings, bytes), never tensors.

Results cross process boundaries on ZeroGPU (pickled), and every view is a pure function of them.

>>> token = GeneratedToken(42, "Ġworld", raw_prob=0.5, text=" world", data=b" world")
>>> [s.text for s in token_segments([token])]
[' world']
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "TOP_K_ALTERNATIVES",
    "Alternative",
    "alternatives",
    "Beam",
    "GeneratedToken",
    "GenerationResult",
    "PromptInfo",
    "StreamText",
    "TokenSegment",
    "make_token",
    "token_segments",
    "top_alternatives",
]

TOP_K_ALTERNATIVES = 10  # the alternatives a local engine keeps per token, under each distribution


class _Pieces(Protocol):
    def piece(self, token_id: int) -> str: ...

    def token_bytes(self, token_id: int) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Alternative:
    """A token the model considered at a step: id, vocabulary piece, its own text, probability."""

    id: int
    piece: str
    prob: float
    text: str = ""


@dataclass(frozen=True, slots=True)
class GeneratedToken:
    """One generated token.

    Attributes:
        id: the token id.
        piece: its vocabulary piece as stored (``Ġworld``).
        text: its own text (``" world"``; U+FFFD for part of a character, see ``token_segments``).
        raw_prob: its probability under the model's raw next-token distribution.
        prob: its probability after the decoding filters (None while streaming).
        raw_top: the most probable tokens under the raw distribution.
        top: the most probable tokens after the filters (empty while streaming).
        data: its bytes (None for a special token), so views group split characters without the tokenizer.
    """

    id: int
    piece: str
    raw_prob: float
    prob: float | None = None
    raw_top: tuple[Alternative, ...] = ()
    top: tuple[Alternative, ...] = ()
    text: str = ""
    data: bytes | None = b""


@dataclass(frozen=True, slots=True)
class TokenSegment:
    """Generated text in the model's own token boundaries: one segment may carry several tokens."""

    text: str
    tokens: tuple[int, ...]  # indices into the token list
    special: bool = False


@dataclass(frozen=True, slots=True)
class Beam:
    text: str
    tokens: tuple[GeneratedToken, ...]
    score: float | None  # transformers' sequence score (length-penalised log-probability)


@dataclass(frozen=True, slots=True)
class PromptInfo:
    text: str  # the prompt as the model sees it (chat template applied)
    ids: tuple[int, ...]
    chat: bool
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """A finished (or still streaming) generation.

    ``done`` is False for streaming updates. ``beams`` holds every returned sequence (one for
    single-sequence methods); ``beams[0]`` is the best. ``engine`` names the engine that ran it and
    ``engine_reason`` why that one (the fastest that can run the method here, or the one asked for).
    While a run waits for a generation slot, updates carry no tokens and ``waiting`` says how many runs
    are ahead of it; while it waits for the app's warm-up to get its model ready, ``preparing`` says what that is
    doing.
    """

    model: str
    method: str
    params: dict[str, Any]
    seed: int
    prompt: PromptInfo
    beams: tuple[Beam, ...]
    done: bool
    stopped: bool = False
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    elapsed_s: float = 0.0
    finish_reason: str = ""
    code: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    engine: str = ""
    engine_reason: str = ""
    waiting: int | None = None
    load_s: float | None = None  # time spent loading the model for this run (None: it was loaded already)
    served: str = ""  # a served run: whose numbers they are ("vLLM server, before its filters"); "" in process
    preparing: str = ""  # waiting for the warm-up: what it is doing ("Converting the weights…"); "" otherwise

    @property
    def text(self) -> str:
        return self.beams[0].text if self.beams else ""

    @property
    def tokens(self) -> tuple[GeneratedToken, ...]:
        return self.beams[0].tokens if self.beams else ()

    @property
    def logprob(self) -> float | None:
        """Sum of the tokens' log-probabilities under the raw model (None if nothing was generated, or while a
        run streams tokens without probabilities: a beam search's leader, contrastive search)."""
        toks = self.tokens
        if not toks or any(math.isnan(t.raw_prob) for t in toks):
            return None
        return sum(math.log(max(t.raw_prob, 1e-45)) for t in toks)

    @property
    def perplexity(self) -> float | None:
        logprob = self.logprob
        return math.exp(-logprob / len(self.tokens)) if logprob is not None else None


def top_alternatives(probs: Any, adapter: _Pieces, k: int = TOP_K_ALTERNATIVES) -> tuple[Alternative, ...]:
    """The ``k`` most probable tokens of a distribution (a 1-D tensor), without the ones it gives no chance.

    After top-p or top-k only the candidates that survive have a probability; the rest are 0 and are not
    alternatives, so the list can be shorter than ``k`` (never filler at 0.00 %).
    """
    import torch

    values, indices = torch.topk(probs, min(k, probs.shape[-1]))
    return alternatives(adapter, indices.tolist(), values.tolist())


def alternatives(adapter: _Pieces, ids: Sequence[int], probs: Sequence[float]) -> tuple[Alternative, ...]:
    """Alternatives from parallel token ids and probabilities; a candidate with probability 0 is left out."""
    return tuple(
        Alternative(int(i), adapter.piece(int(i)), float(p), make_token(adapter, int(i), float(p)).text)
        for i, p in zip(ids, probs)
        if p > 0.0
    )


def make_token(
    adapter: _Pieces,
    token_id: int,
    raw_prob: float,
    prob: float | None = None,
    raw_top: tuple[Alternative, ...] = (),
    top: tuple[Alternative, ...] = (),
) -> GeneratedToken:
    """A ``GeneratedToken`` with its piece, bytes and text read from the tokenizer adapter."""
    data = adapter.token_bytes(token_id)
    text = adapter.piece(token_id) if data is None else data.decode("utf-8", errors="replace")
    return GeneratedToken(token_id, adapter.piece(token_id), raw_prob, prob, raw_top, top, text, data)


def token_segments(tokens: Sequence[GeneratedToken], adapter: _Pieces | None = None) -> list[TokenSegment]:
    """Group generated tokens into segments of whole characters (byte-exact, like the tokenizer view).

    A character split across byte-level tokens (an emoji in three tokens) becomes one segment carrying
    the three tokens; special tokens (``<|im_end|>``) are segments of their own. The bytes come from each
    token's ``data`` (generation fills it in), or from ``adapter`` when given.
    """
    out: list[TokenSegment] = []
    pending = bytearray()
    members: list[int] = []
    for index, token in enumerate(tokens):
        data = adapter.token_bytes(token.id) if adapter is not None else token.data
        if data is None:
            if members:
                out.append(TokenSegment(pending.decode("utf-8", errors="replace"), tuple(members)))
                pending, members = bytearray(), []
            out.append(TokenSegment(token.piece, (index,), special=True))
            continue
        pending += data
        members.append(index)
        try:
            text = pending.decode("utf-8")
        except UnicodeDecodeError as err:
            if err.reason == "unexpected end of data":
                continue  # the character goes on in the next token
            text = pending.decode("utf-8", errors="replace")
        out.append(TokenSegment(text, tuple(members)))
        pending, members = bytearray(), []
    if members:
        out.append(TokenSegment(pending.decode("utf-8", errors="replace"), tuple(members)))
    return out


class StreamText:
    """The text of the tokens streamed so far, extended per token (no re-decoding of the whole output).

    An incremental UTF-8 decoder keeps a character split over several byte-level tokens until its last
    byte arrives; meanwhile the unfinished bytes show as U+FFFD, as decoding the ids so far would.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._text = ""

    @property
    def text(self) -> str:
        """The text so far (an unfinished character as U+FFFD)."""
        pending = self._decoder.getstate()[0]
        return self._text + pending.decode("utf-8", errors="replace") if pending else self._text

    def add(self, token: GeneratedToken) -> str:
        if token.data is None:  # a special token shows as its piece
            self._text += self._decoder.decode(b"", final=True) + token.piece
            self._decoder.reset()
        else:
            self._text += self._decoder.decode(token.data)
        pending = self._decoder.getstate()[0]
        return self._text + pending.decode("utf-8", errors="replace") if pending else self._text
