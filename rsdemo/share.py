"""Share links: what a link's query asks the page to show, and the links themselves (pure; no gradio).

A Tokenize link is ``?tokenizer=gpt2&special=1&ws=1&show=ids&text=...``; a Compare link is
``?compare=gpt2,llama3&text=...`` and opens the Compare tab. The Generate tab's views and the Inside tab say which
with ``view=``: ``generate`` (model, method, every parameter of the method, seed, engine, chat, stop strings,
the colouring and a branch: ``branch=run,token,instead``), ``arena`` (``methods=greedy,top_p``, ``engines=``),
``tree`` (beam search's parameters), ``inside`` (``position=``, ``probes=``, the method and its parameters) and
``layers`` (the Layers tab: ``probes=``, the lens cell's ``position=``, attention's ``layer=`` and ``head=``).
Every parameter is checked by its ``rsdemo.decoding.Param``: an unknown or out-of-range value is ignored, so a link
never fails to open. ``lang=en|zh`` picks the page's language. A link is at most ``SHARE_LINK_CHARS`` characters
long, URL-encoded: the text (or prompt) is cut, at a whole character, to fit, and the page says so.

>>> state = parse_share_query({"tokenizer": "gpt2", "text": "Hi", "ws": "1", "show": "ids"})
>>> state.tab, state.text, state.whitespace, state.show, state.special
('tokenize', 'Hi', True, 'ids', None)
>>> state = parse_share_query({"compare": "gpt2,llama3,no-such-key", "text": "Hi"})
>>> state.tab, state.compare
('compare', ('gpt2', 'llama3'))
>>> state = parse_share_query({"view": "generate", "method": "top_p", "top_p": "0.8", "seed": "7", "top_k": "9"})
>>> state.tab, state.method, state.params
('generate', 'top_p', {'top_p': 0.8, 'seed': 7})
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .catalog import TOKENIZERS
from .core.errors import InputError
from .core.settings import parse_bool
from .decoding import COMMON_PARAMS, INSIDE_PARAMS, METHODS, SAMPLER_PARAMS, Param

__all__ = [
    "DISTRIBUTIONS",
    "LANGS",
    "SHARE_LINK_CHARS",
    "VIEWS",
    "VIEW_MODES",
    "ShareState",
    "cut_note",
    "link_params",
    "parse_share_query",
    "share_link",
    "view_params",
]

# RFC 9110 asks every sender and recipient to support links of at least 8,000 octets; longer ones break in
# some browsers, proxies and chat apps
SHARE_LINK_CHARS = 8_000
VIEW_MODES = ("text", "pieces", "ids")
VIEWS = ("generate", "arena", "tree", "inside", "layers")  # the views a ``view=`` link opens (not Tokenize, Compare)
LANGS = ("en", "zh")
DISTRIBUTIONS = ("filtered", "raw")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]{0,199}")  # a model key or Hub repo id; nothing else is taken
_LONG_FIELDS = ("text", "prompt")  # cut to fit, and written last


@dataclass(frozen=True, slots=True)
class ShareState:
    """What a share link asks for; ``None`` (or empty) where it says nothing, so the page keeps its own value.

    Attributes:
        text: the text (Tokenize and Compare).
        tokenizer: the Tokenize tab's tokenizer.
        special: add special tokens (both tabs).
        whitespace: show whitespace (both tabs).
        show: what each token shows: ``text``, ``pieces`` or ``ids``.
        compare: the Compare tab's tokenizers (two or more built-in keys), or ``()``.
        view: ``generate``, ``arena``, ``tree`` or ``inside`` (``VIEWS``), or ``None``.
        model, method, engine, chat, prompt, stop: the Generate (or Inside) tab's settings.
        dist: what colours the run: ``filtered`` or ``raw``.
        params: the decoding parameters, each checked by its ``Param`` (the seed included).
        branch: the branch to reopen: (from run, at token #, the token instead), or ``None``.
        methods, engines: the arena's methods and engines.
        position, probes: the Inside tab's position and probe words (the Layers tab's: the lens cell's position).
        layer, head: the Layers tab's attention layer (from 1) and focused head (from 0).
        lang: the page's language (``en`` or ``zh``), or ``None``.
    """

    text: str | None = None
    tokenizer: str | None = None
    special: bool | None = None
    whitespace: bool | None = None
    show: str | None = None
    compare: tuple[str, ...] = ()
    view: str | None = None
    model: str | None = None
    method: str | None = None
    engine: str | None = None
    chat: bool | None = None
    prompt: str | None = None
    stop: str | None = None
    dist: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    branch: tuple[int, int, str] | None = None
    methods: tuple[str, ...] = ()
    engines: tuple[str, ...] = ()
    position: int | None = None
    probes: str | None = None
    lang: str | None = None
    layer: int | None = None
    head: int | None = None

    @property
    def tab(self) -> str:
        """The tab the link opens: ``compare``, ``generate`` (its run, arena and tree), ``inside`` or ``tokenize``.

        >>> ShareState(view="tree").tab, ShareState(view="inside").tab, ShareState().tab
        ('generate', 'inside', 'tokenize')
        """
        if self.compare:
            return "compare"
        if self.view in ("generate", "arena", "tree"):
            return "generate"
        return self.view or "tokenize"


def view_params(view: str, method: str | None) -> tuple[Param, ...]:
    """The parameters a view's link carries: the method's own (beam search's for the tree, none for the arena),
    then the common ones (Inside's: ``INSIDE_PARAMS``); rsdemo's own samplers (``SAMPLER_PARAMS``) last.

    >>> [p.name for p in view_params("inside", "top_k")][:4]
    ['temperature', 'top_k', 'repetition_penalty', 'seed']
    >>> [p.name for p in view_params("arena", "top_k")][:5]
    ['max_new_tokens', 'repetition_penalty', 'no_repeat_ngram_size', 'seed', 'presence_penalty']
    """
    key = "beam" if view == "tree" else None if view == "arena" else method
    own = METHODS[key].params if key in METHODS else ()
    return (*own, *(INSIDE_PARAMS if view == "inside" else COMMON_PARAMS))


def _spare(view: str, param: Param) -> bool:
    """Whether a link leaves ``param`` out at its default: rsdemo's own samplers (15 fields that would pass the
    link's length budget) and Inside's seed, so a link that sets none stays as short as before."""
    return param in SAMPLER_PARAMS or (view == "inside" and param.name == "seed")


def parse_share_query(
    params: Mapping[str, str], *, known: Collection[str] = TOKENIZERS, engines: Collection[str] = ()
) -> ShareState:
    """Read a share link's query; anything unknown or malformed is ignored (a link never fails to open).

    Args:
        params: the query parameters (``request.query_params``).
        known: the tokenizer keys a Compare link may name.
        engines: the engine names a link may name (others are ignored).

    >>> parse_share_query({"special": "maybe", "show": "<b>", "compare": "gpt2"}).compare
    ()
    >>> s = parse_share_query({"view": "inside", "position": "-3", "lang": "zh", "model": "<x>"})
    >>> s.position, s.lang, s.model
    (None, 'zh', None)
    """
    compare = tuple(dict.fromkeys(k for k in (params.get("compare") or "").split(",") if k in known))
    show = params.get("show")
    view = params.get("view") if params.get("view") in VIEWS else None
    return ShareState(
        text=params.get("text") or None,
        tokenizer=params.get("tokenizer") or None,
        special=_flag(params.get("special")),
        whitespace=_flag(params.get("ws")),
        show=show if show in VIEW_MODES else None,
        compare=compare if len(compare) >= 2 else (),
        lang=params.get("lang") if params.get("lang") in LANGS else None,
        **(_view_state(params, view, engines) if view else {}),
    )


def _view_state(params: Mapping[str, str], view: str, engines: Collection[str]) -> dict[str, Any]:
    """The fields of a ``view=`` link: the Generate tab's (or Inside's) settings, each checked."""
    method = params.get("method") if params.get("method") in METHODS else None
    checked = {}
    for param in view_params(view, method):
        if param.name in params:
            try:
                checked[param.name] = param.check(params[param.name])
            except InputError:
                pass
    model = params.get("model") or ""
    engine = params.get("engine")
    dist = params.get("dist")
    return {
        "view": view,
        "model": model if _NAME.fullmatch(model) else None,
        "method": method,
        "engine": engine if engine == "" or engine in engines else None,
        "chat": _flag(params.get("chat")),
        "prompt": params.get("prompt") or None,
        "stop": params.get("stop"),
        "dist": dist if dist in DISTRIBUTIONS else None,
        "params": checked,
        "branch": _branch(params.get("branch")),
        "methods": tuple(dict.fromkeys(m for m in (params.get("methods") or "").split(",") if m in METHODS))[:4],
        "engines": tuple(dict.fromkeys(e for e in (params.get("engines") or "").split(",") if e in engines)),
        "position": _whole(params.get("position")),
        "probes": params.get("probes"),
        "layer": _whole(params.get("layer")),
        "head": _whole(params.get("head")),
    }


def _branch(value: str | None) -> tuple[int, int, str] | None:
    """``run,token,instead`` (the token may hold commas) -> (run, token, instead), else ``None``.

    >>> _branch("0,3, the"), _branch("0,0,x"), _branch("a,1,x")
    ((0, 3, ' the'), None, None)
    """
    parts = (value or "").split(",", 2)
    if len(parts) != 3 or not parts[2]:
        return None
    source, at = _whole(parts[0]), _whole(parts[1])
    if source is None or at is None or at < 1:
        return None
    return source, at, parts[2]


def _whole(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() and len(value) < 10 else None


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    try:
        return parse_bool(value)
    except ValueError:
        return None


def _written(value: Any) -> str:
    """A value as a link writes it: ``1``/``0`` for a flag, a number as Python writes it (never rounded)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def link_params(*, view: str, method: str | None, values: Mapping[str, Any]) -> dict[str, str]:
    """The checked decoding parameters of a view, as a link writes them; a value its ``Param`` refuses is left out,
    and so is one of rsdemo's own samplers at its default (``_spare``).

    >>> values = {"top_p": 0.9, "seed": 3.0, "top_k": 5, "max_new_tokens": 0, "xtc_probability": 0, "dry_base": 2}
    >>> link_params(view="generate", method="top_p", values=values)
    {'top_p': '0.9', 'seed': '3', 'dry_base': '2'}
    """
    written = {}
    for param in view_params(view, method):
        if values.get(param.name) is not None:
            try:
                value = param.check(values[param.name])
            except InputError:
                continue
            if not (_spare(view, param) and value == param.default):
                written[param.name] = _written(value)
    return written


def share_link(*, base: str, fields: Mapping[str, Any], limit: int = SHARE_LINK_CHARS) -> tuple[str, int, int]:
    """A link: ``base`` and the fields (``None`` left out), the text or prompt last and cut, at a whole character,
    so the link stays within ``limit`` characters. Returns the link, the characters of that field kept and its
    length.

    >>> share_link(base="http://x/", fields={"view": "generate", "prompt": "héllo wörld", "seed": 1}, limit=48)
    ('http://x/?view=generate&seed=1&prompt=h%C3%A9llo', 5, 11)
    """
    short = {k: _written(v) for k, v in fields.items() if v is not None and k not in _LONG_FIELDS}
    long_key = next((k for k in _LONG_FIELDS if fields.get(k) is not None), None)
    head = f"{base.split('#')[0].split('?')[0]}?{urlencode(short)}"
    if long_key is None:
        return head, 0, 0
    text = str(fields[long_key])

    def link(n: int) -> str:
        return f"{head}{'&' if short else ''}{urlencode({long_key: text[:n]})}"

    if len(link(len(text))) <= limit:
        return link(len(text)), len(text), len(text)
    low, high = 0, len(text)  # the longest prefix that fits: the encoded length grows with the prefix
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if len(link(mid)) <= limit else (low, mid - 1)
    return link(low), low, len(text)


def cut_note(*, kept: int, total: int, link: str, limit: int = SHARE_LINK_CHARS) -> str:
    """What the page says when a link had to cut the text (plain text; ``""`` when nothing was cut).

    >>> cut_note(kept=5, total=11, link="x" * 40, limit=40)[:60]
    'The link keeps the first 5 of the 11 characters: it is 40 ch'
    """
    if kept >= total:
        return ""
    return (
        f"The link keeps the first {kept:,} of the {total:,} characters: it is {len(link):,} characters long, and "
        f"links are kept within {limit:,} (longer ones break in some browsers, servers and chat apps)."
    )
