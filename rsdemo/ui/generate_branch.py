"""The Generate tab's branches: continue the run (or a branch of it) from another candidate at one of its tokens,
with the same method, seed and engine; every branch drawn under the run, the newest first."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..arguments import whole
from ..backend import Backend
from ..core.errors import InputError, RsdemoError
from ..generation import GenerationResult
from ..generation.results import GeneratedToken
from ..render.page import field_note
from ..render.page_runs import branch_views
from .errors import _user_errors
from .lang import tr
from .params import MethodPanel
from .serving import _visitor

__all__ = ["BranchPanel", "_pick_candidate"]


def _pick_candidate(token: Any, instead: str) -> Any:
    """The token a branch continues from: an alternative of ``token`` by id or by text (as listed), never ``token``
    itself (a branch to the token the run took would repeat the run).

    >>> from rsdemo.generation.results import Alternative
    >>> took = GeneratedToken(287, " of", 0.9, None, (Alternative(287, " of", 0.9, " of"),
    ...                       Alternative(11, ",", 0.05, ",")), (), " of", b" of")
    >>> _pick_candidate(took, ",").id
    11
    >>> _pick_candidate(took, " of")
    Traceback (most recent call last):
    ...
    rsdemo.core.errors.InputError: ' of' is the token the run took there: pick another one to branch to.
    """
    if not instead:
        raise InputError(
            "Type the token to use instead (its id, or its text as listed), or click an alternative.", field="params"
        )
    alternatives = list(getattr(token, "top", ()) or ()) + list(getattr(token, "raw_top", ()) or ())
    wanted = int(instead) if instead.lstrip("-").isdigit() else None
    if wanted == token.id or (wanted is None and instead in (token.text, token.piece)):
        raise InputError(
            f"{token.text!r} is the token the run took there: pick another one to branch to.", field="params"
        )
    for alt in alternatives:
        if (wanted is not None and alt.id == wanted) or (wanted is None and instead in (alt.text, alt.piece)):
            return GeneratedToken(alt.id, alt.piece, alt.prob, None, (), (), alt.text, alt.text.encode("utf-8"))
    if wanted is not None and wanted >= 0:
        return GeneratedToken(wanted, f"#{wanted}", float("nan"), None, (), (), f"#{wanted}", None)
    raise InputError(
        f"{instead[:40]!r} is not one of this token's alternatives; type its id to force any token.", field="params"
    )


def _branch_point(
    kept: GenerationResult | None, done: list[dict[str, Any]], source: Any, position: Any, instead: str
) -> tuple[int, list[Any], int, Any]:
    """Where a branch starts, checked: the run it branches (0: the run, n: its nth branch), that run's tokens, the
    token number (from 1) and the candidate put there instead."""
    if kept is None or not kept.tokens or len(kept.beams) > 1:
        raise InputError(
            "Generate first (greedy or a sampling method); then branch from one of its tokens.", field="params"
        )
    runs = [list(kept.tokens)] + [b["tokens"] for b in done]
    n = whole(
        source,
        name="From run",
        minimum=0,
        maximum=len(runs) - 1,
        also=f" (0 is the run above, 1 to {len(runs) - 1} its branches)"
        if len(runs) > 1
        else " (0 is the run above; it has no branches yet)",
    )
    base = runs[n]
    k = whole(position, name="At token #", minimum=1, maximum=len(base), also=f" (the tokens of run {n})")
    return n, base, k, _pick_candidate(base[k - 1], str(instead or "").strip())


class BranchPanel:
    """The Branches accordion (built in the Generate tab's main column) and its ``run_branch`` event."""

    def __init__(self, js_tokens: str) -> None:
        with gr.Accordion(tr("Branches: continue from another candidate"), open=True, elem_id="rs-branch"):
            gr.Markdown(
                tr("branch.legend"),
                elem_classes=["rs-legend"],
            )
            with gr.Row():
                # no precision / minimum: rsdemo checks them (run_branch), never rounding, beside the button
                self.source = gr.Number(
                    value=0, label=tr("from run (0: the run above)"), elem_id="rs-branch-from", min_width=120
                )
                self.at = gr.Number(value=1, label=tr("at token #"), elem_id="rs-branch-at", min_width=120)
                self.token = gr.Textbox(
                    label=tr("token instead (id or text)"), elem_id="rs-branch-token", min_width=160
                )
                self.go = gr.Button(tr("Branch"), elem_id="rs-branch-go", min_width=100)
            self.note = gr.HTML(elem_id="rs-branch-note", elem_classes=["rs-note"])
            self.view = gr.HTML(elem_id="rs-branches", js_on_load=js_tokens)

    def state(self) -> None:
        """The branches made so far (a ``gr.State``; created after the run's own states)."""
        self.branches = gr.State([])

    def wire(
        self,
        backend: Backend,
        panel: MethodPanel,
        *,
        last: gr.State,
        settings: list[Any],
        distribution: gr.Radio,
        pool: dict[str, Any],
    ) -> None:
        """The Branch button. ``last``: the last run; ``settings``: the model, prompt, method, chat and stop strings
        it continues with; ``distribution``: what colours the branches."""
        self.backend, self.panel = backend, panel
        branch_inputs = [
            last,
            self.branches,
            *settings,
            self.source,
            self.at,
            self.token,
            distribution,
            *panel.inputs,
        ]
        self.go.click(
            self.run_branch,
            branch_inputs,
            [self.view, self.branches, self.note],
            api_visibility="private",
            show_progress="minimal",
            **pool,
        )

    @_user_errors
    def run_branch(
        self,
        request: gr.Request,
        kept: GenerationResult | None,
        done: list[dict[str, Any]],
        model_key: str,
        prompt_text: str,
        method_key: str,
        use_chat: bool,
        stops: str,
        source: Any,
        position: Any,
        instead: str,
        dist: str,
        *values: Any,
    ) -> tuple[Any, ...]:
        """Continue from another candidate at one token of the run (or of a branch): same method, seed, engine."""
        sig = (kept.model, kept.method, kept.seed, tuple(t.id for t in kept.tokens)) if kept is not None else None
        done = [b for b in (done or []) if b.get("of") == sig]  # branches of an earlier run are left behind
        try:
            n, base, k, chosen = _branch_point(kept, done, source, position, instead)
            params = self.panel.collect(method_key, values)
            params["seed"] = kept.seed
            budget = int(kept.params.get("max_new_tokens", 64)) - k
            if budget < 1:
                raise InputError(
                    "That is the last token the run could have: there is nothing to continue.", field="params"
                )
            params["max_new_tokens"] = budget
            final = None
            for final in self.backend.generate(  # noqa: B007
                model=model_key,
                prompt=prompt_text,
                method=method_key,
                params=params,
                chat=bool(use_chat),
                stop=stops,
                visitor=_visitor(request),
                engine=kept.engine or None,
                prefix=[t.id for t in base[: k - 1]] + [chosen.id],
            ):
                pass
            assert final is not None
        except RsdemoError as err:
            return gr.update(), done, field_note(err)
        title = (
            f"Branch {len(done) + 1}: run {n} at token {k}, {chosen.text!r} instead of "
            f"{base[k - 1].text!r} · {final.finish_reason}"
        )
        tokens = base[: k - 1] + [chosen] + list(final.tokens)
        done = done + [{"of": sig, "tokens": tokens, "from": n, "at": k, "title": title}]
        return branch_views(done, dist), done, ""
