"""The method-parameter panel, built once for the Generate and the Inside tabs: one group of inputs per decoding
method (only the chosen method's shown), then the parameters every method takes, each built from its ``Param``.

>>> from rsdemo.decoding import COMMON_PARAMS
>>> type(_param_component(COMMON_PARAMS[0], elem_id="rs-x")).__name__
'Slider'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from ..decoding import METHODS, Param
from .lang import tr

__all__ = ["MethodPanel", "_param_component"]


def _param_component(param: Param, *, elem_id: str) -> gr.components.Component:
    """A slider / checkbox / number built from a preset's parameter (its one source of truth)."""
    if param.kind == "bool":
        return gr.Checkbox(
            value=bool(param.default), label=tr(param.label), info=tr(param.info) or None, elem_id=elem_id
        )
    if param.kind == "text":  # checked by Param.check like any other (sampler order, DRY's breakers)
        return gr.Textbox(value=str(param.default), label=tr(param.label), info=tr(param.info) or None, elem_id=elem_id)
    if param.name == "seed":
        # no precision / minimum / maximum: Gradio would round 1.5 to 2 or refuse -1 with a toast of its own;
        # rsdemo checks the value (Param.check) and says what is wrong beside the settings; the range is in the help
        return gr.Number(value=param.default, label=tr(param.label), info=tr(param.help), elem_id=elem_id)
    return gr.Slider(
        minimum=param.minimum,
        maximum=param.maximum,
        step=param.step,
        value=param.default,
        label=tr(param.label),
        info=tr(param.info) or None,
        elem_id=elem_id,
    )


class MethodPanel:
    """Every method's own inputs (a ``gr.Group`` each, ``selected``'s visible), then the ``common`` parameters
    (those with a ``group``, rsdemo's own samplers, in a closed "More samplers" accordion, ``more``).

    Element ids: ``{prefix}{method}-{param}`` for a method's own, ``{prefix}{param}`` for a common one. An event
    takes ``inputs`` (the methods' inputs, then the common ones) last; ``collect`` reads them back as ``params``.
    """

    def __init__(self, *, prefix: str, selected: str, common: Sequence[Param]) -> None:
        self.keys = list(METHODS)
        self.groups: list[gr.Group] = []
        self.method_inputs: list[gr.components.Component] = []
        self.slots: list[tuple[str, str]] = []  # (method, param) for each input, in order
        for key in self.keys:
            with gr.Group(visible=key == selected) as group:
                for param in METHODS[key].params:
                    self.method_inputs.append(_param_component(param, elem_id=f"{prefix}{key}-{param.name}"))
                    self.slots.append((key, param.name))
            self.groups.append(group)
        # the common parameters, those of a group (rsdemo's own samplers) last, in a closed accordion
        self.common = [p for p in common if not p.group] + [p for p in common if p.group]
        self.common_inputs = [_param_component(p, elem_id=f"{prefix}{p.name}") for p in self.common if not p.group]
        if any(p.group for p in self.common):
            with gr.Accordion(tr("params.more"), open=False, elem_id=f"{prefix}more") as self.more:
                self.common_inputs += [_param_component(p, elem_id=f"{prefix}{p.name}") for p in self.common if p.group]

    @property
    def inputs(self) -> list[gr.components.Component]:
        """The methods' inputs, then the common ones: what ``collect`` reads."""
        return [*self.method_inputs, *self.common_inputs]

    def common_input(self, name: str) -> gr.components.Component:
        """The input of the common parameter ``name``."""
        return self.common_inputs[[p.name for p in self.common].index(name)]

    def collect(self, method_key: str, values: Sequence[Any]) -> dict[str, Any]:
        """The params of ``method_key`` from the values of ``inputs``: its own, then the common ones."""
        own = values[: len(self.method_inputs)]
        params = {name: v for (m, name), v in zip(self.slots, own) if m == method_key}
        params.update(self.common_values(values[len(self.method_inputs) :]))
        return params

    def common_values(self, values: Sequence[Any]) -> dict[str, Any]:
        """The common params from the values of ``common_inputs``."""
        return {p.name: v for p, v in zip(self.common, values)}

    def shown(self, key: str) -> list[Any]:
        """The groups' updates when the method ``key`` is chosen: its group shown, the others hidden."""
        return [gr.update(visible=k == key) for k in self.keys]
