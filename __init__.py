"""ComfyUI-TAVID: two-person conversation video with speech from a text dialogue and two face images.

ComfyUI loads this package and calls `comfy_entrypoint`; the nodes live in ./nodes, the library in
./tavid_core (usable without ComfyUI: see README).
"""
from comfy_api.latest import ComfyExtension, io

from .nodes import NODES
from .nodes.runtime import register_model_folders


class TavidExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)


async def comfy_entrypoint() -> TavidExtension:
    register_model_folders()
    return TavidExtension()
