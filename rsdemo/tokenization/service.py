"""Tokenize, compare, decode and look up ids: the tokenizer half of what ``rsdemo.backend.Backend`` offers.

Adapters are loaded once through a ``LoadCache`` (single-flight, bounded by ``settings.max_tokenizers``). How a
name resolves, how an adapter is loaded and whether its first use builds an artefact come from the caller (the
backend hands in ``rsdemo.loading``'s): this layer reads no files and never reaches the Hub.

>>> from rsdemo.core.settings import Settings
>>> from rsdemo.tokenization.adapters import ByteAdapter
>>> service = TokenizationService(settings=Settings.from_env({}), loader=lambda name, progress: ByteAdapter(),
...                               resolve=str.strip)
>>> [(s.text, s.ids) for s in service.tokenize(text="né", tokenizer="byte").segments]
[('n', (110,)), ('é', (195, 169))]
>>> service.decode(ids=[110, 195, 169], tokenizer="byte").text
'né'
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ..catalog import TOKENIZERS, get_tokenizer_spec
from ..core.cache import LoadCache
from ..core.errors import InputError, InvalidIdsError
from ..core.inputs import check_text, parse_ids
from ..core.settings import Settings
from . import compare as _compare
from .adapters import TokenizerAdapter
from .results import CompareResult, DecodeResult, TokenInfo, TokenizeResult, TokenizerInfo
from .segments import SegmentTable, segment_table
from .stats import text_stats

__all__ = ["Progress", "TokenizationService"]

Progress = Callable[[str], None]

# token details remembered across requests (id -> piece, bytes); cleared when full
_MAX_DETAILS = 200_000
# is_special[id] per loaded adapter; an entry goes when its adapter is evicted
_SPECIAL_LOOKUPS: weakref.WeakKeyDictionary[object, np.ndarray] = weakref.WeakKeyDictionary()


class _Wanted(str):
    """A tokenizer name as the cache key, carrying the progress callback of the request that asks for it.

    Equal to and hashed as the plain name, so the cache keeps one entry whichever request loaded it; the loader
    runs in the asking request's thread with that request's key, so the callback reaches exactly that load.
    """

    progress: Progress | None


class TokenizationService:
    """Tokenizers by name: loaded once, then tokenize, compare, decode and vocabulary details.

    Args:
        settings: the limits (text length, display window, tokenizers kept, compare counts, ids per decode).
        loader: builds the adapter of a resolved name, told in words (``progress``) about a first-time build.
        resolve: a name as given -> the cache's name (a catalog key, or a normalised Hub ref); raises on a bad one.
        builds: whether the first use of a catalog key builds an artefact (default: never).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        loader: Callable[[str, Progress | None], TokenizerAdapter],
        resolve: Callable[[str], str],
        builds: Callable[[str], bool] = lambda _name: False,
    ) -> None:
        self.settings = settings
        self._loader = loader
        self._resolve = resolve
        self._builds = builds
        self.cache: LoadCache[str, TokenizerAdapter] = LoadCache(loader=self._load, max_items=settings.max_tokenizers)
        self._details: dict[tuple[str, int], TokenInfo] = {}

    def _load(self, key: str) -> TokenizerAdapter:
        return self._loader(str(key), getattr(key, "progress", None))

    def loaded_names(self) -> list[str]:
        """The names of the loaded tokenizers, least recently used first."""
        return [str(name) for name in self.cache.keys()]

    def resolve(self, tokenizer: str) -> str:
        """Normalise a tokenizer name: a catalog key, or a Hub ref ``owner/name[@rev]``.

        Raises:
            UnknownKeyError: neither a catalog key nor something shaped like a repo id.
            InvalidRepoIdError: shaped like a path or a repo id but not a valid one.
        """
        return self._resolve(tokenizer)

    def needs_build(self, tokenizer: str) -> bool:
        """Whether the first use of ``tokenizer`` builds an artefact (the UI shows a notice)."""
        name = self.resolve(tokenizer)
        return name in TOKENIZERS and name not in self.cache and self._builds(name)

    def adapter(self, tokenizer: str, *, progress: Progress | None = None) -> TokenizerAdapter:
        """The loaded adapter for a catalog key or Hub ref (loaded once, then cached)."""
        key = _Wanted(self.resolve(tokenizer))
        key.progress = progress  # the loader runs in this thread (LoadCache is single-flight)
        try:
            return self.cache.get(key)
        finally:
            key.progress = None  # the cache keeps the key: not the caller's callback

    def info(self, tokenizer: str) -> TokenizerInfo:
        """What the UI shows about a tokenizer (loads it if needed)."""
        name = self.resolve(tokenizer)
        adapter = self.adapter(name)
        if name in TOKENIZERS:
            spec = get_tokenizer_spec(name)
            return TokenizerInfo(name, spec.label, spec.family, spec.notes, adapter.lossless, adapter.vocab_size)
        return TokenizerInfo(
            name, name, "Hugging Face Hub tokenizer", "Loaded from the Hub.", False, adapter.vocab_size
        )

    def tokenize(
        self,
        *,
        text: str,
        tokenizer: str,
        add_special_tokens: bool = False,
        display_limit: int | None = -1,
        progress: Progress | None = None,
    ) -> TokenizeResult:
        """Tokenise ``text``: every id, stats over the whole text, display segments for the first tokens.

        Args:
            text: the input (1 to ``settings.max_text_chars`` characters, valid Unicode).
            tokenizer: a catalog key or a Hub ref.
            add_special_tokens: add the tokenizer's BOS / CLS / SEP tokens.
            display_limit: segment at most this many tokens; -1 for ``settings.display_tokens``; None for all.
            progress: told in words when a first-time build starts.

        Raises:
            InputError: empty, too long or invalid text.
            UnknownKeyError, InvalidRepoIdError, HubError, AssetMissingError: the tokenizer cannot be had.
        """
        check_text(text, max_chars=self.settings.max_text_chars)
        limit = self.settings.display_tokens if display_limit == -1 else display_limit
        result, _ = self._tokenize(text, self.resolve(tokenizer), add_special_tokens, limit=limit, progress=progress)
        return result

    def _tokenize(
        self,
        text: str,
        name: str,
        add_special_tokens: bool,
        *,
        limit: int | None = -1,
        whole: bool = False,
        progress: Progress | None = None,
    ) -> tuple[TokenizeResult, SegmentTable | None]:
        """Tokenise checked text with a resolved name; with ``whole``, also the segments of the whole text."""
        adapter = self.adapter(name, progress=progress)
        if limit == -1:
            limit = self.settings.display_tokens
        ids, offsets = adapter.encode_with_offsets(
            text, add_special_tokens=add_special_tokens, limit=None if whole else limit
        )
        specials = _special_lookup(adapter)
        full = segment_table(text, ids=ids, offsets=offsets, special_ids=specials) if whole else None
        shown = len(offsets) if limit is None else min(limit, len(offsets))
        table = segment_table(text, ids=ids, offsets=offsets[:shown], special_ids=specials, tail_gap=shown == len(ids))
        stats = text_stats(text=text, n_tokens=len(ids), vocab_size=adapter.vocab_size)
        result = TokenizeResult(
            info=self.info(name),
            text=text,
            id_array=ids,
            table=table,
            shown_tokens=shown,
            stats=stats,
            add_special_tokens=add_special_tokens,
            describe=functools.partial(self._describe, name),
        )
        return result, full

    def _describe(self, name: str, token_id: int) -> TokenInfo:
        """Vocabulary details of one id, remembered per tokenizer (they never change)."""
        key = (name, token_id)
        found = self._details.get(key)
        if found is None:
            adapter = self.adapter(name)
            found = TokenInfo(
                token_id, adapter.piece(token_id), adapter.token_bytes(token_id), token_id in adapter.special_ids
            )
            if len(self._details) >= _MAX_DETAILS:
                self._details.clear()
            self._details[key] = found
        return found

    def token_info(self, *, tokenizer: str, token_id: int) -> TokenInfo:
        """The vocabulary entry for one id.

        Raises:
            InvalidIdsError: the id is not in the vocabulary.
        """
        name = self.resolve(tokenizer)
        _check_ids(self.adapter(name), [token_id], name)
        return self._describe(name, token_id)

    def compare(self, *, text: str, tokenizers: Sequence[str], add_special_tokens: bool = False) -> CompareResult:
        """The same text through 2 to ``settings.max_compare`` tokenizers.

        Raises:
            InputError: fewer than two or more than ``max_compare`` tokenizers, or bad text.
        """
        final = None
        for final in self.compare_steps(text=text, tokenizers=tokenizers, add_special_tokens=add_special_tokens):  # noqa: B007
            pass
        assert final is not None
        return final

    def compare_steps(
        self, *, text: str, tokenizers: Sequence[str], add_special_tokens: bool = False
    ) -> Iterator[CompareResult]:
        """``compare``, one tokenizer at a time: a partial result after each, the marked one last.

        A caller that stops iterating (a visitor who closed the page) stops the work between tokenizers.

        Raises:
            InputError: fewer than two or more than ``max_compare`` tokenizers, or bad text.
        """
        names = list(dict.fromkeys(t for t in (tokenizers or []) if t))
        low, high = self.settings.min_compare, self.settings.max_compare
        if not low <= len(names) <= high:
            raise InputError(f"Pick {low} to {high} different tokenizers to compare (you picked {len(names)}).")
        names = [self.resolve(n) for n in names]  # fail on a bad name before any work
        check_text(text, max_chars=self.settings.max_text_chars)
        snap = _compare.snap_table(text)
        results: list[TokenizeResult] = []
        masks: list[np.ndarray] = []
        tables: list[SegmentTable] = []
        for name in names:
            result, whole = self._tokenize(text, name, add_special_tokens, whole=True)
            results.append(result)
            tables.append(whole)
            masks.append(_compare.boundary_mask(snap, whole))
            if len(results) < len(names):
                yield CompareResult(text, list(results), [], [], done=False)
        shared = _compare.shared_mask(snap, masks)
        marks = [_compare.differs_mask(snap, r.table, shared).tolist() for r in results]
        differing = [int(_compare.differs_mask(snap, t, shared).sum()) for t in tables]
        yield CompareResult(text, results, marks, differing)

    def decode(self, *, ids: str | Sequence[int], tokenizer: str) -> DecodeResult:
        """Decode a list of ids (or its text form, ``"[1, 2, 3]"``) to text.

        Raises:
            InvalidIdsError: malformed, too many, or not in the vocabulary.
        """
        if isinstance(ids, str) or ids is None:
            id_list = parse_ids(ids, max_ids=self.settings.max_decode_ids)
        elif isinstance(ids, (list, tuple)) and all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            if len(ids) > self.settings.max_decode_ids:
                raise InvalidIdsError(
                    f"{len(ids):,} ids is too many to decode at once; the limit is {self.settings.max_decode_ids:,}."
                )
            id_list = list(ids)
        else:
            raise InvalidIdsError("Ids must be whole numbers, as a list or as text such as [15496, 995].")
        if any(i < 0 for i in id_list):
            raise InvalidIdsError("Ids are never negative.")
        name = self.resolve(tokenizer)
        adapter = self.adapter(name)
        _check_ids(adapter, id_list, name)
        text = adapter.decode(id_list)
        shown = id_list[: self.settings.display_tokens]
        return DecodeResult(text, [self._describe(name, i) for i in shown])


def _special_lookup(adapter: TokenizerAdapter) -> np.ndarray:
    """``is_special[id]`` as a boolean array, made once per loaded adapter (and dropped with it)."""
    lookup = _SPECIAL_LOOKUPS.get(adapter)
    if lookup is None:
        lookup = np.zeros(adapter.vocab_size, dtype=bool)
        lookup[[i for i in adapter.special_ids if 0 <= i < adapter.vocab_size]] = True
        _SPECIAL_LOOKUPS[adapter] = lookup
    return lookup


def _check_ids(adapter: TokenizerAdapter, ids: Sequence[int], tokenizer: str) -> None:
    for token_id in ids:
        if not 0 <= token_id < adapter.vocab_size or not adapter.has_id(token_id):
            raise InvalidIdsError(
                f"{token_id} is not an id of the {tokenizer} vocabulary (ids run from 0 to {adapter.vocab_size - 1:,})."
            )
