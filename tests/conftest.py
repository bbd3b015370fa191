"""Shared fixtures. Tests never touch the network: the Hub is switched off before anything imports it."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest  # noqa: E402

from rsdemo.backend import Backend  # noqa: E402
from rsdemo.core.settings import Settings  # noqa: E402


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """The rsdemo cache for the test session: RSDEMO_CACHE_DIR if set (CI keeps built artefacts), else a temp dir."""
    configured = os.environ.get("RSDEMO_CACHE_DIR")
    if configured:
        return configured
    return str(tmp_path_factory.mktemp("rsdemo-cache"))


@pytest.fixture(scope="session")
def settings(cache_dir) -> Settings:
    return Settings.from_env({"RSDEMO_CACHE_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1"})


@pytest.fixture(scope="session")
def backend(settings: Settings) -> Backend:
    """One real backend (real tokenizer files) shared by the whole session: each tokenizer loads once."""
    return Backend(settings=settings)


@pytest.fixture(scope="session")
def server_url(backend: Backend):
    """The real app on 127.0.0.1 (a free port), started once and closed at the end of the session."""
    from rsdemo.ui import build_demo, configure_queue, launch_options

    demo = build_demo(backend=backend)
    configure_queue(demo, backend.settings)  # the same bounds as app.py
    _, url, _ = demo.launch(
        server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, ssr_mode=False, **launch_options()
    )
    yield url.rstrip("/")
    demo.close()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, driven by Playwright for Python (never a downloaded browser)."""
    import os
    import shutil

    from playwright.sync_api import sync_playwright

    executable = os.environ.get("RSDEMO_CHROMIUM") or shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: run `bash scripts/setup.sh --dev`")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
