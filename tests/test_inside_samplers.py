"""The Inside tab and rsdemo's own samplers: each shows as a stage, in the order asked for, XTC and Mirostat v2 say
what their draw and their bound did; share links carry a sampler only when it is set; /next_token takes them."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
import torch

from rsdemo.decoding import INSIDE_PARAMS, SAMPLER_PARAMS
from rsdemo.insight.stages import stage_view
from rsdemo.render.insight import render_stages
from rsdemo.share import SHARE_LINK_CHARS, link_params, parse_share_query, share_link

BASE = "https://example-rsdemo.hf.space/"
PROBS = np.array([0.4, 0.3, 0.2, 0.1])
LOGITS = np.log(PROBS).astype(np.float32)


def _first_draw(seed: int) -> float:
    """XTC's first random number for a run with ``seed`` (its generator is seeded with the run's seed)."""
    return float(torch.rand((), generator=torch.Generator().manual_seed(seed)))


def _seed_where(fires: bool, probability: float) -> int:
    return next(s for s in range(1000) if (_first_draw(s) <= probability) == fires)


@pytest.mark.parametrize("fires", [True, False])
def test_xtc_stage_says_whether_the_seed_fired_it_and_what_it_removes(fires: bool) -> None:
    seed = _seed_where(fires, 0.5)
    params = {"xtc_probability": 0.5, "xtc_threshold": 0.15, "seed": seed}
    view = stage_view(logits=LOGITS, context_ids=[], method="sample", params=params)
    assert [r.name for r in view.rows] == ["raw", "xtc"]  # temperature 1 changes nothing: no stage
    xtc = view.rows[-1]
    # 0.4, 0.3 and 0.2 reach 0.15: when XTC fires it removes all but the least probable of them (0.2), so two
    word = "fired" if fires else "did not fire"
    assert xtc.note == f"{word} with this seed (50% chance); when it fires, it removes 2"
    if fires:  # 0.2 and 0.1 are left, renormalised
        assert xtc.survivors == 2
        np.testing.assert_allclose([p for _, p in xtc.top], [2 / 3, 1 / 3], rtol=1e-5)
        assert [i for i, _ in xtc.top] == [2, 3]
    else:
        assert xtc.survivors == 4
        np.testing.assert_allclose([p for _, p in xtc.top], PROBS, rtol=1e-5)


def test_xtc_with_one_token_above_its_threshold_removes_nothing() -> None:
    view = stage_view(
        logits=LOGITS, context_ids=[], method="sample", params={"xtc_probability": 1.0, "xtc_threshold": 0.35}
    )
    assert view.rows[-1].note.endswith("it removes 0") and view.rows[-1].survivors == 4


def test_mirostat_stage_shows_its_bound_and_truncates_there() -> None:
    # mu starts at 2 * tau = 3 bits: tokens whose surprise -log2 p is at most 3 (p >= 1/8) stay: 0.4, 0.3, 0.2
    view = stage_view(logits=LOGITS, context_ids=[5], method="sample", params={"mirostat_tau": 1.5})
    assert [r.name for r in view.rows] == ["raw", "mirostat"]
    miro = view.rows[-1]
    assert miro.note == "keeps surprise up to mu = 3.00 bits" and miro.survivors == 3
    np.testing.assert_allclose([p for _, p in miro.top], PROBS[:3] / PROBS[:3].sum(), rtol=1e-5)
    # tau 1 -> mu 2 bits: p >= 1/4 keeps 0.4 and 0.3 only
    two = stage_view(logits=LOGITS, context_ids=[5], method="sample", params={"mirostat_tau": 1.0}).rows[-1]
    assert two.survivors == 2 and two.note == "keeps surprise up to mu = 2.00 bits"


def test_the_order_moves_xtc_around_temperature_and_the_distribution_with_it() -> None:
    """transformers' order: temperature, then XTC; llama.cpp's: XTC, then temperature. With temperature 2 the
    flattened distribution (p^0.5) puts three tokens above 0.25, the raw one only two: the two orders remove
    different tokens, each by hand."""
    params = {"temperature": 2.0, "xtc_probability": 1.0, "xtc_threshold": 0.25, "seed": 0}
    hf = stage_view(logits=LOGITS, context_ids=[], method="sample", params=params)
    cpp = stage_view(logits=LOGITS, context_ids=[], method="sample", params={**params, "sampler_order": "llama.cpp"})
    assert [r.name for r in hf.rows] == ["raw", "temperature", "xtc"]
    assert [r.name for r in cpp.rows] == ["raw", "xtc", "temperature"]
    assert (hf.order, cpp.order) == ("transformers", "llama.cpp")
    flat = np.sqrt(PROBS) / np.sqrt(PROBS).sum()  # 0.320, 0.277, 0.226, 0.160
    np.testing.assert_allclose([p for _, p in hf.rows[1].top], flat, rtol=1e-5)
    # transformers: 0.320 and 0.277 reach 0.25 (0.226 does not): XTC removes the first, keeps 0.277, 0.226, 0.160
    np.testing.assert_allclose([p for _, p in hf.rows[2].top], flat[1:] / flat[1:].sum(), rtol=1e-5)
    # llama.cpp: raw 0.4 and 0.3 reach 0.25: XTC removes 0.4; then temperature 2 over 0.3, 0.2, 0.1
    rest = np.sqrt(PROBS[1:]) / np.sqrt(PROBS[1:]).sum()
    np.testing.assert_allclose([p for _, p in cpp.rows[2].top], rest, rtol=1e-5)
    assert hf.rows[2].note.endswith("removes 1") and cpp.rows[1].note.endswith("removes 1")
    pieces = {i: f"t{i}" for i in range(4)}
    assert "in llama.cpp's order: raw → xtc → temperature" in render_stages(cpp, pieces=pieces)
    assert "in the order transformers applies them" in render_stages(hf, pieces=pieces)
    assert "with this seed" in render_stages(hf, pieces=pieces)  # the note under XTC's column head
    custom = stage_view(
        logits=LOGITS, context_ids=[], method="sample", params={**params, "sampler_order": "xtc, temperature"}
    )
    assert "in the order you chose: raw → xtc → temperature" in render_stages(custom, pieces=pieces)


def test_the_inside_tab_takes_every_sampler_and_the_seed() -> None:
    names = [p.name for p in INSIDE_PARAMS]
    assert names[:2] == ["repetition_penalty", "seed"] and set(p.name for p in SAMPLER_PARAMS) <= set(names)
    assert "max_new_tokens" not in names


def _query(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))


@pytest.mark.parametrize("view", ["generate", "inside"])
def test_links_carry_a_sampler_only_when_it_is_set_and_reopen_it(view: str) -> None:
    defaults = {p.name: p.default for p in SAMPLER_PARAMS}
    plain = link_params(view=view, method="top_p", values={**defaults, "top_p": 0.9})
    assert not set(plain) & set(defaults)  # a default state writes none of them
    chosen = {"xtc_probability": 0.5, "xtc_threshold": 0.2, "dry_multiplier": 0.8, "sampler_order": "llama.cpp"}
    chosen |= {"dry_sequence_breakers": '"\\n", ";"', "mirostat_tau": 0.0, "top_n_sigma": 1.5}
    written = link_params(view=view, method="top_p", values={**defaults, **chosen, "top_p": 0.9, "seed": 7})
    assert "mirostat_tau" not in written and written["sampler_order"] == "llama.cpp"
    link, kept, total = share_link(base=BASE, fields={"view": view, "method": "top_p", **written, "prompt": "Hi"})
    assert kept == total and len(link) <= SHARE_LINK_CHARS
    state = parse_share_query(_query(link))
    assert state.params == {"top_p": 0.9, "seed": 7, **{k: v for k, v in chosen.items() if k != "mirostat_tau"}}


def test_a_link_with_every_sampler_set_fits_and_reopens() -> None:
    values = {}
    for p in SAMPLER_PARAMS:
        if p.kind == "text":
            values[p.name] = "top-k, xtc, temperature" if p.name == "sampler_order" else '"\\n", ":", "\\"", "*", "#"'
        else:  # a float of many digits inside the range, the most for a whole number
            values[p.name] = p.maximum if p.kind == "int" else float(p.minimum) + (p.maximum - p.minimum) / 3
    written = link_params(view="inside", method="top_p", values=values)
    assert set(written) == {p.name for p in SAMPLER_PARAMS}
    link = share_link(base=BASE, fields={"view": "inside", "method": "top_p", **written, "prompt": "Hi"})[0]
    assert len(link) < 1500
    reopened = parse_share_query(_query(link)).params
    assert reopened == {p.name: p.check(values[p.name]) for p in SAMPLER_PARAMS}


@pytest.mark.slow
def test_next_token_endpoint_takes_the_new_samplers(server_url: str) -> None:
    from gradio_client import Client

    client = Client(server_url, verbose=False)
    params = {"temperature": 0.7, "xtc_probability": 1.0, "xtc_threshold": 0.01, "sampler_order": "llama.cpp"}
    params |= {"dry_multiplier": 0.8, "seed": 3}
    staged = client.predict(
        "The capital of France is", "smollm2-135m-instruct", False, "sample", params, "", api_name="/next_token"
    )
    names = [stage["name"] for stage in staged["stages"]]
    assert names == ["raw", "dry", "xtc", "temperature"]
    raw, xtc = staged["stages"][0], staged["stages"][2]
    assert xtc["survivors"] < raw["survivors"]  # it fires (probability 1) and removes the top choices
    assert xtc["top"][0]["id"] != raw["top"][0]["id"]
    assert xtc["note"].startswith("fired with this seed (100% chance)") and raw["note"] == ""  # the API says so too
