"""Refresh the README screenshots in assets/ (needs `bash scripts/setup.sh --dev`).

python scripts/screenshots.py
bash scripts/serve.sh vllm 8000 &   # then, with the server answering:
RSDEMO_REMOTE_URL=http://127.0.0.1:8000/v1 python scripts/screenshots.py --served
python scripts/screenshots.py --layers      # the Layers tab: the logit lens, attention, two models
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@contextlib.contextmanager
def _app_and_browser(backend: Any) -> Iterator[tuple[Any, str]]:
    """The app on 127.0.0.1 and Debian's chromium, both closed at the end."""
    from playwright.sync_api import sync_playwright

    from rsdemo.ui import build_demo, configure_queue, launch_options

    demo = configure_queue(build_demo(backend=backend), backend.settings)
    _, url, _ = demo.launch(
        server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, ssr_mode=False, **launch_options()
    )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium"),
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
            )
            yield browser, url
            browser.close()
    finally:
        demo.close()


def _generate_top_p(page: Any) -> None:
    """On the Generate tab: top-p on a short poem prompt, run to the end, the fourth token selected."""
    page.get_by_role("tab", name="Generate").click()
    page.locator("#rs-method input").click()
    page.get_by_role("option", name="Top-p (nucleus) sampling", exact=True).click()
    page.locator("#rs-prompt textarea").fill("Write a two-line poem about tokenizers.")
    page.locator("#rs-generate").click()
    page.wait_for_function(
        "() => (document.querySelector('#rs-gen-stats') || {}).innerText?.includes('done')", timeout=180_000
    )
    page.locator("#rs-gen-view .rs-gen").nth(3).click()


def main() -> None:
    from rsdemo.backend import Backend

    with _app_and_browser(Backend()) as (browser, url):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_selector("#rs-view .rs-tok")
        page.locator("#rs-view .rs-tok", has_text="東").first.click()
        page.screenshot(path=str(ROOT / "assets" / "screenshot-tokenize.png"), full_page=False)
        page.get_by_role("tab", name="Compare").click()
        page.wait_for_selector("#rs-cmp-view .rs-compare-row")
        page.screenshot(path=str(ROOT / "assets" / "screenshot-compare.png"), full_page=True)
        _generate_top_p(page)
        page.screenshot(path=str(ROOT / "assets" / "screenshot-generate.png"), full_page=False)
        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        phone.goto(url)
        phone.wait_for_selector("#rs-view .rs-tok")
        phone.get_by_role("tab", name="Generate").tap()
        phone.locator("#rs-model").wait_for(state="visible")
        phone.screenshot(path=str(ROOT / "assets" / "screenshot-phone.png"), full_page=False)


def served() -> None:
    """The Generate tab with the operator's vLLM server as the engine (``RSDEMO_REMOTE_URL`` must be set)."""
    from rsdemo.backend import Backend

    backend = Backend()
    assert "remote" in backend.engines, "set RSDEMO_REMOTE_URL to a running server (bash scripts/serve.sh vllm)"
    with _app_and_browser(backend) as (browser, url):
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url)
        page.wait_for_selector("#rs-view .rs-tok")
        _generate_top_p(page)
        page.screenshot(path=str(ROOT / "assets" / "screenshot-served.png"), full_page=False)


def _shot(page: Any, selector: str, name: str, *, height: int = 900) -> None:
    """A screenshot of the page from ``selector``'s top, ``height`` pixels tall."""
    box = page.locator(selector).bounding_box()
    page.evaluate("(y) => window.scrollTo(0, y)", max(0, box["y"] - 60 + page.evaluate("window.scrollY")))
    page.wait_for_timeout(300)
    page.screenshot(path=str(ROOT / "assets" / name), full_page=False)


def layers() -> None:
    """The Layers tab: the logit lens with a cell open, attention with a head focused, two models on one text."""
    from rsdemo.backend import Backend

    with _app_and_browser(Backend()) as (browser, url):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(300_000)
        page.goto(url)
        page.wait_for_selector("#rs-view .rs-tok")
        page.get_by_role("tab", name="Layers").click()
        page.locator("#rs-ly-lens-go").click()
        page.wait_for_selector("#rs-ly-probe-chart .rs-probe-legend li")
        page.locator('#rs-ly-lens td.rs-lens-cell[data-pos="5"][data-layer="24"]').click()
        page.wait_for_timeout(1500)
        _shot(page, "#rs-ly-lens-go", "screenshot-lens.png")
        page.locator("#rs-ly-attn-go").click()
        page.wait_for_selector("#rs-ly-attended tr.rs-attn-row")
        page.locator("#rs-ly-layer input").fill("12")
        page.locator("#rs-ly-layer input").press("Enter")
        page.wait_for_timeout(800)
        page.locator('#rs-ly-heads figure.rs-attn-head[data-head="4"]').click()
        page.wait_for_timeout(1500)
        _shot(page, "#rs-ly-attn-go", "screenshot-attention.png")
        if page.locator("#rs-ly-diff-go").count():
            page.locator("#rs-ly-diff-go").click()
            page.wait_for_selector("#rs-ly-diff .rs-diff-tok, #rs-ly-diff svg, #rs-ly-diff table")
            page.wait_for_timeout(800)
            _shot(page, "#rs-ly-diff-go", "screenshot-model-diff.png")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    served() if "--served" in arguments else layers() if "--layers" in arguments else main()
