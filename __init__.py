"""ComfyUI-TAVID: two-person conversation video with speech from a text dialogue and two face images.

ComfyUI loads this package and calls `comfy_entrypoint`; the nodes live in ./nodes, the library in
./tavid_core (usable without ComfyUI: see README).

Nothing is imported until ComfyUI calls the entry point, so any tool may import this file on its own:
pytest does, as the package of a checkout whose folder name is an identifier, or as a lone module when
it is not (`ComfyUI-TAVID`), where a relative import at the top would fail.
"""

WEB_DIRECTORY = "./web"   # the frontend extension (plain JS, served under /extensions/<this folder>/)


async def comfy_entrypoint():
    import importlib.util
    if importlib.util.find_spec("cv2") is None:   # requirements.txt leaves OpenCV to install.py (see there)
        raise ImportError("ComfyUI-TAVID needs OpenCV and this Python has none: run `python install.py` in the "
                          "pack's folder with ComfyUI's Python, then restart ComfyUI")

    from comfy_api.latest import ComfyExtension, io

    from .nodes import NODES
    from .nodes.routes import add_routes
    from .nodes.runtime import register_model_folders

    class TavidExtension(ComfyExtension):
        async def get_node_list(self) -> list[type[io.ComfyNode]]:
            return list(NODES)

    register_model_folders()
    add_routes()
    return TavidExtension()
