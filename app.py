"""rsdemo: the Gradio app (local and Hugging Face Spaces)."""

from rsdemo.backend import Backend
from rsdemo.ui import build_demo, launch_options

demo = build_demo(backend=Backend())
demo.queue(max_size=64, default_concurrency_limit=2)

if __name__ == "__main__":
    import os

    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), **launch_options())
