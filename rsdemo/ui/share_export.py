"""Every view as a link and as files: a "Copy link" button (``rsdemo.share`` writes the link, the page's script
adds the page's address and copies it) and "Export" (the API reply as JSON, a self-contained HTML file, a PNG);
then what a page load does with a ``view=`` link: the settings put back, the tab opened, the run run again.

The tab modules only build a ``SharePanel`` where it shows; ``build_demo`` calls the ``wire_*`` functions here.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import gradio as gr

from ..api import (
    arena_reply,
    beam_tree_reply,
    compare_reply,
    generate_reply,
    next_token_reply,
    surprisal_reply,
    tokenize_reply,
)
from ..backend import Backend
from ..core.errors import RsdemoError
from ..decoding import SAMPLER_PARAMS
from ..downloads import DOWNLOADS
from ..render.export_html import export_html
from ..render.export_png import export_png
from ..share import LANGS, cut_note, link_params, parse_share_query, share_link
from .lang import tr

__all__ = ["SharePanel", "wire_reopen", "wire_shares"]

log = logging.getLogger(__name__)
EXPORTS = DOWNLOADS / "exports"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# the link is written on the server (rsdemo.share); the page's address comes from the browser, with ?lang=zh when
# the page is in Chinese (the link keeps the page's language: ``_share``), and the link is copied there (a browser
# without clipboard access still shows it in the box, with its own copy button)
_BASE_JS = """(base, ...rest) => {
    const page = window.location.href.split('#')[0].split('?')[0];
    const zh = (document.documentElement.lang || '').toLowerCase().startsWith('zh');
    return [zh ? page + '?lang=zh' : page, ...rest];
}"""
_COPY_JS = "(link) => { if (link && navigator.clipboard) navigator.clipboard.writeText(link).catch(() => {}); }"
_PRIVATE = {"api_visibility": "private"}


def notice_html(text: str) -> str:
    """A plain-text note in the page's notice box (escaped)."""
    return f'<div class="rs-notice" role="status">{html.escape(text)}</div>'


class SharePanel:
    """A row of "Copy link" and "Export", the three download buttons Export fills, the link's box and a note."""

    def __init__(self, *, prefix: str, link: bool = True) -> None:
        with gr.Row(elem_classes=["rs-share-row"], elem_id=f"{prefix}-share-row"):
            self.copy = gr.Button(tr("share.copy"), size="sm", elem_id=f"{prefix}-share", visible=link, min_width=80)
            self.export = gr.Button(tr("share.export"), size="sm", elem_id=f"{prefix}-export", min_width=80)
            self.files = [
                gr.DownloadButton(tr(f"share.{kind}"), visible=False, size="sm", elem_id=f"{prefix}-{kind}")
                for kind in ("json", "html", "png")
            ]
        self.base = gr.Textbox(visible=False)
        self.url = gr.Textbox(
            label=tr("Share link"), interactive=False, visible=False, buttons=["copy"], elem_id=f"{prefix}-share-url"
        )
        self.note = gr.HTML(elem_id=f"{prefix}-share-note", elem_classes=["rs-note"])

    def wire(
        self,
        *,
        export: Callable[..., Any],
        export_inputs: Sequence[Any],
        link: Callable[..., Any] | None = None,
        link_inputs: Sequence[Any] = (),
    ) -> None:
        """``link(base, *link_inputs)`` -> (link, note); ``export(*export_inputs)`` -> (JSON, HTML, PNG, note)."""
        if link is not None:
            self.copy.click(
                link, [self.base, *link_inputs], [self.url, self.note], js=_BASE_JS, queue=False, **_PRIVATE
            ).then(None, [self.url], None, js=_COPY_JS, **_PRIVATE)
        self.export.click(export, list(export_inputs), [*self.files, self.note], show_progress="minimal", **_PRIVATE)


def _share(base: str, fields: dict[str, Any]) -> tuple[str, int, int]:
    """``share_link`` with the page's language (``?lang=`` on ``base``, as ``_BASE_JS`` writes it) kept.

    >>> _share("http://x/?lang=zh", {"view": "tree", "prompt": "Hi"})[0]
    'http://x/?view=tree&lang=zh&prompt=Hi'
    >>> _share("http://x/", {"view": "tree", "prompt": "Hi"})[0]
    'http://x/?view=tree&prompt=Hi'
    """
    lang = (parse_qs(urlsplit(base).query).get("lang") or [None])[0]
    return share_link(base=base, fields={**fields, "lang": lang if lang in LANGS else None})


def _link_out(link: str, kept: int, total: int) -> tuple[Any, str]:
    note = cut_note(kept=kept, total=total, link=link)
    return gr.update(value=link, visible=True), notice_html(note) if note else ""


def _write(name: str, data: bytes) -> str:
    """A file under the downloads folder, named by its content; the oldest exports are removed beyond 48."""
    digest = hashlib.sha256(data).hexdigest()[:20]
    path = EXPORTS / digest / (_UNSAFE.sub("_", name).strip("._") or "export")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".part")
        part.write_bytes(data)
        part.replace(path)
    path.parent.touch()
    try:
        old = sorted((p for p in EXPORTS.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        old = []
    for folder in old[48:]:
        shutil.rmtree(folder, ignore_errors=True)
    return str(path)


def export_files(*, name: str, title: str, lines: Sequence[str], body: str, reply: Any) -> tuple[Any, ...]:
    """The three download buttons' updates (JSON, HTML, PNG) and the note, from a view's HTML and API reply."""
    lines = tuple(line[:300] + ("…" if len(line) > 300 else "") for line in lines)
    try:
        paths = (
            _write(f"{name}.json", json.dumps(reply, ensure_ascii=False, indent=1, default=str).encode("utf-8")),
            _write(f"{name}.html", export_html(title=title, lines=lines, body=body).encode("utf-8")),
            _write(f"{name}.png", export_png(title=title, lines=lines, body=body)),
        )
    except OSError:
        log.exception("could not write the export files")
        return (*(gr.update(visible=False) for _ in range(3)), notice_html("The files could not be written here."))
    return (*(gr.update(value=p, visible=True) for p in paths), "")


def _joined(*parts: str | None) -> str:
    """The views' HTML, one after the other (an empty view is ``None`` in Gradio)."""
    return "".join(part or "" for part in parts)


def _nothing(message: str) -> tuple[Any, ...]:
    """The download buttons hidden, and why (a whole sentence: the page translates it as one)."""
    return (*(gr.update(visible=False) for _ in range(3)), notice_html(message))


def _generate_link(panel: Any) -> Callable[..., tuple[Any, str]]:
    def link(
        base: str,
        model: str,
        prompt: str,
        method: str,
        engine: str,
        chat: bool,
        stop: str,
        dist: str,
        kept: Any,
        done: list[dict[str, Any]],
        *values: Any,
    ) -> tuple[Any, str]:
        params = panel.collect(method, values)
        if kept is not None and params.get("seed") == -1:
            params["seed"] = kept.seed  # the seed the last run drew: the link reopens that run
        branch = None
        if done and kept is not None:
            last = done[-1]
            branch = f"{last['from']},{last['at']},{last['tokens'][last['at'] - 1].id}"
        fields = {"view": "generate", "model": model, "method": method, "engine": engine or None, "chat": chat}
        fields |= {"stop": stop or None, "dist": dist, **link_params(view="generate", method=method, values=params)}
        return _link_out(*_share(base, {**fields, "branch": branch, "prompt": prompt}))

    return link


def _view_link(view: str, panel: Any) -> Callable[..., tuple[Any, str]]:
    """The arena's, the tree's and Inside's link: the model, prompt, chat and the view's own fields."""

    def link(base: str, model: str, prompt: str, chat: bool, *rest: Any) -> tuple[Any, str]:
        fields: dict[str, Any] = {"view": view, "model": model, "chat": chat}
        if view == "arena":
            methods, engines, *values = rest
            fields |= {"methods": ",".join(methods or []) or None, "engines": ",".join(engines or []) or None}
            params = panel.common_values(values)
        elif view == "inside":
            method, probes, position, *values = rest
            fields |= {"method": method, "probes": probes, "position": position if position else None}
            params = panel.collect(method, values)
        else:
            params, method = panel.collect("beam", rest), None
        fields |= link_params(view=view, method=fields.get("method"), values=params)
        return _link_out(*_share(base, {**fields, "prompt": prompt}))

    return link


def wire_shares(backend: Backend, *, tok: Any, cmp: Any, gen: Any, inside: Any) -> None:
    """Every panel's events: Tokenize's export, Compare's link and export, the Generate tab's three views' and
    Inside's links and exports."""
    _wire_tokenize(backend, tok)
    _wire_compare(backend, cmp)
    _wire_generate(gen)
    _wire_inside(backend, inside)


def _wire_tokenize(backend: Backend, tok: Any) -> None:
    def export(text: str, key: str, special: bool, ws: bool, show: str, view: str, stats: str) -> tuple[Any, ...]:
        try:
            result = backend.tokenize(text=text, tokenizer=key, add_special_tokens=bool(special))
        except RsdemoError as err:
            return _nothing(f"Nothing to export: {err}")
        lines = (f"{result.info.label} · {result.stats.tokens:,} tokens · {result.stats.chars:,} characters",)
        name = f"tokens-{key}"
        return export_files(
            name=name,
            title=f"{result.info.label} tokens",
            lines=lines,
            body=_joined(stats, view),
            reply=tokenize_reply(result),
        )

    tok.exports.wire(export=export, export_inputs=[*tok.inputs, tok.view, tok.stats])


def _wire_compare(backend: Backend, cmp: Any) -> None:
    def link(base: str, text: str, keys: list[str], special: bool, ws: bool) -> tuple[Any, str]:
        fields = {"compare": ",".join(keys or []), "special": "1" if special else None, "ws": "1" if ws else None}
        return _link_out(*_share(base, {**fields, "text": text}))

    def export(text: str, keys: list[str], special: bool, ws: bool, view: str) -> tuple[Any, ...]:
        step = None
        try:
            for step in backend.compare_steps(text=text, tokenizers=keys or [], add_special_tokens=bool(special)):  # noqa: B007
                pass
        except RsdemoError as err:
            return _nothing(f"Nothing to export: {err}")
        title = "Compare: " + ", ".join(keys or [])
        return export_files(name="compare", title=title, lines=(), body=_joined(view), reply=compare_reply(step))

    cmp.exports.wire(link=link, link_inputs=cmp.inputs, export=export, export_inputs=[*cmp.inputs, cmp.view])


def _run_lines(kept: Any) -> tuple[str, ...]:
    params = ", ".join(f"{k}={v}" for k, v in sorted(kept.params.items()))
    return (
        f"{kept.model} · {kept.method} · {params} · seed {kept.seed} · {kept.engine}",
        f"Prompt: {kept.prompt.text}",
    )


def _wire_generate(gen: Any) -> None:
    settings = [gen.model, gen.prompt, gen.method, gen.engine, gen.chat, gen.stop_strings, gen.distribution]

    def export(kept: Any, view: str, stats: str, branches: str) -> tuple[Any, ...]:
        if kept is None:
            return _nothing("Nothing to export yet: generate first.")
        return export_files(
            name=f"generate-{kept.method}-seed{kept.seed}",
            title="Generated text",
            lines=_run_lines(kept),
            body=_joined(stats, view, branches),
            reply=generate_reply(kept),
        )

    gen.exports.wire(
        link=_generate_link(gen.panel),
        export=export,
        link_inputs=[*settings, gen.last, gen.branch.branches, *gen.panel.inputs],
        export_inputs=[gen.last, gen.gen_view, gen.gen_stats, gen.branch.view],
    )
    arena, tree = gen.arena, gen.tree

    def arena_export(step: Any, table: str, view: str) -> tuple[Any, ...]:
        if step is None:
            return _nothing("Nothing to export yet: run the arena first.")
        return export_files(
            name="arena", title="Method arena", lines=(), body=_joined(table, view), reply=arena_reply(step)
        )

    arena_inputs = [gen.model, gen.prompt, gen.chat, arena.methods, arena.engines, *gen.panel.common_inputs]
    arena.exports.wire(
        link=_view_link("arena", gen.panel),
        link_inputs=arena_inputs,
        export=arena_export,
        export_inputs=[arena.kept, arena.table, arena.view],
    )

    def tree_export(result: Any, view: str) -> tuple[Any, ...]:
        if result is None:
            return _nothing("Nothing to export yet: draw the tree first.")
        return export_files(
            name="beam-tree", title="Beam search tree", lines=(), body=_joined(view), reply=beam_tree_reply(result)
        )

    tree.exports.wire(
        link=_view_link("tree", gen.panel),
        export=tree_export,
        link_inputs=[gen.model, gen.prompt, gen.chat, *gen.panel.inputs],
        export_inputs=[tree.kept, tree.view],
    )


def _wire_inside(backend: Backend, inside: Any) -> None:
    settings = [inside.model, inside.prompt, inside.chat, inside.method, inside.probes, inside.position]

    def export(
        model: str,
        prompt: str,
        chat: bool,
        method: str,
        probes: str,
        position: Any,
        stages: str,
        stats: str,
        view: str,
        *values: Any,
    ) -> tuple[Any, ...]:
        try:
            nxt = backend.next_token(
                model=model,
                prompt=prompt,
                chat=bool(chat),
                method=method,
                params=inside.panel.collect(method, values),
                probes=probes or "",
                position=int(position or 0),
            )
            scored = backend.surprisal(model=model, prompt=prompt, chat=bool(chat))
        except (RsdemoError, ValueError, TypeError) as err:
            return _nothing(f"Nothing to export: {err}")
        reply = {"next_token": next_token_reply(nxt), "surprisal": surprisal_reply(scored)}
        lines = (f"{model} · {method} · after token {int(position or 0)}", f"Prompt: {prompt}")
        return export_files(
            name="inside", title="Inside the model", lines=lines, body=_joined(stages, stats, view), reply=reply
        )

    inside.exports.wire(
        link=_view_link("inside", inside.panel),
        export=export,
        link_inputs=[
            inside.model,
            inside.prompt,
            inside.chat,
            inside.method,
            inside.probes,
            inside.position,
            *inside.panel.inputs,
        ],
        export_inputs=[*settings, inside.stages_view, inside.stats, inside.view, *inside.panel.inputs],
    )


def _panel_updates(panel: Any, method: str | None, params: dict[str, Any]) -> list[Any]:
    """The panel's inputs set from a link's checked params (the method's own, then the common ones)."""
    own = [gr.update(value=params[name]) if m == method and name in params else gr.update() for m, name in panel.slots]
    common = [gr.update(value=params[p.name]) if p.name in params else gr.update() for p in panel.common]
    return own + common


def _put(value: Any) -> Any:
    return gr.update() if value is None else gr.update(value=value)


def wire_reopen(demo: gr.Blocks, backend: Backend, *, tabs: gr.Tabs, gen: Any, inside: Any) -> None:
    """A page load with a ``view=`` link: the Generate tab's (or Inside's) settings put back, its tab opened, and
    the view run again (a seeded or greedy run gives the same tokens); a branch in the link is taken again."""
    opened = gr.State(None)
    arena, branch = gen.arena, gen.branch
    gen_settings = [gen.model, gen.prompt, gen.method, gen.engine, gen.chat, gen.stop_strings, gen.distribution]
    in_settings = [inside.model, inside.prompt, inside.chat, inside.method, inside.probes, inside.position]
    outputs = [opened, tabs, *gen_settings, *gen.panel.inputs, branch.source, branch.at, branch.token]
    outputs += [arena.methods, arena.engines, *in_settings, *inside.panel.inputs]
    outputs += [gen.arena.go.parent, gen.tree.go.parent]  # their accordions: an arena or tree link opens its own
    outputs += [gen.panel.more, inside.panel.more]  # "More samplers": open when the link sets one of them

    def restore(request: gr.Request) -> list[Any]:
        state = parse_share_query(dict(request.query_params) if request else {}, engines=backend.engines)
        if state.view in (None, "layers"):  # a Layers link is reopened by rsdemo.ui.layers_share
            return [None] + [gr.update()] * (len(outputs) - 1)
        gen_view, seen = state.view != "inside", state.view == "inside"
        settings = [state.model, state.prompt, state.method, state.engine, state.chat, state.stop, state.dist]
        put_gen = [_put(v) if gen_view else gr.update() for v in settings]
        tree_method = "beam" if state.view == "tree" else state.method
        gen_panel = _panel_updates(gen.panel, tree_method, state.params) if gen_view else _skip(gen.panel.inputs)
        b = state.branch or (None, None, None)
        arena_put = [_put(list(state.methods) or None), _put(list(state.engines) or None)]
        in_values = [state.model, state.prompt, state.chat, state.method, state.probes, state.position]
        put_in = [_put(v) if seen else gr.update() for v in in_values]
        in_panel = _panel_updates(inside.panel, state.method, state.params) if seen else _skip(inside.panel.inputs)
        view = state.view + ("+branch" if state.branch and state.view == "generate" else "")
        head = [view, gr.update(selected=state.tab), *put_gen, *gen_panel, *(_put(x) for x in b)]
        opens = [gr.update(open=True) if state.view == box else gr.update() for box in ("arena", "tree")]
        samplers = bool({p.name for p in SAMPLER_PARAMS} & set(state.params))
        opens += [gr.update(open=True) if samplers and shown else gr.update() for shown in (gen_view, seen)]
        return [*head, *arena_put, *put_in, *in_panel, *opens]

    event = demo.load(restore, None, outputs, queue=False, **_PRIVATE)
    _chain_runs(event, opened, gen=gen, inside=inside, gen_settings=gen_settings)


def _skip(inputs: Sequence[Any]) -> list[Any]:
    return [gr.update() for _ in inputs]


def _only(view: str, fn: Callable[..., Any], n_out: int) -> Callable[..., Iterator[Any]]:
    """``fn`` (a page callback) run only when the link opened ``view``; otherwise nothing changes."""

    def run(request: gr.Request, opened: str | None, *args: Any) -> Iterator[Any]:
        if (opened or "").split("+")[0] != view:
            yield tuple(gr.update() for _ in range(n_out)) if n_out > 1 else gr.update()
            return
        yield from fn(request, *args)

    return run


def _chain_runs(event: Any, opened: gr.State, *, gen: Any, inside: Any, gen_settings: list[Any]) -> None:
    """The runs a ``view=`` link starts after its settings are back: the run (and its branch), the arena, the
    tree or Inside's look."""
    arena, tree, branch = gen.arena, gen.tree, gen.branch
    panel = gen.panel
    run_out = [gen.gen_view, gen.gen_stats, gen.prompt_seen, gen.notes, gen.code, gen.last]
    run_out += [gen.prompt_note, gen.model_note, gen.settings_note]
    event = event.then(
        _only("generate", gen.run_generation, len(run_out)), [opened, *gen_settings, *panel.inputs], run_out, **_PRIVATE
    )

    def take_branch(request: gr.Request, opened: str | None, *args: Any) -> Any:
        if opened != "generate+branch":
            return gr.update(), gr.update(), gr.update()
        return branch.run_branch(request, *args)

    branch_in = [gen.last, branch.branches, gen.model, gen.prompt, gen.method, gen.chat, gen.stop_strings]
    branch_in += [branch.source, branch.at, branch.token, gen.distribution, *panel.inputs]
    event = event.then(take_branch, [opened, *branch_in], [branch.view, branch.branches, branch.note], **_PRIVATE)
    arena_in = [gen.model, gen.prompt, gen.chat, arena.methods, arena.engines, *panel.common_inputs]
    event = event.then(
        _only("arena", arena.run_arena, 4),
        [opened, *arena_in],
        [arena.table, arena.view, arena.note, arena.kept],
        **_PRIVATE,
    )

    def draw(opened: str | None, *args: Any) -> Any:
        return tree.draw_tree(*args) if opened == "tree" else (gr.update(), gr.update(), gr.update())

    event = event.then(
        draw, [opened, gen.model, gen.prompt, gen.chat, *panel.inputs], [tree.view, tree.note, tree.kept], **_PRIVATE
    )
    in_inputs = [inside.model, inside.prompt, inside.chat, inside.method, inside.probes, inside.position]
    in_out = [
        inside.stages_view,
        inside.stats,
        inside.view,
        inside.prompt_note,
        inside.model_note,
        inside.settings_note,
    ]

    def look(opened: str | None, *args: Any) -> Any:
        return inside.look(*args) if opened == "inside" else tuple(gr.update() for _ in in_out)

    event.then(look, [opened, *in_inputs, *inside.panel.inputs], in_out, **_PRIVATE)
